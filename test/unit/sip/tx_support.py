"""Builders and fakes shared by the transaction tests (test_ict/nict/ist/nist/layer).

Messages are built as text and parsed, so the machines see what the transport would hand them;
responses "received" from the network go through bytes and back for the same reason.
"""

from __future__ import annotations

from pathlib import Path

from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, make_response, parse_message
from pbx.sip.transaction.base import ClientTransaction, ServerTransaction, TimerConfig, Transaction

DATA = Path(__file__).resolve().parents[2] / "data" / "sip" / "transactions"

LOCAL = Address("127.0.0.1", 5060)
PEER = Address("127.0.0.2", 5062)
UDP = Flow(TransportKind.UDP, LOCAL, PEER)
TCP = Flow(TransportKind.TCP, LOCAL, PEER, conn_id=3)
WS = Flow(TransportKind.WS, Address("127.0.0.1", 8088), Address("127.0.0.1", 41440), conn_id=7)


def load(name: str) -> bytes:
    """A fixture from test/data/sip/transactions/, byte-exact."""
    return (DATA / name).read_bytes()


def parse(data: bytes) -> Request | Response:
    message = parse_message(data)
    message.validate()
    return message


def parse_request(data: bytes) -> Request:
    message = parse(data)
    assert isinstance(message, Request)
    return message


def parse_response(data: bytes) -> Response:
    message = parse(data)
    assert isinstance(message, Response)
    return message


def request(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bKnashds8",
    sent_by: str = "127.0.0.2:5062",
    transport: str = "UDP",
    cseq: int = 314159,
    uri: str = "sip:bob@biloxi.example.com",
    from_tag: str = "9fxced76sl",
    to_tag: str | None = None,
    call_id: str = "3848276298220188511@atlanta.example.com",
    extra: tuple[str, ...] = (),
) -> Request:
    """A request as a UA at ``sent_by`` would send it (RFC 3261 §8.1.1 headers)."""
    via = f"SIP/2.0/{transport} {sent_by}" + (f";branch={branch}" if branch else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        "From: Alice <sip:alice@atlanta.example.com>;tag=" + from_tag,
        "To: Bob <sip:bob@biloxi.example.com>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    return parse_request("\r\n".join(lines).encode())


def ack_for(invite: Request, response: Response, *, branch: str | None = None) -> Request:
    """The ACK a UAC sends for ``response``: same branch for a non-2xx (§17.1.1.3), a new
    ``branch`` for a 2xx (§13.2.2.4)."""
    via = invite.headers.get_all("Via")[0]
    if branch is not None:
        old = invite.top_via.branch
        assert old is not None
        via = via.replace(old, branch)
    lines = [
        f"ACK {invite.uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: {invite.headers.get('From')}",
        f"To: {response.headers.get('To')}",
        f"Call-ID: {invite.call_id}",
        f"CSeq: {invite.cseq.seq} ACK",
        "Content-Length: 0",
        "",
        "",
    ]
    return parse_request("\r\n".join(lines).encode())


def answer(req: Request, status: int, to_tag: str | None = "a6c85cf") -> Response:
    """The response a TU builds (not yet serialised)."""
    return make_response(req, status, to_tag=to_tag)


def received(req: Request, status: int, to_tag: str | None = "a6c85cf") -> Response:
    """A response to ``req`` as it arrives from the network."""
    return parse_response(bytes(make_response(req, status, to_tag=to_tag)))


class FakeHost:
    """``TransactionHost`` that records everything a transaction asks of its layer."""

    def __init__(self, config: TimerConfig | None = None) -> None:
        self._config = TimerConfig() if config is None else config
        self.sent: list[tuple[bytes, Flow]] = []
        self.scheduled: list[float] = []
        self.ended: list[Transaction] = []
        self.responses: list[tuple[Response, ClientTransaction | None, float]] = []
        self.acks: list[tuple[Request, Flow, float]] = []

    @property
    def config(self) -> TimerConfig:
        return self._config

    def send(self, data: bytes, flow: Flow) -> None:
        self.sent.append((data, flow))

    def timer_changed(self, tx: Transaction, at: float) -> None:
        assert at == tx.timer_at()
        self.scheduled.append(at)

    def terminated(self, tx: Transaction) -> None:
        self.ended.append(tx)

    def deliver_response(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        self.responses.append((response, tx, now))

    def deliver_ack(self, ack: Request, flow: Flow, now: float) -> None:
        self.acks.append((ack, flow, now))

    def take(self) -> list[bytes]:
        """The data sent since the last call."""
        data = [d for d, _flow in self.sent]
        self.sent.clear()
        return data


class Recorder:
    """Callbacks a TU sets on a transaction, recorded in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int | None]] = []

    def on_response(self, response: Response) -> None:
        self.events.append(("response", response.status))

    def on_timeout(self) -> None:
        self.events.append(("timeout", None))

    def on_transport_error(self) -> None:
        self.events.append(("transport error", None))

    def attach(self, tx: ClientTransaction | ServerTransaction) -> None:
        if isinstance(tx, ClientTransaction):
            tx.on_response = self.on_response
        tx.on_timeout = self.on_timeout
        tx.on_transport_error = self.on_transport_error
