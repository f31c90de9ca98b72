"""What the transaction machines share (pbx.sip.transaction.base): the timer table of RFC 3261
Table 4 and RFC 6026, and the linger resolution of the quiet timers."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.sip.transaction.base import LINGER_TIMERS, Timer, TimerConfig


class TimerValueTests(SynchronousTestCase):
    def test_table_4(self) -> None:
        config = TimerConfig()
        unreliable = {timer: config.value(timer, reliable=False) for timer in Timer}
        self.assertEqual(
            unreliable,
            {
                Timer.A: 0.5, Timer.B: 32.0, Timer.D: 32.0, Timer.E: 0.5, Timer.F: 32.0,
                Timer.G: 0.5, Timer.H: 32.0, Timer.I: 5.0, Timer.J: 32.0, Timer.K: 5.0,
                Timer.L: 32.0, Timer.M: 32.0,
            },
        )  # fmt: skip
        self.assertEqual(
            [t for t in Timer if config.value(t, reliable=True) == 0.0],
            [Timer.D, Timer.I, Timer.J, Timer.K],
        )


class ExpiryTests(SynchronousTestCase):
    def test_quiet_timers_fire_at_the_next_tick(self) -> None:
        config = TimerConfig()
        self.assertEqual(config.expiry(Timer.J, False, 10.0), 42.0)  # already on a tick
        self.assertEqual(config.expiry(Timer.J, False, 10.01), 42.1)
        self.assertEqual(config.expiry(Timer.K, False, 0.3), 5.3)  # 5.3 is not exact in binary
        self.assertEqual(config.expiry(Timer.D, False, 1_780_000_000.123), 1_780_000_032.2)

    def test_never_earlier_than_the_rfc_value(self) -> None:
        config = TimerConfig()
        for i in range(2000):
            now = i / 997
            for timer in LINGER_TIMERS:
                at = config.expiry(timer, False, now)
                self.assertGreaterEqual(at, now + config.value(timer, False) - 1e-6)
                self.assertLess(at, now + config.value(timer, False) + 0.1)

    def test_timers_someone_waits_on_stay_exact(self) -> None:
        config = TimerConfig()
        for timer in (Timer.A, Timer.B, Timer.E, Timer.F, Timer.G, Timer.H):
            self.assertEqual(config.expiry(timer, False, 0.01), 0.01 + config.value(timer, False))

    def test_zero_on_reliable_transports_stays_zero(self) -> None:
        self.assertEqual(TimerConfig().expiry(Timer.J, True, 0.01), 0.01)

    def test_resolution_zero_is_exact(self) -> None:
        self.assertEqual(TimerConfig(linger_resolution=0).expiry(Timer.J, False, 0.01), 32.01)
