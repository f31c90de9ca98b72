"""Building the requests pbx originates (RFC 3261 §8.1.1): Via, From/To, Call-ID, CSeq, Contact.

The sent-by of our Via and the host of our Contact are the address we have on the flow the request
leaves by (the transport hub resolves wildcard listeners to a concrete source address), so the
peer can answer on that very path; for WebSocket flows the connection itself is the route
(RFC 7118 §5).
"""

from __future__ import annotations

from pbx.core.addr import Address, bracket
from pbx.core.tokens import TokenSource
from pbx.sip.flow import Flow
from pbx.sip.headers import Headers
from pbx.sip.message import Request

#: RFC 3261 §8.1.1.7: branch IDs start with the magic cookie.
MAGIC_COOKIE = "z9hG4bK"


def new_branch(tokens: TokenSource) -> str:
    return MAGIC_COOKIE + tokens.hex(8)


def via_value(flow: Flow, local: Address, branch: str) -> str:
    """Our Via on ``flow`` with sent-by ``local``; ``rport`` asks the far end to answer the
    source port (RFC 3581)."""
    return f"SIP/2.0/{flow.kind.via_token} {local};branch={branch};rport"


def contact_uri(flow: Flow, local: Address, user: str | None = None) -> str:
    """A Contact URI that reaches us over ``flow``'s transport at ``local``."""
    userpart = f"{user}@" if user else ""
    transport = "" if flow.kind.value == "udp" else f";transport={flow.kind.value}"
    return f"sip:{userpart}{bracket(local.host)}:{local.port}{transport}"


def build_request(
    method: str,
    request_uri: str,
    flow: Flow,
    *,
    local: Address,
    from_: str,
    from_tag: str,
    to: str,
    call_id: str,
    cseq: int,
    branch: str,
    to_tag: str | None = None,
    contact: str | None = None,
    user_agent: str = "",
    max_forwards: int = 70,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Request:
    """A new out-of-dialog or in-dialog request with the mandatory headers of §8.1.1."""
    headers = Headers()
    headers.add("Via", via_value(flow, local, branch))
    headers.add("Max-Forwards", str(max_forwards))
    headers.add("From", f"{from_};tag={from_tag}")
    headers.add("To", f"{to};tag={to_tag}" if to_tag else to)
    headers.add("Call-ID", call_id)
    headers.add("CSeq", f"{cseq} {method}")
    if contact is not None:
        headers.add("Contact", contact)
    if user_agent:
        headers.add("User-Agent", user_agent)
    for name, value in extra or ():
        headers.add(name, value)
    return Request(method, request_uri, headers, body)
