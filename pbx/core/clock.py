"""Time as an injected dependency.

Cores take ``now: float`` arguments and expose ``timer_at()``/``handle_timer(now)``; orchestration
code takes a :class:`Scheduler`, which Twisted's reactor and ``twisted.internet.task.Clock`` both
satisfy structurally, so tests advance a fake clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Cancellable(Protocol):
    """What ``callLater`` returns (Twisted's ``IDelayedCall``, narrowed)."""

    def cancel(self) -> None: ...

    def active(self) -> bool: ...


class Scheduler(Protocol):
    """The narrow slice of ``IReactorTime`` that pbx code uses."""

    def seconds(self) -> float: ...

    def callLater(  # noqa: N802 - Twisted's name
        self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> Cancellable: ...


class Timed(Protocol):
    """A sans-I/O object with timers: the driver re-arms one timer from ``timer_at()``."""

    def timer_at(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...
