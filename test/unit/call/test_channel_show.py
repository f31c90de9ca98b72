"""Tests for pbx.call.channel_show: ``core show channels``/``calls`` and ``sip show
channels``/``channelstats`` in Asterisk's shapes (ASTERISK-REFERENCE §4.2)."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.channel_show import show_calls, show_channels, show_channelstats, show_sip_channels
from pbx.sip.dialog import Dialog
from test.unit.call.fakes import UDP_FLOW, FakeMediaLeg, load, request


@dataclass
class LegView:
    """What the views read of a channel's SIP leg."""

    dialog: Dialog | None
    last_message: str = "ACK"
    hold_remote: bool = False


def two_channels() -> tuple[Channel, Channel, Clock]:
    """An answered caller running Dial, bridged to its callee."""
    clock = Clock()
    clock.advance(1000.0)
    caller = Channel(
        "SIP", "desk1", clock, context="phones", exten="100", caller_id_num="2001",
        uniqueid="1000.1",
    )  # fmt: skip
    caller.account_code = "desks"
    callee = Channel(
        "SIP", "bob", clock, context="phones", exten="100", outbound=True, uniqueid="1000.2"
    )
    caller.executing("phones", "100", 2, "Dial", "SIP/bob,20")
    caller.set_state("Up")
    callee.set_state("Up")
    caller.bridged_to, callee.bridged_to = callee, caller
    clock.advance(3725.0)
    return caller, callee, clock


def dialog() -> Dialog:
    return Dialog.from_uas(request(load("baresip-invite-auth.sip")), "as1", "<sip:pbx>", UDP_FLOW)


class CoreShowChannelsTests(SynchronousTestCase):
    def test_default_table_and_footer(self) -> None:
        caller, callee, clock = two_channels()
        self.assertEqual(
            show_channels([caller, callee], 7, clock.seconds()).splitlines(),
            [
                "Channel                          Location                  State   "
                "Application(Data)",
                f"{caller.name:<32} 100@phones:2              Up      Dial(SIP/bob,20)",
                f"{callee.name:<32} (None)                    Up      (None)",
                "2 active channels",
                "1 active call",
                "7 calls processed",
            ],
        )

    def test_footer_plurals(self) -> None:
        caller, _, clock = two_channels()
        self.assertEqual(
            show_channels([caller], 1, clock.seconds(), "count"),
            "1 active channel\n1 active call\n1 call processed\n",
        )
        self.assertEqual(
            show_channels([], 0, 0.0, "count"),
            "0 active channels\n0 active calls\n0 calls processed\n",
        )

    def test_core_show_calls(self) -> None:
        caller, callee, _ = two_channels()
        self.assertEqual(show_calls([caller, callee], 12), "1 active call\n12 calls processed\n")

    def test_concise(self) -> None:
        caller, callee, clock = two_channels()
        out = show_channels([caller, callee], 0, clock.seconds(), "concise")
        self.assertEqual(
            out.splitlines(),
            [
                f"{caller.name}!phones!100!2!Up!Dial!SIP/bob,20!2001!desks!!3!3725!{callee.name}!1000.1",
                f"{callee.name}!phones!100!1!Up!(None)!!!!!3!3725!{caller.name}!1000.2",
            ],
        )

    def test_verbose(self) -> None:
        caller, callee, clock = two_channels()
        lines = show_channels([caller, callee], 3, clock.seconds(), "verbose").splitlines()
        self.assertEqual(
            lines[0].split(),
            ["Channel", "Context", "Extension", "Prio", "State", "Application", "Data", "CallerID",
             "Duration", "Accountcode", "PeerAccount", "BridgedTo"],
        )  # fmt: skip
        self.assertEqual(
            lines[1].split(),
            [
                caller.name,
                "phones",
                "100",
                "2",
                "Up",
                "Dial",
                "SIP/bob,20",
                "2001",
                "01:02:05",
                "desks",
                callee.name,
            ],
        )
        self.assertEqual(lines[-3:], ["2 active channels", "1 active call", "3 calls processed"])


class SipShowChannelsTests(SynchronousTestCase):
    def test_dialogs_only(self) -> None:
        caller, callee, _ = two_channels()
        media = FakeMediaLeg()
        media.negotiated_as((("ulaw", 0),), 101)
        caller.media = media
        caller.tech_pvt = LegView(dialog(), "Rx: BYE", hold_remote=True)
        callee.tech_pvt = LegView(None)
        self.assertEqual(
            show_sip_channels([caller, callee]).splitlines(),
            [
                "Peer             User/ANR         Call ID          Format           Hold     "
                "Last Message     Expiry      Peer",
                "127.0.0.1        2001             8c28da1169e6b78  (ulaw)           Yes      "
                "Rx: BYE                      desk1",
                "1 active SIP dialog",
            ],
        )

    def test_plural_and_no_codec(self) -> None:
        channels = []
        for _ in range(2):
            channel, _, _ = two_channels()
            channel.tech_pvt = LegView(dialog())
            channels.append(channel)
        lines = show_sip_channels(channels).splitlines()
        self.assertIn("  (nothing)        No  ", lines[1])
        self.assertEqual(lines[-1], "2 active SIP dialogs")

    def test_sent_message_is_tx(self) -> None:
        caller, _, _ = two_channels()
        caller.tech_pvt = LegView(dialog(), "Tx: 200")  # the leg records the direction
        self.assertIn("Tx: 200", show_sip_channels([caller]))


class ChannelStatsTests(SynchronousTestCase):
    def test_stats_line_and_media_facts(self) -> None:
        caller, callee, clock = two_channels()
        media = FakeMediaLeg()
        media.negotiated_as((("ulaw", 0),), 101)
        caller.media = media
        caller.tech_pvt = LegView(dialog())
        lines = show_channelstats([caller, callee], clock.seconds()).splitlines()
        self.assertEqual(lines[0].split()[:4], ["Peer", "Call", "ID", "Duration"])
        self.assertEqual(
            lines[1],
            "127.0.0.1       8c28da1169e6 01:02:05 0000000150 0000000002 ( 1.30%) 0.0021  "
            "0000000149 0000000000 ( 0.00%) 0.0005  0.0120",
        )
        self.assertEqual(lines[2], f"    codec ulaw  [{caller.name}]")
        self.assertEqual(lines[3], "1 active SIP channel")
