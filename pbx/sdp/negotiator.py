"""The offer/answer state of one call leg (RFC 3264 §4, §8), after pjmedia's SDP negotiator.

::

                create_offer                   receive_answer
     +------+ ---------------> +-------------+ ---------------> +------+
     | NULL |                  | LOCAL_OFFER |                  | DONE |
     +------+ ---------------> +-------------+ <--------------- +------+
        |     receive_offer     cancel_offer,    create_offer     |  ^
        |                       NotAcceptable                      |  |
        |                       -> DONE | NULL     receive_offer   |  |
        |                  +--------------+ <----------------------+  |
        +----------------> | REMOTE_OFFER | --------------------------+
                           +--------------+   create_answer
                             cancel_offer, NotAcceptable -> DONE | NULL

A cancelled or refused exchange returns to DONE when an earlier exchange completed (the old
media stays in force, RFC 3264 §8), else to NULL.  Any other (state, input) pair is a bug in the
caller (e.g. glare must be answered with 491 by the SIP layer before it gets here) and raises
:class:`~pbx.core.errors.LocalProtocolError`.

:class:`SdpSession` also owns what RFC 3264 §8 asks to stay stable across exchanges: the ``o=``
session id, a version that increments only when what we send changes, the ``m=`` layout of
re-offers and the established DTLS role. It also answers an ICE restart (RFC 8839
§4.4.1.1.2): a re-offer with new ``a=ice-ufrag``/``a=ice-pwd`` gets new credentials of ours
(:func:`new_ice_credentials`), kept in :attr:`SdpSession.local` for later exchanges and handed
to the media layer in ``NegotiatedMedia.local_ice_ufrag``/``local_ice_pwd``. DTLS is not
restarted (RFC 8842 §4: same certificate, same role).

The offer/answer functions and the negotiation vocabulary are re-exported here, so callers
import everything from this module.
"""

from __future__ import annotations

import dataclasses
import enum

from pbx.core.errors import LocalProtocolError
from pbx.core.tokens import TokenSource
from pbx.sdp.answer import answer_offer, check_offer, restarts_ice
from pbx.sdp.model import Candidate, SessionDescription
from pbx.sdp.offer import accept_answer, make_offer
from pbx.sdp.policy import LocalMedia, MediaPolicy, NegotiatedMedia, NotAcceptable

__all__ = [
    "Candidate",
    "Input",
    "LocalMedia",
    "MediaPolicy",
    "NegotiatedMedia",
    "NegotiationState",
    "NotAcceptable",
    "SdpSession",
    "TRANSITIONS",
    "accept_answer",
    "answer_offer",
    "check_offer",
    "make_offer",
    "new_ice_credentials",
]


def new_ice_credentials(tokens: TokenSource) -> tuple[str, str]:
    """A fresh (ufrag, pwd): 32 and 128 random bits, as hex, the form the media factory gives
    every leg (RFC 8839 §5.4 asks for at least 24 and 128 bits)."""
    return tokens.hex(4), tokens.hex(16)


class NegotiationState(enum.Enum):
    """pjmedia's ``PJMEDIA_SDP_NEG_STATE_*`` (its WAIT_NEGO is folded into the inputs)."""

    NULL = "NULL"
    LOCAL_OFFER = "LOCAL_OFFER"
    REMOTE_OFFER = "REMOTE_OFFER"
    DONE = "DONE"


class Input(enum.Enum):
    """What the call layer can do to a negotiation; the value is the method name."""

    CREATE_OFFER = "create_offer"
    RECEIVE_OFFER = "receive_offer"
    CREATE_ANSWER = "create_answer"
    RECEIVE_ANSWER = "receive_answer"
    CANCEL_OFFER = "cancel_offer"


_S = NegotiationState
TRANSITIONS: dict[tuple[NegotiationState, Input], NegotiationState | None] = {
    (_S.NULL, Input.CREATE_OFFER): _S.LOCAL_OFFER,
    (_S.NULL, Input.RECEIVE_OFFER): _S.REMOTE_OFFER,
    (_S.DONE, Input.CREATE_OFFER): _S.LOCAL_OFFER,
    (_S.DONE, Input.RECEIVE_OFFER): _S.REMOTE_OFFER,
    (_S.LOCAL_OFFER, Input.RECEIVE_ANSWER): _S.DONE,
    (_S.REMOTE_OFFER, Input.CREATE_ANSWER): _S.DONE,
    # None: back to DONE if an exchange ever completed, else NULL.
    (_S.LOCAL_OFFER, Input.CANCEL_OFFER): None,
    (_S.REMOTE_OFFER, Input.CANCEL_OFFER): None,
}
"""(state, input) -> state after success; every pair not listed is illegal."""


