"""Dial(Tech/resource[&Tech/resource...][,timeout[,options[,URL]]]) (``apps/app_dial.c``).

The call layer rings the targets and bridges the first to answer (``DialplanChannel.dial``);
this application parses the arguments and turns the outcome into Asterisk's variables:

* ``DIALSTATUS``: ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION or CHANUNAVAIL;
* ``DIALEDTIME`` / ``ANSWEREDTIME`` in whole seconds (``_MS`` variants in milliseconds);
  ``ANSWEREDTIME`` is unset when nobody answered;
* ``DIALEDPEERNAME``: the channel that answered;
* on failure the outbound leg's cause becomes the caller's hangup cause, so a following
  ``Hangup()`` or the autofallthrough rejects the caller with it (486 after a busy callee).

When the callee blind-transferred the caller (SIP REFER), the dialplan continues at the
transfer target, priority 1. After an answered call, the dialplan ends unless option ``g`` was
given and the caller is still there (the callee hung up first). Options ``r`` and ``g`` are
implemented. ``m[(class)]`` asks for music on hold while dialing, which pbx does not have: it
draws a warning and works as ``r`` (the caller hears ringing). ``t``/``T`` (transfer with the
DTMF feature codes) draw a warning and are ignored, as are app_dial's other letters; unknown
letters draw a warning too. Each warning comes once per Dial execution and names the channel.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from pbx.call.dialplan_api import DialOptions
from pbx.dialplan.apps.base import CONTINUE, HANGUP, AppResult
from pbx.dialplan.args import parse_options, separate_args
from pbx.dialplan.execution import Execution, verbose

log = logging.getLogger(__name__)

IMPLEMENTED = frozenset("rg")
KNOWN = frozenset("AabBCcdDeEfFgGhHiIjkKLmMnNoOpPQrRsStTuUwWxXz")
"""app_dial's option letters (Asterisk 20)."""

#: Options users expect from a v1 PBX (ASTERISK-REFERENCE §3.4) that pbx cannot honour, with
#: what happens instead.
NOT_HONOURED = {
    "t": "transfer via DTMF feature codes is not supported; ignored",
    "T": "transfer via DTMF feature codes is not supported; ignored",
    "m": "music on hold is not supported; the caller hears ringing",
}


def dial_options(ctx: Execution, text: str) -> DialOptions:
    """Parse Dial's option string, warning about what pbx does not do."""
    try:
        options = parse_options(text)
    except ValueError as e:
        log.warning("Dial: %s", e, extra={"channel": ctx.channel.name})
        options = {}
    for letter in options:
        if letter in IMPLEMENTED:
            continue
        instead = NOT_HONOURED.get(letter)
        if instead is not None:
            log.warning(
                "Dial option '%s': %s", letter, instead, extra={"channel": ctx.channel.name}
            )
        elif letter in KNOWN:
            log.warning(
                "Dial option '%s' is not supported and is ignored",
                letter,
                extra={"channel": ctx.channel.name},
            )
        else:
            log.warning(
                "Unknown Dial option '%s' ignored", letter, extra={"channel": ctx.channel.name}
            )
    return DialOptions(
        ringback="r" in options or "m" in options,
        continue_on_callee_hangup="g" in options,
        raw=text,
    )


class Dial:
    name: ClassVar[str] = "Dial"
    synopsis: ClassVar[str] = (
        "Attempt to connect to another device or endpoint and bridge the call."
    )
    cancel_on_hangup: ClassVar[bool] = False

    async def run(self, ctx: Execution, args: str) -> AppResult:
        chan = ctx.channel
        parts = separate_args(args, max_args=4)
        if not parts or not parts[0].strip():
            log.warning(
                "Dial requires an argument (technology/resource)", extra={"channel": chan.name}
            )
            return HANGUP
        timeout: float | None = None
        if len(parts) > 1 and parts[1].strip():
            try:
                timeout = float(parts[1])
            except ValueError:
                timeout = None
            if timeout is None or timeout <= 0:
                log.warning(
                    "Invalid answer timeout specified: '%s'. Setting timeout to infinite",
                    parts[1],
                    extra={"channel": chan.name},
                )
                timeout = None
        options = dial_options(ctx, parts[2] if len(parts) > 2 else "")
        targets = []
        for target in parts[0].split("&"):
            target = target.strip()
            if "/" not in target:
                log.warning(
                    "Dial argument takes format (technology/resource): '%s'",
                    target,
                    extra={"channel": chan.name},
                )
                continue
            targets.append(target)
        if not targets:
            ctx.set_variable("DIALSTATUS", "CHANUNAVAIL")
            return CONTINUE
        for target in targets:
            verbose(3, chan.name, "Called %s", target)
        result = await chan.dial(targets, timeout, options)
        ctx.set_variable("DIALSTATUS", result.status)
        ctx.set_variable("DIALEDTIME", str(int(result.dialed_time)))
        ctx.set_variable("DIALEDTIME_MS", str(int(result.dialed_time * 1000)))
        answered = result.status == "ANSWER"
        ctx.set_variable("ANSWEREDTIME", str(int(result.answered_time)) if answered else "")
        ctx.set_variable(
            "ANSWEREDTIME_MS", str(int(result.answered_time * 1000)) if answered else ""
        )
        ctx.set_variable("DIALEDPEERNAME", result.peer_name)
        if result.transfer is not None:
            # The callee blind-transferred the caller (chan_sip's ast_async_goto).
            context, exten = result.transfer
            ctx.goto(context, exten, 1)
            return CONTINUE
        if not answered:
            verbose(3, chan.name, "Dial status is %s", result.status)
            if result.status != "CANCEL":
                ctx.set_hangup_cause(result.cause)
            return CONTINUE
        if options.continue_on_callee_hangup and result.peer_hangup and not ctx.gone():
            return CONTINUE
        return HANGUP
