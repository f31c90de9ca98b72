"""ICE-lite responder for one media stream (RFC 8445 §2.5, §7.3; RFC 7675 consent freshness).

A lite agent gathers only host candidates, never sends checks and is always the controlled agent
(RFC 8445 §6.1.1). This module answers the peer's Binding requests on our port and tracks which
remote address media goes to. It does not own sockets, candidates in SDP, or DTLS/RTP; the
stream demultiplexes first-byte 0–3 datagrams (RFC 7983) to :meth:`IceLiteResponder.receive`.

Request handling (RFC 8445 §7.3, RFC 5389 §7.3 and §10.1.2, short-term credentials):

* not STUN, bad or missing FINGERPRINT, not a Binding request -> dropped silently (no answer);
* no USERNAME or no MESSAGE-INTEGRITY -> 400 Bad Request;
* USERNAME not ``<our ufrag>:<their ufrag>`` or MESSAGE-INTEGRITY not keyed with our ice-pwd
  -> 401 Unauthorized (neither error carries MESSAGE-INTEGRITY: we could not authenticate);
* unknown comprehension-required attributes -> 420 with UNKNOWN-ATTRIBUTES;
* ICE-CONTROLLED in the request -> 487 Role Conflict: a lite agent cannot take the controlling
  role (§7.3.1.1), so the peer must;
* otherwise a success response: XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY (our pwd), FINGERPRINT.

The selected remote address is the source of the first valid request, replaced by the source of
any request carrying USE-CANDIDATE (§7.3.1.5, nomination). Consent (RFC 7675 §5.1): consent
for the selected address lasts 30 s after its last valid request; without a fresh one the
stream must stop sending and the agent fails. The clock starts at the first valid request, not
at nomination, because media flows to the selected address from then on.

ICE restart (RFC 8445 §9; RFC 8839 §4.4.1.1.2): when the peer re-offers new credentials, the
answer carries new ones of ours and :meth:`IceLiteResponder.restart` switches to them once it is
sent. Checks under the old credentials get 401 from then on; nomination starts over, while media
keeps flowing to the selected address until a check under the new credentials nominates one
(§9: the previous pair stays in use meanwhile), and consent (RFC 7675) is refreshed only by
checks under the new credentials.

State machine (:data:`TRANSITIONS`; events: a valid check, a nominating check, an ICE restart,
consent expiry; a restart in NEW or CHECKING stays there, in FAILED it changes nothing)::

    NEW --check--> CHECKING --nomination--> CONNECTED
     |                |  ^                   ^  |  |
     +----------------|--|---nomination------+  |  |
                      |  +------restart---------+  |
                      |                            |
                      +-- consent --> FAILED <-----+ consent
"""

from __future__ import annotations

import enum
import logging

from pbx.core.errors import LocalProtocolError, RemoteProtocolError
from pbx.media import stun
from pbx.media.stun import AttributeType, MessageClass

logger = logging.getLogger(__name__)

#: RFC 7675 §5.1: consent expires 30 s after the last successful check.
CONSENT_TIMEOUT = 30.0

#: Comprehension-required attributes (type < 0x8000) we accept in a Binding request. The
#: RFC 8489 ones are listed because a newer peer may add them next to MESSAGE-INTEGRITY.
_KNOWN_REQUIRED = frozenset(
    {
        AttributeType.MAPPED_ADDRESS,
        AttributeType.USERNAME,
        AttributeType.ERROR_CODE,
        AttributeType.UNKNOWN_ATTRIBUTES,
        AttributeType.REALM,
        AttributeType.NONCE,
        AttributeType.MESSAGE_INTEGRITY_SHA256,
        AttributeType.PASSWORD_ALGORITHM,
        AttributeType.USERHASH,
        AttributeType.XOR_MAPPED_ADDRESS,
        AttributeType.PRIORITY,
        AttributeType.USE_CANDIDATE,
    }
)


