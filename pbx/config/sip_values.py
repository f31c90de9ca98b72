"""Value types only sip.conf has (chan_sip semantics, ASTERISK-REFERENCE §1.3 and §1.5).

:class:`Nat` (``nat=``, §1.5), :class:`Insecure`, :class:`CallerId` (``ast_callerid_split``),
transport lists, ``qualify``, ``keepalive``, ``directmedia``, ``dtmfmode``, ``setvar``,
``md5secret``, ``[authentication]`` ``auth=`` lines and ``register =>`` lines
(:class:`Registration`). Each is a
:class:`~pbx.config.parsers.ValueType`; the option table that uses them is
:mod:`pbx.config.sip_options`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from pbx.config.parsers import (
    OptionValueError,
    ParseContext,
    ValueType,
    check_host,
    is_false,
    is_true,
    words,
)
from pbx.core.addr import TransportKind, parse_hostport


@dataclass(frozen=True)
class Nat:
    """chan_sip's ``nat=`` flags (ASTERISK-REFERENCE §1.5).

    :param force_rport: reply to the packet's source address as if Via had ``;rport``.
    :param comedia: send RTP to where the peer's RTP comes from (symmetric RTP).
    :param auto_force_rport: ``force_rport`` only when NAT is detected (top Via host differs
        from the packet source); chan_sip's default.
    :param auto_comedia: ``comedia`` only when NAT is detected.
    """

    force_rport: bool = False
    comedia: bool = False
    auto_force_rport: bool = True
    auto_comedia: bool = False

    def __str__(self) -> str:
        names = [
            name
            for name, on in (
                ("force_rport", self.force_rport),
                ("comedia", self.comedia),
                ("auto_force_rport", self.auto_force_rport),
                ("auto_comedia", self.auto_comedia),
            )
            if on
        ]
        return ",".join(names) or "no"


NAT_OFF = Nat(auto_force_rport=False)
NAT_SYMMETRIC = Nat(force_rport=True, comedia=True, auto_force_rport=False)
_NAT_WORDS = ("no", "yes", "force_rport", "comedia", "auto_force_rport", "auto_comedia")


def parse_nat(text: str, ctx: ParseContext) -> Nat:
    """A comma list: ``no``/``yes`` anywhere wins (the first of them), ``auto_X`` cancels ``X``."""
    found = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not found or any(w not in _NAT_WORDS for w in found):
        raise ValueError(f"expected a comma list of {words(list(_NAT_WORDS))}")
    for word in found:
        if word == "no":
            return NAT_OFF
        if word == "yes":
            ctx.warn("nat=yes is deprecated, use nat=force_rport,comedia")
            return NAT_SYMMETRIC
    auto_force_rport = "auto_force_rport" in found
    auto_comedia = "auto_comedia" in found
    return Nat(
        force_rport="force_rport" in found and not auto_force_rport,
        comedia="comedia" in found and not auto_comedia,
        auto_force_rport=auto_force_rport,
        auto_comedia=auto_comedia,
    )


NAT_VALUE: ValueType[Nat] = ValueType(
    "list", "no|force_rport|comedia|auto_force_rport|auto_comedia[,...] (yes deprecated)", parse_nat
)


@dataclass(frozen=True)
class Insecure:
    """``insecure=port`` (match a peer by IP without port), ``invite`` (no INVITE challenge)."""

    port: bool = False
    invite: bool = False


def _parse_insecure(text: str, ctx: ParseContext) -> Insecure:
    found = [w.strip().lower() for w in text.split(",") if w.strip()]
    if any(w in ("very", "yes") for w in found):
        raise OptionValueError(
            f"insecure={text.strip()} was removed in Asterisk 1.6; write insecure=port,invite"
        )
    if not found or any(w not in ("no", "port", "invite") for w in found):
        raise ValueError("expected no, port, invite or port,invite")
    if "no" in found:
        return Insecure()
    return Insecure(port="port" in found, invite="invite" in found)


INSECURE_VALUE: ValueType[Insecure] = ValueType(
    "list", "no|port|invite|port,invite", _parse_insecure
)


class CallerId(NamedTuple):
    """``"Name" <number>`` split as Asterisk's ``ast_callerid_split`` does."""

    name: str
    num: str


_PHONE_NUMBER = re.compile(r"^[0-9*#+()\- .]+$")


def parse_callerid(text: str) -> CallerId:
    """``"Name" <num>``, ``Name <num>``, ``<num>``, a bare number, or a bare name."""
    text = text.strip()
    lt = text.find("<")
    if lt >= 0:
        gt = text.find(">", lt)
        num = text[lt + 1 : gt if gt >= 0 else len(text)].strip()
        name = text[:lt].strip()
    elif _PHONE_NUMBER.match(text):
        name, num = "", text
    else:
        name, num = text, ""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].strip()
    # ast_shrink_phone_number drops the punctuation people write in numbers.
    num = re.sub(r"[()\-. ]", "", num)
    return CallerId(name, num)


