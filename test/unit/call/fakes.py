"""Test doubles and builders shared by the call-layer unit tests (test/unit/call/).

Time is a :class:`twisted.internet.task.Clock`. The SIP side is not mocked: :class:`Network` is
the real sans-I/O :class:`~pbx.sip.transaction.layer.TransactionLayer` with its timers driven by
that Clock and every datagram it sends kept (parsed back) for the test to read, so a leg that
answers twice, answers after a final response or forgets a retransmission fails the way it would
on the wire. Its transaction user records what the layer hands up and forwards it to whatever
handler the test installs (``SipCalls.handle`` in the technology tests).

:class:`FakeMediaLeg` implements :class:`pbx.call.media.MediaLeg` without sockets: it records
what it is asked to do and offers fixed local media good for every policy (ICE credentials, a
DTLS fingerprint and SDES keys). Recorded messages come from test/data/call/ (a baresip desk
phone calling Asterisk) and test/data/sip/ (JsSIP/SIP.js in Chromium).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from pbx.adapters.timer_driver import TimerDriver
from pbx.call.channel import Channel
from pbx.call.dial import BridgeFactory, SipDialer
from pbx.call.dialplan_api import Indication
from pbx.call.inbound_leg import InboundLeg
from pbx.call.media import LegStats
from pbx.call.peers import PeerRegistry
from pbx.call.sip_calls import CallHooks, SipCalls
from pbx.call.sip_leg import LegContext, SipLeg
from pbx.config.model import loads
from pbx.config.schema import Diagnostics
from pbx.config.sip_conf import SipConfig, parse_sip_conf
from pbx.core.addr import Address, TransportKind
from pbx.core.errors import MediaError
from pbx.core.tokens import CountingTokens
from pbx.sdp.policy import LocalMedia, MediaPolicy, NegotiatedMedia
from pbx.sip.auth import DigestAuthenticator, compute_response
from pbx.sip.flow import Flow
from pbx.sip.location import Binding, Location
from pbx.sip.message import Request, Response, parse_message
from pbx.sip.transaction.base import ClientTransaction, Send, ServerTransaction
from pbx.sip.transaction.layer import TransactionLayer

#: The To tag Asterisk gave the recorded call in test/data/call/ (its 180/200 carry it, and the
#: phone's ACK and BYE).
RECORDED_TO_TAG = "as21ac11ec"
TEST = Path(__file__).resolve().parents[2]
CALL_DATA = TEST / "data" / "call"
SIP_DATA = TEST / "data" / "sip"
CONFIG_DATA = TEST / "data" / "config"

#: pbx's UDP listener and the desk phone of the baresip capture.
PBX_UDP = Address("127.0.0.1", 5060)
DESK = Address("127.0.0.1", 47300)
UDP_FLOW = Flow(TransportKind.UDP, PBX_UDP, DESK)
#: A browser's WebSocket connection.
BROWSER = Address("127.0.0.1", 41440)
WS_FLOW = Flow(TransportKind.WS, Address("127.0.0.1", 8088), BROWSER, conn_id=7)
TCP_FLOW = Flow(TransportKind.TCP, PBX_UDP, Address("127.0.0.1", 47301), conn_id=3)

FINGERPRINT = (
    "3F:9A:21:C4:7B:E0:55:18:D2:6C:0F:8B:A3:47:91:EE:"
    "02:5D:B8:74:C9:3A:1F:60:8E:D5:27:B1:4C:90:6A:F3"
)
LOCAL_MEDIA = LocalMedia(
    address="127.0.0.1",
    rtp_port=40000,
    rtcp_port=40001,
    ice_ufrag="5c1e9a0d",
    ice_pwd="8f2b6e417ad3c95e0b1f7a264c8d3e59",
    fingerprint=FINGERPRINT,
    sdes_keys={"AES_CM_128_HMAC_SHA1_80": bytes(range(30))},
)
DESK_POLICY = MediaPolicy("desk1", ("ulaw", "alaw"))


# -- recorded messages -----------------------------------------------------------------------
def load(name: str) -> bytes:
    """A file of test/data/call/, byte-exact."""
    return (CALL_DATA / name).read_bytes()


def load_sip(path: str) -> bytes:
    """A file of test/data/sip/ (``captures/jssip-invite-digest.sip``), byte-exact."""
    return (SIP_DATA / path).read_bytes()


def edit(data: bytes, *replacements: tuple[str, str]) -> bytes:
    """A recorded message with exact text replacements (each must occur once, in the head or
    the body) and its Content-Length made right for the edited body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    for old, new in replacements:
        where = head.count(old.encode()) + body.count(old.encode())
        if where != 1:
            raise AssertionError(f"{old!r} occurs {where} times")
        head = head.replace(old.encode(), new.encode())
        body = body.replace(old.encode(), new.encode())
    lines = [
        b"Content-Length: %d" % len(body) if line.lower().startswith(b"content-length:") else line
        for line in head.split(b"\r\n")
    ]
    return b"\r\n".join(lines) + sep + body