class IceState(enum.Enum):
    NEW = "new"
    CHECKING = "checking"
    CONNECTED = "connected"
    FAILED = "failed"


class IceEvent(enum.Enum):
    CHECK = "valid check"
    NOMINATION = "nominating check"
    RESTART = "ICE restart"
    CONSENT_EXPIRED = "consent expired"


#: (state, event) -> next state; pairs that are absent are programming errors.
TRANSITIONS: dict[tuple[IceState, IceEvent], IceState] = {
    (IceState.NEW, IceEvent.CHECK): IceState.CHECKING,
    (IceState.NEW, IceEvent.NOMINATION): IceState.CONNECTED,
    (IceState.CHECKING, IceEvent.CHECK): IceState.CHECKING,
    (IceState.CHECKING, IceEvent.NOMINATION): IceState.CONNECTED,
    (IceState.CHECKING, IceEvent.CONSENT_EXPIRED): IceState.FAILED,
    (IceState.CONNECTED, IceEvent.CHECK): IceState.CONNECTED,
    (IceState.CONNECTED, IceEvent.NOMINATION): IceState.CONNECTED,
    (IceState.CONNECTED, IceEvent.CONSENT_EXPIRED): IceState.FAILED,
    (IceState.NEW, IceEvent.RESTART): IceState.NEW,
    (IceState.CHECKING, IceEvent.RESTART): IceState.CHECKING,
    (IceState.CONNECTED, IceEvent.RESTART): IceState.CHECKING,
    # Consent is gone and the stream is dead (RFC 7675 §5.1); a late re-offer revives nothing.
    (IceState.FAILED, IceEvent.RESTART): IceState.FAILED,
}