def _parse_callerid(text: str, ctx: ParseContext) -> CallerId:
    return parse_callerid(text)


CALLERID_VALUE: ValueType[CallerId] = ValueType("text", '"Name" <number>', _parse_callerid)

_TRANSPORT_NAMES = [k.value for k in TransportKind]


def _parse_transports(text: str, ctx: ParseContext) -> tuple[TransportKind, ...]:
    result: list[TransportKind] = []
    for word in text.split(","):
        if not word.strip():
            continue
        try:
            kind = TransportKind.parse(word)
        except ValueError:
            raise ValueError(f"expected a comma list of {words(_TRANSPORT_NAMES)}") from None
        if kind not in result:
            result.append(kind)
    if not result:
        raise ValueError(f"expected a comma list of {words(_TRANSPORT_NAMES)}")
    return tuple(result)


TRANSPORTS_VALUE: ValueType[tuple[TransportKind, ...]] = ValueType(
    "list", "udp|tcp|tls|ws|wss[,...] (first = outbound)", _parse_transports
)

DEFAULT_QUALIFY_MS = 2000
"""``qualify=yes`` means 2000 ms (chan_sip's ``DEFAULT_MAXMS``)."""


def _parse_qualify(text: str, ctx: ParseContext) -> int | None:
    value = text.strip().lower()
    if is_true(value) and value != "1":
        return DEFAULT_QUALIFY_MS
    if is_false(value):
        return None
    if value.isdigit():
        return int(value) or None
    raise ValueError("expected yes, no or a number of ms")


QUALIFY_VALUE: ValueType[int | None] = ValueType("int", "yes|no|<max ms>", _parse_qualify)


def _parse_keepalive(text: str, ctx: ParseContext) -> int:
    value = text.strip().lower()
    if is_true(value) and value != "1":
        return 60
    if is_false(value):
        return 0
    if value.isdigit():
        return int(value)
    raise ValueError("expected yes, no or a number of seconds")


KEEPALIVE_VALUE: ValueType[int] = ValueType("int", "yes|no|<seconds>", _parse_keepalive)

_DIRECTMEDIA_WORDS = ("yes", "no", "nonat", "update", "outgoing")


def _parse_directmedia(text: str, ctx: ParseContext) -> bool:
    value = text.strip().lower()
    if is_true(value):
        return True
    if is_false(value):
        return False
    found = [w.strip() for w in value.split(",") if w.strip()]
    if found and all(w in _DIRECTMEDIA_WORDS for w in found):
        return True
    raise ValueError(f"expected {words(list(_DIRECTMEDIA_WORDS))} or a comma list of them")


DIRECTMEDIA_VALUE: ValueType[bool] = ValueType(
    "list", "yes|no|nonat|update|outgoing[,...]", _parse_directmedia
)

DTMF_MODES = ("rfc2833", "info", "shortinfo", "inband", "auto")


def _parse_dtmfmode(text: str, ctx: ParseContext) -> str:
    value = text.strip().lower()
    if value in DTMF_MODES:
        return value
    # chan_sip: "Unknown dtmf mode '%s' on line %d, using rfc2833".
    ctx.warn(f"unknown dtmf mode '{text.strip()}', using rfc2833")
    return "rfc2833"


DTMFMODE_VALUE: ValueType[str] = ValueType(
    "enum", "|".join(DTMF_MODES), _parse_dtmfmode, DTMF_MODES
)


def _parse_setvar(text: str, ctx: ParseContext) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise ValueError("expected NAME=value")
    return name.strip(), value.strip()


SETVAR_VALUE: ValueType[tuple[str, str]] = ValueType("text", "NAME=value", _parse_setvar)


def _parse_md5secret(text: str, ctx: ParseContext) -> str:
    value = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{32}", value):
        raise ValueError("expected 32 hex digits, MD5(name:realm:secret)")
    return value


MD5SECRET_VALUE: ValueType[str] = ValueType("text", "32 hex digits", _parse_md5secret)


def _parse_hostport(text: str, ctx: ParseContext) -> str:
    value = text.strip()
    try:
        check_host(parse_hostport(value, 5060).host)
    except ValueError:
        raise ValueError("expected a host name or IP address with an optional :port") from None
    return value


HOSTPORT_VALUE: ValueType[str] = ValueType("text", "host[:port]", _parse_hostport)


class AuthCredential(NamedTuple):
    """An ``[authentication]`` ``auth=`` line: ``user:secret@realm`` or ``user#md5@realm``."""

    user: str
    secret: str
    md5: bool
    realm: str


def _parse_auth(text: str, ctx: ParseContext) -> AuthCredential:
    creds, at, realm = text.strip().rpartition("@")
    md5 = "#" in creds and ":" not in creds
    user, sep, secret = creds.partition("#" if md5 else ":")
    if not at or not realm or not sep or not user:
        raise ValueError("expected user:secret@realm or user#md5secret@realm")
    return AuthCredential(user, secret, md5, realm)


