"""One channel's trip through the dialplan: location, variables, Gosub stack, timeouts.

:class:`Execution` is the ``ctx`` that applications and functions receive. It is the variable
:class:`~pbx.dialplan.variables.Scope` of the call (built-ins, then channel variables, then
globals), knows where the call is (context, extension, priority) and how to jump
(``ast_explicit_goto``/``pbx_parseable_goto``), and holds the shared :class:`Services` of the
engine. The engine (:mod:`pbx.dialplan.engine`) owns the loop that moves it along.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet.defer import Deferred

from pbx.call.dialplan_api import DialplanChannel
from pbx.core import causes
from pbx.core.clock import Cancellable, Scheduler
from pbx.dialplan.model import Dialplan
from pbx.dialplan.variables import split_function, substitute

if TYPE_CHECKING:
    from pbx.dialplan.apps.base import AppRegistry
    from pbx.dialplan.functions import FunctionRegistry, KeyValueStore, PeerInfo

# Verbose lines come from here, the engine and the applications alike; one logger name keeps
# Asterisk's "-- Executing ..." trace in one place for log configuration.
log = logging.getLogger("pbx.dialplan.engine")

_T = TypeVar("_T")

# VERBOSE_PREFIX_1..4 of include/asterisk/logger.h; level 0 has none.
_VERBOSE_PREFIX = {0: "", 1: " ", 2: "  == ", 3: "    -- ", 4: "       > "}


def verbose(level: int, channel: str, message: str, *args: object) -> None:
    """An ``ast_verb(level, ...)`` line: INFO with Asterisk's console prefix for the level.

    The record carries ``channel`` (the channel name) and ``verbose`` (the level) as extras.
    """
    log.info(
        _VERBOSE_PREFIX[max(0, min(level, 4))] + message,
        *args,
        extra={"channel": channel, "verbose": level},
    )


@dataclass(slots=True)
class Services:
    """What every call's execution shares: the engine's collaborators.

    :ivar globals: the live global variables (``Set(GLOBAL(x)=...)`` changes them for every
        call); a reload merges new ``[globals]`` into it (see :func:`reload_globals`).
    :ivar db: astdb for ``DB()``; None disables the DB functions.
    :ivar peers: ``SIPPEER(name,item)`` lookups; None makes SIPPEER fail.
    """

    scheduler: Scheduler
    applications: AppRegistry
    functions: FunctionRegistry
    globals: MutableMapping[str, str] = field(default_factory=dict)
    db: KeyValueStore | None = None
    peers: PeerInfo | None = None


def reload_globals(live: MutableMapping[str, str], dialplan: Dialplan) -> None:
    """``dialplan reload``: clear the live globals if ``clearglobalvars=yes``, then apply the
    file's ``[globals]`` over them (values set at run time otherwise survive a reload)."""
    if dialplan.settings.clearglobalvars:
        live.clear()
    live.update(dialplan.globals)


@dataclass(slots=True)
class Timeouts:
    """``TIMEOUT(digit|response|absolute)`` in seconds (Asterisk defaults 5 and 10)."""

    digit: float = 5.0
    response: float = 10.0
    absolute: float | None = None


@dataclass(slots=True)
class Frame:
    """One ``Gosub``: where ``Return`` goes and the ``ARGn`` values it must restore."""

    context: str
    exten: str
    priority: int
    saved_args: dict[str, str]


