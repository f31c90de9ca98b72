"""Binds a sans-I/O object's ``timer_at()``/``handle_timer(now)`` to a Twisted clock.

One ``DelayedCall`` per core object, re-armed after every interaction (STYLE §2.6). The same
driver serves the transaction layer, the location service's expiry sweep, qualify and media
timers, and ``twisted.internet.task.Clock`` drives it in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pbx.core.clock import Cancellable, Scheduler, Timed

log = logging.getLogger(__name__)


class TimerDriver:
    """Keeps one timer armed at ``core.timer_at()``.

    :param flush: called after every ``handle_timer`` (and by :meth:`pump`) to move the core's
        outputs to the network.
    """

    def __init__(
        self, clock: Scheduler, core: Timed, flush: Callable[[], None] | None = None
    ) -> None:
        self._clock = clock
        self._core = core
        self._flush = flush
        self._call: Cancellable | None = None
        self._armed_at: float | None = None

    def pump(self) -> None:
        """Flush outputs and re-arm the timer; call after feeding the core any input."""
        if self._flush is not None:
            self._flush()
        self.rearm()

    def rearm(self) -> None:
        at = self._core.timer_at()
        if at == self._armed_at and self._call is not None and self._call.active():
            return  # already armed for that instant: the common case at high request rates
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._armed_at = at
        if at is not None:
            self._call = self._clock.callLater(max(0.0, at - self._clock.seconds()), self._fire)

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._armed_at = None

    def _fire(self) -> None:
        self._call = None
        self._armed_at = None
        try:
            self._core.handle_timer(self._clock.seconds())
        except Exception:
            log.exception("timer handler of %r failed", self._core)
        self.pump()
