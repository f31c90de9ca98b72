"""Dial: arguments, options, result variables and what happens after."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.dialplan_api import DialOptions, DialResult

from ..fakes import Harness


class ArgumentTests(SynchronousTestCase):
    def dial(self, data: str) -> Harness:
        h = Harness(self, f"[c]\nexten => 1,1,Dial({data})\n same => n,NoOp(${{DIALSTATUS}})\n")
        h.start("c", "1")
        return h

    def test_targets_timeout_and_options(self) -> None:
        h = self.dial("SIP/alice&SIP/bob/100,25,rg")
        (event,) = [e for e in h.channel.events if e[0] == "dial"]
        self.assertEqual(
            event,
            (
                "dial",
                ["SIP/alice", "SIP/bob/100"],
                25.0,
                DialOptions(ringback=True, continue_on_callee_hangup=True, raw="rg"),
            ),
        )
        self.assertIn("    -- Called SIP/alice", h.messages())
        self.assertEqual(h.messages(logging.WARNING), [])

    def test_transfer_options_warn_once_each_and_are_ignored(self) -> None:
        h = self.dial("SIP/alice,20,tTt")
        (event,) = [e for e in h.channel.events if e[0] == "dial"]
        self.assertEqual(event[3], DialOptions(raw="tTt"))
        warnings = [r for r in h.records if r.levelno == logging.WARNING]
        self.assertEqual(
            [r.getMessage() for r in warnings],
            [
                "Dial option 't': transfer via DTMF feature codes is not supported; ignored",
                "Dial option 'T': transfer via DTMF feature codes is not supported; ignored",
            ],
        )
        self.assertEqual({getattr(r, "channel", None) for r in warnings}, {h.channel.name})

    def test_m_warns_and_rings_instead_of_music(self) -> None:
        for data in ("SIP/alice,,m", "SIP/alice,,m(jazz)"):
            h = self.dial(data)
            (event,) = [e for e in h.channel.events if e[0] == "dial"]
            self.assertIsNone(event[2])
            self.assertTrue(event[3].ringback, data)
            warnings = [r for r in h.records if r.levelno == logging.WARNING]
            self.assertEqual(
                [r.getMessage() for r in warnings],
                ["Dial option 'm': music on hold is not supported; the caller hears ringing"],
            )
            self.assertEqual(getattr(warnings[0], "channel", None), h.channel.name)

    def test_each_dial_execution_warns_again(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Dial(SIP/alice,1,t)\n same => n,Dial(SIP/bob,1,t)\n",
        )
        h.start("c", "1")
        self.assertEqual(
            h.messages(logging.WARNING),
            ["Dial option 't': transfer via DTMF feature codes is not supported; ignored"] * 2,
        )

    def test_unsupported_and_unknown_options_warn(self) -> None:
        h = self.dial("SIP/alice,20,L(1000)Y")
        warnings = h.messages(logging.WARNING)
        self.assertIn("Dial option 'L' is not supported and is ignored", warnings)
        self.assertIn("Unknown Dial option 'Y' ignored", warnings)

    def test_bad_timeout_means_forever(self) -> None:
        h = self.dial("SIP/alice,soon")
        self.assertIn(
            "Invalid answer timeout specified: 'soon'. Setting timeout to infinite",
            h.messages(logging.WARNING),
        )
        self.assertIsNone([e for e in h.channel.events if e[0] == "dial"][0][2])

    def test_no_valid_target_is_chanunavail(self) -> None:
        h = self.dial("alice")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(CHANUNAVAIL)")
        self.assertNotIn("dial", h.channel.names())

    def test_no_argument_ends(self) -> None:
        h = self.dial("")
        self.assertEqual(len(h.executed), 1)
        self.assertIn(
            "Dial requires an argument (technology/resource)", h.messages(logging.WARNING)
        )


class OutcomeTests(SynchronousTestCase):
    TEXT = (
        "[c]\nexten => 1,1,Dial(SIP/bob,20${OPTS})\n"
        " same => n,NoOp(${DIALSTATUS} ${DIALEDTIME} ${ANSWEREDTIME} ${DIALEDPEERNAME})\n"
        " same => n,Hangup()\n"
    )

    def run_dial(self, result: DialResult, opts: str = "") -> Harness:
        h = Harness(self, self.TEXT)
        h.channel.variables["OPTS"] = opts
        h.channel.dial_outcome = result
        h.start("c", "1")
        return h

    def test_failed_dial_sets_variables_and_the_hangup_cause(self) -> None:
        h = self.run_dial(DialResult("BUSY", 3.7, cause=17))
        self.assertEqual(h.executed[1], "1@c:2 NoOp(BUSY 3  )")
        self.assertEqual(h.channel.variables["DIALEDTIME_MS"], "3700")
        self.assertNotIn("ANSWEREDTIME", h.channel.variables)
        # Hangup() without a cause reuses the callee's: the caller gets 486.
        self.assertEqual(h.channel.hangup_cause, 17)

    def test_answered_call_ends_the_dialplan_when_the_callee_hangs_up(self) -> None:
        h = self.run_dial(
            DialResult("ANSWER", 65.2, 60.9, peer_hangup=True, peer_name="SIP/bob-00000002")
        )
        self.assertEqual(len(h.executed), 1)
        self.assertEqual(h.channel.variables["ANSWEREDTIME"], "60")
        self.assertEqual(h.channel.variables["ANSWEREDTIME_MS"], "60900")
        self.assertEqual(h.channel.variables["DIALEDPEERNAME"], "SIP/bob-00000002")
        self.assertEqual(h.channel.events[-1], ("hangup", 16))

    def test_g_continues_after_the_callee_hangs_up(self) -> None:
        h = self.run_dial(
            DialResult("ANSWER", 65.2, 60.9, peer_hangup=True, peer_name="SIP/bob-00000002"), ",g"
        )
        self.assertEqual(h.executed[1], "1@c:2 NoOp(ANSWER 65 60 SIP/bob-00000002)")

    def test_cancel_keeps_the_cause(self) -> None:
        h = self.run_dial(DialResult("CANCEL", 4.0, cause=16))
        self.assertEqual(h.channel.events[-1], ("hangup", 16))

    def test_blind_transfer_continues_at_the_target(self) -> None:
        text = self.TEXT + (
            "exten => 2003,1,NoOp(${DIALSTATUS} ${DIALEDPEERNAME} ${EXTEN})\n"
            "[other]\nexten => 2004,1,NoOp(${CONTEXT})\n"
        )
        for target, executed in (
            (("c", "2003"), "2003@c:1 NoOp(ANSWER  2003)"),
            (("other", "2004"), "2004@other:1 NoOp(other)"),
        ):
            h = Harness(self, text)
            h.channel.dial_outcome = DialResult("ANSWER", 12.0, 10.0, transfer=target)
            h.start("c", "1")
            self.assertEqual(h.executed[1:], [executed])
            self.assertNotIn("DIALEDPEERNAME", h.channel.variables)
