"""Media applications: Echo, Playback, Background, Read.

Semantics follow ``apps/app_echo.c``, ``apps/app_playback.c``, ``main/pbx_builtins.c``
(``Background``) and ``apps/app_read.c`` with ``ast_app_getdata``/``ast_readstring``:

* ``Playback(file[&file...][,options])`` answers first unless ``noanswer`` (``skip`` does
  nothing on an unanswered channel), plays every file, and sets ``PLAYBACKSTATUS`` to ``FAILED``
  when any file could not be played, else ``SUCCESS``;
* ``Background(file[&file...][,options[,langoverride[,context]]])`` plays while listening for
  DTMF: a digit that alone completes an extension in the target context jumps there; any other
  digit goes back to the engine, which collects the rest of an extension (options ``s`` skip
  when not answered, ``n`` do not answer, ``m`` only stop for digits that can start an
  extension in the context, ``p`` play without listening); sets ``BACKGROUNDSTATUS``;
* ``Read(var[,file[&file...][,maxdigits[,options[,attempts[,timeout]]]]])`` collects a
  ``#``-terminated number: the first digit may interrupt the prompt; without a timeout the
  first digit waits ``TIMEOUT(response)`` and the others ``TIMEOUT(digit)``; sets the variable
  and ``READSTATUS`` (``OK``, ``TIMEOUT``, ``SKIPPED``, ``HANGUP``, ``ERROR``); options ``s``
  (skip when not answered) and ``n`` (read without answering); ``i`` (tone instead of file) is
  accepted and ignored.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from twisted.internet.defer import CancelledError

from pbx.call.dialplan_api import MissingSound
from pbx.dialplan.apps.base import CONTINUE, AppResult
from pbx.dialplan.args import parse_options, separate_args
from pbx.dialplan.execution import Execution, verbose

log = logging.getLogger(__name__)

DIGITS = "0123456789*#ABCD"
"""``AST_DIGIT_ANY``."""

FIRST_PROMPT_GAP = 0.05
"""ast_app_getdata waits 50 ms for a digit between prompts of a list."""


def _files(text: str) -> list[str]:
    return [f.strip() for f in text.split("&") if f.strip()]


def _options(ctx: Execution, text: str, app: str) -> dict[str, str | None]:
    try:
        return parse_options(text)
    except ValueError as e:
        log.warning("%s: %s", app, e, extra={"channel": ctx.channel.name})
        return {}


class Echo:
    name: ClassVar[str] = "Echo"
    synopsis: ClassVar[str] = "Echo media, DTMF back to the calling party"
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        await ctx.wait_on(ctx.channel.echo())
        return CONTINUE


class Playback:
    name: ClassVar[str] = "Playback"
    synopsis: ClassVar[str] = "Play a file."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        parts = separate_args(args, max_args=2)
        if not parts or not parts[0].strip():
            log.warning(
                "Playback requires an argument (filename)", extra={"channel": ctx.channel.name}
            )
            return CONTINUE
        options = parts[1].lower() if len(parts) > 1 else ""
        chan = ctx.channel
        if chan.state != "Up":
            if "skip" in options:
                ctx.set_variable("PLAYBACKSTATUS", "SUCCESS")
                return CONTINUE
            if "noanswer" not in options:
                await ctx.wait_on(chan.answer())
        failed = False
        for name in _files(parts[0]):
            try:
                await ctx.wait_on(chan.play([name]))
            except MissingSound as e:
                log.warning(
                    "Playback failed on %s for %s (no sound file '%s')",
                    chan.name,
                    args,
                    e.name,
                    extra={"channel": chan.name},
                )
                failed = True
        ctx.set_variable("PLAYBACKSTATUS", "FAILED" if failed else "SUCCESS")
        return CONTINUE


class Background:
    name: ClassVar[str] = "BackGround"
    synopsis: ClassVar[str] = (
        "Play an audio file while waiting for digits of an extension to go to."
    )
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        parts = separate_args(args, max_args=4)
        if not parts or not parts[0].strip():
            log.warning(
                "Background requires an argument (filename)", extra={"channel": ctx.channel.name}
            )
            return CONTINUE
        options = _options(ctx, parts[1], "Background") if len(parts) > 1 else {}
        context = parts[3].strip() if len(parts) > 3 and parts[3].strip() else ctx.context
        chan = ctx.channel
        if chan.state != "Up":
            if "s" in options:
                ctx.set_variable("BACKGROUNDSTATUS", "SUCCESS")
                return CONTINUE
            if "n" not in options:
                await ctx.wait_on(chan.answer())
        if "p" in options:
            interrupt = ""
        elif "m" in options:
            interrupt = "".join(
                d for d in DIGITS if ctx.dialplan.can_match(context, d, ctx.callerid)
            )
        else:
            interrupt = DIGITS
        digit: str | None = None
        failed = False
        for name in _files(parts[0]):
            try:
                digit = await ctx.wait_on(chan.play([name], interrupt))
            except MissingSound:
                log.warning(
                    "ast_streamfile failed on %s for %s",
                    chan.name,
                    args,
                    extra={"channel": chan.name},
                )
                failed = True
                break
            if digit:
                break
        ctx.set_variable("BACKGROUNDSTATUS", "FAILED" if failed else "SUCCESS")
        if not digit:
            return CONTINUE
        cid = ctx.callerid
        if ctx.dialplan.can_match(context, digit, cid) and not ctx.dialplan.match_more(
            context, digit, cid
        ):
            ctx.goto(context, digit, 1)
            return CONTINUE
        return AppResult.pressed(digit)


class Read:
    name: ClassVar[str] = "Read"
    synopsis: ClassVar[str] = "Read a variable."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        chan = ctx.channel
        ctx.set_variable("READSTATUS", "ERROR")
        parts = separate_args(args, max_args=6) + [""] * 6
        variable, prompts, maxdigits_text, options_text, attempts_text, timeout_text = parts[:6]
        if not args or not variable:
            log.warning("Read requires an argument (variable)", extra={"channel": chan.name})
            return CONTINUE
        options = _options(ctx, options_text, "Read") if options_text else {}
        tries = _int(attempts_text, 1)
        if tries <= 0:
            tries = 1
        timeout = _float(timeout_text)
        maxdigits = _int(maxdigits_text, 255)
        if not 1 <= maxdigits <= 255:
            maxdigits = 255
        elif maxdigits_text.strip():
            verbose(3, chan.name, "Accepting a maximum of %d digits.", maxdigits)
        if chan.state != "Up":
            if "s" in options:
                ctx.set_variable(variable, "")
                ctx.set_variable("READSTATUS", "SKIPPED")
                return CONTINUE
            if "n" not in options:
                await ctx.wait_on(chan.answer())
        status = "ERROR"
        while tries:
            try:
                entered, status = await self._getdata(ctx, _files(prompts), maxdigits, timeout)
            except CancelledError:
                ctx.set_variable("READSTATUS", "HANGUP")
                raise
            except MissingSound:
                entered, status = "", "ERROR"
                ctx.set_variable(variable, entered)
                break
            ctx.set_variable(variable, entered)
            if entered:
                verbose(3, chan.name, "User entered '%s'", entered)
                break
            tries -= 1
            if tries:
                verbose(
                    3,
                    chan.name,
                    "User entered nothing, %d chance%s left",
                    tries,
                    "s" if tries != 1 else "",
                )
            else:
                verbose(3, chan.name, "User entered nothing.")
        ctx.set_variable("READSTATUS", status)
        return CONTINUE

    async def _getdata(
        self, ctx: Execution, prompts: list[str], maxdigits: int, timeout: float | None
    ) -> tuple[str, str]:
        """``ast_app_getdata``: (digits, READSTATUS) for one attempt."""
        chan = ctx.channel
        if not prompts:
            prompts = [""]
        entered = ""
        status = "TIMEOUT"
        for index, prompt in enumerate(prompts):
            last = index == len(prompts) - 1
            if last:
                first_wait = timeout if timeout else ctx.timeouts.response
                wait = timeout if timeout else ctx.timeouts.digit
            else:
                first_wait, wait = FIRST_PROMPT_GAP, ctx.timeouts.digit
            digit: str | None = None
            if prompt:
                try:
                    digit = await ctx.wait_on(chan.play([prompt], DIGITS))
                except MissingSound:
                    if last:
                        raise
                    continue
            entered, status = await self._readstring(ctx, digit, maxdigits, first_wait, wait)
            if status == "OK" or entered:
                return entered, status
        return entered, status

    async def _readstring(
        self, ctx: Execution, digit: str | None, maxdigits: int, first_wait: float, wait: float
    ) -> tuple[str, str]:
        """``ast_readstring``: digits until ``#``, ``maxdigits`` or a timeout."""
        entered = ""
        to = first_wait
        while True:
            if digit is None:
                digit = await ctx.wait_on(ctx.channel.wait_for_digit(to))
            if not digit:
                return entered, "TIMEOUT"
            if digit == "#":
                return entered, "OK"
            entered += digit
            if len(entered) >= maxdigits:
                return entered, "OK"
            digit = None
            to = wait


def _int(text: str, default: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return default


def _float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value > 0 else None
