"""Tests for pbx.sdp.negotiator: the SdpSession state machine, versions and DTLS roles."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.core.tokens import CountingTokens
from pbx.sdp import negotiator
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import (
    TRANSITIONS,
    Input,
    NegotiatedMedia,
    NegotiationState,
    NotAcceptable,
    SdpSession,
)

from .sdpdata import DESK_LOCAL, DESK_POLICY, WEBRTC_LOCAL, WEBRTC_POLICY, load, load_sdp

S = NegotiationState
CHROMIUM_OFFER = "chromium-jssip-offer-loopback.sdp"


def webrtc_session() -> SdpSession:
    return SdpSession(WEBRTC_POLICY, WEBRTC_LOCAL, CountingTokens(start=7))


def drive(session: SdpSession, state: NegotiationState, via_done: bool = False) -> None:
    """Bring a fresh session into ``state`` (through DONE first if ``via_done``)."""
    if via_done or state is S.DONE:
        session.receive_offer(load_sdp(CHROMIUM_OFFER))
        assert not isinstance(session.create_answer(), NotAcceptable)
    if state is S.LOCAL_OFFER:
        session.create_offer()
    elif state is S.REMOTE_OFFER:
        session.receive_offer(load_sdp(CHROMIUM_OFFER))


def chromium_answer_to(offer: SessionDescription) -> SessionDescription:
    """Chromium's recorded answer with its a=setup made to fit ``offer``."""
    answer = load("chromium-jssip-answer-loopback.sdp").decode()
    ours = offer.media[0].setup
    theirs = {"actpass": "active", "active": "passive", "passive": "active"}[ours or "actpass"]
    return SessionDescription.parse(answer.replace("a=setup:active", f"a=setup:{theirs}"))


INPUTS: dict[Input, Callable[[SdpSession], object]] = {
    Input.CREATE_OFFER: lambda s: s.create_offer(),
    Input.RECEIVE_OFFER: lambda s: s.receive_offer(load_sdp(CHROMIUM_OFFER)),
    Input.CREATE_ANSWER: lambda s: s.create_answer(),
    Input.RECEIVE_ANSWER: lambda s: s.receive_answer(
        chromium_answer_to(s.local_sdp or load_sdp(CHROMIUM_OFFER))
    ),
    Input.CANCEL_OFFER: lambda s: s.cancel_offer(),
}


class TransitionTableTests(SynchronousTestCase):
    def test_every_state_and_input(self) -> None:
        walked = 0
        for state in NegotiationState:
            for via_done in (False, True):
                if via_done and state in (S.NULL, S.DONE):
                    continue
                for event in Input:
                    session = webrtc_session()
                    drive(session, state, via_done)
                    self.assertIs(session.state, state)
                    key = (state, event)
                    if key not in TRANSITIONS:
                        error = self.assertRaises(LocalProtocolError, INPUTS[event], session)
                        self.assertEqual(
                            str(error), f"cannot {event.value} in SDP state {state.name}"
                        )
                        self.assertIs(session.state, state)
                        continue
                    INPUTS[event](session)
                    target = TRANSITIONS[key]
                    if target is None:
                        target = S.DONE if via_done else S.NULL
                    self.assertIs(session.state, target, key)
                    walked += 1
        # 8 legal pairs, the 4 that start in an offer state walked from NULL and from DONE.
        self.assertEqual(walked, 12)
        self.assertEqual(len(TRANSITIONS), 8)

    def test_module_exports_the_contract(self) -> None:
        for name in negotiator.__all__:
            self.assertTrue(hasattr(negotiator, name), name)
        self.assertIn("answer_offer", negotiator.__all__)
        self.assertIn("Candidate", negotiator.__all__)


