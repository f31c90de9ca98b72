"""Transport kinds and network addresses (RFC 3261 §18, RFC 7118)."""

from __future__ import annotations

import enum
import ipaddress
from typing import NamedTuple


class TransportKind(enum.Enum):
    """The SIP transports pbx speaks; the value is the ``transport=`` / Via token in lower case."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"
    WS = "ws"
    WSS = "wss"

    @property
    def via_token(self) -> str:
        """The token of a Via ``sent-protocol`` (``SIP/2.0/UDP``)."""
        return self.value.upper()

    @property
    def reliable(self) -> bool:
        """Stream and message transports are reliable: no retransmissions (RFC 3261 §17)."""
        return self is not TransportKind.UDP

    @property
    def secure(self) -> bool:
        return self in (TransportKind.TLS, TransportKind.WSS)

    @property
    def websocket(self) -> bool:
        return self in (TransportKind.WS, TransportKind.WSS)

    @classmethod
    def parse(cls, token: str) -> TransportKind:
        """Accept ``udp``/``UDP``/... ; raise ``ValueError`` for anything else."""
        return cls(token.strip().lower())


class Address(NamedTuple):
    """A host (IP literal or name, no brackets) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{bracket(self.host)}:{self.port}"

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host


def bracket(host: str) -> str:
    """Wrap an IPv6 literal in brackets, as SIP URIs and Via headers require (RFC 5118)."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def unbracket(host: str) -> str:
    """Strip brackets from ``[::1]``."""
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def unmap_ipv4(host: str) -> str:
    """``::ffff:192.0.2.1`` (an IPv4 peer on a dual-stack socket) -> ``192.0.2.1``."""
    if host[:7].lower() == "::ffff:" and "." in host:
        return host[7:]
    return host


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(unbracket(host))
    except ValueError:
        return False
    return True


def parse_hostport(text: str, default_port: int) -> Address:
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``.

    :raises ValueError: if the port is not a number in 1..65535 or the brackets are unbalanced.
    """
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unbalanced '[' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"garbage after ']' in {text!r}")
        port_text = rest[1:] if rest else ""
    elif text.count(":") > 1:
        # A bare IPv6 literal without brackets: all of it is the host.
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"missing host in {text!r}")
    if not port_text:
        return Address(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in {text!r}")
    return Address(host, int(port_text))
