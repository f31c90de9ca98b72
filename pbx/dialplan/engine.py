"""Runs a channel through the dialplan (Asterisk ``__ast_pbx_run`` in ``main/pbx.c``).

:meth:`Engine.run` starts at ``context,exten,priority`` (falling back to ``s`` and then to the
``default`` context when that does not exist) and executes priorities one after another:

* an application may jump (Goto, Gosub ...), end the dialplan, or hand back a DTMF digit, after
  which the engine collects the rest of an extension (``TIMEOUT(digit)`` between digits, for as
  long as a longer extension could still match);
* when the priorities of an extension run out: with ``autofallthrough=yes`` (the default) the
  call ends, indicating congestion for ``DIALSTATUS`` CONGESTION/CHANUNAVAIL and busy for BUSY
  (each for up to 10 s); with ``autofallthrough=no`` the engine waits ``TIMEOUT(response)``
  for an extension to be dialed;
* an extension that does not exist goes to ``i`` (``INVALID_EXTEN`` set), else ``e``; a
  response timeout goes to ``t``, else ``e``; the absolute timeout to ``T``, else ``e``; with
  none of these the call ends;
* when the channel hangs up, whatever the current application waits for is cancelled;
* at the end the channel is hung up (with the cause Busy/Congestion/Hangup/Dial left, else 16)
  and the ``h`` extension of the current context runs with the channel's variables.

A call keeps the :class:`~pbx.dialplan.model.Dialplan` it started with, so a reload never
changes a call in progress. Log lines follow Asterisk's verbose output, e.g.
``    -- Executing [100@phones:1] Answer("SIP/alice-00000001", "") in new stack``.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.task import deferLater

from pbx.call.dialplan_api import DialplanChannel
from pbx.core import causes
from pbx.core.clock import Scheduler
from pbx.dialplan.apps import default_applications
from pbx.dialplan.apps.base import HANGUP, Action, AppRegistry, AppResult
from pbx.dialplan.apps.signalling import indicate_and_wait
from pbx.dialplan.execution import Execution, Services, verbose
from pbx.dialplan.functions import FunctionRegistry, KeyValueStore, PeerInfo, default_functions
from pbx.dialplan.model import Dialplan, Priority

log = logging.getLogger(__name__)

STEPS_BEFORE_YIELD = 1000
"""Asterisk runs each call in its own thread, so ``exten => 1,1,Goto(1)`` only spins that
thread; here every call shares the reactor, so a run yields to it after this many priorities
(and then every as many more) to keep such a loop from freezing the PBX."""

FALLTHROUGH_INDICATION_SECONDS = "10"
"""How long autofallthrough plays busy/congestion before hanging up (``indicate_busy(c, "10")``)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a channel's dialplan run ended (for CDRs and ``core show channels`` history).

    :ivar lastapp: the last application of the main run (not of the ``h`` extension);
        ``context``/``exten``/``priority`` are likewise where the main run ended.
    """

    context: str
    exten: str
    priority: int
    lastapp: str
    lastdata: str
    cause: int


class Engine:
    """Executes dialplans for channels; one instance serves every call."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @classmethod
    def create(
        cls,
        scheduler: Scheduler,
        globals: MutableMapping[str, str] | None = None,
        db: KeyValueStore | None = None,
        peers: PeerInfo | None = None,
        applications: AppRegistry | None = None,
        functions: FunctionRegistry | None = None,
    ) -> Engine:
        """An engine with the built-in applications and functions unless others are given."""
        return cls(
            Services(
                scheduler=scheduler,
                applications=applications or default_applications(),
                functions=functions or default_functions(),
                globals={} if globals is None else globals,
                db=db,
                peers=peers,
            )
        )

    def run(
        self,
        channel: DialplanChannel,
        dialplan: Dialplan,
        context: str,
        exten: str,
        priority: int = 1,
    ) -> Deferred[RunResult]:
        """Run ``channel`` from ``exten@context:priority`` until it hangs up.

        The Deferred fires once the ``h`` extension has run; it never fails (unexpected errors
        are logged and end the call).
        """
        ex = Execution(channel, dialplan, self.services, context, exten, priority)

        def hungup(cause: int) -> None:
            ex.hungup = True
            channel.variables["HANGUPCAUSE"] = str(cause)
            if ex.current is not None and not ex.current.called:
                ex.current.cancel()

        channel.when_hungup().addCallback(hungup)
        return ensureDeferred(self._run(ex))

    async def _run(self, ex: Execution) -> RunResult:
        try:
            await self._main(ex)
        except Exception:
            log.exception(
                "dialplan run of %s failed", ex.channel.name, extra={"channel": ex.channel.name}
            )
        ex.cancel_absolute_timeout()
        lastapp, lastdata = ex.lastapp, ex.lastdata
        # The CDR's dst/dcontext are where the main run ended, not the h extension.
        context, exten, priority = ex.context, ex.exten, ex.priority
        if ex.channel.hangup_cause is None:
            cause = ex.effective_cause
            ex.channel.hangup(cause)
            ex.channel.variables["HANGUPCAUSE"] = str(ex.channel.hangup_cause or cause)
        ex.hungup = True
        try:
            await self._hangup_extension(ex)
        except Exception:
            log.exception(
                "h extension of %s failed", ex.channel.name, extra={"channel": ex.channel.name}
            )
        cause = ex.channel.hangup_cause or ex.effective_cause
        return RunResult(context, exten, priority, lastapp, lastdata, cause)

    async def _main(self, ex: Execution) -> None:
        dialplan = ex.dialplan
        name = ex.channel.name
        if not dialplan.exists(ex.context, ex.exten, ex.priority, ex.callerid):
            verbose(
                2,
                name,
                "Starting %s at %s,%s,%d failed so falling back to exten 's'",
                name,
                ex.context,
                ex.exten,
                ex.priority,
            )
            ex.exten, ex.priority = "s", 1
            if not dialplan.exists(ex.context, "s", 1, ex.callerid):
                verbose(
                    2,
                    name,
                    "Starting %s at %s,%s,%d still failed so falling back to context 'default'",
                    name,
                    ex.context,
                    ex.exten,
                    ex.priority,
                )
                ex.context = "default"
        steps = 0
        while not ex.gone():
            digit = ""
            steps += 1
            if steps % STEPS_BEFORE_YIELD == 0 and not await self._breathe(ex):
                if not ex.timed_out:
                    return
                ex.timed_out = False
                if not self._absolute_timeout(ex):
                    return
                continue
            found = dialplan.find(ex.context, ex.exten, ex.priority, ex.callerid)
            if found is not None:
                result = await self._execute(ex, found.priority)
                if ex.gone():
                    return
                if ex.timed_out:
                    ex.timed_out = False
                    if not self._absolute_timeout(ex):
                        return
                    continue
                if result.action is Action.HANGUP:
                    verbose(
                        2,
                        name,
                        "Spawn extension (%s, %s, %d) exited non-zero on '%s'",
                        ex.context,
                        ex.exten,
                        ex.priority,
                        name,
                    )
                    return
                if result.action is Action.CONTINUE:
                    if ex.jumped:
                        ex.jumped = False
                    else:
                        ex.priority += 1
                    continue
                digit = result.digit
            ex.jumped = False
            if not await self._after_steps(ex, digit):
                return

    async def _breathe(self, ex: Execution) -> bool:
        """Let the reactor run other calls; False when a hangup or timeout interrupted."""
        try:
            await ex.wait_on(deferLater(self.services.scheduler, 0, lambda: None))  # type: ignore[arg-type]
        except CancelledError:
            return False
        return True

    async def _after_steps(self, ex: Execution, digit: str) -> bool:
        """No priority left, or a digit came back: find where to go. False ends the call."""
        dialplan = ex.dialplan
        if not dialplan.exists(ex.context, ex.exten, 1, ex.callerid):
            return self._invalid(ex, ex.exten, sent_to=True)
        if digit:
            wait = ex.timeouts.digit
        elif not dialplan.settings.autofallthrough:
            wait = ex.timeouts.response
        else:
            await self._fallthrough(ex)
            return False
        try:
            dialed = await self._collect(ex, digit, wait)
        except CancelledError:
            if ex.timed_out:
                ex.timed_out = False
                return self._absolute_timeout(ex)
            return False
        if dialed and dialplan.exists(ex.context, dialed, 1, ex.callerid):
            ex.exten, ex.priority = dialed, 1
            return True
        if dialed:
            return self._invalid(ex, dialed, sent_to=False)
        return self._response_timeout(ex)

    async def _collect(self, ex: Execution, dialed: str, wait: float) -> str:
        """``collect_digits``: read digits while a longer extension could still match."""
        while ex.dialplan.match_more(ex.context, dialed, ex.callerid):
            digit = await ex.wait_on(ex.channel.wait_for_digit(wait))
            if not digit:
                break
            dialed += digit
            wait = ex.timeouts.digit
        return dialed

    def _invalid(self, ex: Execution, dialed: str, sent_to: bool) -> bool:
        dialplan, name = ex.dialplan, ex.channel.name
        if dialplan.exists(ex.context, "i", 1, ex.callerid):
            if sent_to:
                verbose(
                    3,
                    name,
                    "Channel '%s' sent to invalid extension: context,exten,priority=%s,%s,%d",
                    name,
                    ex.context,
                    ex.exten,
                    ex.priority,
                )
            else:
                verbose(
                    3,
                    name,
                    "Invalid extension '%s' in context '%s' on %s",
                    dialed,
                    ex.context,
                    name,
                )
            ex.set_variable("INVALID_EXTEN", dialed)
            ex.exten, ex.priority = "i", 1
            return True
        if dialplan.exists(ex.context, "e", 1, ex.callerid):
            ex.raise_exception("INVALID")
            ex.jumped = False
            return True
        if sent_to:
            log.warning(
                "Channel '%s' sent to invalid extension but no invalid handler: "
                "context,exten,priority=%s,%s,%d",
                name,
                ex.context,
                ex.exten,
                ex.priority,
                extra={"channel": name},
            )
        else:
            log.warning(
                "Invalid extension '%s', but no rule 'i' or 'e' in context '%s'",
                dialed,
                ex.context,
                extra={"channel": name},
            )
        return False

    def _response_timeout(self, ex: Execution) -> bool:
        dialplan, name = ex.dialplan, ex.channel.name
        if dialplan.exists(ex.context, "t", 1, ex.callerid):
            verbose(3, name, "Timeout on %s", name)
            ex.exten, ex.priority = "t", 1
            return True
        if dialplan.exists(ex.context, "e", 1, ex.callerid):
            ex.raise_exception("RESPONSETIMEOUT")
            ex.jumped = False
            return True
        log.warning(
            "Timeout, but no rule 't' or 'e' in context '%s'", ex.context, extra={"channel": name}
        )
        return False

    def _absolute_timeout(self, ex: Execution) -> bool:
        dialplan, name = ex.dialplan, ex.channel.name
        ex.jumped = False
        if dialplan.exists(ex.context, "T", 1, ex.callerid):
            verbose(3, name, "Timeout on %s, going to 'T'", name)
            ex.exten, ex.priority = "T", 1
            return True
        if dialplan.exists(ex.context, "e", 1, ex.callerid):
            ex.raise_exception("ABSOLUTETIMEOUT")
            ex.jumped = False
            return True
        verbose(3, name, "Absolute timeout on %s, no 'T' or 'e' extension: hanging up", name)
        return False

    async def _fallthrough(self, ex: Execution) -> None:
        status = ex.get_variable("DIALSTATUS") or "UNKNOWN"
        verbose(
            3,
            ex.channel.name,
            "Auto fallthrough, channel '%s' status is '%s'",
            ex.channel.name,
            status,
        )
        upper = status.upper()
        try:
            if upper in ("CONGESTION", "CHANUNAVAIL"):
                await indicate_and_wait(
                    ex, "congestion", causes.CONGESTION, FALLTHROUGH_INDICATION_SECONDS
                )
            elif upper == "BUSY":
                await indicate_and_wait(
                    ex, "busy", causes.USER_BUSY, FALLTHROUGH_INDICATION_SECONDS
                )
        except CancelledError:
            pass

    async def _execute(self, ex: Execution, priority: Priority) -> AppResult:
        """``pbx_exec``: substitute the data, log, run the application."""
        name = ex.channel.name
        data = ex.substitute(priority.data)
        app = self.services.applications.get(priority.app)
        ex.lastapp, ex.lastdata = priority.app if app is None else app.name, data
        if app is None:
            log.warning(
                "No application '%s' for extension (%s, %s, %d)",
                priority.app,
                ex.context,
                ex.exten,
                ex.priority,
                extra={"channel": name},
            )
            return HANGUP
        verbose(
            3,
            name,
            'Executing [%s@%s:%d] %s("%s", "%s") in new stack',
            ex.exten,
            ex.context,
            ex.priority,
            app.name,
            name,
            data,
        )
        ex.channel.executing(ex.context, ex.exten, ex.priority, app.name, data)
        running = ensureDeferred(app.run(ex, data))
        if app.cancel_on_hangup:
            ex.current = running
            if (ex.gone() or ex.timed_out) and not running.called:
                running.cancel()
        try:
            return await running
        except CancelledError:
            return HANGUP
        except Exception:
            log.exception("application %s failed on %s", app.name, name, extra={"channel": name})
            return HANGUP
        finally:
            ex.current = None

    async def _hangup_extension(self, ex: Execution) -> None:
        """``ast_pbx_h_exten_run``: run ``h`` in the current context, priority by priority."""
        if not ex.dialplan.exists(ex.context, "h", 1, ex.callerid):
            return
        ex.exten, ex.priority, ex.jumped = "h", 1, False
        steps = 0
        while True:
            steps += 1
            if steps % STEPS_BEFORE_YIELD == 0:
                await deferLater(self.services.scheduler, 0, lambda: None)  # type: ignore[arg-type]
            found = ex.dialplan.find(ex.context, ex.exten, ex.priority, ex.callerid)
            if found is None:
                return
            result = await self._execute(ex, found.priority)
            if result.action is not Action.CONTINUE:
                return
            if ex.jumped:
                ex.jumped = False
            else:
                ex.priority += 1
