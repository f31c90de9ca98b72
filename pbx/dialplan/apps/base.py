"""The Application protocol, its result, and the registry ``core show applications`` lists.

An application is ``async def run(ctx, args) -> AppResult`` where ``args`` is the priority's data
after variable substitution (each application splits it itself, see :mod:`pbx.dialplan.args`)
and ``ctx`` is the call's :class:`~pbx.dialplan.execution.Execution`. Applications touch the call
only through ``ctx.channel`` (the :class:`~pbx.call.dialplan_api.DialplanChannel` contract) and
``ctx``'s dialplan services. The result mirrors an Asterisk app's return value: 0 (continue),
-1 (end the dialplan) or a DTMF digit for the engine to collect an extension from.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from pbx.dialplan.execution import Execution


class Action(enum.Enum):
    CONTINUE = "continue"
    HANGUP = "hangup"
    DIGIT = "digit"


@dataclass(frozen=True, slots=True)
class AppResult:
    """What the engine does next.

    ``CONTINUE``: the next priority, or where the application jumped (``ctx.goto``);
    ``HANGUP``: end the dialplan (hang up, run ``h``); ``digit(d)``: the caller pressed ``d``
    during the application, collect an extension starting with it.
    """

    action: Action
    digit: str = ""

    @classmethod
    def pressed(cls, digit: str) -> AppResult:
        return cls(Action.DIGIT, digit)


CONTINUE = AppResult(Action.CONTINUE)
HANGUP = AppResult(Action.HANGUP)


class Application(Protocol):
    """One dialplan application.

    :cvar name: as written in extensions.conf (matched case-insensitively).
    :cvar synopsis: one line for ``core show applications``.
    :cvar cancel_on_hangup: False for applications whose channel operation reports the hangup
        itself (Dial); the engine cancels every other application's wait when the channel
        hangs up.
    """

    name: ClassVar[str]
    synopsis: ClassVar[str]
    cancel_on_hangup: ClassVar[bool]

    async def run(self, ctx: Execution, args: str) -> AppResult: ...


class AppRegistry:
    """Applications by name (case-insensitive, as ``pbx_findapp``), listed in name order."""

    def __init__(self, applications: Iterable[Application] = ()) -> None:
        self._apps: dict[str, Application] = {}
        for app in applications:
            self.register(app)

    def register(self, app: Application) -> None:
        self._apps[app.name.lower()] = app

    def get(self, name: str) -> Application | None:
        return self._apps.get(name.lower())

    def names(self) -> list[str]:
        return [app.name for app in self]

    def __iter__(self) -> Iterator[Application]:
        return iter(sorted(self._apps.values(), key=lambda a: a.name.lower()))

    def __len__(self) -> int:
        return len(self._apps)