class IceLiteResponder:
    """Answer ICE connectivity checks for one component with our ``a=ice-ufrag``/``a=ice-pwd``.

    :param local_ufrag: our ``a=ice-ufrag``.
    :param local_pwd: our ``a=ice-pwd``; the MESSAGE-INTEGRITY key both ways.
    :param remote_ufrag: the peer's ``a=ice-ufrag`` if known; ``None`` accepts any.
    """

    def __init__(
        self, local_ufrag: str, local_pwd: str, remote_ufrag: str | None = None, name: str = ""
    ) -> None:
        self.name = name or local_ufrag  # who the log lines are about (the channel)
        self.local_ufrag = local_ufrag
        self.remote_ufrag = remote_ufrag
        self._key = local_pwd.encode("utf-8")
        self.state = IceState.NEW
        self.nominated = False
        self.remote_addr: tuple[str, int] | None = None
        self._consent_at: float | None = None

    @property
    def credentials(self) -> tuple[str, str]:
        """Our current (ufrag, pwd)."""
        return self.local_ufrag, self._key.decode("utf-8")

    def restart(self, local_ufrag: str, local_pwd: str, remote_ufrag: str | None) -> None:
        """Switch to the credentials of an ICE restart (RFC 8445 §9), once our answer (or offer)
        carrying them is on its way: only checks under them are accepted from now on, and the
        next nominating check selects the pair; until then media stays on the current one.
        """
        self._fire(IceEvent.RESTART)
        if self.state is IceState.FAILED:
            return
        logger.info("%s: ICE restart (ufrag %s -> %s)", self.name, self.local_ufrag, local_ufrag)
        self.local_ufrag = local_ufrag
        self._key = local_pwd.encode("utf-8")
        self.remote_ufrag = remote_ufrag
        self.nominated = False

    @property
    def consent_expired(self) -> bool:
        """True once RFC 7675 consent has expired; the stream must stop sending."""
        return self.state is IceState.FAILED

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> bytes | None:
        """Handle one datagram from ``addr``; return the response to send back to ``addr``.

        ``None`` means send nothing: the datagram was not a usable STUN request, or consent has
        already expired.
        """
        if self.state is IceState.FAILED:
            return None
        try:
            request = stun.parse(data)
        except RemoteProtocolError as exc:
            logger.debug("dropping datagram from %s: %s", addr, exc.message)
            return None
        if request.message_class is not MessageClass.REQUEST:
            return None
        if request.method != stun.Method.BINDING or not request.has_fingerprint:
            logger.debug("dropping request 0x%03x: not Binding or no FINGERPRINT", request.method)
            return None
        try:
            return self._answer(request, addr, now)
        except RemoteProtocolError as exc:
            logger.debug("bad Binding request from %s: %s", addr, exc.message)
            return self._error(request, 400)

    def _answer(self, request: stun.Message, addr: tuple[str, int], now: float) -> bytes:
        username = request.username
        if username is None or request.message_integrity is None:
            return self._error(request, 400)
        if not self._username_ok(username) or not request.check_integrity(self._key):
            logger.debug("unauthorized Binding request from %s (USERNAME %r)", addr, username)
            return self._error(request, 401)
        unknown = [
            attr.type
            for attr in request.attributes
            if attr.type < 0x8000 and attr.type not in _KNOWN_REQUIRED
        ]
        if unknown:
            return self._error(request, 420, unknown=unknown, authenticated=True)
        if request.ice_controlled is not None:
            return self._error(request, 487, authenticated=True)
        self._accept(addr, request.use_candidate, now)
        response = stun.Message(stun.Method.BINDING, MessageClass.SUCCESS, request.transaction_id)
        response.add_xor_mapped_address(addr[0], addr[1])
        return response.encode(integrity_key=self._key, fingerprint=True)

    def _username_ok(self, username: str) -> bool:
        # RFC 8445 §7.3: USERNAME is "<receiver's ufrag>:<sender's ufrag>".
        local, sep, remote = username.partition(":")
        if not sep or local != self.local_ufrag:
            return False
        return self.remote_ufrag is None or remote == self.remote_ufrag

    def _error(
        self,
        request: stun.Message,
        code: int,
        *,
        unknown: list[int] | None = None,
        authenticated: bool = False,
    ) -> bytes:
        response = stun.Message(stun.Method.BINDING, MessageClass.ERROR, request.transaction_id)
        response.add_error_code(code)
        if unknown:
            response.add_unknown_attributes(unknown)
        # RFC 5389 §10.1.2: no MESSAGE-INTEGRITY on 400/401, which answer unauthenticated requests.
        key = self._key if authenticated else None
        return response.encode(integrity_key=key, fingerprint=True)

    def _accept(self, addr: tuple[str, int], use_candidate: bool, now: float) -> None:
        if use_candidate:
            if addr != self.remote_addr or not self.nominated:
                logger.info("%s: ICE nominated %s", self.name, addr)
            self.remote_addr = addr
            self.nominated = True
            self._fire(IceEvent.NOMINATION)
        else:
            if self.remote_addr is None:
                logger.info("%s: ICE selected %s (first valid check)", self.name, addr)
                self.remote_addr = addr
            self._fire(IceEvent.CHECK)
        if addr == self.remote_addr:
            self._consent_at = now + CONSENT_TIMEOUT

    def _fire(self, event: IceEvent) -> None:
        try:
            new_state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(f"ICE: {event.value} in state {self.state.value}") from None
        if new_state is not self.state:
            logger.debug("ICE %s -> %s (%s)", self.state.value, new_state.value, event.value)
        self.state = new_state

    def timer_at(self) -> float | None:
        """When consent for the selected address expires, or ``None``."""
        if self.state is IceState.FAILED:
            return None
        return self._consent_at

    def handle_timer(self, now: float) -> None:
        """Expire consent if no valid check from the selected address came in time."""
        if self._consent_at is None or self.state is IceState.FAILED or now < self._consent_at:
            return
        logger.warning("%s: ICE consent for %s expired (RFC 7675)", self.name, self.remote_addr)
        self._consent_at = None
        self._fire(IceEvent.CONSENT_EXPIRED)