class Execution:
    """The state of one channel running the dialplan (Asterisk keeps this on the channel)."""

    def __init__(
        self,
        channel: DialplanChannel,
        dialplan: Dialplan,
        services: Services,
        context: str,
        exten: str,
        priority: int = 1,
    ) -> None:
        self.channel = channel
        self.dialplan = dialplan
        self.services = services
        self.context = context
        self.exten = exten
        self.priority = priority
        self.jumped = False
        self.stack: list[Frame] = []
        self.timeouts = Timeouts()
        self.exception: dict[str, str] = {}
        self.lastapp = ""
        self.lastdata = ""
        self.hangup_cause = 0
        """The cause to hang up with when the dialplan ends (``ast_channel_hangupcause``):
        set by Busy/Congestion/Hangup(cause) and by a failed Dial; 0 means normal clearing."""
        self.hungup = False
        self.timed_out = False
        self.current: Deferred[Any] | None = None
        """What the running application (or the engine) is waiting for; cancelled on hangup."""
        self._absolute: Cancellable | None = None

    def gone(self) -> bool:
        """True once the channel has hung up, even before its ``when_hungup`` Deferreds have
        fired (a method, so type checkers re-read it after an ``await``)."""
        return self.hungup or self.channel.hangup_cause is not None

    async def wait_on(self, waiting: Deferred[_T]) -> _T:
        """Await a channel operation so that a hangup (or the absolute timeout) cancels it.

        Raises ``CancelledError`` then; on a channel that is already hung up (the ``h``
        extension) the operation is cancelled at once, as Asterisk's waits return -1.
        """
        previous = self.current
        self.current = waiting
        try:
            if (self.gone() or self.timed_out) and not waiting.called:
                waiting.cancel()
            return await waiting
        finally:
            self.current = previous

    # -- the variable scope -------------------------------------------------------------------

    @property
    def callerid(self) -> str | None:
        """The caller number for caller-ID matches, None when empty."""
        return self.channel.caller_id_num or None

    def lookup(self, name: str) -> str | None:
        """Built-ins, then channel variables, then globals (``ast_str_retrieve_variable``)."""
        builtin = self._builtin(name)
        if builtin is not None:
            return builtin
        variables = self.channel.variables
        for key in (name, "_" + name, "__" + name):
            if key in variables:
                return variables[key]
        return self.services.globals.get(name)

    def _builtin(self, name: str) -> str | None:
        if name == "EXTEN":
            return self.exten
        if name == "CONTEXT":
            return self.context
        if name == "PRIORITY":
            return str(self.priority)
        if name == "CHANNEL":
            return self.channel.name
        if name == "UNIQUEID":
            return self.channel.uniqueid
        if name == "EPOCH":
            return str(int(self.services.scheduler.seconds()))
        return None

    def call(self, name: str, args: str) -> str | None:
        """Read dialplan function ``name`` (``ast_func_read``); None when it fails."""
        function = self.services.functions.get(name)
        if function is None:
            log.error("Function %s not registered", name, extra={"channel": self.channel.name})
            return None
        if function.read is None:
            log.error("Function %s cannot be read", name, extra={"channel": self.channel.name})
            return None
        return function.read(self, args)

    def substitute(self, text: str) -> str:
        """``pbx_substitute_variables_helper`` with this call's scope."""
        return substitute(text, self)

    def get_variable(self, name: str) -> str | None:
        """``pbx_builtin_getvar_helper``: a channel variable or global by plain name."""
        return self.lookup(name)

    def set_variable(self, name: str, value: str) -> None:
        """``pbx_builtin_setvar_helper``: ``NAME`` or ``FUNC(args)``; an empty value unsets."""
        name = name.strip()
        if name.endswith(")") and "(" in name:
            fname, args = split_function(name)
            function = self.services.functions.get(fname)
            if function is None or function.write is None:
                log.error(
                    "Function %s cannot be written to", fname, extra={"channel": self.channel.name}
                )
                return
            function.write(self, args, value)
            return
        set_in(self.channel.variables, name, value)

    def set_global(self, name: str, value: str) -> None:
        """``Set(GLOBAL(name)=value)``."""
        set_in(self.services.globals, name, value)

    # -- moving around ------------------------------------------------------------------------

    def goto(self, context: str | None, exten: str | None, priority: int) -> None:
        """``ast_explicit_goto``: the next step runs at exactly this place."""
        if context:
            self.context = context
        if exten:
            self.exten = exten
        self.priority = priority
        self.jumped = True

    def parseable_goto(self, target: str) -> bool:
        """``[[context,]exten,]priority`` with ``+N``/``-N``/label priorities.

        Returns False (after logging why) when the priority is neither a number nor a label
        that exists; the caller then ends the dialplan, as Asterisk's Goto returns -1.
        """
        parts = target.split(",")
        if not target.strip():
            log.warning(
                "Goto requires an argument ([[context,]extension,]priority)",
                extra={"channel": self.channel.name},
            )
            return False
        context: str | None = None
        exten: str | None = None
        if len(parts) == 1:
            prio = parts[0]
        elif len(parts) == 2:
            exten, prio = parts
        else:
            context, exten, prio = parts[0], parts[1], parts[2]
        context = context.strip() if context else None
        exten = exten.strip() if exten else None
        prio = prio.strip()
        mode = 0
        if prio.startswith("+"):
            mode, prio = 1, prio[1:]
        elif prio.startswith("-"):
            mode, prio = -1, prio[1:]
        number = _leading_int(prio)
        if number is None:
            label_number = self.dialplan.find_label(
                context or self.context, exten or self.exten, prio, self.callerid
            )
            if label_number is None or label_number < 1:
                log.warning(
                    "Priority '%s' must be a number > 0, or valid label",
                    prio,
                    extra={"channel": self.channel.name},
                )
                return False
            number, mode = label_number, 0
        if mode:
            number = self.priority + number * mode
        self.goto(context, exten, number)
        return True

    def set_absolute_timeout(self, seconds: float | None) -> None:
        """``TIMEOUT(absolute)``: after ``seconds`` the current step is interrupted and the call
        goes to ``T`` (or ``e``, or hangs up). None or 0 clears it."""
        self.cancel_absolute_timeout()
        self.timeouts.absolute = seconds
        if seconds:
            self._absolute = self.services.scheduler.callLater(seconds, self._absolute_expired)

    def cancel_absolute_timeout(self) -> None:
        if self._absolute is not None and self._absolute.active():
            self._absolute.cancel()
        self._absolute = None
        self.timeouts.absolute = None

    def _absolute_expired(self) -> None:
        self._absolute = None
        self.timeouts.absolute = None
        self.timed_out = True
        verbose(3, self.channel.name, "Channel '%s' timed out (absolute)", self.channel.name)
        if self.current is not None and not self.current.called:
            self.current.cancel()

    def raise_exception(self, reason: str, priority: int = 1) -> None:
        """``raise_exception``: record ``EXCEPTION(reason)`` and go to ``e``."""
        self.exception = {
            "reason": reason,
            "context": self.context,
            "exten": self.exten,
            "priority": str(self.priority),
        }
        self.goto(None, "e", priority)

    def set_hangup_cause(self, cause: int) -> None:
        """Remember the cause the channel will be hung up with, and ``${HANGUPCAUSE}``."""
        self.hangup_cause = cause
        self.channel.variables["HANGUPCAUSE"] = str(cause)

    @property
    def effective_cause(self) -> int:
        return self.hangup_cause if self.hangup_cause > 0 else causes.NORMAL_CLEARING


def set_in(store: MutableMapping[str, str], name: str, value: str) -> None:
    """Set ``name`` in a variable store the Asterisk way: ``_``/``__`` inheritance prefixes
    replace any variant of the same name, and an empty value removes the variable."""
    plain = name
    if name.startswith("__"):
        plain = name[2:]
    elif name.startswith("_"):
        plain = name[1:]
    for key in (plain, "_" + plain, "__" + plain):
        store.pop(key, None)
    if value:
        store[name] = value


def _leading_int(text: str) -> int | None:
    """``sscanf("%d")``: the leading integer of ``text``, or None."""
    digits = ""
    for c in text.strip():
        if c.isdigit():
            digits += c
        else:
            break
    return int(digits) if digits else None


def check_condition(condition: str) -> bool:
    """``pbx_checkcondition``: empty is false, a leading integer decides, other text is true."""
    text = condition.strip()
    if not text:
        return False
    sign = -1 if text.startswith("-") else 1
    number = _leading_int(text[1:] if text[:1] in "+-" else text)
    if number is None:
        return True
    return sign * number != 0