class RefusalTests(SynchronousTestCase):
    def test_refused_initial_offer_returns_to_null(self) -> None:
        session = SdpSession(DESK_POLICY, DESK_LOCAL, CountingTokens())
        session.receive_offer(load_sdp(CHROMIUM_OFFER))
        result = session.create_answer()
        self.assertEqual(
            result, NotAcceptable("DTLS-SRTP offered but peer desk1 has no dtlsenable=yes")
        )
        self.assertIs(session.state, S.NULL)
        self.assertIsNone(session.local_sdp)
        self.assertIsNone(session.negotiated)
        self.assertRaises(LocalProtocolError, session.create_answer)

    def test_refused_re_offer_keeps_the_current_media(self) -> None:
        session = SdpSession(DESK_POLICY, DESK_LOCAL, CountingTokens())
        session.receive_offer(load_sdp("baresip-offer.sdp"))
        first = session.create_answer()
        assert not isinstance(first, NotAcceptable)
        session.receive_offer(load_sdp(CHROMIUM_OFFER))
        self.assertIsInstance(session.create_answer(), NotAcceptable)
        self.assertIs(session.state, S.DONE)
        self.assertIs(session.negotiated, first[1])
        self.assertIs(session.local_sdp, first[0])

    def test_refused_answer_returns_to_the_previous_state(self) -> None:
        session = webrtc_session()
        offer = session.create_offer()
        bad = SessionDescription.parse(
            str(chromium_answer_to(offer)).replace("m=audio 48517", "m=audio 0")
        )
        self.assertEqual(
            session.receive_answer(bad), NotAcceptable("answer declined the audio stream")
        )
        self.assertIs(session.state, S.NULL)
        self.assertIs(session.remote_sdp, bad)


class VersionTests(SynchronousTestCase):
    def test_session_id_is_stable_and_version_moves_only_on_change(self) -> None:
        session = SdpSession(DESK_POLICY, DESK_LOCAL, CountingTokens(start=3))
        baresip = load_sdp("baresip-offer.sdp")

        def answer(offer: SessionDescription, hold: bool = False) -> str:
            session.receive_offer(offer)
            result = session.create_answer(hold=hold)
            assert not isinstance(result, NotAcceptable)
            return result[0].lines()[1]

        sess_id = CountingTokens(start=3).u32()
        self.assertEqual(answer(baresip), f"o=- {sess_id} 1 IN IP4 127.0.0.1")
        # The same offer again (a session refresh): same answer, same version.
        self.assertEqual(answer(baresip), f"o=- {sess_id} 1 IN IP4 127.0.0.1")
        # The peer holds us: our answer changes (recvonly).
        held = SessionDescription.parse(str(baresip).replace("a=sendrecv", "a=sendonly"))
        self.assertEqual(answer(held), f"o=- {sess_id} 2 IN IP4 127.0.0.1")
        # Our own re-offer differs from our last answer.
        offer = session.create_offer(hold=True)
        self.assertEqual(offer.lines()[1], f"o=- {sess_id} 3 IN IP4 127.0.0.1")
        session.cancel_offer()
        # Offering the same again after a 491: the version is not reused or moved.
        self.assertEqual(session.create_offer(hold=True).lines()[1], offer.lines()[1])
        session.cancel_offer()
        # A new port (the media layer replaced LocalMedia) changes the answer.
        session.local = dataclasses.replace(DESK_LOCAL, rtp_port=41000)
        self.assertEqual(answer(held), f"o=- {sess_id} 4 IN IP4 127.0.0.1")
        self.assertEqual(session.sess_version, 4)


