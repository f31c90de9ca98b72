"""SIP URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1; RFC 5118 for IPv6).

:class:`SipUri` is a ``sip:``/``sips:`` URI taken apart; every other scheme (``tel:``, ``urn:``,
``http:`` ...) is an :class:`AbsoluteUri` kept verbatim: scheme policy (416) belongs to the
layers above, the parser only reports ``uri.scheme``. :class:`NameAddr` is the value of From, To,
Contact, Route and Record-Route in either the ``name-addr`` or the ``addr-spec`` form.

Parts are kept as written: user parts stay %-escaped (compare them through
:func:`pbx.sip.grammar.unescape` or :meth:`SipUri.aor`), host names keep their case, parameter
values keep their quotes. Only parameter *names* and the scheme are lower-cased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pbx.sip.grammar import QUOTED, SipParseError, parse_params, quote, unescape, unquote

__all__ = ["AbsoluteUri", "NameAddr", "SipUri", "parse_uri"]

# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")
# No URI may contain LWS, DQUOTE or angle brackets (RFC 3986 §2, RFC 3261 §25.1); catching them
# here rejects RFC 4475 §3.1.2.7/§3.1.2.8/§3.1.2.14.
_FORBIDDEN_RE = re.compile(r'[\s"<>]')
# hostport     = host [ ":" port ]
# host         = hostname / IPv4address / IPv6reference
# IPv6reference = "[" IPv6address "]"
# (Liberal on purpose: "_" in host names, and any hex/colon/dot run inside brackets, which lets
# the RFC 5118 §4.10 "2001:db8:::192.0.2.1" typo through as its authors recommend.)
_HOSTPORT_RE = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-._]+))(?::([0-9]{1,5}))?")
# uri-parameter = pname [ "=" pvalue ];  pname/pvalue = 1*paramchar
# paramchar = param-unreserved / unreserved / escaped
# param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
_PARAMCHARS_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]+")


def _fail(text: str) -> SipParseError:
    return SipParseError(f"Malformed URI '{text}'")


@dataclass(slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1).

    ``host`` is an IPv6 address without brackets or a name as written; ``params`` keeps order,
    its keys lower-cased, a flag parameter (``;lr``) mapping to ``None``; ``headers`` are the
    ``?name=value`` URI headers, still escaped.
    """

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP or SIPS URI; raises :class:`SipParseError` (400) otherwise."""
        m = _SCHEME_RE.match(text)
        if m is None or m.group(1).lower() not in ("sip", "sips") or _FORBIDDEN_RE.search(text):
            raise _fail(text)
        return cls._parse_rest(text, m.group(1).lower(), text[m.end() :])

    @classmethod
    def _parse_rest(cls, text: str, scheme: str, rest: str) -> SipUri:
        """The part after ``scheme:`` of ``text``, whose scheme and characters were checked."""
        user = password = None
        # "@" cannot appear unescaped after the userinfo, while the user part itself may hold
        # ";" and "?" (user-unreserved), so the last "@" is the separator.
        at = rest.rfind("@")
        if at >= 0:
            user, colon, pw = rest[:at].partition(":")
            if not user:
                raise _fail(text)
            password = pw if colon else None
            rest = rest[at + 1 :]
        headers: dict[str, str] = {}
        rest, question, hpart = rest.partition("?")
        if question:
            # headers = "?" header *( "&" header );  header = hname "=" hvalue
            for item in hpart.split("&"):
                name, equals, value = item.partition("=")
                if not name or not equals:
                    raise _fail(text)
                headers[name] = value
        hostport, *raw_params = rest.split(";")
        hm = _HOSTPORT_RE.fullmatch(hostport)
        if hm is None or (hm.group(3) is not None and int(hm.group(3)) > 65535):
            raise _fail(text)
        params: dict[str, str | None] = {}
        for item in raw_params:
            name, equals, value = item.partition("=")
            if not _PARAMCHARS_RE.fullmatch(name) or (
                equals and not _PARAMCHARS_RE.fullmatch(value)
            ):
                raise _fail(text)
            params[name.lower()] = value if equals else None
        port = hm.group(3)
        return cls(
            scheme,
            hm.group(1) or hm.group(2),
            user,
            password,
            None if port is None else int(port),
            params,
            headers,
        )

    @property
    def transport(self) -> str | None:
        """The ``transport`` URI parameter, lower-cased (``None`` when absent or valueless)."""
        value = self.params.get("transport")
        return None if value is None else value.lower()

    def host_port(self) -> str:
        """``host[:port]`` with an IPv6 address in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def aor(self) -> str:
        """``scheme:user@host`` with the user unescaped and the host lower-cased.

        This is the comparison key of an address-of-record (RFC 3261 §10.3 step 5, §19.1.4):
        parameters, port and password do not take part.
        """
        user = "" if self.user is None else unescape(self.user) + "@"
        return f"{self.scheme}:{user}{self.host.lower()}"

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user if self.password is None else f"{self.user}:{self.password}"
            userinfo += "@"
        text = f"{self.scheme}:{userinfo}{self.host_port()}"
        text += "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        if self.headers:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return text


