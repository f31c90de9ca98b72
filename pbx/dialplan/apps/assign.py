"""Variable assignment: Set and MSet (``main/pbx_variables.c``).

``Set(name=value)`` assigns exactly one variable or function; everything after the first ``=``
is the value, commas included (Asterisk 1.6+; ``Set(A=1,B=2)`` sets A to ``1,B=2``). ``MSet``
takes several ``name=value`` arguments, strips their quotes and honours backslash escapes.
An empty value unsets a variable. ``Set(GLOBAL(x)=...)`` writes a global through the GLOBAL
function.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from pbx.dialplan.apps.base import CONTINUE, AppResult
from pbx.dialplan.args import separate_args
from pbx.dialplan.execution import Execution

log = logging.getLogger(__name__)


class Set:
    name: ClassVar[str] = "Set"
    synopsis: ClassVar[str] = "Set channel variable or function value."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        if not args:
            log.warning(
                "Set requires one variable name/value pair.", extra={"channel": ctx.channel.name}
            )
            return CONTINUE
        name, eq, value = args.partition("=")
        if not eq:
            log.warning(
                "Set requires an '=' to be a valid assignment.",
                extra={"channel": ctx.channel.name},
            )
            return CONTINUE
        if " " in name:
            log.warning(
                "Please avoid unnecessary spaces on variables as it may lead to unexpected "
                "results ('%s' set to '%s').",
                name,
                value,
                extra={"channel": ctx.channel.name},
            )
        ctx.set_variable(name, value)
        return CONTINUE


class MSet:
    name: ClassVar[str] = "MSet"
    synopsis: ClassVar[str] = "Set channel variable(s) or function value(s)."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        if not args:
            log.warning(
                "MSet requires at least one variable name/value pair.",
                extra={"channel": ctx.channel.name},
            )
            return CONTINUE
        for pair in separate_args(args):
            name, eq, value = pair.partition("=")
            if not eq:
                log.warning(
                    "MSet: ignoring entry '%s' with no '='",
                    pair,
                    extra={"channel": ctx.channel.name},
                )
                continue
            ctx.set_variable(name, value)
        return CONTINUE
