"""Tests for pbx.app.console: the command tree (Asterisk CLI): longest-prefix dispatch, help,
and errors that become text instead of killing the console."""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from pbx.app.console import CommandError, CommandRegistry


def text(d: Deferred[str]) -> str:
    out: list[str] = []
    d.addCallback(out.append)
    assert len(out) == 1, "dispatch must fire at once for synchronous handlers"
    return out[0]


class Recorder:
    def __init__(self, reply: str = "ok") -> None:
        self.calls: list[list[str]] = []
        self.reply = reply

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        return self.reply


def registry() -> tuple[CommandRegistry, Recorder, Recorder]:
    r = CommandRegistry()
    peers, peer = Recorder("peers"), Recorder("peer")
    r.add("sip show peers", peers, "List defined SIP peers", "Usage: sip show peers [like <p>]")
    r.add("sip show peer", peer, "Show details on specific SIP peer")
    return r, peers, peer


class DispatchTests(SynchronousTestCase):
    def test_longest_prefix_wins_and_gets_the_rest_as_arguments(self) -> None:
        r, peers, peer = registry()
        self.assertEqual(text(r.dispatch("sip show peers like desk")), "peers\n")
        self.assertEqual(text(r.dispatch("sip show peer Desk1")), "peer\n")
        self.assertEqual((peers.calls, peer.calls), ([["like", "desk"]], [["Desk1"]]))

    def test_command_words_ignore_case_arguments_keep_it(self) -> None:
        r, _, peer = registry()
        text(r.dispatch("SIP Show PEER Alice"))
        self.assertEqual(peer.calls, [["Alice"]])

    def test_quoted_arguments(self) -> None:
        r, _, peer = registry()
        text(r.dispatch('sip show peer "a b" c'))
        self.assertEqual(peer.calls, [["a b", "c"]])

    def test_output_always_ends_with_a_newline_except_empty(self) -> None:
        r = CommandRegistry()
        r.add("a", lambda args: "one\n", "")
        r.add("b", lambda args: "", "")
        self.assertEqual((text(r.dispatch("a")), text(r.dispatch("b"))), ("one\n", ""))

    def test_blank_line(self) -> None:
        r, _, _ = registry()
        self.assertEqual(text(r.dispatch("   ")), "")

    def test_unknown_command(self) -> None:
        r, _, _ = registry()
        self.assertEqual(
            text(r.dispatch("sip shw peers ")),
            "No such command 'sip shw peers' (type 'core show help sip' for other possible "
            "commands)\n",
        )

    def test_unbalanced_quote(self) -> None:
        r, _, _ = registry()
        self.assertEqual(
            text(r.dispatch('sip show peer "alice')),
            "Unable to parse command: No closing quotation\n",
        )

    def test_usage_error_is_printed(self) -> None:
        r = CommandRegistry()

        def usage(args: list[str]) -> str:
            raise CommandError("Usage: dialplan reload")

        r.add("dialplan reload", usage, "")
        self.assertEqual(text(r.dispatch("dialplan reload now")), "Usage: dialplan reload\n")

    def test_crashing_handler_is_a_message_and_a_log_line(self) -> None:
        r = CommandRegistry()
        r.add("core crash", lambda args: str(1 // 0), "")
        with self.assertLogs("pbx.app.console", "ERROR") as logs:
            self.assertEqual(
                text(r.dispatch("core crash")), "Command 'core crash' failed; see the log.\n"
            )
        self.assertIn("ZeroDivisionError", logs.output[0])
        self.assertEqual(text(r.dispatch("help core crash")), "Usage: core crash\n")  # still alive

    def test_waiting_commands(self) -> None:
        r = CommandRegistry()
        waiting: Deferred[str] = Deferred()
        r.add("core waitfullybooted", lambda args: waiting, "")
        out: list[str] = []
        r.dispatch("core waitfullybooted").addCallback(out.append)
        self.assertEqual(out, [])
        waiting.callback("Asterisk has fully booted.")
        self.assertEqual(out, ["Asterisk has fully booted.\n"])

    def test_failed_waiting_command_never_errbacks(self) -> None:
        r = CommandRegistry()
        r.add("core stop gracefully", lambda args: fail(RuntimeError("boom")), "")
        with self.assertLogs("pbx.app.console", "ERROR"):
            self.assertEqual(
                text(r.dispatch("core stop gracefully")),
                "Command 'core stop gracefully' failed; see the log.\n",
            )

    def test_usage_error_of_a_waiting_command_is_printed(self) -> None:
        r = CommandRegistry()
        r.add("core stop gracefully", lambda args: fail(CommandError("Already stopping")), "")
        self.assertEqual(text(r.dispatch("core stop gracefully")), "Already stopping\n")


class HelpTests(SynchronousTestCase):
    def test_full_list_is_right_aligned(self) -> None:
        r, _, _ = registry()
        self.assertEqual(
            text(r.dispatch("help")).splitlines(),
            [
                "core show help -- Display help list, or specific help on a command",
                "          help -- Display help list, or specific help on a command",
                " sip show peer -- Show details on specific SIP peer",
                "sip show peers -- List defined SIP peers",
            ],
        )

    def test_prefix_lists_the_matching_commands(self) -> None:
        r, _, _ = registry()
        self.assertEqual(
            text(r.dispatch("core show help SIP show")),
            " sip show peer -- Show details on specific SIP peer\n"
            "sip show peers -- List defined SIP peers\n",
        )

    def test_exact_command_prints_its_usage(self) -> None:
        r, _, _ = registry()
        self.assertEqual(
            text(r.dispatch("help sip show peers")), "Usage: sip show peers [like <p>]\n"
        )
        self.assertEqual(text(r.dispatch("help sip show peer")), "Usage: sip show peer\n")

    def test_nothing_matches(self) -> None:
        r, _, _ = registry()
        self.assertEqual(text(r.dispatch("help iax2")), "No such command 'iax2'.\n")

    def test_registering_again_replaces(self) -> None:
        r, _, _ = registry()
        r.add("sip show peer", lambda args: "new", "New summary")
        self.assertEqual(text(r.dispatch("sip show peer x")), "new\n")
        self.assertIn("sip show peer -- New summary", text(r.dispatch("help sip")))
