"""Applications that only talk to the log: NoOp, Verbose, Log, UserEvent.

``Verbose([level,]text)`` prints an ``ast_verb`` line (level 0-4, default 0) and ``Log(level,
text)`` an ``ast_log`` line (ERROR, WARNING, NOTICE, DEBUG, VERBOSE, DTMF). ``UserEvent`` would
raise an AMI event in Asterisk; pbx has no AMI yet, so it logs the event at DEBUG.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from pbx.dialplan.apps.base import CONTINUE, AppResult
from pbx.dialplan.args import separate_args
from pbx.dialplan.execution import Execution, verbose

log = logging.getLogger(__name__)

_LEVELS = {
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "NOTICE": logging.INFO,
    "VERBOSE": logging.INFO,
    "DTMF": logging.INFO,
    "DEBUG": logging.DEBUG,
}


class NoOp:
    name: ClassVar[str] = "NoOp"
    synopsis: ClassVar[str] = "Do Nothing (No Operation)."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        return CONTINUE


class Verbose:
    name: ClassVar[str] = "Verbose"
    synopsis: ClassVar[str] = "Send arbitrary text to verbose output."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        parts = separate_args(args, max_args=2)
        if len(parts) < 2:
            level_text, text = "0", parts[0] if parts else ""
        else:
            level_text, text = parts
        level_text = level_text.strip()
        if level_text.isdigit():
            level = min(int(level_text), 4)
        else:
            log.warning(
                "'%s' is not a verboser number", level_text, extra={"channel": ctx.channel.name}
            )
            level = 0
        verbose(level, ctx.channel.name, "%s", text)
        return CONTINUE


class Log:
    name: ClassVar[str] = "Log"
    synopsis: ClassVar[str] = "Send arbitrary text to a selected log level."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        parts = separate_args(args, max_args=2)
        if len(parts) < 2:
            log.warning("Log requires an argument", extra={"channel": ctx.channel.name})
            return CONTINUE
        level_name, text = parts[0].strip().upper(), parts[1]
        level = _LEVELS.get(level_name)
        if level is None:
            log.warning("Unknown log level '%s'", parts[0], extra={"channel": ctx.channel.name})
            return CONTINUE
        logging.getLogger("pbx.dialplan.Log").log(
            level,
            "Ext. %s @ %s: %s",
            ctx.exten,
            ctx.context,
            text,
            extra={"channel": ctx.channel.name},
        )
        return CONTINUE


class UserEvent:
    name: ClassVar[str] = "UserEvent"
    synopsis: ClassVar[str] = "Send an arbitrary user-defined event to AMI listeners."
    cancel_on_hangup: ClassVar[bool] = True

    async def run(self, ctx: Execution, args: str) -> AppResult:
        parts = separate_args(args)
        if not parts or not parts[0]:
            log.warning(
                "UserEvent requires an argument (eventname)", extra={"channel": ctx.channel.name}
            )
            return CONTINUE
        log.debug(
            "UserEvent %s: %s", parts[0], ", ".join(parts[1:]), extra={"channel": ctx.channel.name}
        )
        return CONTINUE