def request(data: bytes) -> Request:
    message = parse_message(data)
    message.validate()
    assert isinstance(message, Request)
    return message


def response(data: bytes) -> Response:
    message = parse_message(data)
    message.validate()
    assert isinstance(message, Response)
    return message


def reply(to: Request, recorded: bytes) -> Response:
    """A recorded response made the answer to ``to``: its Via, From, Call-ID and CSeq, and its
    To, with the recorded response's tag unless ``to`` is in a dialog already (status, Contact
    and body stay as recorded)."""
    resp = response(recorded)
    h = resp.headers
    h.set("Via", to.headers.get_all("Via")[0])
    h.set("From", to.headers.get("From") or "")
    h.set("Call-ID", to.call_id)
    h.set("CSeq", f"{to.cseq.seq} {to.cseq.method}")
    tag, ours = resp.to.tag, to.headers.get("To") or ""
    h.set("To", f"{ours};tag={tag}" if tag and to.to.tag is None else ours)
    return response(bytes(resp))


# -- tokens ----------------------------------------------------------------------------------
class ScriptedTokens(CountingTokens):
    """:class:`CountingTokens`, except that the first ``hex()`` calls return ``script`` in order
    (so a leg can get the very To tag a recorded ACK or BYE carries)."""

    def __init__(self, *script: str) -> None:
        super().__init__()
        self._script = list(script)

    def hex(self, nbytes: int) -> str:
        if self._script:
            return self._script.pop(0)
        return super().hex(nbytes)


# -- the SIP network -------------------------------------------------------------------------
Handler = Callable[[Request, Flow, ServerTransaction | None, float], bool]


