"""Jumps: Goto, GotoIf (``pbx_builtins.c``), Gosub and Return (``apps/app_stack.c``).

Targets are ``[[context,]extension,]priority`` where the priority is a number, ``+N``/``-N``
relative to the current one, or a label. A jump to an extension or priority that does not exist
is not an error here: the engine then goes to ``i`` (no such extension) or falls through (no
such priority), as Asterisk does. A label that does not exist ends the dialplan.
"""

from __future__ import annotations

import logging
import re
from typing import ClassVar

from pbx.dialplan.apps.base import CONTINUE, HANGUP, AppResult
from pbx.dialplan.args import separate_args
from pbx.dialplan.execution import Execution, Frame, check_condition, verbose

log = logging.getLogger(__name__)

_ARG = re.compile(r"ARG\d+$")


class Goto:
    name: ClassVar[str] = "Goto"
    synopsis: ClassVar[str] = "Jump to a particular priority, extension, or context."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        return goto(ctx, args)


def goto(ctx: Execution, target: str) -> AppResult:
    """``pbx_builtin_goto``: jump, or end the dialplan when the target cannot be parsed."""
    if not ctx.parseable_goto(target):
        return HANGUP
    verbose(3, ctx.channel.name, "Goto (%s,%s,%d)", ctx.context, ctx.exten, ctx.priority)
    return CONTINUE


class GotoIf:
    name: ClassVar[str] = "GotoIf"
    synopsis: ClassVar[str] = "Conditional goto."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        if not args.strip():
            log.warning(
                "Ignoring, since there is no argument: usage GotoIf(Condition?[label1]:[label2])",
                extra={"channel": ctx.channel.name},
            )
            return CONTINUE
        condition, _, branches = args.partition("?")
        if_true, _, if_false = branches.partition(":")
        branch = if_true if check_condition(condition) else if_false
        if not branch.strip():
            return CONTINUE
        return goto(ctx, branch)


class Gosub:
    name: ClassVar[str] = "Gosub"
    synopsis: ClassVar[str] = "Jump to label, saving return address."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        if not args.strip():
            log.error(
                "Gosub requires an argument: "
                "Gosub([[context,]exten,]priority[(arg1[,...][,argN])])",
                extra={"channel": ctx.channel.name},
            )
            return HANGUP
        label, paren, rest = args.partition("(")
        sub_args: list[str] = []
        if paren:
            close = rest.rfind(")")
            if close < 0:
                log.warning(
                    "Ouch.  No closing paren: '%s'?", args, extra={"channel": ctx.channel.name}
                )
            sub_args = separate_args(rest if close < 0 else rest[:close], remove_chars=False)
        origin = (ctx.context, ctx.exten, ctx.priority)
        if not ctx.parseable_goto(label):
            return HANGUP
        if not ctx.dialplan.exists(ctx.context, ctx.exten, ctx.priority, ctx.callerid):
            log.error(
                "%s attempted to reach non-existent destination '%s,%s,%d' from '%s,%s,%d'",
                ctx.channel.name,
                ctx.context,
                ctx.exten,
                ctx.priority,
                *origin,
                extra={"channel": ctx.channel.name},
            )
            ctx.context, ctx.exten, ctx.priority = origin
            ctx.jumped = False
            return HANGUP
        variables = ctx.channel.variables
        saved = {k: v for k, v in variables.items() if _ARG.match(k)}
        for key in saved:
            del variables[key]
        for i, value in enumerate(sub_args, start=1):
            ctx.set_variable(f"ARG{i}", value)
        ctx.stack.append(Frame(origin[0], origin[1], origin[2] + 1, saved))
        return CONTINUE


class Return:
    name: ClassVar[str] = "Return"
    synopsis: ClassVar[str] = "Return from gosub routine."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        if not ctx.stack:
            log.error("Return without Gosub: stack is empty", extra={"channel": ctx.channel.name})
            return HANGUP
        frame = ctx.stack.pop()
        variables = ctx.channel.variables
        for key in [k for k in variables if _ARG.match(k)]:
            del variables[key]
        variables.update(frame.saved_args)
        ctx.set_variable("GOSUB_RETVAL", args)
        ctx.goto(frame.context, frame.exten, frame.priority)
        return CONTINUE
