"""chan_sip ``qualify``: when pings go out, and the status ``sip show peers`` prints."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.qualify import UNREACHABLE_FREQ, Qualifier, Reachability, StatusChange

OK, LAGGED = Reachability.OK, Reachability.LAGGED
UNKNOWN, UNREACHABLE = Reachability.UNKNOWN, Reachability.UNREACHABLE


class FixedRandom:
    """The injected ``random``: returns ``value`` every time and counts the calls."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.value


def qualifier(value: float = 0.5) -> Qualifier:
    return Qualifier(FixedRandom(value))


def pinged(q: Qualifier, name: str = "alice", maxms: int = 2000, freq: float = 60.0) -> float:
    """Watch ``name`` at 0 and run the timer to its first ping; returns the send time."""
    q.watch(name, maxms, freq, 0.0)
    at = q.timer_at()
    assert at is not None
    q.handle_timer(at)
    assert q.due() == [name]
    return at


class FirstPingTests(SynchronousTestCase):
    def test_first_ping_at_the_random_offset(self) -> None:
        q = qualifier(0.5)
        q.watch("alice", 2000, 60.0, 100.0)
        self.assertEqual(q.timer_at(), 102.5)  # 0.5 * min(60, 5)
        q.handle_timer(102.49)
        self.assertEqual(q.due(), [])
        q.handle_timer(102.5)
        self.assertEqual(q.due(), ["alice"])
        self.assertEqual(q.due(), [])  # drained

    def test_offset_never_beyond_freq(self) -> None:
        q = qualifier(0.999)
        q.watch("alice", 2000, 2.0, 0.0)
        at = q.timer_at()
        assert at is not None
        self.assertTrue(0.0 <= at < 2.0, at)

    def test_peers_are_spread(self) -> None:
        values = iter([0.1, 0.9, 0.5])
        q = Qualifier(lambda: next(values))
        for name in ("a", "b", "c"):
            q.watch(name, 2000, 60.0, 0.0)
        order = []
        while (at := q.timer_at()) is not None and at < 5.0:  # before any deadline
            q.handle_timer(at)
            order.append((at, q.due()))
        self.assertEqual(order, [(0.5, ["a"]), (2.5, ["c"]), (4.5, ["b"])])

    def test_watch_again_only_retunes(self) -> None:
        rnd = FixedRandom(0.5)
        q = Qualifier(rnd)
        q.watch("alice", 2000, 60.0, 0.0)
        q.watch("alice", 100, 30.0, 1.0)
        self.assertEqual((q.timer_at(), rnd.calls), (2.5, 1))
        q.handle_timer(2.5)
        q.due()
        q.answered("alice", 2.7)  # 200 ms: over the retuned 100 ms limit
        self.assertEqual(q.status("alice"), "LAGGED (200 ms)")
        self.assertEqual(q.timer_at(), 32.7)  # the retuned frequency