class SdpSession:
    """Offer/answer for one call leg.

    :param policy: the peer's media policy; ``policy`` and ``local`` are public and may be
        replaced between exchanges (a re-INVITE after a port change).
    :param local: what we receive on.
    :param tokens: the source of the ``o=`` session id.
    """

    def __init__(self, policy: MediaPolicy, local: LocalMedia, tokens: TokenSource) -> None:
        self.policy = policy
        self.local = local
        self._tokens = tokens
        self.sess_id = tokens.u32()
        self.sess_version = 1
        self.state = NegotiationState.NULL
        self.local_sdp: SessionDescription | None = None
        """The SDP we sent last (a pending offer included)."""
        self.remote_sdp: SessionDescription | None = None
        """The SDP we received last."""
        self.negotiated: NegotiatedMedia | None = None
        """The result of the last completed exchange."""
        self.dtls_role: str | None = None
        """Our DTLS role once a DTLS-SRTP exchange completed."""
        self._active_local: SessionDescription | None = None
        self._pending: SessionDescription | None = None

    def create_offer(
        self, hold: bool = False, new_dtls_association: bool = False
    ) -> SessionDescription:
        """Our (re-)offer; NULL or DONE -> LOCAL_OFFER."""
        target = self._target(Input.CREATE_OFFER)
        offer = make_offer(
            self.policy,
            self.local,
            hold=hold,
            session=(self.sess_id, self.sess_version),
            dtls_role=self.dtls_role,
            new_dtls_association=new_dtls_association,
            previous=self._active_local,
        )
        self._send(offer)
        self._move(target)
        return offer

    def receive_answer(self, answer: SessionDescription) -> NegotiatedMedia | NotAcceptable:
        """The peer's answer to our offer; LOCAL_OFFER -> DONE, or back if refused."""
        target = self._target(Input.RECEIVE_ANSWER)
        self.remote_sdp = answer
        assert self.local_sdp is not None  # LOCAL_OFFER is entered only by sending an offer
        result = accept_answer(self.local_sdp, answer, self.policy)
        if isinstance(result, NotAcceptable):
            self._move(None)
            return result
        self._complete(self.local_sdp, result)
        self._move(target)
        return result

    def receive_offer(self, offer: SessionDescription) -> None:
        """The peer's (re-)offer; NULL or DONE -> REMOTE_OFFER."""
        target = self._target(Input.RECEIVE_OFFER)
        self.remote_sdp = offer
        self._pending = offer
        self._move(target)

    def create_answer(
        self, hold: bool = False
    ) -> tuple[SessionDescription, NegotiatedMedia] | NotAcceptable:
        """Our answer to the pending offer; REMOTE_OFFER -> DONE, or back if refused.

        An offer that restarts ICE is answered with new ICE credentials (RFC 8839
        §4.4.1.1.2), which replace those of :attr:`local` once the answer is made.
        """
        target = self._target(Input.CREATE_ANSWER)
        assert self._pending is not None  # REMOTE_OFFER is entered only with an offer
        local = self.local
        if local.ice_ufrag is not None and restarts_ice(self._pending, self.negotiated):
            ufrag, pwd = new_ice_credentials(self._tokens)
            local = dataclasses.replace(local, ice_ufrag=ufrag, ice_pwd=pwd)
        result = answer_offer(
            self._pending,
            self.policy,
            local,
            hold=hold,
            session=(self.sess_id, self.sess_version),
            dtls_role=self.dtls_role,
        )
        if isinstance(result, NotAcceptable):
            self._move(None)
            return result
        answer, negotiated = result
        self.local = local
        self._send(answer)
        self._complete(answer, negotiated)
        self._move(target)
        return answer, negotiated

    def cancel_offer(self) -> None:
        """Drop the pending offer, ours (rejected, 491) or theirs (refused for other reasons)."""
        self._move(self._target(Input.CANCEL_OFFER))

    def _target(self, event: Input) -> NegotiationState | None:
        """The table's state after ``event`` succeeds, or raise for an illegal pair."""
        if (self.state, event) not in TRANSITIONS:
            raise LocalProtocolError(f"cannot {event.value} in SDP state {self.state.name}")
        return TRANSITIONS[self.state, event]

    def _move(self, target: NegotiationState | None) -> None:
        if target is None:
            # Cancelled or refused: the last completed exchange, if any, stays in force.
            target = NegotiationState.NULL if self.negotiated is None else NegotiationState.DONE
        self.state = target

    def _send(self, sdp: SessionDescription) -> None:
        """Stamp ``o=``: same id, version + 1 only if the content changed (RFC 3264 §8)."""
        # lines()[2:] skips v= and o=.
        if self.local_sdp is not None and sdp.lines()[2:] != self.local_sdp.lines()[2:]:
            self.sess_version += 1
            sdp.origin = dataclasses.replace(sdp.origin, sess_version=self.sess_version)
        self.local_sdp = sdp

    def _complete(self, local_sdp: SessionDescription, negotiated: NegotiatedMedia) -> None:
        self._active_local = local_sdp
        self.negotiated = negotiated
        self.dtls_role = negotiated.dtls_role
