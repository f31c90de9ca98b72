"""Execution: variable scope, assignments, goto parsing, conditions, timers."""

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.apps import default_applications
from pbx.dialplan.execution import (
    Execution,
    Services,
    check_condition,
    reload_globals,
    set_in,
)
from pbx.dialplan.functions import default_functions
from pbx.dialplan.parser import loads

from .fakes import FakeChannel, dialplan

TEXT = (
    "[c]\nexten => 1,1,NoOp()\n same => n(two),NoOp()\nexten => 2,1,NoOp()\n"
    "[d]\nexten => 9,1(top),NoOp()\n"
)


def make(clock: Clock | None = None) -> tuple[Execution, FakeChannel]:
    clock = clock or Clock()
    channel = FakeChannel(clock)
    services = Services(clock, default_applications(), default_functions(), {"G": "global"})
    return Execution(channel, dialplan(TEXT), services, "c", "1", 1), channel


class ScopeTests(SynchronousTestCase):
    def test_builtins_then_channel_then_globals(self) -> None:
        ex, channel = make()
        channel.variables.update({"EXTEN": "shadowed", "V": "chan", "G2": "x", "__INH": "i"})
        self.assertEqual(ex.lookup("EXTEN"), "1")
        self.assertEqual(ex.lookup("V"), "chan")
        self.assertEqual(ex.lookup("G"), "global")
        self.assertEqual(ex.lookup("INH"), "i")
        self.assertIsNone(ex.lookup("NOPE"))
        self.assertEqual(ex.substitute("${CHANNEL}:${PRIORITY}"), "SIP/alice-00000001:1")

    def test_set_in(self) -> None:
        store = {"A": "1", "_B": "2"}
        set_in(store, "__A", "3")
        set_in(store, "B", "")
        set_in(store, "C", "4")
        self.assertEqual(store, {"__A": "3", "C": "4"})

    def test_hangup_cause_is_a_variable(self) -> None:
        ex, channel = make()
        self.assertEqual(ex.effective_cause, 16)
        ex.set_hangup_cause(17)
        self.assertEqual((ex.effective_cause, channel.variables["HANGUPCAUSE"]), (17, "17"))

    def test_reload_globals(self) -> None:
        live = {"OLD": "1", "KEEP": "runtime"}
        reload_globals(live, loads("[globals]\nKEEP=file\nNEW=2\n").dialplan)
        self.assertEqual(live, {"OLD": "1", "KEEP": "file", "NEW": "2"})
        reload_globals(live, loads("[general]\nclearglobalvars=yes\n[globals]\nNEW=3\n").dialplan)
        self.assertEqual(live, {"NEW": "3"})


class GotoTests(SynchronousTestCase):
    def where(self, target: str, priority: int = 1) -> tuple[str, str, int] | None:
        ex, _ = make()
        ex.priority = priority
        if not ex.parseable_goto(target):
            return None
        self.assertTrue(ex.jumped)
        return (ex.context, ex.exten, ex.priority)

    def test_forms(self) -> None:
        self.assertEqual(self.where("3"), ("c", "1", 3))
        self.assertEqual(self.where("2,1"), ("c", "2", 1))
        self.assertEqual(self.where("d,9,1"), ("d", "9", 1))
        self.assertEqual(self.where(" d , 9 , top "), ("d", "9", 1))
        self.assertEqual(self.where("two"), ("c", "1", 2))
        self.assertEqual(self.where("+2", 3), ("c", "1", 5))
        self.assertEqual(self.where("-2", 3), ("c", "1", 1))
        self.assertEqual(self.where("1,2,3,4"), ("1", "2", 3))
        self.assertIsNone(self.where("nolabel"))
        self.assertIsNone(self.where(""))


class ConditionTests(SynchronousTestCase):
    def test_table(self) -> None:
        table = {
            "": False, " ": False, "0": False, "1": True, "-1": True, "0.5": False, "1.5": True,
            "abc": True, "00": False, " 7 ": True, "+0": False, "-": True,
        }  # fmt: skip
        for text, expected in table.items():
            self.assertEqual(check_condition(text), expected, repr(text))


class WaitOnTests(SynchronousTestCase):
    def test_cancelled_at_once_when_gone(self) -> None:
        ex, _ = make()
        ex.hungup = True
        waiting: Deferred[None] = Deferred()
        d = Deferred.fromCoroutine(ex.wait_on(waiting))
        self.failureResultOf(d, CancelledError)

    def test_current_is_restored(self) -> None:
        ex, _ = make()
        outer: Deferred[None] = Deferred()
        ex.current = outer
        inner: Deferred[int] = Deferred()
        d = Deferred.fromCoroutine(ex.wait_on(inner))
        self.assertIs(ex.current, inner)
        inner.callback(5)
        self.assertEqual(self.successResultOf(d), 5)
        self.assertIs(ex.current, outer)

    def test_absolute_timeout_cancels_the_current_wait(self) -> None:
        clock = Clock()
        ex, channel = make(clock)
        ex.set_absolute_timeout(3)
        d = Deferred.fromCoroutine(ex.wait_on(channel.wait(10)))
        clock.advance(3)
        self.failureResultOf(d, CancelledError)
        self.assertTrue(ex.timed_out)
        self.assertIsNone(ex.timeouts.absolute)

    def test_absolute_timeout_can_be_cleared(self) -> None:
        clock = Clock()
        ex, _ = make(clock)
        ex.set_absolute_timeout(3)
        ex.set_absolute_timeout(None)
        self.assertEqual(clock.getDelayedCalls(), [])