class DtlsRoleTests(SynchronousTestCase):
    def test_role_from_answering_is_kept_in_later_exchanges(self) -> None:
        session = webrtc_session()
        session.receive_offer(load_sdp(CHROMIUM_OFFER))
        result = session.create_answer()
        assert not isinstance(result, NotAcceptable)
        self.assertEqual((result[0].media[0].setup, session.dtls_role), ("active", "client"))
        # Chromium re-offers actpass: we stay active (RFC 8842 §5.5).
        session.receive_offer(load_sdp(CHROMIUM_OFFER))
        result = session.create_answer()
        assert not isinstance(result, NotAcceptable)
        self.assertEqual(result[0].media[0].setup, "active")
        # Our re-offer says active, not actpass.
        self.assertEqual(session.create_offer().media[0].setup, "active")
        session.cancel_offer()
        # Unless a new DTLS association is wanted.
        self.assertEqual(session.create_offer(new_dtls_association=True).media[0].setup, "actpass")

    def test_role_from_offering(self) -> None:
        session = webrtc_session()
        offer = session.create_offer()
        self.assertEqual(offer.media[0].setup, "actpass")
        media = session.receive_answer(chromium_answer_to(offer))
        self.assertIsInstance(media, NegotiatedMedia)
        self.assertEqual(session.dtls_role, "server")
        self.assertEqual(session.create_offer().media[0].setup, "passive")

    def test_re_offer_keeps_the_layout_of_the_last_exchange(self) -> None:
        session = webrtc_session()
        text = load(CHROMIUM_OFFER).decode().replace("BUNDLE 0", "BUNDLE 0 1")
        session.receive_offer(
            SessionDescription.parse(text + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n")
        )
        self.assertNotIsInstance(session.create_answer(), NotAcceptable)
        offer = session.create_offer()
        self.assertEqual(
            [(m.media, m.port, m.mid) for m in offer.media],
            [
                ("audio", 40000, "0"),
                ("video", 0, "1"),
            ],
        )


#: Chromium's offer and ICE-restart re-offer from one JsSIP call (test/data/sdp/README.md).
RESTART_OFFER = "chromium-jssip-ice-restart-offer-loopback.sdp"
RESTART_REOFFER = "chromium-jssip-ice-restart-reoffer-loopback.sdp"


def ice(media: NegotiatedMedia) -> tuple[str | None, str | None]:
    """Our (ufrag, pwd) in an exchange."""
    return media.local_ice_ufrag, media.local_ice_pwd


class IceRestartTests(SynchronousTestCase):
    """RFC 8839 §4.4.1.1.2: a re-offer restarting ICE is answered with new credentials."""

    def answer(self, session: SdpSession, offer: SessionDescription) -> NegotiatedMedia:
        session.receive_offer(offer)
        result = session.create_answer()
        assert not isinstance(result, NotAcceptable)
        answer, media = result
        self.assertEqual((answer.media[0].ice_ufrag, answer.media[0].ice_pwd), ice(media))
        return media

    def test_chromium_restart_gets_new_credentials_and_keeps_dtls(self) -> None:
        session = webrtc_session()
        first = self.answer(session, load_sdp(RESTART_OFFER))
        self.assertEqual(ice(first), (WEBRTC_LOCAL.ice_ufrag, WEBRTC_LOCAL.ice_pwd))
        first_sdp = session.local_sdp
        assert first_sdp is not None
        restarted = self.answer(session, load_sdp(RESTART_REOFFER))
        new = ice(restarted)
        self.assertNotIn(new[0], (None, WEBRTC_LOCAL.ice_ufrag))
        self.assertNotIn(new[1], (None, WEBRTC_LOCAL.ice_pwd))
        # Fresh tokens of RFC 8839 §5.4's sizes, kept for the exchanges that follow.
        self.assertRegex(new[0] or "", r"^[0-9a-f]{8}$")
        self.assertRegex(new[1] or "", r"^[0-9a-f]{32}$")
        self.assertEqual((session.local.ice_ufrag, session.local.ice_pwd), new)
        self.assertEqual(restarted.remote_ice_ufrag, "SjRo")
        # RFC 8842 §4: no new DTLS association: same role, same fingerprint.
        assert session.local_sdp is not None
        for attribute in ("setup", "fingerprint"):
            self.assertEqual(
                session.local_sdp.media[0].attrs(attribute), first_sdp.media[0].attrs(attribute)
            )
        self.assertEqual(session.local_sdp.origin.sess_version, first_sdp.origin.sess_version + 1)
        # The same re-offer again (a later hold or unhold) restarts nothing; nor does ours.
        self.assertEqual(ice(self.answer(session, load_sdp(RESTART_REOFFER))), new)
        offer = session.create_offer()
        self.assertEqual((offer.media[0].ice_ufrag, offer.media[0].ice_pwd), new)

    def test_refused_restart_keeps_the_credentials(self) -> None:
        session = webrtc_session()
        self.answer(session, load_sdp(RESTART_OFFER))
        opus_only = load(RESTART_REOFFER).decode().replace("111 63 9 0 8 13 110 126", "111")
        session.receive_offer(SessionDescription.parse(opus_only))
        self.assertIsInstance(session.create_answer(), NotAcceptable)
        self.assertEqual(session.local, WEBRTC_LOCAL)
        # Retried acceptably, it restarts then.
        self.assertNotEqual(ice(self.answer(session, load_sdp(RESTART_REOFFER)))[0], "5c1e9a0d")

    def test_a_leg_without_ice_credentials_never_restarts(self) -> None:
        local = dataclasses.replace(WEBRTC_LOCAL, ice_ufrag=None, ice_pwd=None)
        session = SdpSession(
            dataclasses.replace(WEBRTC_POLICY, ice=False), local, CountingTokens(start=7)
        )
        for name in (RESTART_OFFER, RESTART_REOFFER):
            session.receive_offer(load_sdp(name))
            self.assertNotIsInstance(session.create_answer(), NotAcceptable)
        self.assertEqual(session.local, local)
