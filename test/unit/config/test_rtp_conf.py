"""Tests for pbx.config.rtp_conf: rtp.conf to RtpSettings (Asterisk res_rtp_asterisk rtp_reload)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.model import loads
from pbx.config.rtp_conf import RtpSettings, load_rtp_conf, parse_rtp_conf
from pbx.config.schema import Diagnostics


def load(text: str) -> tuple[RtpSettings, list[str], list[str]]:
    cfg = loads(text, "rtp.conf", "/cfg")
    diag = Diagnostics()
    settings = parse_rtp_conf(cfg, "/cfg", diag)
    return settings, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


class RtpConfTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        s, errors, warnings = load("")
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(
            s,
            RtpSettings(
                rtpstart=10000,
                rtpend=20000,
                dtmftimeout=1200,
                rtcpinterval=5000,
                strictrtp="yes",
                probation=4,
                icesupport=True,
                dtls_mtu=1200,
            ),
        )
        self.assertEqual(load_rtp_conf("/nonexistent-dir").value, s)

    def test_values(self) -> None:
        s, errors, _ = load(
            "[general]\nrtpstart=16384\nrtpend=32767\nstrictrtp=seqno\nicesupport=false\n"
            "probation=8\ndtmftimeout=3000\nrtcpinterval=0\ndtls_mtu=1400\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual(
            (
                s.rtpstart,
                s.rtpend,
                s.strictrtp,
                s.icesupport,
                s.probation,
                s.dtmftimeout,
                s.rtcpinterval,
                s.dtls_mtu,
            ),
            (16384, 32767, "seqno", False, 8, 3000, 0, 1400),
        )
        self.assertEqual(load("[general]\nstrictrtp=off\n")[0].strictrtp, "no")

    def test_odd_start_is_rounded_up(self) -> None:
        s, errors, warnings = load("[general]\nrtpstart=10001\nrtpend=10010\n")
        self.assertEqual((errors, s.rtpstart, s.rtpend), ([], 10002, 10010))
        self.assertEqual(
            warnings, ["rtp.conf:2: [general] RTP uses even ports: the range starts at 10002"]
        )

    def test_clamped_to_unprivileged_ports(self) -> None:
        s, _, warnings = load("[general]\nrtpstart=80\nrtpend=65535\n")
        self.assertEqual((s.rtpstart, s.rtpend), (1024, 65535))
        self.assertEqual(
            warnings, ["rtp.conf:2: [general] rtpstart=80 is outside 1024-65535; using 1024"]
        )

    def test_empty_range_is_an_error(self) -> None:
        _, errors, _ = load("[general]\nrtpstart=20000\nrtpend=10000\n")
        self.assertEqual(
            errors,
            [
                "rtp.conf:3: [general] rtpstart (20000) must be below rtpend (10000), leaving "
                "room for "
                "an RTP/RTCP port pair"
            ],
        )
        _, errors, _ = load("[general]\nrtpstart=10001\nrtpend=10002\n")
        self.assertEqual(len(errors), 1)

    def test_rtcp_interval_clamped(self) -> None:
        s, _, warnings = load("[general]\nrtcpinterval=100\n")
        self.assertEqual(s.rtcpinterval, 500)
        self.assertEqual(
            warnings, ["rtp.conf:2: [general] rtcpinterval=100 is outside 500-60000; using 500"]
        )

    def test_unsupported(self) -> None:
        _, errors, warnings = load(
            "[general]\nstunaddr=stun.example:3478\nrtpstrat=1\n"
            "[ice_host_candidates]\n192.168.1.10 => 1.2.3.4\n"
        )
        self.assertEqual(
            errors, ["rtp.conf:3: [general] unknown option 'rtpstrat' (did you mean 'rtpstart'?)"]
        )
        self.assertEqual(
            warnings,
            [
                "rtp.conf:2: [general] option 'stunaddr' is not supported by pbx and is ignored",
                "rtp.conf:4: [ice_host_candidates] section is not supported by pbx; ignored",
            ],
        )
