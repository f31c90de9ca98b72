"""Tests for pbx.call.channel: states, hang-up, waits, the DTMF queue, playback, Echo, and DTMF
interworking across a bridge, on a Clock with a fake driver and a fake media leg."""

from __future__ import annotations

import gc
import re
from typing import TypeVar

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel, next_channel_suffix
from pbx.call.dialplan_api import DialOptions, DialResult, MissingSound
from pbx.core import causes
from pbx.core.errors import MediaError
from test.unit.call.fakes import FakeDriver, FakeMediaLeg, FakeSounds

_T = TypeVar("_T")


def channel(
    clock: Clock | None = None,
    *,
    media: FakeMediaLeg | None = None,
    sounds: FakeSounds | None = None,
) -> tuple[Channel, FakeDriver]:
    clock = clock or Clock()
    ch = Channel("SIP", "alice", clock, caller_id_num="1001")
    driver = FakeDriver()
    ch.driver = driver
    ch.media = media
    ch.sounds = sounds
    return ch, driver


def result(d: Deferred[_T]) -> list[object]:
    """What ``d`` fired with so far (one element once it fired; failures as Failures)."""
    out: list[object] = []
    d.addBoth(out.append)
    return out


def error(fired: list[object]) -> BaseException:
    """The exception of the one failure in ``fired``."""
    (failure,) = fired
    assert isinstance(failure, Failure) and failure.value is not None, failure
    return failure.value


class NamingTests(SynchronousTestCase):
    def test_name_is_tech_resource_and_eight_hex_digits(self) -> None:
        clock = Clock()
        clock.advance(1700000000.7)
        a = Channel("SIP", "alice", clock)
        b = Channel("SIP", "alice", clock)
        self.assertRegex(a.name, r"^SIP/alice-[0-9a-f]{8}$")
        self.assertEqual(int(b.name[-8:], 16), int(a.name[-8:], 16) + 1)
        self.assertRegex(next_channel_suffix(), r"^[0-9a-f]{8}$")

    def test_uniqueid_is_epoch_dot_sequence_and_the_linkedid(self) -> None:
        clock = Clock()
        clock.advance(1700000000.7)
        a, b = Channel("SIP", "a", clock), Channel("SIP", "b", clock)
        match = re.fullmatch(r"1700000000\.(\d+)", a.uniqueid)
        assert match is not None
        self.assertEqual(b.uniqueid, f"1700000000.{int(match.group(1)) + 1}")
        self.assertEqual(a.linkedid, a.uniqueid)
        self.assertEqual(Channel("SIP", "c", clock, uniqueid="given.1").uniqueid, "given.1")


