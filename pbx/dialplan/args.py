"""Application argument splitting and option strings (Asterisk ``main/app.c``).

Applications receive their data after variable substitution and split it themselves:

* :func:`separate_args` is ``ast_app_separate_args`` (``AST_STANDARD_APP_ARGS``): split on a
  delimiter that is not inside ``(...)``, ``[...]`` or ``"..."``; double quotes and backslashes
  are removed (a backslash makes the next character literal); a trailing delimiter yields a final
  empty argument; with ``max_args`` the last argument is the rest, unsplit and uncleaned;
* :func:`parse_options` is ``ast_app_parse_options``: single-letter flags, each optionally
  followed by ``(argument)``, as in ``Dial(...,30,tTm(jazz)g)``.
"""

from __future__ import annotations


def separate_args(
    data: str, delim: str = ",", max_args: int | None = None, remove_chars: bool = True
) -> list[str]:
    """Split application data the way ``AST_STANDARD_APP_ARGS`` does.

    ``separate_args('a,"b,c",d(e,f)')`` -> ``['a', 'b,c', 'd(e,f)']``. Empty data gives ``[]``.
    """
    if not data:
        return []
    args: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    n = len(data)
    ended_on_delim = False
    while i < n:
        if max_args is not None and len(args) == max_args - 1 and not current:
            # The last slot takes the rest as it is: unsplit and uncleaned (as app.c does).
            current.append(data[i:])
            ended_on_delim = False
            break
        c = data[i]
        ended_on_delim = False
        if c == "(":
            paren += 1
        elif c == ")":
            paren = max(0, paren - 1)
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = max(0, bracket - 1)
        elif c == '"' and delim != '"':
            quote = not quote
            if remove_chars:
                i += 1
                continue
        elif c == "\\":
            if remove_chars:
                i += 1
                if i < n:
                    current.append(data[i])
                    i += 1
                continue
            current.append(c)
            i += 1
            if i < n:
                current.append(data[i])
                i += 1
            continue
        elif c == delim and not paren and not quote and not bracket:
            args.append("".join(current))
            current = []
            i += 1
            ended_on_delim = True
            continue
        current.append(c)
        i += 1
    if current or ended_on_delim:
        args.append("".join(current))
    return args


def parse_options(optstr: str) -> dict[str, str | None]:
    """Option letters to their ``(argument)`` (None when given without one).

    ``parse_options('tTm(jazz)g')`` -> ``{'t': None, 'T': None, 'm': 'jazz', 'g': None}``.

    :raises ValueError: when an option's ``(`` has no closing ``)``.
    """
    options: dict[str, str | None] = {}
    i = 0
    n = len(optstr)
    while i < n:
        letter = optstr[i]
        i += 1
        if i < n and optstr[i] == "(":
            depth = 1
            j = i + 1
            while j < n and depth:
                if optstr[j] == "(":
                    depth += 1
                elif optstr[j] == ")":
                    depth -= 1
                j += 1
            if depth:
                raise ValueError(f"missing closing parenthesis for option '{letter}'")
            options[letter] = optstr[i + 1 : j - 1]
            i = j
        else:
            options[letter] = None
    return options
