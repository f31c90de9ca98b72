"""Who pbx is when challenged (pbx.call.credentials), from sip.conf as chan_sip reads it."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.credentials import outbound_login, realm_logins
from pbx.config.sip_values import AuthCredential
from pbx.sip.auth import Credentials, DigestLogin
from test.unit.call.fakes import sip_config

CONF = """
[general]
[both]
type=peer
host=127.0.0.5
defaultuser=acct
secret=in
remotesecret=out
[secret-only]
type=peer
host=127.0.0.5
fromuser=1234
secret=pw
[md5]
type=peer
host=127.0.0.5
md5secret=0123456789abcdef0123456789abcdef
[none]
type=peer
host=127.0.0.5
"""


class OutboundLoginTests(SynchronousTestCase):
    def test_chan_sips_choice_of_user_and_secret(self) -> None:
        peers = sip_config(CONF).peers
        self.assertEqual(outbound_login(peers["both"]), DigestLogin("acct", Credentials("out")))
        # No defaultuser: fromuser, then the peer's name (where chan_sip would give up).
        self.assertEqual(
            outbound_login(peers["secret-only"]), DigestLogin("1234", Credentials("pw"))
        )
        self.assertEqual(
            outbound_login(peers["md5"]),
            DigestLogin("md5", Credentials("", "0123456789abcdef0123456789abcdef")),
        )
        self.assertIsNone(outbound_login(peers["none"]))


class RealmLoginsTests(SynchronousTestCase):
    def test_first_line_of_a_realm_wins_and_md5_secrets(self) -> None:
        logins = realm_logins(
            [
                AuthCredential("a", "pw", False, "r1"),
                AuthCredential("b", "pw2", False, "r1"),
                AuthCredential("c", "0" * 32, True, "r2"),
            ]
        )
        self.assertEqual(logins["r1"], DigestLogin("a", Credentials("pw")))
        self.assertEqual(logins["r2"], DigestLogin("c", Credentials(md5secret="0" * 32)))