class RecordingTU:
    """The layer's transaction user: records requests and forwards them to ``handler``;
    responses no transaction claims go to ``stray``."""

    def __init__(self) -> None:
        self.requests: list[tuple[Request, ServerTransaction | None]] = []
        self.handler: Handler | None = None
        self.stray: Callable[[Response], None] | None = None

    def request_received(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> None:
        self.requests.append((request, tx))
        if self.handler is not None:
            self.handler(request, flow, tx, now)

    def response_received(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        if tx is None and self.stray is not None:
            self.stray(response)


class Network:
    """The transaction layer between the tests and the call layer, on the test's Clock.

    ``kick`` is what ``LegContext.kick`` does in the daemon: flush the layer's outputs (kept in
    :attr:`wire`) and re-arm its timer.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tu = RecordingTU()
        self.layer = TransactionLayer(self.tu)
        self.wire: list[Send] = []
        self._driver = TimerDriver(clock, self.layer, self._flush)

    def _flush(self) -> None:
        self.wire.extend(self.layer.outputs())

    def kick(self) -> None:
        self._driver.pump()

    def deliver(self, message: Request | Response, flow: Flow) -> ServerTransaction | None:
        """``message`` arrives on ``flow``; returns the server transaction created for it."""
        before = len(self.tu.requests)
        self.layer.receive(message, flow, self.clock.seconds())
        self.kick()
        new = self.tu.requests[before:]
        return new[-1][1] if new else None

    def sent(self) -> list[Request | Response]:
        """Every message sent since the last call, parsed, in order."""
        out = [parse_message(s.data) for s in self.wire]
        self.wire.clear()
        return out

    def responses(self) -> list[Response]:
        """The responses among :meth:`sent` (the layer's own 100 Trying included)."""
        return [m for m in self.sent() if isinstance(m, Response)]

    def statuses(self) -> list[int]:
        return [r.status for r in self.responses()]

    def route_to(self, leg: SipLeg) -> None:
        """Hand the requests of ``leg``'s call to it as ``SipCalls`` would: ACKs to
        ``ack_received``, CANCEL to ``cancelled`` (inbound legs), the rest to
        ``in_dialog_request``; stray 2xx responses to ``retransmitted_2xx``."""

        def handle(request: Request, flow: Flow, tx: ServerTransaction | None, now: float) -> bool:
            if request.method == "ACK":
                leg.ack_received(request)
            elif tx is None:
                pass
            elif request.method == "CANCEL":
                assert isinstance(leg, InboundLeg)
                leg.cancelled(request, tx)
            else:
                leg.in_dialog_request(request, tx)
            return True

        self.tu.handler = handle
        self.tu.stray = leg.retransmitted_2xx


class Harness:
    """A Clock, the :class:`Network` on it and a :class:`LegContext` over both.

    Our address on a flow is its local address; legs that end are kept in :attr:`forgotten`.
    ``script`` are the first tokens handed out (see :class:`ScriptedTokens`).
    """

    def __init__(self, *script: str, start: float = 1000.0) -> None:
        self.clock = Clock()
        self.clock.advance(start)
        self.network = Network(self.clock)
        self.tokens = ScriptedTokens(*script)
        self.forgotten: list[SipLeg] = []
        self.ctx = LegContext(
            layer=self.network.layer,
            scheduler=self.clock,
            tokens=self.tokens,
            useragent="pbx-test",
            advertised=lambda flow: flow.local,
            kick=self.network.kick,
            forget=self.forgotten.append,
        )

    @property
    def now(self) -> float:
        return self.clock.seconds()


# -- media -----------------------------------------------------------------------------------
class FakeMediaLeg:
    """A :class:`pbx.call.media.MediaLeg` that records calls instead of sending packets.

    Its codec facts follow the last :meth:`configure` unless a test sets them with
    :meth:`negotiated_as`. ``play`` returns a Deferred the test fires (``plays``).
    """

    def __init__(self, name: str = "SIP/test", local: LocalMedia = LOCAL_MEDIA) -> None:
        self.name = name
        self.comedia = False
        self.sink: Callable[[bytearray], None] | None = None
        self.on_dtmf: Callable[[str], None] | None = None
        self.on_dead: Callable[[str], None] | None = None
        self.local = local
        self.configured: list[NegotiatedMedia] = []
        self.configure_error: Exception | None = None
        self.dtmf_sent: list[str] = []
        self.plays: list[tuple[array[int] | bytes, int, Deferred[None]]] = []
        self.play_error: Exception | None = None
        self.cancelled_plays = 0
        self.echoing: list[bool] = []
        self.closed = 0
        self._codecs: tuple[tuple[str, int], ...] = ()
        self._dtmf: int | None = None

    def negotiated_as(self, codecs: tuple[tuple[str, int], ...], dtmf: int | None) -> None:
        self._codecs, self._dtmf = codecs, dtmf

    @property
    def codec(self) -> str:
        return self._codecs[0][0] if self._codecs else ""

    @property
    def payload_type(self) -> int:
        return self._codecs[0][1] if self._codecs else -1

    @property
    def codecs(self) -> tuple[tuple[str, int], ...]:
        return self._codecs

    @property
    def dtmf_payload_type(self) -> int | None:
        return self._dtmf

    def local_media(self) -> LocalMedia:
        return self.local

    def configure(self, negotiated: NegotiatedMedia) -> None:
        if self.configure_error is not None:
            raise self.configure_error
        self.configured.append(negotiated)
        self._codecs = negotiated.codecs or ((negotiated.codec, negotiated.payload_type),)
        self._dtmf = negotiated.dtmf_pt

    def send_rtp(self, packet: bytearray) -> None:
        raise NotImplementedError("the call-layer tests move no RTP")

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        if self._dtmf is None:
            raise MediaError("no telephone-event negotiated")
        self.dtmf_sent.append(digit)

    def play(self, audio: array[int] | bytes, rate: int = 8000) -> Deferred[None]:
        if self.play_error is not None:
            raise self.play_error

        def cancel(d: Deferred[None]) -> None:
            self.cancelled_plays += 1

        d: Deferred[None] = Deferred(cancel)
        self.plays.append((audio, rate, d))
        return d

    def echo(self, on: bool) -> None:
        self.echoing.append(on)

    def stats(self) -> LegStats:
        return LegStats(
            codec=self.codec,
            remote_address=Address("127.0.0.1", 50500),
            local_ssrc=0x1234,
            remote_ssrc=0x5678,
            rx_packets=150,
            rx_octets=25800,
            rx_lost=2,
            rx_loss_percent=1.3,
            rx_jitter=0.0021,
            tx_packets=149,
            tx_octets=25628,
            tx_lost=0,
            tx_loss_percent=0.0,
            tx_jitter=0.0005,
            rtt=0.012,
            rtcp_received=3,
            ice_state=None,
            dtls_state=None,
            srtp_profile=None,
            dropped_source=0,
            srtp_failures=0,
        )

    def close(self) -> None:
        self.closed += 1


class FakeMediaFactory:
    """A :class:`pbx.call.media.MediaFactory` of :class:`FakeMediaLeg` (or a MediaError)."""

    def __init__(self) -> None:
        self.legs: list[FakeMediaLeg] = []
        self.requests: list[tuple[str, MediaPolicy, str, tuple[int, int]]] = []
        self.peer_hosts: list[str | None] = []
        self.error: MediaError | None = None

    def create_leg(
        self,
        name: str,
        policy: MediaPolicy,
        family: str = "IPv4",
        *,
        timeouts: tuple[int, int] = (0, 0),
        peer_host: str | None = None,
    ) -> FakeMediaLeg:
        self.requests.append((name, policy, family, timeouts))
        self.peer_hosts.append(peer_host)
        if self.error is not None:
            raise self.error
        leg = FakeMediaLeg(name)
        self.legs.append(leg)
        return leg


class FakeBridge:
    """What ``Dial`` holds of a :class:`pbx.call.bridge.Bridge`: the legs, and ``stop``."""

    def __init__(self, a: object, b: object) -> None:
        self.legs = (a, b)
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


class BridgeRecorder:
    """A ``BridgeFactory`` keeping the bridges it made (``error`` refuses the next ones)."""

    def __init__(self) -> None:
        self.bridges: list[FakeBridge] = []
        self.error: MediaError | None = None

    def __call__(self, a: object, b: object) -> FakeBridge:
        if self.error is not None:
            raise self.error
        bridge = FakeBridge(a, b)
        self.bridges.append(bridge)
        return bridge


class FakeSounds:
    """A SoundLibrary: names in ``present`` load as one second of silence at 8 kHz."""

    def __init__(self, *present: str) -> None:
        self.present = set(present)
        self.broken: dict[str, MediaError] = {}
        self.loaded: list[str] = []

    def load(self, name: str) -> tuple[object, int] | None:
        self.loaded.append(name)
        if name in self.broken:
            raise self.broken[name]
        if name not in self.present:
            return None
        return array("h", bytes(16000)), 8000


class FakeDriver:
    """A :class:`pbx.call.channel.ChannelDriver` recording what the channel asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.answer_result: Deferred[None] | None = None

    def answer(self) -> Deferred[None]:
        self.calls.append(("answer", None))
        if self.answer_result is not None:
            return self.answer_result
        d: Deferred[None] = Deferred()
        d.callback(None)
        return d

    def indicate(self, what: Indication) -> None:
        self.calls.append(("indicate", what))

    def hangup(self, cause: int) -> None:
        self.calls.append(("hangup", cause))

    def send_info_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        self.calls.append(("info", digit))


# -- configuration ---------------------------------------------------------------------------
def sip_config(text: str) -> SipConfig:
    """sip.conf text (certificate paths resolve against test/data/config); errors fail."""
    cfg = loads(text, "sip.conf", str(CONFIG_DATA))
    diag = Diagnostics()
    diag.extend(cfg.errors)
    config = parse_sip_conf(cfg, str(CONFIG_DATA), diag)
    if diag.errors:
        raise AssertionError([str(e) for e in diag.errors])
    return config


class FakeDialplan:
    """The dialplan as the INVITE checks see it: ``exten@context`` entries; more digits can
    match when an entry of the context is longer and starts with the number dialled."""

    def __init__(self, *extensions: str) -> None:
        self.extensions: set[tuple[str, str]] = set()
        for entry in extensions:
            exten, context = entry.split("@")
            self.extensions.add((exten, context))

    def exists(
        self, context: str, exten: str, priority: int = 1, callerid: str | None = None
    ) -> bool:
        return (exten, context) in self.extensions

    def match_more(
        self, context: str, exten: str, callerid: str | None = None, priority: int = 1
    ) -> bool:
        return any(c == context and e.startswith(exten) and e != exten for e, c in self.extensions)


# -- the SIP technology ----------------------------------------------------------------------
class CallsHarness(Harness):
    """:class:`pbx.call.sip_calls.SipCalls` and its :class:`pbx.call.dial.SipDialer` over the
    :class:`Network`, with real peers (sip.conf text), location and digest authentication and
    fake media, dialplan, bridges and sounds. The network hands requests to ``SipCalls.handle``
    as the endpoint does.
    """

    def __init__(self, conf: str, *extensions: str, script: tuple[str, ...] = ()) -> None:
        super().__init__(*script)
        self.config = sip_config(conf)
        self.location = Location()
        self.peers = PeerRegistry(self.config, self.location)
        self.auth = DigestAuthenticator(self.config.general.realm, b"test-key-0123456")
        self.media = FakeMediaFactory()
        self.dialplan = FakeDialplan(*extensions)
        self.started: list[tuple[Channel, str, str]] = []
        self.created: list[Channel] = []
        self.refused: list[Channel] = []
        self.bridges = BridgeRecorder()
        self.bridged: list[tuple[Channel, Channel]] = []
        self.unreachable: set[Address] = set()
        self.dialer = SipDialer(self.clock, cast(BridgeFactory, self.bridges))
        self.dialer.on_bridged = lambda a, b: self.bridged.append((a, b))
        self.sounds = FakeSounds()
        self.sip = SipCalls(
            self.ctx,
            self.peers,
            self.auth,
            self.media,
            CallHooks(
                start_dialplan=lambda c, ctx, exten: self.started.append((c, ctx, exten)),
                dialplan=lambda: self.dialplan,
                channel_created=self.created.append,
                call_refused=self.refused.append,
            ),
            self.dialer,
            self.sounds,
            self.flow_to,
        )
        self.dialer.sip = self.sip
        self.network.tu.handler = self.sip.handle
        self.network.tu.stray = self.sip.response_without_transaction

    def flow_to(self, kind: TransportKind, flow: Flow | None, target: Address) -> Flow | None:
        """The hub's rule: the binding's own connection, else a UDP flow from our listener."""
        if target in self.unreachable:
            return None
        if flow is not None:
            return flow
        return Flow(kind, PBX_UDP, target)

    def register(
        self,
        aor: str,
        contact: str,
        source: Address,
        *,
        flow: Flow | None = None,
        transport: TransportKind = TransportKind.UDP,
        expires: float = 3600.0,
    ) -> Binding:
        """Store a binding as the registrar would (registered now)."""
        binding = Binding(
            aor=aor,
            contact=contact,
            expires_at=self.now + expires,
            registered_at=self.now,
            source=source,
            transport=transport,
            target=source,
            flow=flow if flow is not None else Flow(transport, PBX_UDP, source),
            user_agent="baresip v1.0.0 (x86_64/linux)",
        )
        self.location.save(binding, max_contacts=5)
        return binding

    def authorization(
        self, invite: Request, username: str, password: str, realm: str | None = None
    ) -> str:
        """The ``Authorization`` a phone answers our current challenge with (RFC 2617, no
        qop, as baresip does)."""
        nonce = self.auth.nonce(self.now)
        realm = realm or self.auth.realm
        ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()
        digest = compute_response("MD5", ha1, nonce, "INVITE", invite.uri)
        return (
            f'Digest username="{username}", realm="{realm}", nonce="{nonce}", '
            f'uri="{invite.uri}", response="{digest}"'
        )