class StatusTests(SynchronousTestCase):
    def test_unmonitored_and_unknown(self) -> None:
        q = qualifier()
        self.assertEqual(q.status("alice"), "Unmonitored")
        self.assertIsNone(q.state("alice"))
        q.watch("alice", 2000, 60.0, 0.0)
        self.assertEqual(q.status("alice"), "UNKNOWN")
        self.assertIs(q.state("alice"), UNKNOWN)
        self.assertEqual(q.changes(), [])

    def test_ok(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.answered("alice", sent + 0.012)
        self.assertEqual(q.status("alice"), "OK (12 ms)")
        self.assertIs(q.state("alice"), OK)
        self.assertEqual(q.changes(), [StatusChange("alice", UNKNOWN, OK, 12)])
        self.assertEqual(q.changes(), [])  # drained

    def test_limit_itself_is_ok_above_is_lagged(self) -> None:
        q = qualifier()
        sent = pinged(q, maxms=2000)
        q.answered("alice", sent + 2.0)
        self.assertEqual(q.status("alice"), "OK (2000 ms)")
        q.handle_timer(q.timer_at() or 0.0)
        q.due()
        q.answered("alice", (q.timer_at() or 0.0) - 4.0 + 2.5)
        self.assertEqual(q.status("alice"), "LAGGED (2500 ms)")
        self.assertEqual(
            q.changes(),
            [StatusChange("alice", UNKNOWN, OK, 2000), StatusChange("alice", OK, LAGGED, 2500)],
        )

    def test_same_state_new_latency_is_no_event(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.answered("alice", sent + 0.012)
        q.changes()
        at = q.timer_at()
        assert at is not None
        q.handle_timer(at)
        q.due()
        q.answered("alice", at + 0.030)
        self.assertEqual(q.status("alice"), "OK (30 ms)")
        self.assertEqual(q.changes(), [])

    def test_values_are_the_printed_words(self) -> None:
        self.assertEqual(
            [r.value for r in Reachability], ["UNKNOWN", "OK", "LAGGED", "UNREACHABLE"]
        )


class ScheduleTests(SynchronousTestCase):
    def test_reachable_peers_are_pinged_every_freq(self) -> None:
        q = qualifier()
        sent = pinged(q, freq=60.0)
        self.assertEqual(q.timer_at(), sent + 4.0)  # waiting for the answer: 2 * maxms
        q.answered("alice", sent + 0.012)
        self.assertEqual(q.timer_at(), sent + 0.012 + 60.0)
        q.handle_timer(sent + 60.0)
        self.assertEqual(q.due(), [])
        q.handle_timer(sent + 60.012)
        self.assertEqual(q.due(), ["alice"])

    def test_unreachable_after_twice_maxms(self) -> None:
        q = qualifier()
        sent = pinged(q, maxms=2000)
        q.handle_timer(sent + 3.999)
        self.assertEqual(q.status("alice"), "UNKNOWN")
        q.handle_timer(sent + 4.0)
        self.assertEqual(q.status("alice"), "UNREACHABLE")
        self.assertEqual(q.due(), [])  # no ping at the deadline itself
        self.assertEqual(q.changes(), [StatusChange("alice", UNKNOWN, UNREACHABLE, None)])
        # ... then retried every 10 s while unreachable.
        self.assertEqual(q.timer_at(), sent + 4.0 + UNREACHABLE_FREQ)
        self.assertEqual(UNREACHABLE_FREQ, 10.0)
        q.handle_timer(sent + 14.0)
        self.assertEqual(q.due(), ["alice"])
        q.handle_timer(sent + 18.0)
        self.assertEqual(q.timer_at(), sent + 28.0)
        self.assertEqual(q.changes(), [])  # still unreachable: no new event

    def test_late_answer_after_the_deadline_is_ignored(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.handle_timer(sent + 4.0)
        q.answered("alice", sent + 5.0)
        self.assertEqual(q.status("alice"), "UNREACHABLE")
        self.assertEqual(q.timer_at(), sent + 14.0)

    def test_back_from_unreachable(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.handle_timer(sent + 4.0)
        q.handle_timer(sent + 14.0)
        q.due()
        q.answered("alice", sent + 14.050)
        self.assertEqual(q.status("alice"), "OK (50 ms)")
        self.assertEqual(
            q.changes(),
            [
                StatusChange("alice", UNKNOWN, UNREACHABLE, None),
                StatusChange("alice", UNREACHABLE, OK, 50),
            ],
        )
        self.assertEqual(q.timer_at(), sent + 14.050 + 60.0)

    def test_answer_without_a_ping_is_ignored(self) -> None:
        q = qualifier()
        q.answered("alice", 1.0)  # not watched
        q.watch("alice", 2000, 60.0, 0.0)
        q.answered("alice", 1.0)  # watched, nothing sent yet
        self.assertEqual(q.status("alice"), "UNKNOWN")
        self.assertEqual(q.timer_at(), 2.5)

    def test_no_address_keeps_unknown(self) -> None:
        q = qualifier()
        sent = pinged(q, freq=60.0)
        q.no_address("alice", sent)
        self.assertEqual(q.status("alice"), "UNKNOWN")
        self.assertEqual(q.changes(), [])
        self.assertEqual(q.timer_at(), sent + 60.0)  # no deadline: tried again at freq
        q.handle_timer(sent + 4.0)
        self.assertEqual(q.status("alice"), "UNKNOWN")

    def test_no_address_after_ok_goes_back_to_unknown(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.answered("alice", sent + 0.012)
        at = q.timer_at()
        assert at is not None
        q.handle_timer(at)
        q.due()
        q.no_address("alice", at)
        self.assertEqual(q.status("alice"), "UNKNOWN")
        self.assertEqual(q.changes()[-1], StatusChange("alice", OK, UNKNOWN, None))

    def test_unreachable_when_the_ping_cannot_be_sent(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.unreachable("alice", sent)
        self.assertEqual(q.status("alice"), "UNREACHABLE")
        self.assertEqual(q.timer_at(), sent + 10.0)
        self.assertEqual(q.changes(), [StatusChange("alice", UNKNOWN, UNREACHABLE, None)])

    def test_reset_pings_soon_and_forgets_the_old_ping(self) -> None:
        q = qualifier(0.25)
        sent = pinged(q)
        q.answered("alice", sent + 0.012)
        at = q.timer_at()
        assert at is not None
        q.handle_timer(at)
        q.due()
        q.reset("alice", at + 0.5)  # re-registered from elsewhere while the ping is out
        self.assertEqual(q.status("alice"), "UNKNOWN")
        self.assertEqual(q.timer_at(), at + 0.75)
        q.answered("alice", at + 0.6)  # the old contact answers late: says nothing now
        self.assertEqual(q.status("alice"), "UNKNOWN")
        self.assertEqual(q.timer_at(), at + 0.75)
        q.handle_timer(at + 0.75)
        self.assertEqual(q.due(), ["alice"])

    def test_reset_and_calls_for_unwatched_peers_do_nothing(self) -> None:
        q = qualifier()
        for call in (q.reset, q.no_address, q.unreachable, q.answered):
            call("ghost", 1.0)
        self.assertIsNone(q.timer_at())
        self.assertEqual((q.due(), q.changes()), ([], []))


class UnwatchTests(SynchronousTestCase):
    def test_unwatch_stops_everything(self) -> None:
        q = qualifier()
        sent = pinged(q)
        q.unwatch("alice")
        q.unwatch("alice")  # twice is fine
        self.assertEqual(q.status("alice"), "Unmonitored")
        self.assertIsNone(q.timer_at())
        q.handle_timer(sent + 100.0)
        self.assertEqual((q.due(), q.changes()), ([], []))

    def test_watched_again_after_unwatch_has_no_leftover_timers(self) -> None:
        # sip reload turning qualify off and on again: entries left in the heap by the first
        # Watch must not fire for the second.
        q = qualifier(0.5)
        sent = pinged(q)  # 2.5, deadline 6.5
        q.answered("alice", sent + 0.012)  # next ping at 62.512
        q.unwatch("alice")
        q.watch("alice", 2000, 60.0, 10.0)  # first ping at 12.5
        q.handle_timer(12.5)
        self.assertEqual(q.due(), ["alice"])
        q.answered("alice", 12.6)  # next ping at 72.6
        self.assertEqual(q.timer_at(), 72.6)
        q.handle_timer(62.512)
        self.assertEqual(q.due(), [])
        q.handle_timer(72.6)
        self.assertEqual(q.due(), ["alice"])
