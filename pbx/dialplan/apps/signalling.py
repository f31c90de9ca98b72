"""Call-state applications: Answer, Hangup, Progress, Ringing, Busy, Congestion
(Asterisk ``main/pbx_builtins.c``).

Busy and Congestion before answer make the call layer reject the call (486 / 503) and set the
hangup cause (17 / 34); after answer they only play the tone. Either way they then wait for the
hangup (or the given number of seconds) and end the dialplan, like ``wait_for_hangup``.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from pbx.call.dialplan_api import Indication
from pbx.core import causes
from pbx.dialplan.apps.base import CONTINUE, HANGUP, AppResult
from pbx.dialplan.execution import Execution

log = logging.getLogger(__name__)


def _seconds(text: str) -> float | None:
    """``sscanf("%lg")`` of an optional timeout: None when absent, invalid or negative."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


async def indicate_and_wait(ctx: Execution, what: Indication, cause: int, timeout: str) -> None:
    """``pbx_builtin_busy``/``congestion``: indicate, set the cause if not answered, then wait
    ``timeout`` seconds or, without one, until the far end hangs up."""
    ctx.channel.indicate(what)
    if ctx.channel.state != "Up":
        ctx.set_hangup_cause(cause)
    if ctx.gone():
        # Before answer the call layer rejected the call and ended the channel.
        return
    seconds = _seconds(timeout)
    if seconds is None:
        await ctx.wait_on(ctx.channel.when_hungup())
    else:
        await ctx.wait_on(ctx.channel.wait(seconds))


class Answer:
    name: ClassVar[str] = "Answer"
    synopsis: ClassVar[str] = "Answer a channel if ringing."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        if ctx.channel.state == "Up":
            return CONTINUE
        await ctx.wait_on(ctx.channel.answer())
        delay = _seconds(args) if args.strip() else None
        if delay:
            await ctx.wait_on(ctx.channel.wait(delay / 1000.0))
        return CONTINUE


class Hangup:
    name: ClassVar[str] = "Hangup"
    synopsis: ClassVar[str] = "Hang up the calling channel."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        cause = 0
        text = args.strip()
        if text:
            named = causes.cause_from_name(text)
            if named is not None:
                cause = named
            elif text.isdigit() and int(text) > 0:
                cause = int(text)
            else:
                log.warning(
                    'Invalid cause given to Hangup(): "%s"',
                    text,
                    extra={"channel": ctx.channel.name},
                )
        if cause <= 0:
            cause = ctx.hangup_cause if ctx.hangup_cause > 0 else causes.NORMAL_CLEARING
        ctx.set_hangup_cause(cause)
        return HANGUP


class Progress:
    name: ClassVar[str] = "Progress"
    synopsis: ClassVar[str] = "Indicate progress."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        ctx.channel.indicate("progress")
        return CONTINUE


class Ringing:
    name: ClassVar[str] = "Ringing"
    synopsis: ClassVar[str] = "Indicate ringing tone."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        ctx.channel.indicate("ringing")
        return CONTINUE


class Busy:
    name: ClassVar[str] = "Busy"
    synopsis: ClassVar[str] = "Indicate the Busy condition."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        await indicate_and_wait(ctx, "busy", causes.USER_BUSY, args)
        return HANGUP


class Congestion:
    name: ClassVar[str] = "Congestion"
    synopsis: ClassVar[str] = "Indicate the Congestion condition."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        await indicate_and_wait(ctx, "congestion", causes.CONGESTION, args)
        return HANGUP