class StateTests(SynchronousTestCase):
    def test_up_stamps_answered_at_once_and_notifies(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        seen: list[str] = []
        ch.on_state.append(lambda c: seen.append(c.state))
        clock.advance(2)
        ch.set_state("Ringing")
        ch.set_state("Ringing")  # no change: no notification
        ch.set_state("Up")
        clock.advance(5)
        ch.set_state("Ringing")
        ch.set_state("Up")
        self.assertEqual(seen, ["Ringing", "Up", "Ringing", "Up"])
        self.assertEqual(ch.answered_at, 2.0)
        self.assertTrue(ch.up)

    def test_no_state_change_once_gone(self) -> None:
        ch, _ = channel()
        ch.ended(causes.NORMAL_CLEARING)
        ch.set_state("Up")
        self.assertEqual((ch.state, ch.answered_at), ("Down", None))


class HangupTests(SynchronousTestCase):
    def test_hangup_tells_the_driver_then_ends_once(self) -> None:
        clock = Clock()
        ch, driver = channel(clock)
        clock.advance(3)
        ch.hangup(causes.USER_BUSY)
        ch.hangup(causes.NORMAL_CLEARING)
        self.assertEqual(driver.calls, [("hangup", causes.USER_BUSY)])
        self.assertEqual((ch.hangup_cause, ch.ended_at, ch.gone), (17, 3.0, True))
        self.assertEqual(ch.variables["HANGUPCAUSE"], "17")

    def test_default_cause_is_normal_clearing(self) -> None:
        ch, driver = channel()
        ch.hangup()
        self.assertEqual(driver.calls, [("hangup", 16)])

    def test_hangupcause_set_by_the_dialplan_is_kept(self) -> None:
        ch, _ = channel()
        ch.variables["HANGUPCAUSE"] = "21"
        ch.ended(16)
        self.assertEqual(ch.variables["HANGUPCAUSE"], "21")

    def test_every_waiter_gets_its_own_deferred_and_late_ones_fire_at_once(self) -> None:
        ch, _ = channel()
        first, second = result(ch.when_hungup()), result(ch.when_hungup())
        seen: list[bool] = []
        ch.on_state.append(lambda c: seen.append(c.gone))
        ch.ended(causes.NO_ANSWER)
        ch.ended(causes.NORMAL_CLEARING)
        self.assertEqual((first, second, seen), ([19], [19], [True]))
        self.assertEqual(result(ch.when_hungup()), [19])

    def test_end_closes_media_and_records_rtp_qos(self) -> None:
        media = FakeMediaLeg()
        media.negotiated_as((("ulaw", 0),), 101)
        ch, _ = channel(media=media)
        ch.ended(causes.NORMAL_CLEARING)
        self.assertEqual(media.closed, 1)
        self.assertEqual(
            ch.variables["RTPAUDIOQOS"],
            "ssrc=4660;themssrc=22136;lp=2;rxjitter=0.002100;rxcount=150;txjitter=0.000500;"
            "txcount=149;rlp=0;rtt=0.012000",
        )
        self.assertEqual(ch.variables["RTPAUDIOQOSMEDIA"], "codec=ulaw")

    def test_no_qos_for_media_never_negotiated(self) -> None:
        media = FakeMediaLeg()
        ch, _ = channel(media=media)
        ch.ended(causes.NORMAL_CLEARING)
        self.assertEqual(media.closed, 1)
        self.assertNotIn("RTPAUDIOQOS", ch.variables)


class AnswerIndicateTests(SynchronousTestCase):
    def test_answer_goes_to_the_driver_unless_up_or_gone(self) -> None:
        ch, driver = channel()
        self.assertEqual(result(ch.answer()), [None])
        ch.set_state("Up")
        self.assertEqual(result(ch.answer()), [None])
        self.assertEqual(driver.calls, [("answer", None)])

    def test_answer_waits_for_the_driver(self) -> None:
        ch, driver = channel()
        driver.answer_result = Deferred()
        answered = result(ch.answer())
        self.assertEqual(answered, [])
        driver.answer_result.callback(None)
        self.assertEqual(answered, [None])

    def test_gone_channel_neither_answers_nor_indicates(self) -> None:
        ch, driver = channel()
        ch.ended(16)
        self.assertEqual(result(ch.answer()), [None])
        ch.indicate("ringing")
        self.assertEqual(driver.calls, [])

    def test_indicate_passes_through(self) -> None:
        ch, driver = channel()
        ch.indicate("progress")
        self.assertEqual(driver.calls, [("indicate", "progress")])


class WaitTests(SynchronousTestCase):
    def test_fires_after_the_seconds(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        waited = result(ch.wait(2.5))
        clock.advance(2.4)
        self.assertEqual(waited, [])
        clock.advance(0.1)
        self.assertEqual(waited, [None])

    def test_cancel_stops_the_timer(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        d = ch.wait(5)
        d.addErrback(lambda f: f.trap(CancelledError))
        d.cancel()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_negative_is_immediate(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        waited = result(ch.wait(-1))
        clock.advance(0)
        self.assertEqual(waited, [None])


class DigitTests(SynchronousTestCase):
    def test_digits_queue_in_order_until_asked_for(self) -> None:
        ch, _ = channel()
        for digit in "12#":
            ch.digit_received(digit)
        self.assertEqual([result(ch.wait_for_digit(1)) for _ in range(3)], [["1"], ["2"], ["#"]])

    def test_waiter_gets_the_next_digit_and_its_timer_stops(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        got = result(ch.wait_for_digit(5))
        ch.digit_received("7")
        self.assertEqual(got, ["7"])
        self.assertEqual(clock.getDelayedCalls(), [])
        ch.digit_received("8")  # nobody waits now: queued
        self.assertEqual(result(ch.wait_for_digit(5)), ["8"])

    def test_timeout_gives_none_and_later_digits_queue(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        got = result(ch.wait_for_digit(3))
        clock.advance(3)
        self.assertEqual(got, [None])
        ch.digit_received("4")
        self.assertEqual(result(ch.wait_for_digit(3)), ["4"])

    def test_hangup_wakes_the_waiter_with_none(self) -> None:
        ch, _ = channel()
        got = result(ch.wait_for_digit(10))
        ch.ended(16)
        self.assertEqual(got, [None])
        self.assertEqual(result(ch.wait_for_digit(10)), [None])

    def test_cancelled_waiter_leaves_digits_to_the_queue(self) -> None:
        clock = Clock()
        ch, _ = channel(clock)
        d = ch.wait_for_digit(10)
        d.addErrback(lambda f: f.trap(CancelledError))
        d.cancel()
        self.assertEqual(clock.getDelayedCalls(), [])
        ch.digit_received("5")
        self.assertEqual(result(ch.wait_for_digit(1)), ["5"])


class BridgedDigitTests(SynchronousTestCase):
    """A digit arriving on one side of a bridge reaches the other in a form it can take."""

    def pair(self, other_dtmf: int | None) -> tuple[Channel, Channel, FakeMediaLeg, FakeDriver]:
        a, _ = channel()
        media = FakeMediaLeg()
        media.negotiated_as((("ulaw", 0),), other_dtmf)
        b, b_driver = channel(media=media)
        a.bridged_to, b.bridged_to = b, a
        return a, b, media, b_driver

    def test_info_to_an_rfc4733_leg_is_sent_as_rfc4733(self) -> None:
        a, _, media, b_driver = self.pair(101)
        a.digit_received("5", via_info=True)
        self.assertEqual((media.dtmf_sent, b_driver.calls), (["5"], []))

    def test_rfc4733_to_a_leg_without_it_is_sent_as_info(self) -> None:
        a, _, media, b_driver = self.pair(None)
        a.digit_received("9")
        self.assertEqual((media.dtmf_sent, b_driver.calls), ([], [("info", "9")]))

    def test_rfc4733_to_rfc4733_is_left_to_the_bridge(self) -> None:
        a, _, media, b_driver = self.pair(101)
        a.digit_received("1")
        self.assertEqual((media.dtmf_sent, b_driver.calls), ([], []))

    def test_info_to_info(self) -> None:
        a, _, _, b_driver = self.pair(None)
        a.digit_received("*", via_info=True)
        self.assertEqual(b_driver.calls, [("info", "*")])

    def test_bridged_digits_are_not_queued_but_a_gone_peer_does_not_take_them(self) -> None:
        a, b, _, _ = self.pair(101)
        a.digit_received("1")
        b.ended(16)
        a.digit_received("2")
        self.assertEqual(result(a.wait_for_digit(0.1)), ["2"])


def ignore_cancelled_waiters(case: SynchronousTestCase) -> None:
    """Collect the digit waiters a playback or Echo cancelled without handling the
    CancelledError (see ``test_ending_leaves_no_unhandled_error``), so that tests about other
    behaviour are not failed by that bug's log lines."""

    def flush() -> None:
        gc.collect()
        case.flushLoggedErrors(CancelledError)

    case.addCleanup(flush)


class PlaybackTests(SynchronousTestCase):
    def playing(self, *present: str) -> tuple[Channel, FakeMediaLeg, FakeSounds]:
        media = FakeMediaLeg()
        sounds = FakeSounds(*present)
        ch, _ = channel(media=media, sounds=sounds)
        return ch, media, sounds

    def test_files_play_one_after_the_other(self) -> None:
        ch, media, sounds = self.playing("hello-world", "goodbye")
        done = result(ch.play(["hello-world", "goodbye"]))
        self.assertEqual((len(media.plays), sounds.loaded), (1, ["hello-world"]))
        media.plays[0][2].callback(None)
        self.assertEqual((len(media.plays), sounds.loaded), (2, ["hello-world", "goodbye"]))
        self.assertEqual(media.plays[1][1], 8000)
        self.assertEqual(done, [])
        media.plays[1][2].callback(None)
        self.assertEqual(done, [None])

    def test_missing_sound_fails_and_stops_the_sequence(self) -> None:
        ch, media, sounds = self.playing("a")
        done = result(ch.play(["a", "nothere", "a"]))
        media.plays[0][2].callback(None)
        missing = error(done)
        assert isinstance(missing, MissingSound)
        self.assertEqual(missing.name, "nothere")
        self.assertEqual((len(media.plays), sounds.loaded), (1, ["a", "nothere"]))

    def test_unreadable_sound_counts_as_missing(self) -> None:
        ch, media, sounds = self.playing()
        sounds.broken["bad"] = MediaError("bad WAV header")
        done = result(ch.play(["bad"]))
        self.assertIsInstance(error(done), MissingSound)

    def test_interrupt_digit_stops_the_current_file(self) -> None:
        ch, media, _ = self.playing("a", "b")
        done = result(ch.play(["a", "b"], "#*"))
        ch.digit_received("5")  # not an interrupt
        self.assertEqual(done, [])
        ch.digit_received("#")
        self.assertEqual(len(done), 1)
        self.assertEqual((len(media.plays), media.cancelled_plays), (1, 1))
        self.assertEqual(result(ch.wait_for_digit(1)), [])  # "5" was discarded, not queued

    def test_interrupt_digit_is_returned(self) -> None:
        ch, _, _ = self.playing("a", "b")
        done = result(ch.play(["a", "b"], "#*"))
        ch.digit_received("#")
        self.assertEqual(done, ["#"])

    def test_queued_interrupt_ends_playback_before_it_starts(self) -> None:
        ch, media, _ = self.playing("a")
        ch.digit_received("3")
        ch.digit_received("1")
        done = result(ch.play(["a"], "1"))
        self.assertEqual((done, media.plays), (["1"], []))

    def test_digits_after_playback_are_queued_again(self) -> None:
        ignore_cancelled_waiters(self)
        ch, media, _ = self.playing("a")
        done = result(ch.play(["a"], "#"))
        media.plays[0][2].callback(None)
        self.assertEqual(done, [None])
        ch.digit_received("#")
        self.assertEqual(result(ch.wait_for_digit(1)), ["#"])

    def test_cancel_stops_the_current_file(self) -> None:
        ignore_cancelled_waiters(self)
        ch, media, _ = self.playing("a")
        d = ch.play(["a"], "#")
        d.addErrback(lambda f: f.trap(CancelledError))
        d.cancel()
        self.assertEqual(media.cancelled_plays, 1)
        ch.digit_received("#")  # the interrupt waiter is gone too: queued
        self.assertEqual(result(ch.wait_for_digit(1)), ["#"])

    def test_media_refusing_to_play_fails_the_playback(self) -> None:
        ch, media, _ = self.playing("a")
        media.play_error = MediaError("cannot play to an opus leg")
        done = result(ch.play(["a"]))
        self.assertIsInstance(error(done), MediaError)

    def test_leg_closing_mid_file_ends_playback_quietly(self) -> None:
        ch, media, _ = self.playing("a", "b")
        done = result(ch.play(["a", "b"]))
        media.plays[0][2].errback(MediaError("leg closed"))
        self.assertEqual((done, len(media.plays)), ([None], 1))

    def test_without_media_or_once_gone_nothing_is_played(self) -> None:
        ch, media, _ = self.playing("a")
        ch.media = None
        self.assertEqual(result(ch.play(["a"])), [None])
        ch.media = media
        ch.ended(16)
        self.assertEqual(result(ch.play(["a"])), [None])
        self.assertEqual(media.plays, [])


class EchoTests(SynchronousTestCase):
    def test_hash_ends_the_echo(self) -> None:
        media = FakeMediaLeg()
        ch, _ = channel(media=media)
        done = result(ch.echo())
        ch.digit_received("1")  # echoed by the media, not an end
        self.assertEqual((done, media.echoing), ([], [True]))
        ch.digit_received("#")
        self.assertEqual((done, media.echoing), ([None], [True, False]))

    def test_hangup_ends_the_echo(self) -> None:
        media = FakeMediaLeg()
        ch, _ = channel(media=media)
        done = result(ch.echo())
        ch.ended(16)
        self.assertEqual(done, [None])
        self.assertFalse(media.echoing[-1])

    def test_cancel_turns_the_echo_off(self) -> None:
        ignore_cancelled_waiters(self)
        media = FakeMediaLeg()
        ch, _ = channel(media=media)
        d = ch.echo()
        d.addErrback(lambda f: f.trap(CancelledError))
        d.cancel()
        self.assertEqual(media.echoing, [True, False])
        ch.digit_received("#")
        self.assertEqual(result(ch.wait_for_digit(1)), ["#"])

    def test_without_media_waits_for_the_hangup(self) -> None:
        ch, _ = channel()
        done = result(ch.echo())
        self.assertEqual(done, [])
        ch.ended(16)
        self.assertEqual(done, [None])


class UnhandledErrorTests(SynchronousTestCase):
    def test_ending_leaves_no_unhandled_error(self) -> None:
        def play_then_echo() -> None:
            media = FakeMediaLeg()
            ch, _ = channel(media=media, sounds=FakeSounds("a"))
            ch.play(["a"], "#")
            media.plays[0][2].callback(None)
            echo = ch.echo()
            echo.addErrback(lambda f: f.trap(CancelledError))
            echo.cancel()

        play_then_echo()
        gc.collect()
        self.assertEqual(self.flushLoggedErrors(CancelledError), [])


class DialTests(SynchronousTestCase):
    def test_without_a_dialer_the_channel_is_unavailable(self) -> None:
        ch, _ = channel()
        self.assertEqual(
            result(ch.dial(["SIP/bob"], 20, DialOptions())),
            [DialResult("CHANUNAVAIL", cause=causes.CHAN_NOT_IMPLEMENTED)],
        )

    def test_dial_goes_to_the_dialer(self) -> None:
        ch, _ = channel()
        calls: list[object] = []

        class Dialer:
            def dial(
                self, caller: Channel, targets: list[str], timeout: float | None, o: DialOptions
            ) -> Deferred[DialResult]:
                calls.append((caller, targets, timeout, o))
                return Deferred()

        ch.dialer = Dialer()
        options = DialOptions(ringback=True)
        ch.dial(["SIP/bob"], 20, options)
        self.assertEqual(calls, [(ch, ["SIP/bob"], 20, options)])
