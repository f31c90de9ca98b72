"""Tests for pbx.media.ice_lite: authentication answers, nomination, consent by `now`."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.media import stun
from pbx.media.ice_lite import (
    CONSENT_TIMEOUT,
    TRANSITIONS,
    IceEvent,
    IceLiteResponder,
    IceState,
)
from pbx.media.stun import AttributeType, Message, MessageClass, Method

LOCAL_UFRAG = "0a1b2c3d"
LOCAL_PWD = "00112233445566778899aabbccddeeff"
REMOTE_UFRAG = "Chrm"
CHROME = ("127.0.0.1", 50000)
OTHER = ("127.0.0.1", 50002)
THIRD = ("::1", 50004)
#: The credentials after an ICE restart: ours and Chromium's (its re-offer's ufrag).
NEW_UFRAG = "9e8d7c6b"
NEW_PWD = "ffeeddccbbaa99887766554433221100"
NEW_REMOTE_UFRAG = "SjRo"


def request(
    *,
    username: str | None = f"{LOCAL_UFRAG}:{REMOTE_UFRAG}",
    key: bytes | None = LOCAL_PWD.encode(),
    fingerprint: bool = True,
    use_candidate: bool = False,
    controlled: bool = False,
    extra: tuple[int, bytes] | None = None,
    txid: bytes = b"T" * 12,
) -> bytes:
    """A Binding request shaped like Chrome's (USERNAME, GOOG-NETWORK-INFO, ICE-CONTROLLING,
    PRIORITY[, USE-CANDIDATE], MESSAGE-INTEGRITY, FINGERPRINT)."""
    msg = Message(Method.BINDING, MessageClass.REQUEST, txid)
    if username is not None:
        msg.add_username(username)
    msg.add(AttributeType.GOOG_NETWORK_INFO, b"\x00\x01\x03\xe7")
    if controlled:
        msg.add_ice_controlled(7)
    else:
        msg.add_ice_controlling(0x1122334455667788)
    msg.add_priority(1853824767)
    if use_candidate:
        msg.add_use_candidate()
    if extra is not None:
        msg.add(*extra)
    return msg.encode(integrity_key=key, fingerprint=fingerprint)


def new_request(*, key: str = NEW_PWD, use_candidate: bool = False) -> bytes:
    """A check under the credentials of the restarted ICE session."""
    return request(
        username=f"{NEW_UFRAG}:{NEW_REMOTE_UFRAG}", key=key.encode(), use_candidate=use_candidate
    )


class ResponseTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD, REMOTE_UFRAG)

    def answer(self, data: bytes, addr: tuple[str, int] = CHROME, now: float = 0.0) -> Message:
        response = self.ice.receive(data, addr, now)
        assert response is not None
        return stun.parse(response)

    def assert_error(self, data: bytes, code: int, reason: str, *, integrity: bool) -> Message:
        msg = self.answer(data)
        self.assertIs(msg.message_class, MessageClass.ERROR)
        self.assertEqual(msg.transaction_id, b"T" * 12)
        self.assertEqual(msg.error_code, (code, reason))
        self.assertTrue(msg.has_fingerprint)
        self.assertEqual(msg.message_integrity is not None, integrity)
        if integrity:
            self.assertTrue(msg.check_integrity(LOCAL_PWD.encode()))
        self.assertIs(self.ice.state, IceState.NEW)
        self.assertIsNone(self.ice.remote_addr)
        return msg

    def test_success_response(self) -> None:
        msg = self.answer(request(txid=b"0123456789ab"))
        self.assertEqual(msg.method, Method.BINDING)
        self.assertIs(msg.message_class, MessageClass.SUCCESS)
        self.assertEqual(msg.transaction_id, b"0123456789ab")
        self.assertEqual(msg.xor_mapped_address, CHROME)
        self.assertTrue(msg.check_integrity(LOCAL_PWD.encode()))
        self.assertTrue(msg.has_fingerprint)
        self.assertEqual([a.type for a in msg.attributes], [AttributeType.XOR_MAPPED_ADDRESS])
        self.assertIs(self.ice.state, IceState.CHECKING)
        self.assertEqual(self.ice.remote_addr, CHROME)
        self.assertFalse(self.ice.nominated)

    def test_ipv6_source(self) -> None:
        self.assertEqual(self.answer(request(), THIRD).xor_mapped_address, THIRD)

    def test_wrong_local_ufrag(self) -> None:
        self.assert_error(
            request(username=f"nope:{REMOTE_UFRAG}"), 401, "Unauthorized", integrity=False
        )

    def test_wrong_remote_ufrag(self) -> None:
        self.assert_error(
            request(username=f"{LOCAL_UFRAG}:other"), 401, "Unauthorized", integrity=False
        )

    def test_username_without_colon(self) -> None:
        self.assert_error(request(username=LOCAL_UFRAG), 401, "Unauthorized", integrity=False)

    def test_wrong_password(self) -> None:
        self.assert_error(request(key=b"not our pwd"), 401, "Unauthorized", integrity=False)

    def test_missing_integrity(self) -> None:
        self.assert_error(request(key=None), 400, "Bad Request", integrity=False)

    def test_missing_username(self) -> None:
        self.assert_error(request(username=None), 400, "Bad Request", integrity=False)

    def test_malformed_attributes(self) -> None:
        msg = Message(Method.BINDING, MessageClass.REQUEST, b"T" * 12)
        msg.add(AttributeType.USERNAME, b"\xff\xfe")
        data = msg.encode(integrity_key=LOCAL_PWD.encode(), fingerprint=True)
        self.assert_error(data, 400, "Bad Request", integrity=False)
        bad = request(extra=(AttributeType.ICE_CONTROLLED, b"\x00"))
        self.assert_error(bad, 400, "Bad Request", integrity=False)

    def test_unknown_comprehension_required(self) -> None:
        msg = self.assert_error(
            request(extra=(0x0031, b"x")), 420, "Unknown Attribute", integrity=True
        )
        self.assertEqual(msg.unknown_attributes, [0x0031])

    def test_role_conflict(self) -> None:
        """RFC 8445 §7.3.1.1: both sides controlled; a lite agent cannot switch, so 487."""
        self.assert_error(request(controlled=True), 487, "Role Conflict", integrity=True)

    def test_any_remote_ufrag_when_unknown(self) -> None:
        ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD)
        response = ice.receive(request(username=f"{LOCAL_UFRAG}:whatever"), CHROME, 0.0)
        assert response is not None
        self.assertIs(stun.parse(response).message_class, MessageClass.SUCCESS)


class SilentDropTests(SynchronousTestCase):
    """Nothing to answer: not STUN, bad/missing FINGERPRINT, not a Binding request."""

    def setUp(self) -> None:
        self.ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD, REMOTE_UFRAG)

    def assert_dropped(self, data: bytes) -> None:
        self.assertIsNone(self.ice.receive(data, CHROME, 0.0))
        self.assertIs(self.ice.state, IceState.NEW)
        self.assertIsNone(self.ice.remote_addr)

    def test_missing_fingerprint(self) -> None:
        self.assert_dropped(request(fingerprint=False))

    def test_bad_fingerprint(self) -> None:
        data = request()
        self.assert_dropped(data[:-1] + bytes([data[-1] ^ 0xFF]))

    def test_not_stun(self) -> None:
        self.assert_dropped(b"\x16\xfe\xfd" + b"\x00" * 30)
        self.assert_dropped(b"")

    def test_responses_and_indications(self) -> None:
        for message_class in (MessageClass.SUCCESS, MessageClass.ERROR, MessageClass.INDICATION):
            msg = Message(Method.BINDING, message_class, b"T" * 12).add_username("x")
            self.assert_dropped(msg.encode(integrity_key=LOCAL_PWD.encode(), fingerprint=True))

    def test_other_method(self) -> None:
        msg = Message(0x003, MessageClass.REQUEST, b"T" * 12).add_username(LOCAL_UFRAG + ":x")
        self.assert_dropped(msg.encode(integrity_key=LOCAL_PWD.encode(), fingerprint=True))


class NominationTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD, REMOTE_UFRAG)

    def test_use_candidate_switches_remote_address(self) -> None:
        self.ice.receive(request(), CHROME, 0.0)
        self.assertEqual(self.ice.remote_addr, CHROME)
        # A check from another address does not move media until it is nominated.
        self.ice.receive(request(), OTHER, 0.5)
        self.assertEqual(self.ice.remote_addr, CHROME)
        self.assertIs(self.ice.state, IceState.CHECKING)
        self.ice.receive(request(use_candidate=True), OTHER, 1.0)
        self.assertEqual(self.ice.remote_addr, OTHER)
        self.assertTrue(self.ice.nominated)
        self.assertIs(self.ice.state, IceState.CONNECTED)
        # Later plain checks from elsewhere keep the nominated address.
        self.ice.receive(request(), THIRD, 2.0)
        self.assertEqual(self.ice.remote_addr, OTHER)
        # A new nomination moves it again.
        self.ice.receive(request(use_candidate=True), THIRD, 3.0)
        self.assertEqual(self.ice.remote_addr, THIRD)
        self.assertIs(self.ice.state, IceState.CONNECTED)

    def test_first_request_nominates(self) -> None:
        self.ice.receive(request(use_candidate=True), CHROME, 0.0)
        self.assertIs(self.ice.state, IceState.CONNECTED)
        self.assertEqual(self.ice.remote_addr, CHROME)

    def test_unauthenticated_use_candidate_is_ignored(self) -> None:
        self.ice.receive(request(), CHROME, 0.0)
        self.ice.receive(request(use_candidate=True, key=b"forged"), OTHER, 0.1)
        self.assertEqual(self.ice.remote_addr, CHROME)
        self.assertFalse(self.ice.nominated)


class ConsentTests(SynchronousTestCase):
    """RFC 7675 §5.1: 30 s without a valid check from the selected address -> expired."""

    def setUp(self) -> None:
        self.ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD, REMOTE_UFRAG)

    def test_no_timer_before_first_check(self) -> None:
        self.assertIsNone(self.ice.timer_at())
        self.ice.handle_timer(1000.0)
        self.assertFalse(self.ice.consent_expired)
        self.assertIs(self.ice.state, IceState.NEW)

    def test_expiry_after_nomination(self) -> None:
        self.ice.receive(request(use_candidate=True), CHROME, 10.0)
        self.assertEqual(self.ice.timer_at(), 10.0 + CONSENT_TIMEOUT)
        self.ice.receive(request(), CHROME, 25.0)  # a consent check refreshes
        self.assertEqual(self.ice.timer_at(), 55.0)
        self.ice.receive(request(), OTHER, 40.0)  # not the selected address: no refresh
        self.assertEqual(self.ice.timer_at(), 55.0)
        self.ice.handle_timer(54.999)
        self.assertFalse(self.ice.consent_expired)
        self.assertIs(self.ice.state, IceState.CONNECTED)
        self.ice.handle_timer(55.0)
        self.assertTrue(self.ice.consent_expired)
        self.assertIs(self.ice.state, IceState.FAILED)
        self.assertIsNone(self.ice.timer_at())
        # Expired consent is final: later checks get no answer and change nothing.
        self.assertIsNone(self.ice.receive(request(use_candidate=True), CHROME, 56.0))
        self.ice.handle_timer(100.0)
        self.assertIs(self.ice.state, IceState.FAILED)

    def test_unanswered_checks_do_not_refresh(self) -> None:
        self.ice.receive(request(), CHROME, 0.0)
        self.ice.receive(request(key=b"forged"), CHROME, 20.0)
        self.assertEqual(self.ice.timer_at(), 30.0)

    def test_expiry_before_nomination(self) -> None:
        self.ice.receive(request(), CHROME, 0.0)
        self.ice.handle_timer(30.0)
        self.assertIs(self.ice.state, IceState.FAILED)


class RestartTests(SynchronousTestCase):
    """RFC 8445 §9: new credentials after an ICE restart, nomination over, consent carried on."""

    def setUp(self) -> None:
        self.ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD, REMOTE_UFRAG)
        self.assertIsNotNone(self.ice.receive(request(use_candidate=True), CHROME, 0.0))
        self.assertIs(self.ice.state, IceState.CONNECTED)
        self.ice.restart(NEW_UFRAG, NEW_PWD, NEW_REMOTE_UFRAG)

    def answer(self, data: bytes, addr: tuple[str, int], now: float) -> Message:
        response = self.ice.receive(data, addr, now)
        assert response is not None
        return stun.parse(response)

    def test_only_new_credentials_are_accepted(self) -> None:
        self.assertEqual(self.ice.credentials, (NEW_UFRAG, NEW_PWD))
        old = self.answer(request(use_candidate=True), CHROME, 1.0)
        self.assertEqual(old.error_code, (401, "Unauthorized"))
        # Our new ufrag with the peer's old one, or our old pwd, is no better.
        stale_remote = request(username=f"{NEW_UFRAG}:{REMOTE_UFRAG}", key=NEW_PWD.encode())
        self.assertEqual(self.answer(stale_remote, CHROME, 1.0).error_code, (401, "Unauthorized"))
        self.assertEqual(
            self.answer(new_request(key=LOCAL_PWD), CHROME, 1.0).error_code, (401, "Unauthorized")
        )
        ok = self.answer(new_request(), CHROME, 1.0)
        self.assertIs(ok.message_class, MessageClass.SUCCESS)
        self.assertTrue(ok.check_integrity(NEW_PWD.encode()))
        self.assertFalse(ok.check_integrity(LOCAL_PWD.encode()))

    def test_nomination_starts_over_and_media_stays_on_the_old_pair(self) -> None:
        self.assertIs(self.ice.state, IceState.CHECKING)
        self.assertFalse(self.ice.nominated)
        self.assertEqual(self.ice.remote_addr, CHROME)
        # Chromium checks its new candidates first: no nomination, no move.
        self.answer(new_request(), OTHER, 1.0)
        self.assertEqual((self.ice.remote_addr, self.ice.state), (CHROME, IceState.CHECKING))
        self.answer(new_request(use_candidate=True), OTHER, 1.1)
        self.assertEqual((self.ice.remote_addr, self.ice.state), (OTHER, IceState.CONNECTED))
        self.assertTrue(self.ice.nominated)

    def test_consent_needs_checks_under_the_new_credentials(self) -> None:
        # Old-credential checks (the peer's consent checks before it applied our answer) do
        # not refresh consent: it runs out 30 s after the last valid check before the restart.
        for now in (5.0, 15.0, 25.0):
            self.ice.receive(request(), CHROME, now)
        self.assertEqual(self.ice.timer_at(), CONSENT_TIMEOUT)
        self.ice.receive(new_request(use_candidate=True), OTHER, 20.0)
        self.assertEqual(self.ice.timer_at(), 20.0 + CONSENT_TIMEOUT)
        self.ice.handle_timer(CONSENT_TIMEOUT)
        self.assertIs(self.ice.state, IceState.CONNECTED)
        self.ice.handle_timer(20.0 + CONSENT_TIMEOUT)
        self.assertTrue(self.ice.consent_expired)

    def test_restart_after_consent_expired_changes_nothing(self) -> None:
        self.ice.handle_timer(CONSENT_TIMEOUT)
        self.assertIs(self.ice.state, IceState.FAILED)
        self.ice.restart("ffffffff", "f" * 32, "Ffff")
        self.assertIs(self.ice.state, IceState.FAILED)
        self.assertEqual(self.ice.credentials, (NEW_UFRAG, NEW_PWD))
        self.assertIsNone(self.ice.receive(new_request(), CHROME, 31.0))


class StateTableTests(SynchronousTestCase):
    """Every (state, event) pair through the public API: the table or a LocalProtocolError."""

    def in_state(self, state: IceState) -> IceLiteResponder:
        ice = IceLiteResponder(LOCAL_UFRAG, LOCAL_PWD, REMOTE_UFRAG)
        if state is IceState.CHECKING:
            ice.receive(request(), CHROME, 0.0)
        elif state is IceState.CONNECTED:
            ice.receive(request(use_candidate=True), CHROME, 0.0)
        elif state is IceState.FAILED:
            ice.receive(request(), CHROME, 0.0)
            ice.handle_timer(CONSENT_TIMEOUT)
        self.assertIs(ice.state, state)
        return ice

    def apply(self, ice: IceLiteResponder, event: IceEvent) -> None:
        if event is IceEvent.CHECK:
            ice.receive(request(), CHROME, 1.0)
        elif event is IceEvent.NOMINATION:
            ice.receive(request(use_candidate=True), CHROME, 1.0)
        elif event is IceEvent.RESTART:
            ice.restart(NEW_UFRAG, NEW_PWD, NEW_REMOTE_UFRAG)
        else:
            ice.handle_timer(1000.0)

    def test_all_pairs(self) -> None:
        for state in IceState:
            for event in IceEvent:
                with self.subTest(state=state, event=event):
                    ice = self.in_state(state)
                    self.apply(ice, event)
                    # FAILED absorbs everything; NEW has no consent timer to expire.
                    expected = TRANSITIONS.get((state, event), state)
                    self.assertIs(ice.state, expected)

    def test_illegal_transition_is_a_bug(self) -> None:
        ice = self.in_state(IceState.NEW)
        with self.assertRaises(LocalProtocolError):
            ice._fire(IceEvent.CONSENT_EXPIRED)
