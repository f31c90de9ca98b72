"""Dialplan functions (``${FUNC(args)}`` and ``Set(FUNC(args)=value)``) and their registry.

Implemented, with Asterisk's argument conventions: ``CALLERID``, ``CHANNEL``, ``CUT``, ``DB``,
``DB_DELETE``, ``DB_EXISTS``, ``EXCEPTION``, ``EXISTS``, ``GLOBAL``, ``IF``, ``ISNULL``, ``LEN``,
``SIPPEER``, ``TIMEOUT``, ``TOLOWER``, ``TOUPPER``. ``core show functions`` lists exactly the
registry. A read returns the value, or None on misuse (logged; the substitution is then empty).

astdb and peer data come through the :class:`KeyValueStore` and :class:`PeerInfo` protocols,
implemented by the lead's SQLite store and peer registry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pbx.dialplan.args import separate_args
from pbx.dialplan.execution import check_condition

if TYPE_CHECKING:
    from pbx.dialplan.execution import Execution

log = logging.getLogger(__name__)

Reader = Callable[["Execution", str], "str | None"]
Writer = Callable[["Execution", str, str], None]


class KeyValueStore(Protocol):
    """astdb: ``family/key`` -> value (the lead backs it with ``astdb.sqlite3``)."""

    def get(self, family: str, key: str) -> str | None:
        """The value, or None when absent."""
        ...

    def put(self, family: str, key: str, value: str) -> None:
        """Create or replace."""
        ...

    def delete(self, family: str, key: str) -> bool:
        """Remove; False when there was nothing to remove."""
        ...


PeerInfo = Callable[[str, str], "str | None"]
"""``SIPPEER(peer,item)``: ``(peer, item)`` -> the item of a sip.conf peer, or None for an
unknown peer or item. Items as chan_sip names them: ``ip``, ``port``, ``status``, ``context``,
``useragent``, ``callerid_name``, ``callerid_num``, ``codecs``, ``encryption``, ``dynamic`` ..."""


@dataclass(frozen=True, slots=True)
class Function:
    """One dialplan function; ``read``/``write`` None when it cannot be read/written."""

    name: str
    synopsis: str
    syntax: str
    read: Reader | None = None
    write: Writer | None = None


class FunctionRegistry:
    """Functions by name (case-insensitive lookup, listed in name order)."""

    def __init__(self, functions: list[Function] | None = None) -> None:
        self._functions: dict[str, Function] = {}
        for function in functions or []:
            self.register(function)

    def register(self, function: Function) -> None:
        self._functions[function.name.upper()] = function

    def get(self, name: str) -> Function | None:
        return self._functions.get(name.upper())

    def __iter__(self) -> Iterator[Function]:
        return iter(sorted(self._functions.values(), key=lambda f: f.name))

    def __len__(self) -> int:
        return len(self._functions)


def _warn(ctx: Execution, message: str, *args: object) -> None:
    log.warning(message, *args, extra={"channel": ctx.channel.name})


# -- string helpers -----------------------------------------------------------------------------


def _len(ctx: Execution, args: str) -> str:
    return str(len(args))


def _isnull(ctx: Execution, args: str) -> str:
    return "1" if not args else "0"


def _exists(ctx: Execution, args: str) -> str:
    return "0" if not args else "1"


def _toupper(ctx: Execution, args: str) -> str:
    return args.upper()


def _tolower(ctx: Execution, args: str) -> str:
    return args.lower()


def _if(ctx: Execution, args: str) -> str | None:
    """``IF(expr?[true][:false])`` (func_logic.c ``acf_if``)."""
    parts = separate_args(args, "?", max_args=2, remove_chars=False)
    if len(parts) < 2 or not parts[0].strip():
        _warn(ctx, "Syntax IF(<expr>?[<true>][:<false>]) (expr must be non-null)")
        return None
    branches = separate_args(parts[1], ":", max_args=2, remove_chars=False)
    iftrue = branches[0].strip() if branches else ""
    iffalse = branches[1].strip() if len(branches) > 1 else ""
    return iftrue if check_condition(parts[0]) else iffalse


def _cut(ctx: Execution, args: str) -> str | None:
    """``CUT(varname,delimiter,fields)``; fields like ``2``, ``2-3``, ``2-``, ``-3``, ``1&3``."""
    parts = separate_args(args)
    if len(parts) < 3:
        _warn(ctx, "Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!")
        return None
    value = ctx.substitute("${" + parts[0] + "}")
    delim = parts[1][:1] or "-"
    fields = value.split(delim)
    chosen: list[str] = []
    for spec in parts[2].split("&"):
        m = re.fullmatch(r"\s*(\d*)\s*(-?)\s*(\d*)\s*", spec)
        if m is None or not (m.group(1) or m.group(3)):
            _warn(ctx, "Cut(): Illegal range '%s'", spec)
            return None
        first = int(m.group(1)) if m.group(1) else 1
        if m.group(2):
            last = int(m.group(3)) if m.group(3) else len(fields)
        else:
            last = first
        chosen.extend(fields[max(first, 1) - 1 : last])
    return delim.join(chosen)


# -- variables, caller ID, channel --------------------------------------------------------------


def _global_read(ctx: Execution, args: str) -> str | None:
    return ctx.services.globals.get(args.strip(), "")


def _global_write(ctx: Execution, args: str, value: str) -> None:
    ctx.set_global(args.strip(), value)


def _callerid_read(ctx: Execution, args: str) -> str | None:
    item = args.strip().lower()
    name, num = ctx.channel.caller_id_name, ctx.channel.caller_id_num
    if item.startswith("all"):
        if name and num:
            return f'"{name}" <{num}>'
        return name or num
    if item.startswith("name"):
        return name
    if item.startswith("num"):
        return num
    _warn(ctx, "Unknown callerid data type '%s'.", args)
    return None


def _callerid_write(ctx: Execution, args: str, value: str) -> None:
    item = args.strip().lower()
    if item.startswith("all"):
        name, num = parse_callerid(value)
        ctx.channel.caller_id_name, ctx.channel.caller_id_num = name, num
    elif item.startswith("name"):
        ctx.channel.caller_id_name = value
    elif item.startswith("num"):
        ctx.channel.caller_id_num = value
    else:
        _warn(ctx, "Unknown callerid data type '%s'.", args)


def parse_callerid(text: str) -> tuple[str, str]:
    """``ast_callerid_split``: ``"Alice" <100>`` -> (Alice, 100); a bare number -> ("", n)."""
    text = text.strip()
    lt = text.rfind("<")
    if lt >= 0 and text.endswith(">"):
        name = text[:lt].strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
        return name, text[lt + 1 : -1].strip()
    if re.fullmatch(r"[0-9*#+]+", text):
        return "", text
    return text.strip('"'), ""


def _channel_read(ctx: Execution, args: str) -> str | None:
    item = args.strip().lower()
    chan = ctx.channel
    values = {
        "name": chan.name,
        "uniqueid": chan.uniqueid,
        "state": chan.state,
        "channeltype": chan.name.partition("/")[0],
        "context": ctx.context,
        "exten": ctx.exten,
        "priority": str(ctx.priority),
        "language": "en",
        "musicclass": "",
        "hangupcause": str(chan.hangup_cause or 0),
    }
    if item in values:
        return values[item]
    _warn(ctx, "Unknown or unavailable item requested: '%s'", args)
    return None


def _sippeer(ctx: Execution, args: str) -> str | None:
    parts = separate_args(args)
    if not parts or not parts[0]:
        _warn(ctx, "This function requires a peer name.")
        return None
    peer = parts[0]
    item = parts[1].strip() if len(parts) > 1 and parts[1].strip() else "ip"
    if ctx.services.peers is None:
        return None
    return ctx.services.peers(peer, item)


def _timeout_read(ctx: Execution, args: str) -> str | None:
    kind = args.strip().lower()[:1]
    t = ctx.timeouts
    if kind == "d":
        return _seconds(t.digit)
    if kind == "r":
        return _seconds(t.response)
    if kind == "a":
        return "0" if t.absolute is None else _seconds(t.absolute)
    _warn(ctx, "Unknown timeout type specified.")
    return None


def _timeout_write(ctx: Execution, args: str, value: str) -> None:
    kind = args.strip().lower()[:1]
    try:
        seconds = max(0.0, float(value)) if value.strip() else 0.0
    except ValueError:
        _warn(ctx, "Invalid timeout '%s'", value)
        return
    if kind == "d":
        ctx.timeouts.digit = seconds
    elif kind == "r":
        ctx.timeouts.response = seconds
    elif kind == "a":
        ctx.set_absolute_timeout(seconds if seconds > 0 else None)
    else:
        _warn(ctx, "Unknown timeout type specified.")


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3f}"


def _exception(ctx: Execution, args: str) -> str | None:
    item = args.strip().lower()
    if item not in ("reason", "context", "exten", "priority"):
        _warn(ctx, "Unknown EXCEPTION field '%s'", args)
        return None
    return ctx.exception.get(item, "")


# -- astdb --------------------------------------------------------------------------------------


def _db_key(ctx: Execution, args: str, function: str) -> tuple[str, str] | None:
    family, slash, key = args.partition("/")
    if not slash or not family or not key:
        _warn(ctx, "%s requires an argument, %s(<family>/<key>)", function, function)
        return None
    if ctx.services.db is None:
        _warn(ctx, "%s: no database configured", function)
        return None
    return family, key


def _db_read(ctx: Execution, args: str) -> str | None:
    where = _db_key(ctx, args, "DB")
    if where is None or ctx.services.db is None:
        return None
    value = ctx.services.db.get(*where)
    return "" if value is None else value


def _db_write(ctx: Execution, args: str, value: str) -> None:
    where = _db_key(ctx, args, "DB")
    if where is not None and ctx.services.db is not None:
        ctx.services.db.put(where[0], where[1], value)


def _db_exists(ctx: Execution, args: str) -> str | None:
    where = _db_key(ctx, args, "DB_EXISTS")
    if where is None or ctx.services.db is None:
        return None
    value = ctx.services.db.get(*where)
    ctx.set_variable("DB_RESULT", value or "")
    return "0" if value is None else "1"


def _db_delete(ctx: Execution, args: str) -> str | None:
    where = _db_key(ctx, args, "DB_DELETE")
    if where is None or ctx.services.db is None:
        return None
    value = ctx.services.db.get(*where)
    if value is None:
        log.debug("DB_DELETE: %s/%s not found in database", *where)
        return ""
    ctx.services.db.delete(*where)
    return value


BUILTIN_FUNCTIONS: tuple[Function, ...] = (
    Function(
        "CALLERID",
        "Gets or sets Caller*ID data on the channel.",
        "CALLERID(datatype)",
        _callerid_read,
        _callerid_write,
    ),
    Function(
        "CHANNEL",
        "Gets various pieces of information about the channel.",
        "CHANNEL(item)",
        _channel_read,
    ),
    Function(
        "CUT",
        "Slices and dices strings, based upon a named delimiter.",
        "CUT(varname,char-delim,range-spec)",
        _cut,
    ),
    Function(
        "DB",
        "Read from or write to the Asterisk database.",
        "DB(family/key)",
        _db_read,
        _db_write,
    ),
    Function(
        "DB_DELETE",
        "Return a value from the database and delete it.",
        "DB_DELETE(family/key)",
        _db_delete,
    ),
    Function(
        "DB_EXISTS",
        "Check to see if a key exists in the Asterisk database.",
        "DB_EXISTS(family/key)",
        _db_exists,
    ),
    Function(
        "EXCEPTION",
        "Retrieve the details of the current dialplan exception.",
        "EXCEPTION(field)",
        _exception,
    ),
    Function("EXISTS", "Test the existence of a value.", "EXISTS(data)", _exists),
    Function(
        "GLOBAL",
        "Gets or sets the global variable specified.",
        "GLOBAL(varname)",
        _global_read,
        _global_write,
    ),
    Function(
        "IF",
        "Check for an expresion.",
        "IF(expression?[true][:false])",
        _if,
    ),
    Function("ISNULL", "Check if a value is NULL.", "ISNULL(data)", _isnull),
    Function("LEN", "Return the length of the string given.", "LEN(string)", _len),
    Function(
        "SIPPEER",
        "Gets SIP peer information.",
        "SIPPEER(peername,item)",
        _sippeer,
    ),
    Function(
        "TIMEOUT",
        "Gets or sets timeouts on the channel. Timeout values are in seconds.",
        "TIMEOUT(timeouttype)",
        _timeout_read,
        _timeout_write,
    ),
    Function("TOLOWER", "Convert string to all lowercase letters.", "TOLOWER(string)", _tolower),
    Function("TOUPPER", "Convert string to all uppercase letters.", "TOUPPER(string)", _toupper),
)


def default_functions() -> FunctionRegistry:
    """A registry holding every built-in function."""
    return FunctionRegistry(list(BUILTIN_FUNCTIONS))
