"""Tests for pbx.sdp.dtls: a=setup roles (RFC 4145, RFC 5763, RFC 8842) and fingerprints."""

from __future__ import annotations

import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sdp import dtls
from pbx.sdp.policy import NotAcceptable

from .sdpdata import FINGERPRINT, SHA1_FINGERPRINT, WEBRTC_LOCAL, WEBRTC_POLICY


class SetupTests(SynchronousTestCase):
    def test_answer_setup(self) -> None:
        for offered, configured, established, expected in [
            ("actpass", "actpass", None, "active"),
            ("actpass", "active", None, "active"),
            ("actpass", "passive", None, "passive"),
            ("actpass", "passive", "client", "active"),
            ("actpass", "active", "server", "passive"),
            ("active", "active", "client", "passive"),
            ("passive", "passive", "server", "active"),
            (None, "actpass", None, "passive"),
            (
                "holdconn",
                "actpass",
                None,
                NotAcceptable("offer has a=setup:holdconn; DTLS-SRTP needs a connection"),
            ),
        ]:
            policy = dataclasses.replace(WEBRTC_POLICY, dtls_setup=configured)
            self.assertEqual(dtls.answer_setup(offered, policy, established), expected)

    def test_role_after_answer(self) -> None:
        for offered, answered, expected in [
            ("actpass", "active", "server"),
            ("actpass", "passive", "client"),
            ("actpass", None, "client"),
            ("active", "passive", "client"),
            ("active", None, "client"),
            ("passive", "active", "server"),
            ("actpass", "actpass", "answer has a=setup:actpass; we offered a=setup:actpass"),
            ("actpass", "holdconn", "answer has a=setup:holdconn; we offered a=setup:actpass"),
            ("active", "active", "answer has a=setup:active; we offered a=setup:active"),
            ("passive", "passive", "answer has a=setup:passive; we offered a=setup:passive"),
            ("passive", None, "answer has no a=setup; we offered a=setup:passive"),
        ]:
            result = dtls.role_after_answer(offered, answered)
            if expected in ("client", "server"):
                self.assertEqual(result, expected)
            else:
                self.assertEqual(result, NotAcceptable(expected))

    def test_offer_setup(self) -> None:
        for configured, established, new, expected in [
            ("actpass", None, False, "actpass"),
            ("active", None, False, "active"),
            ("actpass", "client", False, "active"),
            ("actpass", "server", False, "passive"),
            ("passive", "client", True, "passive"),
        ]:
            policy = dataclasses.replace(WEBRTC_POLICY, dtls_setup=configured)
            self.assertEqual(dtls.offer_setup(policy, established, new), expected)

    def test_role_names(self) -> None:
        self.assertEqual([dtls.role("active"), dtls.role("passive")], ["client", "server"])
        self.assertEqual(
            [dtls.setup_for_role("client"), dtls.setup_for_role("server")], ["active", "passive"]
        )


class FingerprintTests(SynchronousTestCase):
    def test_remote_fingerprint(self) -> None:
        self.assertEqual(
            dtls.remote_fingerprint([("md5", "AA"), ("SHA-256", "BB")]), ("sha-256", "BB")
        )
        self.assertEqual(
            dtls.remote_fingerprint([("md5", "AA"), ("md2", "BB")]),
            NotAcceptable("DTLS fingerprint hash md5,md2 is not supported"),
        )

    def test_local_fingerprint(self) -> None:
        both = dataclasses.replace(WEBRTC_LOCAL, fingerprints={"SHA-1": SHA1_FINGERPRINT})
        for remote, local, expected in [
            ([("SHA-256", "AA")], WEBRTC_LOCAL, ("sha-256", FINGERPRINT)),
            ([("sha-1", "AA")], WEBRTC_LOCAL, ("sha-256", FINGERPRINT)),
            ([("sha-1", "AA")], both, ("sha-1", SHA1_FINGERPRINT)),
            ([("sha-512", "AA"), ("sha-256", "BB")], both, ("sha-256", FINGERPRINT)),
            ([], both, ("sha-256", FINGERPRINT)),
        ]:
            self.assertEqual(dtls.local_fingerprint(remote, WEBRTC_POLICY, local), expected)
        only_sha1 = dataclasses.replace(both, fingerprint=None)
        self.assertEqual(
            dtls.local_fingerprint([("sha-1", "AA")], WEBRTC_POLICY, only_sha1),
            ("sha-1", SHA1_FINGERPRINT),
        )
        error = self.assertRaises(
            LocalProtocolError,
            dtls.local_fingerprint,
            [("sha-256", "AA")],
            WEBRTC_POLICY,
            only_sha1,
        )
        self.assertEqual(str(error), "LocalMedia.fingerprint is needed for DTLS-SRTP")
