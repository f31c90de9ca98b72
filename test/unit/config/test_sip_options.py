"""Tests for pbx.config.sip_options: every chan_sip option that matters is recognised by name."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config import rtp_conf
from pbx.config import sip_options as o
from pbx.config.schema import Scope, Status

# ASTERISK-REFERENCE §1.3, every option named in the table, the secondary list included.
DEVICE_OPTIONS = """
type host port defaultip defaultuser username secret md5secret remotesecret context callerid
fromuser fromdomain transport avpf encryption encryption_taglen force_avp icesupport rtcp_mux
dtlsenable dtlsverify dtlscertfile dtlsprivatekey dtlsautogeneratecert dtlscafile dtlscapath
dtlscipher dtlssetup dtlsfingerprint dtlsrekey nat qualify qualifyfreq keepalive directmedia
canreinvite disallow allow dtmfmode insecure permit deny acl contactpermit contactdeny contactacl
call-limit busylevel callcounter mailbox regexten description rtptimeout rtpholdtimeout
rtpkeepalive session-timers session-expires session-minse session-refresher setvar language
mohinterpret mohsuggest accountcode amaflags callgroup pickupgroup subscribecontext
allowsubscribe allowtransfer videosupport textsupport t38pt_udptl sendrpid trustrpid
trust_id_outbound callingpres progressinband outboundproxy supportpath timert1 timerb
maxforwards usereqphone use_q850_reason auth registertrying
""".split()

# ASTERISK-REFERENCE §1.4, [general]-only options.
GENERAL_OPTIONS = """
udpbindaddr bindaddr bindport tcpenable tcpbindaddr tcpauthtimeout tcpauthlimit tlsenable
tlsbindaddr tlscertfile tlsprivatekey tlscafile tlscapath tlscipher tlsclientmethod
tlsdontverifyserver websocket_enabled websocket_write_timeout transport context allowguest
alwaysauthreject realm domainsasrealm domain allowexternaldomains autodomain useragent
sdpsession sdpowner srvlookup externaddr externip externhost externrefresh localnet
media_address rtpbindaddr maxexpiry minexpiry defaultexpiry submaxexpiry subminexpiry mwiexpiry
qualify qualifyfreq qualifygap qualifypeers allowoverlap pedantic register registertimeout
registerattempts register_retry_403 regcontext regextenonqualify autocreatepeer
accept_outofcall_message auth_message_requests outofcall_message_context auth_options_requests
sipdebug recordhistory dumphistory
""".split()

# The rtp.conf row of §1.4.
RTP_OPTIONS = "rtpstart rtpend strictrtp icesupport stunaddr turnaddr dtls_mtu".split()

IMPLEMENTED = """
type host port defaultip defaultuser secret md5secret remotesecret context callerid fromuser
fromdomain transport avpf encryption encryption_taglen force_avp icesupport rtcp_mux dtlsenable
dtlsverify dtlscertfile dtlsprivatekey dtlsautogeneratecert dtlssetup
dtlsfingerprint nat qualify qualifyfreq keepalive directmedia allow disallow dtmfmode insecure
permit deny contactpermit contactdeny call-limit busylevel callcounter description rtptimeout
rtpholdtimeout rtpkeepalive session-timers allowtransfer
setvar language accountcode amaflags webrtc max_contacts udpbindaddr tcpenable tcpbindaddr
tlsenable tlsbindaddr tlscertfile tlsprivatekey tlscafile tlsdontverifyserver
tlscipher websocket_enabled allowguest
alwaysauthreject realm useragent sdpsession sdpowner minexpiry maxexpiry defaultexpiry
register registertimeout registerattempts register_retry_403
allowoverlap externaddr media_address localnet maxmessagesize
""".split()

# Typed options whose one value matches what pbx always does (sip_conf warns about the others).
FIXED = "force_avp dtlsverify callcounter rtpkeepalive session-timers".split()

# Known to chan_sip, no effect in pbx: recognised, warned about when written.
NO_EFFECT = """
dtlscafile dtlscipher session-expires session-minse session-refresher qualifygap
""".split()


class RecognisedTests(SynchronousTestCase):
    def test_every_device_option(self) -> None:
        missing = [n for n in DEVICE_OPTIONS if o.SIP_OPTIONS.lookup(n) is None]
        self.assertEqual(missing, [])

    def test_every_general_option(self) -> None:
        missing = [n for n in GENERAL_OPTIONS if o.SIP_OPTIONS.lookup(n) is None]
        self.assertEqual(missing, [])

    def test_rtp_conf_row(self) -> None:
        for name in RTP_OPTIONS:
            self.assertIsNotNone(rtp_conf.RTP_OPTIONS.lookup(name), name)
            in_sip = o.SIP_OPTIONS.lookup(name) is not None or name in o.SIP_OPTIONS.elsewhere
            self.assertTrue(in_sip, name)

    def test_authentication_section(self) -> None:
        self.assertIsNotNone(o.AUTHENTICATION_OPTIONS.lookup("auth"))

    def test_implemented_subset(self) -> None:
        implemented = sorted(
            opt.name
            for opt in o.SIP_OPTIONS.options
            if opt.status in (Status.IMPLEMENTED, Status.DEPRECATED) and opt.name != "bindport"
        )
        self.assertEqual(implemented, sorted(IMPLEMENTED))

    def test_options_without_effect_are_unsupported(self) -> None:
        for name in NO_EFFECT:
            self.assertIs(o.SIP_OPTIONS[name].status, Status.UNSUPPORTED, name)
        self.assertIs(o.SIP_OPTIONS["qualifygap"].scope, Scope.GENERAL)
        self.assertIs(o.SIP_OPTIONS["session-expires"].scope, Scope.BOTH)

    def test_fixed_behaviour_options_say_which_value_pbx_honours(self) -> None:
        for name in FIXED:
            opt = o.SIP_OPTIONS[name]
            self.assertIs(opt.status, Status.IMPLEMENTED, name)
            self.assertIn("draw", opt.help, name)

    def test_aliases(self) -> None:
        self.assertEqual(o.SIP_OPTIONS.lookup("bindaddr"), (o.UDPBINDADDR, False))
        self.assertEqual(o.SIP_OPTIONS.lookup("username"), (o.DEFAULTUSER, True))
        self.assertEqual(o.SIP_OPTIONS.lookup("canreinvite"), (o.DIRECTMEDIA, False))
        self.assertEqual(o.SIP_OPTIONS.lookup("externip"), (o.EXTERNADDR, False))
        self.assertIs(o.SIP_OPTIONS["registertrying"].status, Status.OBSOLETE)


class TableShapeTests(SynchronousTestCase):
    def test_names_are_lower_case_with_help(self) -> None:
        for opt in o.SIP_OPTIONS.options:
            self.assertEqual(opt.name, opt.name.lower())
            self.assertTrue(opt.help.endswith("."), opt.name)

    def test_scopes(self) -> None:
        self.assertIs(o.TYPE.scope, Scope.DEVICE)
        self.assertIs(o.DTLSENABLE.scope, Scope.DEVICE)
        self.assertIs(o.NAT.scope, Scope.BOTH)
        self.assertIs(o.ALLOW.scope, Scope.BOTH)
        self.assertIs(o.UDPBINDADDR.scope, Scope.GENERAL)
        self.assertIs(o.SIP_OPTIONS["register"].scope, Scope.GENERAL)
        self.assertIs(o.SIP_OPTIONS["mailbox"].scope, Scope.DEVICE)
        self.assertFalse(o.CALLERID.inherit)

    def test_compiled_defaults(self) -> None:
        self.assertEqual(str(o.UDPBINDADDR.default), "0.0.0.0:5060")
        self.assertEqual(o.CONTEXT.default, "default")
        self.assertIs(o.ALLOWGUEST.default, True)
        self.assertIs(o.ALWAYSAUTHREJECT.default, True)
        self.assertEqual(o.REALM.default, "asterisk")
        self.assertEqual(
            (o.MINEXPIRY.default, o.MAXEXPIRY.default, o.DEFAULTEXPIRY.default), (60, 3600, 120)
        )
        self.assertIs(o.DIRECTMEDIA.default, True)
        self.assertEqual(o.DTLSSETUP.default, "active")
        self.assertEqual(o.DTLSSETUP.choices, ("active", "passive", "actpass"))
        self.assertEqual(o.MAXMESSAGESIZE.default, 65536)
        self.assertEqual(
            (
                o.REGISTERTIMEOUT.default,
                o.REGISTERATTEMPTS.default,
                o.REGISTER_RETRY_403.default,
            ),
            (20, 0, False),
        )
        self.assertTrue(o.REGISTER.multi)
        self.assertEqual(o.MAX_CONTACTS.default, 1)
        self.assertEqual(o.SESSION_TIMERS.default, "accept")
        self.assertEqual(o.DTLSVERIFY.default, "no")
        self.assertEqual(o.ENCRYPTION_TAGLEN.default, 80)
        self.assertEqual(o.ENCRYPTION_TAGLEN.choices, ("32", "80"))
