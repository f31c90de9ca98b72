"""Value types shared by every option table: Asterisk booleans, numbers, choices, addresses, paths.

A :class:`ValueType` couples a parser with the words ``--config-help`` shows for it. Parsers take
the raw text and a :class:`ParseContext` (the configuration directory, and a place to leave
warnings about values that are accepted but adjusted). They raise :class:`ValueError` whose text
completes the phrase ``expected ...`` (the schema appends ``, got 'value'``), or
:class:`OptionValueError` whose text is the whole explanation.

Booleans follow Asterisk's ``ast_true``/``ast_false`` (``main/utils.c``): ``yes true y t 1 on`` and
``no false n f 0 off``, case-insensitive; unlike Asterisk, anything else is an error rather than
silently false.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pbx.core.addr import Address, is_ip_literal, parse_hostport, unbracket

T_co = TypeVar("T_co", covariant=True)

TRUE_WORDS = ("yes", "true", "y", "t", "1", "on")
FALSE_WORDS = ("no", "false", "n", "f", "0", "off")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


class OptionValueError(ValueError):
    """A bad value whose message is complete (not an ``expected ...`` phrase)."""


@dataclass
class ParseContext:
    """What a parser may need besides the text: the config directory, and a warning sink.

    :param config_dir: relative paths resolve against it (Asterisk's ``astetcdir``).
    :param notes: warnings about the value being parsed; the schema reports them at the line.
    """

    config_dir: str
    notes: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.notes.append(message)


@dataclass(frozen=True, eq=False)
class ValueType(Generic[T_co]):
    """A parser plus its description for ``--config-help``.

    :param kind: ``bool``, ``int``, ``enum``, ``list``, ``address``, ``path``, ``text`` ...
    :param describe: the allowed values in words (``yes|no``, ``1-65535``).
    :param choices: the allowed words of an ``enum``.
    """

    kind: str
    describe: str
    parse: Callable[[str, ParseContext], T_co]
    choices: tuple[str, ...] = ()


def words(items: Sequence[str], last: str = "or") -> str:
    """``a, b or c`` (the way the error messages list alternatives)."""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def is_true(text: str) -> bool:
    """Asterisk's ``ast_true``."""
    return text.strip().lower() in TRUE_WORDS


def is_false(text: str) -> bool:
    """Asterisk's ``ast_false``."""
    return text.strip().lower() in FALSE_WORDS


def _parse_bool(text: str, ctx: ParseContext) -> bool:
    if is_true(text):
        return True
    if is_false(text):
        return False
    raise ValueError("expected yes or no")


BOOL: ValueType[bool] = ValueType("bool", "yes|no", _parse_bool)


def _parse_text(text: str, ctx: ParseContext) -> str:
    return text


TEXT: ValueType[str] = ValueType("text", "text", _parse_text)


def integer(minimum: int = 0, maximum: int | None = None, unit: str = "") -> ValueType[int]:
    """A decimal integer within ``[minimum, maximum]``; ``unit`` is for messages (``seconds``)."""
    of_unit = f" of {unit}" if unit else ""
    if maximum is not None:
        expected = f"expected a whole number{of_unit} from {minimum} to {maximum}"
        span = f"{minimum}-{maximum}"
    else:
        expected = f"expected a whole number{of_unit} >= {minimum}"
        span = f">={minimum}"

    def parse(text: str, ctx: ParseContext) -> int:
        stripped = text.strip()
        if not re.fullmatch(r"-?[0-9]+", stripped):
            raise ValueError(expected)
        value = int(stripped)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(expected)
        return value

    return ValueType("int", f"{span} {unit}".rstrip(), parse)


def choice(*choices: str) -> ValueType[str]:
    """One word out of ``choices`` (case-insensitive), returned in lower case."""
    expected = f"expected {words(list(choices))}"

    def parse(text: str, ctx: ParseContext) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(expected)
        return value

    return ValueType("enum", "|".join(choices), parse, choices)


def check_host(host: str) -> str:
    """An IP literal (brackets allowed) or a DNS name; raises ``ValueError`` otherwise."""
    bare = unbracket(host)
    if is_ip_literal(bare) or (":" not in bare and _HOSTNAME.match(bare)):
        return bare
    raise ValueError("expected a host name or an IP address")


def address(default_port: int, ip_only: bool = False) -> ValueType[Address]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; ``ip_only`` for listen addresses."""
    what = "an IP address" if ip_only else "a host name or IP address"
    expected = f"expected {what} with an optional :port"

    def parse(text: str, ctx: ParseContext) -> Address:
        try:
            addr = parse_hostport(text, default_port)
            host = check_host(addr.host)
        except ValueError:
            raise ValueError(expected) from None
        if ip_only and not is_ip_literal(host):
            raise ValueError(expected)
        return Address(host, addr.port)

    return ValueType("address", "host[:port]", parse)


def _parse_host(text: str, ctx: ParseContext) -> str:
    return check_host(text.strip())


HOST: ValueType[str] = ValueType("host", "host|IP", _parse_host)


def _parse_ip(text: str, ctx: ParseContext) -> str:
    bare = unbracket(text.strip())
    if not is_ip_literal(bare):
        raise ValueError("expected an IP address")
    return bare


IP: ValueType[str] = ValueType("ip", "IP address", _parse_ip)


def resolve_path(config_dir: str, path: str) -> str:
    """Relative paths are relative to the configuration directory."""
    return path if os.path.isabs(path) else os.path.join(config_dir, path)


def file_problem(path: str) -> str | None:
    """Why ``path`` cannot be read as a file (``no such file``, ``not readable``), or ``None``."""
    if not os.path.exists(path):
        return "no such file"
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return "not readable"
    return None


def _parse_path(text: str, ctx: ParseContext) -> str:
    value = text.strip()
    if not value:
        raise ValueError("expected a file name")
    return resolve_path(ctx.config_dir, value)


PATH: ValueType[str] = ValueType("path", "file (relative to the config dir)", _parse_path)


def parse_network(text: str) -> IpNetwork:
    """``addr``, ``addr/prefix`` or ``addr/dotted-mask``, IPv4 or IPv6 (brackets allowed).

    Host bits are masked off, as Asterisk's ``ast_append_ha`` does.
    """
    addr, slash, mask = text.strip().partition("/")
    addr = unbracket(addr.strip())
    mask = mask.strip()
    try:
        ip = ipaddress.ip_address(addr)
        if not slash:
            return ipaddress.ip_network(ip)
        if mask.isdigit():
            return ipaddress.ip_network(f"{ip}/{int(mask)}", strict=False)
        if ip.version == 4 and is_ip_literal(mask) and "." in mask:
            return ipaddress.ip_network(f"{ip}/{mask}", strict=False)
    except ValueError:
        pass
    raise ValueError("expected an address with an optional /prefix or /netmask")


def _parse_network(text: str, ctx: ParseContext) -> IpNetwork:
    return parse_network(text)


NETWORK: ValueType[IpNetwork] = ValueType("network", "addr[/mask]", _parse_network)
