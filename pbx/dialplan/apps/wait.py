"""Waiting: Wait(seconds) and WaitExten([seconds][,options]) (``main/pbx_builtins.c``).

WaitExten waits for the first digit of a new extension: a digit hands over to the engine, which
collects the rest with the digit timeout; on timeout the call continues at the next priority if
there is one, else goes to ``t`` (then ``e``), else the dialplan ends. Its ``m`` (music on hold)
and ``d`` (dial tone) options are accepted and ignored: the channel contract has no tone
generator.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from pbx.dialplan.apps.base import CONTINUE, HANGUP, AppResult
from pbx.dialplan.args import parse_options, separate_args
from pbx.dialplan.execution import Execution, verbose

log = logging.getLogger(__name__)


def parse_seconds(text: str) -> float | None:
    """A positive number of seconds, or None (absent, zero, negative or not a number)."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value > 0 else None


class Wait:
    name: ClassVar[str] = "Wait"
    synopsis: ClassVar[str] = "Waits for some time."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        seconds = parse_seconds(args)
        if seconds is not None:
            await ctx.wait_on(ctx.channel.wait(seconds))
        return CONTINUE


class WaitExten:
    name: ClassVar[str] = "WaitExten"
    synopsis: ClassVar[str] = "Waits for an extension to be entered."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        parts = separate_args(args, max_args=2)
        timeout = parse_seconds(parts[0]) if parts else None
        if len(parts) > 1 and parts[1]:
            try:
                options = parse_options(parts[1])
            except ValueError as e:
                log.warning("WaitExten: %s", e, extra={"channel": ctx.channel.name})
                options = {}
            for letter in options:
                log.debug(
                    "WaitExten option '%s' ignored (no tone generator)",
                    letter,
                    extra={"channel": ctx.channel.name},
                )
        if timeout is None:
            timeout = ctx.timeouts.response
        digit = await ctx.wait_on(ctx.channel.wait_for_digit(timeout))
        if digit:
            return AppResult.pressed(digit)
        name = ctx.channel.name
        dialplan, cid = ctx.dialplan, ctx.callerid
        if dialplan.exists(ctx.context, ctx.exten, ctx.priority + 1, cid):
            verbose(3, name, "Timeout on %s, continuing...", name)
            return CONTINUE
        if dialplan.exists(ctx.context, "t", 1, cid):
            verbose(3, name, "Timeout on %s, going to 't'", name)
            ctx.goto(None, "t", 1)
            return CONTINUE
        if dialplan.exists(ctx.context, "e", 1, cid):
            ctx.raise_exception("RESPONSETIMEOUT")
            return CONTINUE
        log.warning(
            "Timeout but no rule 't' or 'e' in context '%s'",
            ctx.context,
            extra={"channel": name},
        )
        return HANGUP
