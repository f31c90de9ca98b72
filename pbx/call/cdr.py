"""Call detail records in Asterisk's shape (ASTERISK-REFERENCE §6).

One :class:`CdrRecord` per call that reached the dialplan, built when the call ends from the
inbound channel (and the channel it was bridged to). A blind transfer splits records as
Asterisk does: the transferee's CDR up to the transfer is written when the transferor leaves,
and its continuation (or, for a transferred callee, its new dialplan run) gets a record of its
own starting at the transfer (``Channel.cdr_start``). An attended transfer splits nothing: the
transferee's Dial goes on, so its record runs to the end of the joined call and names the new
party as dstchannel, and the transferor's own call ends when it leaves. Dispositions follow
Asterisk: ANSWERED, NO ANSWER, BUSY, FAILED (CONGESTION with ``congestion=yes``).
:func:`csv_line` renders the ``Master.csv`` column order: accountcode, src, dst, dcontext,
clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
disposition, amaflags, then uniqueid and userfield when ``loguniqueid``/``loguserfield`` ask
for them. Strings are double-quoted with embedded quotes doubled, integers bare, empty
timestamps empty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pbx.call.channel import Channel

AMAFLAGS = "DOCUMENTATION"


@dataclass(frozen=True, slots=True)
class CdrRecord:
    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    duration: int
    billsec: int
    disposition: str
    amaflags: str
    uniqueid: str
    userfield: str
    linkedid: str
    qos: str = ""
    """Per-leg RTP statistics at hang-up (``RTPAUDIOQOS``, caller then callee); SQLite only."""


def disposition(channel: Channel, dialstatus: str, congestion: bool) -> str:
    if channel.answered_at is not None or dialstatus == "ANSWER":
        return "ANSWERED"
    if dialstatus == "BUSY":
        return "BUSY"
    if dialstatus in ("CONGESTION", "CHANUNAVAIL"):
        return "CONGESTION" if congestion else "FAILED"
    if channel.hangup_cause == 17:
        return "BUSY"
    if channel.hangup_cause in (34, 38, 58, 20):
        return "CONGESTION" if congestion and channel.hangup_cause == 34 else "FAILED"
    return "NO ANSWER"


def build_record(
    channel: Channel,
    lastapp: str,
    lastdata: str,
    *,
    dst: str | None = None,
    dcontext: str | None = None,
    congestion: bool = False,
    initiatedseconds: bool = False,
    dstchannel: str = "",
    answered_at: float | None = None,
    callee: Channel | None = None,
) -> CdrRecord:
    """The CDR of an inbound channel whose call just ended."""
    end = channel.ended_at if channel.ended_at is not None else channel.scheduler.seconds()
    start = channel.cdr_start
    answer = answered_at if answered_at is not None else channel.answered_at
    if answer is not None:
        # A CDR restarted by a blind transfer on an answered channel is answered at its start.
        answer = max(answer, start)
    duration = max(0, int(end - start))
    billsec = 0
    if answer is not None:
        span = max(0.0, end - answer)
        # cdr_object_get_billsec: with initiatedseconds a started second counts once at least
        # half of it has passed.
        billsec = int(span + 0.5) if initiatedseconds else int(span)
    clid = (
        f'"{channel.caller_id_name}" <{channel.caller_id_num}>'
        if channel.caller_id_name
        else (f"<{channel.caller_id_num}>" if channel.caller_id_num else "")
    )
    return CdrRecord(
        accountcode=channel.account_code,
        src=channel.caller_id_num,
        dst=channel.exten if dst is None else dst,
        dcontext=channel.context if dcontext is None else dcontext,
        clid=clid,
        channel=channel.name,
        dstchannel=dstchannel,
        lastapp=lastapp,
        lastdata=lastdata,
        start=start,
        answer=answer,
        end=end,
        duration=duration,
        billsec=billsec,
        disposition=disposition(channel, channel.variables.get("DIALSTATUS", ""), congestion),
        amaflags=AMAFLAGS,
        uniqueid=channel.uniqueid,
        userfield=channel.userfield,
        linkedid=channel.linkedid,
        qos=" | ".join(_qos(c) for c in (channel, callee) if c is not None and _qos(c)),
    )


def _qos(channel: Channel) -> str:
    stats = channel.variables.get("RTPAUDIOQOS", "")
    media = channel.variables.get("RTPAUDIOQOSMEDIA", "")
    if not stats:
        return ""
    return f"{channel.name}: {stats};{media}"


def _stamp(t: float | None, gmt: bool) -> str:
    if t is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t) if gmt else time.localtime(t))


def _q_stamp(t: float | None, gmt: bool) -> str:
    """A quoted timestamp; an absent one is an empty field (cdr_csv's append_date)."""
    return "" if t is None else _q(_stamp(t, gmt))


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def csv_line(
    r: CdrRecord, *, gmt: bool = False, uniqueid: bool = False, userfield: bool = False
) -> str:
    fields = [
        _q(r.accountcode), _q(r.src), _q(r.dst), _q(r.dcontext), _q(r.clid), _q(r.channel),
        _q(r.dstchannel), _q(r.lastapp), _q(r.lastdata),
        _q_stamp(r.start, gmt), _q_stamp(r.answer, gmt), _q_stamp(r.end, gmt),
        str(r.duration), str(r.billsec), _q(r.disposition), _q(r.amaflags),
    ]  # fmt: skip
    if uniqueid:
        fields.append(_q(r.uniqueid))
    if userfield:
        fields.append(_q(r.userfield))
    return ",".join(fields) + "\n"