@dataclass(slots=True)
class AbsoluteUri:
    """A URI of any scheme but sip/sips, kept verbatim (``scheme`` lower-cased)."""

    scheme: str
    text: str

    def __str__(self) -> str:
        return self.text


def parse_uri(text: str) -> SipUri | AbsoluteUri:
    """Parse any URI: sip/sips become :class:`SipUri`, other schemes :class:`AbsoluteUri`."""
    m = _SCHEME_RE.match(text)
    if m is None or len(text) == m.end() or _FORBIDDEN_RE.search(text):
        raise _fail(text)
    scheme = m.group(1).lower()
    if scheme in ("sip", "sips"):
        return SipUri._parse_rest(text, scheme, text[m.end() :])
    return AbsoluteUri(scheme, text)


_DISPLAY_RE = re.compile(QUOTED)


@dataclass(slots=True)
class NameAddr:
    """``name-addr`` / ``addr-spec`` plus header parameters (RFC 3261 §20.10, §20.20, §20.39).

    ``display_name`` is unquoted (quoted-pairs resolved); ``params`` are the header parameters
    after the URI (tag, expires, q, +sip.instance, reg-id ...), values kept as written.
    """

    uri: SipUri | AbsoluteUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse one From/To/Contact/Route value; raises :class:`SipParseError` (400)."""
        text = text.strip()
        display: str | None = None
        rest = text
        if text.startswith('"'):
            m = _DISPLAY_RE.match(text)
            if m is None:
                raise SipParseError(f"Malformed name-addr '{text}'")
            display = unquote(m.group())
            rest = text[m.end() :].lstrip()
        else:
            lt = text.find("<")
            if lt > 0:
                # RFC 3261 wants a token list or a quoted string here; unquoted names with
                # commas or dots (RFC 4475 §3.1.2.15) are accepted as chan_sip does.
                display = text[:lt].strip()
                rest = text[lt:]
        if rest.startswith("<"):
            gt = rest.find(">")
            if gt < 0:
                raise SipParseError(f"Malformed name-addr '{text}'")
            uri = parse_uri(rest[1:gt])
            ptext = rest[gt + 1 :]
        elif display is not None:
            raise SipParseError(f"Malformed name-addr '{text}'")
        else:
            # addr-spec form: every ";" starts a header parameter (§20.10), and a URI with
            # "?", "," or ";" had to be in angle brackets (RFC 4475 §3.1.2.13).
            uri_text, semi, ptext = text.partition(";")
            ptext = semi + ptext
            uri = parse_uri(uri_text.rstrip())
            if isinstance(uri, SipUri) and uri.headers:
                raise SipParseError(f"Malformed name-addr '{text}'")
        params = parse_params(ptext.rstrip())
        if params is None:
            raise SipParseError(f"Malformed name-addr '{text}'")
        return cls(uri, display or None, params)

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To), or ``None``."""
        return self.params.get("tag")

    def __str__(self) -> str:
        text = f"<{self.uri}>"
        if self.display_name:
            text = f"{quote(self.display_name)} {text}"
        return text + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