AUTH_VALUE: ValueType[AuthCredential] = ValueType(
    "text", "user:secret@realm | user#md5@realm", _parse_auth
)


def _parse_taglen(text: str, ctx: ParseContext) -> int:
    value = text.strip()
    if value not in ("32", "80"):
        raise ValueError("expected 32 or 80")
    return int(value)


TAGLEN_VALUE: ValueType[int] = ValueType("enum", "32|80", _parse_taglen, ("32", "80"))


def _parse_peer_host(text: str, ctx: ParseContext) -> str:
    value = text.strip()
    if value.lower() == "dynamic":
        return "dynamic"
    try:
        return check_host(value)
    except ValueError:
        raise ValueError("expected dynamic, or a host name or IP address without :port") from None


PEER_HOST_VALUE: ValueType[str] = ValueType("host", "dynamic|host|IP", _parse_peer_host)


@dataclass(frozen=True)
class Registration:
    """One ``register =>`` line of ``[general]`` (chan_sip's ``sip_registry``):
    ``[peer?][transport://]user[@domain][:secret[:authuser]]@host[:port][/extension][~expiry]``.

    :param peer: the device whose settings the registration uses (``peer?``), if named.
    :param transport: ``udp``, ``tcp`` or ``tls`` when written; ``None`` means the peer's first
        transport, else UDP.
    :param domain: the domain of the Request-URI, To and From when it differs from ``host``.
    :param authuser: the digest user name when it is not ``user``.
    :param port: ``None`` when not written (5060, 5061 over TLS, or the peer's port).
    :param extension: the Contact user, which the provider puts in the Request-URI of the calls
        it sends (chan_sip's ``callback``); ``None`` means chan_sip's ``s``.
    :param expiry: the Expires requested (``~expiry``); ``None`` means ``defaultexpiry``.
    :param text: the line as written (a reload keeps registrations whose line is unchanged).
    """

    peer: str | None
    transport: TransportKind | None
    user: str
    domain: str | None
    secret: str
    authuser: str | None
    host: str
    port: int | None
    extension: str | None
    expiry: int | None
    text: str


_REGISTER_TRANSPORTS = (TransportKind.UDP, TransportKind.TCP, TransportKind.TLS)


def parse_registration(text: str) -> Registration:
    """Parse a ``register =>`` value as chan_sip's ``sip_parse_register_line`` splits it: the
    ``~expiry`` suffix, the ``peer?`` prefix, the ``transport://`` scheme, then the *last*
    ``@`` separates the credentials from ``host[:port][/extension]`` (a secret may contain
    ``@``, not ``:``)."""
    line = text.strip()
    rest, tilde, expiry_text = line.rpartition("~") if "~" in line else (line, "", "")
    expiry = None
    if tilde:
        if not expiry_text.isdigit() or int(expiry_text) < 1:
            raise OptionValueError(f"bad ~expiry '{expiry_text}': expected a whole number >= 1")
        expiry = int(expiry_text)
    peer = None
    if "?" in rest:
        peer, _, rest = rest.partition("?")
        if not peer:
            raise OptionValueError("empty peer name before '?'")
    transport = None
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        kinds = {k.value: k for k in _REGISTER_TRANSPORTS}
        transport = kinds.get(scheme.lower())
        if transport is None:
            raise OptionValueError(
                f"unknown transport '{scheme}://': expected {words(list(kinds))}"
            )
    credentials, at, hostpart = rest.rpartition("@")
    if not at or not credentials:
        raise OptionValueError(
            "expected [peer?][transport://]user[@domain][:secret[:authuser]]"
            "@host[:port][/extension][~expiry]"
        )
    userpart, _, secretpart = credentials.partition(":")
    secret, _, authuser = secretpart.partition(":")
    user, _, domain = userpart.partition("@")
    if not user:
        raise OptionValueError("missing user name before '@host'")
    hostport, slash, extension = hostpart.partition("/")
    if slash and not extension:
        raise OptionValueError("empty extension after '/'")
    try:
        address = parse_hostport(hostport, 0)
        host = check_host(address.host)
    except ValueError:
        raise OptionValueError(
            f"bad host '{hostport}': expected a host name or IP address with an optional :port"
        ) from None
    return Registration(
        peer=peer,
        transport=transport,
        user=user,
        domain=domain or None,
        secret=secret,
        authuser=authuser or None,
        host=host,
        port=address.port or None,
        extension=extension or None,
        expiry=expiry,
        text=line,
    )


def _parse_registration(text: str, ctx: ParseContext) -> Registration:
    return parse_registration(text)


REGISTRATION_VALUE: ValueType[Registration] = ValueType(
    "text",
    "[peer?][transport://]user[@domain][:secret[:authuser]]@host[:port][/extension][~expiry]",
    _parse_registration,
)
