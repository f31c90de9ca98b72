"""Transport-layer rules of RFC 3261 §18 that need no socket.

* :func:`stamp_received` — §18.2.1 and RFC 3581 §4: add ``received`` when the top Via's host is
  not the packet's source address, and fill in ``rport`` when the client asked for it.
* :func:`response_flow` — §18.2.2 and RFC 3581 §4: where a response goes. Connection flows
  answer on the same connection; UDP answers go to the source address, at the ``rport`` port
  when there is one, else at the Via's port; ``force_rport`` (chan_sip ``nat=force_rport``)
  always answers the packet's source, as if the client had asked for ``rport``.
* :func:`same_host` — the address comparison both rules (and chan_sip's NAT test) rely on.
"""

from __future__ import annotations

import functools
import ipaddress

from pbx.core.addr import Address, unbracket
from pbx.sip.flow import Flow
from pbx.sip.message import Request


def same_host(a: str, b: str) -> bool:
    """Whether two hosts are the same address: IP literals compare as addresses (``::1`` is
    ``0:0::1``, an IPv4-mapped IPv6 address is its IPv4 address), names case-insensitively."""
    if a == b:
        return True  # the common case, a phone's own address in its Via: no parsing
    ip_a, ip_b = _ip(a), _ip(b)
    if ip_a is None or ip_b is None:
        return a.lower() == b.lower()
    return ip_a == ip_b


# Parsing an address costs microseconds and every request from a NATed phone needs it (Via host
# versus source): the sources of recent traffic are few enough to remember.
@functools.lru_cache(maxsize=1024)
def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(unbracket(host))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def stamp_received(request: Request, flow: Flow) -> None:
    """Record the source address in the top Via (§18.2.1, RFC 3581 §4).

    ``received`` is added when the sent-by host is not the source address, and always together
    with a filled-in ``rport`` (RFC 3581 §4: "even if it is identical").
    """
    via = request.top_via
    changed = False
    if via.rport_requested and via.params.get("rport") is None:
        via.params["rport"] = str(flow.remote.port)
        changed = True
    if (changed or not same_host(via.host, flow.remote.host)) and via.params.get(
        "received"
    ) != flow.remote.host:
        via.params["received"] = flow.remote.host
        changed = True
    if changed:
        request.replace_top_via(via)


def response_flow(request: Request, flow: Flow, force_rport: bool = False) -> Flow:
    """The flow a response to ``request`` (received on ``flow``) is sent on.

    For UDP the host is always the packet's source: that is what ``received`` holds after
    :func:`stamp_received`, and a ``received`` the client wrote itself must not steer our
    responses to a third party.
    """
    if flow.connection_oriented or force_rport:
        return flow
    via = request.top_via
    if via.rport_requested:
        # Filled in by stamp_received; a valueless one means the same (RFC 3581 §4).
        rport = via.rport_value
        port = rport if rport is not None and 0 < rport < 65536 else flow.remote.port
    else:
        port = via.port or 5060
    if port == flow.remote.port:
        return flow
    return Flow(flow.kind, flow.local, Address(flow.remote.host, port), flow.conn_id)
