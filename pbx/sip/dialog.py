"""Dialog state (RFC 3261 §12): identity, CSeq spaces, route set, remote target.

A dialog is created by the UAS from the INVITE and its 1xx/2xx (§12.1.1) or by the UAC from
its INVITE and the response (§12.1.2), and builds the in-dialog requests we send (§12.2.1.1:
Request-URI = remote target, Route = route set, loose routing per RFC 3261 §16.12.1.1 — strict
routers, which only RFC 2543 proxies are, are not supported). Incoming in-dialog requests are
checked for CSeq order (§12.2.2). The flow remembers how to reach the peer: for a WebSocket
peer that is the very connection (RFC 7118 §5); for UDP, the address the INVITE came from when
the peer is behind NAT, which the caller decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx.core.addr import Address
from pbx.sip.flow import Flow
from pbx.sip.headers import Headers
from pbx.sip.message import Request, Response
from pbx.sip.ua import via_value

DialogId = tuple[str, str, str]
"""(Call-ID, local tag, remote tag)."""


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    """Our name-addr without tag (From of our requests)."""
    remote_uri: str
    """The peer's name-addr without tag (To of our requests)."""
    remote_target: str
    """The peer's Contact URI: the Request-URI of our requests."""
    route_set: list[str]
    local_seq: int
    remote_seq: int | None
    local_contact: str
    flow: Flow
    secure: bool = False

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def from_uas(cls, request: Request, local_tag: str, local_contact: str, flow: Flow) -> Dialog:
        """§12.1.1: the UAS side, from the dialog-creating request."""
        contacts = request.contacts
        remote_target = str(contacts[0].uri) if contacts and contacts != "*" else request.uri
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local_uri=_without_tag(request.headers.get("To") or ""),
            remote_uri=_without_tag(request.headers.get("From") or ""),
            remote_target=remote_target,
            route_set=request.headers.get_all("Record-Route"),
            local_seq=0,
            remote_seq=request.cseq.seq,
            local_contact=local_contact,
            flow=flow,
            secure=request.uri.lower().startswith("sips:"),
        )

    @classmethod
    def from_uac(cls, request: Request, response: Response, flow: Flow) -> Dialog:
        """§12.1.2: the UAC side, from our request and a 1xx-with-tag or 2xx."""
        contacts = response.contacts
        remote_target = str(contacts[0].uri) if contacts and contacts != "*" else request.uri
        route_set = list(reversed(response.headers.get_all("Record-Route")))
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=_without_tag(request.headers.get("From") or ""),
            remote_uri=_without_tag(request.headers.get("To") or ""),
            remote_target=remote_target,
            route_set=route_set,
            local_seq=request.cseq.seq,
            remote_seq=None,
            local_contact=request.headers.get("Contact") or "",
            flow=flow,
            secure=request.uri.lower().startswith("sips:"),
        )

    def update_target(self, message: Request | Response) -> None:
        """A target refresh (re-INVITE or its 2xx) may change the remote target (§12.2)."""
        contacts = message.contacts
        if contacts and contacts != "*":
            self.remote_target = str(contacts[0].uri)

    def accept_remote_cseq(self, request: Request) -> bool:
        """§12.2.2: a CSeq lower than the last one seen is out of order (-> 500)."""
        seq = request.cseq.seq
        if request.method in ("ACK", "CANCEL"):
            return True
        if self.remote_seq is not None and seq <= self.remote_seq:
            return False
        self.remote_seq = seq
        return True

    def create_request(
        self,
        method: str,
        local: Address,
        branch: str,
        *,
        user_agent: str = "",
        cseq: int | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Request:
        """§12.2.1.1: an in-dialog request (a new CSeq unless ``cseq`` is given, e.g. ACK)."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        headers = Headers()
        headers.add("Via", via_value(self.flow, local, branch))
        headers.add("Max-Forwards", "70")
        headers.add("From", f"{self.local_uri};tag={self.local_tag}")
        to = f"{self.remote_uri};tag={self.remote_tag}" if self.remote_tag else self.remote_uri
        headers.add("To", to)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            headers.add("Route", route)
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "REFER") and self.local_contact:
            headers.add("Contact", self.local_contact)
        if user_agent:
            headers.add("User-Agent", user_agent)
        for name, value in extra or ():
            headers.add(name, value)
        return Request(method, self.remote_target, headers, body)


def _without_tag(value: str) -> str:
    """A From/To value with its ``tag`` parameter removed (kept verbatim otherwise)."""
    parts = _split_params(value)
    kept = [p for p in parts[1:] if not p.strip().lower().startswith("tag=")]
    return ";".join([parts[0], *kept])


def _split_params(value: str) -> list[str]:
    """Split a name-addr at the ``;`` outside ``<>`` and quotes."""
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, c in enumerate(value):
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "<":
            depth += 1
        elif not quoted and c == ">":
            depth -= 1
        elif c == ";" and depth == 0 and not quoted:
            out.append(value[start:i])
            start = i + 1
    out.append(value[start:])
    return out
