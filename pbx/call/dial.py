"""``Dial()``: the B2BUA that rings targets in parallel and joins the first that answers.

A :class:`DialAttempt` is sippy's call controller in Asterisk's vocabulary: it creates one
outbound channel per target (a peer with several bindings rings them all), forwards ringing
(180) and early media (183, with the media bridged early) to the caller, and on the first answer
CANCELs the others, answers the caller with the callee's codec first (no transcoding when
possible), bridges the two media legs and waits for either side to hang up. Hold/unhold
re-INVITEs are passed across. ``DIALSTATUS`` follows app_dial: ANSWER, BUSY, NOANSWER (timeout
or no answer), CANCEL (the caller hung up first), CONGESTION, CHANUNAVAIL.

Blind transfer (SIP REFER, see :mod:`pbx.call.sip_leg`): while bridged, either party may send
the other to an extension of the transferor's ``TRANSFER_CONTEXT`` variable, else of the
transferor channel's current context (chan_sip's ``get_refer_info``). When the callee
transfers, the caller's Dial ends with :attr:`DialResult.transfer` and its dialplan continues
there; the caller's CDR so far is written at that moment and a new one starts
(:attr:`SipDialer.on_transferred`). When the caller transfers, the callee leaves the bridge and
runs the dialplan from there as a new call with its own CDR (Asterisk starts a PBX on it); the
caller's Dial ends, with DIALSTATUS ANSWER, once the caller's leg hangs up.

Attended transfer (REFER with ``Replaces``, RFC 5589 §7): the transferor B is in two bridged
Dials, the one it was called by (A's Dial, B its callee) and the one it placed (B's Dial, C its
callee); the REFER may come on either and name the other. A's Dial takes C over as its callee:
the A<->C bridge is made first (a :class:`MediaError`, e.g. opus against G.711, refuses the
REFER 488 and leaves both calls as they were), B's legs leave both bridges, and B's Dial ends
(ANSWER) when B's leg hangs up, without hanging C up. A's Dial then runs as if C had answered
it: either party's hang-up ends it with DIALSTATUS ANSWER. Two Dials in which B has the same
role (both placed by B, or both placed to B) would leave no dialplan owning the joined call, so
that REFER is answered 501. CDRs are not split: A's record goes on to the end of the joined
call with C as dstchannel (as Asterisk, whose transferee keeps its CDR), B's ends with B's leg.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import CancelledError, Deferred, succeed

from pbx.call.channel import Channel
from pbx.call.dialplan_api import DialOptions, DialResult, DialStatus
from pbx.call.inbound_leg import InboundLeg
from pbx.call.media_plan import callee_codecs, caller_codecs_for, offered_codecs
from pbx.call.outbound_leg import OutboundLeg
from pbx.call.sip_leg import SipLeg
from pbx.call.transfer import Attended
from pbx.core import causes
from pbx.core.clock import Cancellable, Scheduler
from pbx.core.errors import MediaError
from pbx.sip.refer import Replaces

if TYPE_CHECKING:
    from pbx.call.bridge import Bridge
    from pbx.call.media import MediaLeg
    from pbx.call.sip_calls import SipCalls

log = logging.getLogger(__name__)

BridgeFactory = Callable[["MediaLeg", "MediaLeg"], "Bridge"]

CALLER, CALLEE = "caller", "callee"


def status_for(failures: list[int]) -> DialStatus:
    """app_dial's DIALSTATUS once every outbound leg failed with these causes.

    As its ``handle_cause``: 17 counts as busy, 34 as congestion, 16 and 19 as nothing, every
    other cause as "no channel". Only when each leg counted (all busy/congested/unavailable)
    is the status BUSY, else CONGESTION, else CHANUNAVAIL; otherwise nobody answered.
    """
    if not failures:
        return "CHANUNAVAIL"  # no channel could even be created
    quiet = (causes.NORMAL_CLEARING, causes.NO_ANSWER)
    busy = sum(1 for c in failures if c == causes.USER_BUSY)
    congestion = sum(1 for c in failures if c == causes.CONGESTION)
    counted = sum(1 for c in failures if c not in quiet)
    if counted == len(failures):
        if busy:
            return "BUSY"
        return "CONGESTION" if congestion else "CHANUNAVAIL"
    return "NOANSWER"


class SipDialer:
    """Implements :class:`pbx.call.channel.Dialer` for ``SIP/…`` targets."""

    def __init__(self, scheduler: Scheduler, bridge: BridgeFactory) -> None:
        self.scheduler = scheduler
        self.bridge_factory = bridge
        self.sip: SipCalls | None = None
        self.on_bridged: Callable[[Channel, Channel], None] = lambda a, b: None
        self.on_transferred: Callable[[Channel, Channel], None] = lambda a, b: None
        """The callee ``b`` blind-transferred the caller ``a``: write ``a``'s CDR so far now (a new
        one starts right after, see :meth:`Channel.restart_cdr`)."""
        self.bridged: dict[SipLeg, tuple[DialAttempt, str]] = {}
        """Every bridged SIP leg: its Dial and its role there (:data:`CALLER`/:data:`CALLEE`),
        which is how an attended transfer finds the Dial of the call ``Replaces`` names."""

    def dial(
        self, caller: Channel, targets: list[str], timeout: float | None, options: DialOptions
    ) -> Deferred[DialResult]:
        return DialAttempt(self, caller, targets, timeout, options).start()


class DialAttempt:
    def __init__(
        self,
        dialer: SipDialer,
        caller: Channel,
        targets: list[str],
        timeout: float | None,
        options: DialOptions,
    ) -> None:
        self.dialer = dialer
        self.caller = caller
        self.targets = targets
        self.timeout = timeout
        self.options = options
        self.scheduler = dialer.scheduler
        self.started = self.scheduler.seconds()
        self.answered_at: float | None = None
        self.legs: list[tuple[Channel, OutboundLeg]] = []
        self.failures: list[int] = []
        self.winner: Channel | None = None
        self.bridge: Bridge | None = None
        self.early_bridge: tuple[Channel, Bridge] | None = None
        self.done: Deferred[DialResult] = Deferred()
        self._timer: Cancellable | None = None
        self._caller_watch: Deferred[int] | None = None
        self._ringing_sent = False
        self.transferred = False
        """The caller transferred the callee away: the caller's hang-up leaves the callee."""
        self._transfer_legs: list[SipLeg] = []
        self._winner_leg: OutboundLeg | None = None

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> Deferred[DialResult]:
        sip = self.dialer.sip
        if sip is None:
            return succeed(DialResult("CHANUNAVAIL", cause=causes.CHAN_NOT_IMPLEMENTED))
        now = self.scheduler.seconds()
        caller_codecs = self._caller_codecs()
        for target in self.targets:
            tech, _, resource = target.partition("/")
            if tech.upper() != "SIP" or not resource:
                log.warning("Dial: unsupported channel technology in '%s'", target)
                self.failures.append(causes.CHAN_NOT_IMPLEMENTED)
                continue
            resolved, cause = sip.resolve(resource, now)
            if not resolved:
                self.failures.append(cause)
                continue
            for dial_target in resolved:
                peer = dial_target.peer or sip.peers.guest
                codecs = callee_codecs(peer, caller_codecs) if caller_codecs else None
                made = sip.originate(self.caller, dial_target, codecs)
                if isinstance(made, int):
                    self.failures.append(made)
                    continue
                channel, leg = made
                self.caller.last_dialed = channel.name
                self._watch(channel, leg)
                self.legs.append((channel, leg))
                log.info("Called %s", target, extra={"channel": self.caller.name})
        if not self.legs:
            return succeed(self._result(status_for(self.failures), self._cause()))
        for _, leg in self.legs:
            leg.start()
        if self.options.ringback:
            self._send_ringing()
        if self.timeout:
            self._timer = self.scheduler.callLater(self.timeout, self._timed_out)
        self._caller_watch = self.caller.when_hungup()
        self._caller_watch.addCallbacks(self._caller_hungup, lambda f: f.trap(CancelledError))
        return self.done

    def _caller_codecs(self) -> list[str]:
        """What the caller can take: its agreed codec once answered, else its offer ∩ allow."""
        leg = self.caller.tech_pvt
        if not isinstance(leg, InboundLeg):
            return []
        negotiated = leg.sdp.negotiated
        if negotiated is not None:
            return [negotiated.codec]
        remote = leg.sdp.remote_sdp
        if remote is None:
            return list(leg.sdp.policy.codecs)
        allowed = set(leg.sdp.policy.codecs)
        return [c for c in offered_codecs(remote) if c in allowed]

    def _watch(self, channel: Channel, leg: OutboundLeg) -> None:
        leg.on_ringing = self._send_ringing
        leg.on_progress = lambda: self._early_media(channel)
        leg.on_answer = lambda: self._answered(channel, leg)
        leg.on_failure = lambda cause, status, reason: self._leg_failed(
            channel, cause, status, reason
        )

    # -- events from the legs --------------------------------------------------------------
    def _send_ringing(self) -> None:
        if self._ringing_sent or self.done.called:
            return
        self._ringing_sent = True
        self.caller.indicate("ringing")

    def _early_media(self, callee: Channel) -> None:
        """183 from a callee: early media to the caller, bridged now (unless ``r``/``m``)."""
        if self.options.ringback:
            return
        if self.early_bridge is not None or self.done.called:
            return
        self._prefer_caller_codec(callee)
        self.caller.indicate("progress")
        bridge = self._bridge(self.caller, callee)
        if bridge is not None:
            self.early_bridge = (callee, bridge)

    def _prefer_caller_codec(self, callee: Channel) -> None:
        """Answer the caller with the callee's codec first when its answer is still open."""
        leg = self.caller.tech_pvt
        media = callee.media
        if not isinstance(leg, InboundLeg) or media is None or not media.codec:
            return
        if leg.sdp.state.name != "REMOTE_OFFER":
            return
        order = caller_codecs_for(media.codec, list(leg.sdp.policy.codecs))
        leg.sdp.policy = dataclasses.replace(leg.sdp.policy, codecs=tuple(order))

    def _bridge(self, a: Channel, b: Channel) -> Bridge | None:
        if a.media is None or b.media is None:
            return None
        try:
            return self.dialer.bridge_factory(a.media, b.media)
        except MediaError as e:
            log.warning("Cannot bridge %s and %s: %s", a.name, b.name, e, extra={"channel": a.name})
            return None

    def _answered(self, callee: Channel, leg: OutboundLeg) -> None:
        if self.done.called or self.winner is not None:
            callee.hangup(causes.NORMAL_CLEARING)
            return
        if self.caller.gone:
            callee.hangup(causes.NORMAL_CLEARING)
            return
        self.winner = callee
        self.answered_at = self.scheduler.seconds()
        self._cancel_timer()
        for other, _ in self.legs:
            if other is not callee and not other.gone:
                # app_dial's hanguptree: cause 26, so the CANCEL says "Call completed elsewhere".
                other.hangup(causes.ANSWERED_ELSEWHERE)
        self._prefer_caller_codec(callee)
        d = self.caller.answer()
        d.addCallback(lambda _: self._join(callee, leg))

    def _join(self, callee: Channel, leg: OutboundLeg) -> None:
        if self.caller.gone or callee.gone:
            return
        if self.early_bridge is not None and self.early_bridge[0] is callee:
            self.bridge = self.early_bridge[1]
        else:
            if self.early_bridge is not None:
                self.early_bridge[1].stop()
            self.bridge = self._bridge(self.caller, callee)
        self.early_bridge = None
        log.info(
            "%s answered %s", callee.name, self.caller.name, extra={"channel": self.caller.name}
        )
        self._bridged_with(callee, leg)

    def _bridged_with(self, callee: Channel, leg: OutboundLeg) -> None:
        """The caller is now bridged to ``callee`` (answer, or an attended transfer's take-over):
        app_dial's channel variables, the dialer's hook, hold and transfer hooks on the legs."""
        self.caller.bridged_to = callee
        callee.bridged_to = self.caller
        self.caller.last_bridged = callee
        self.caller.variables["DIALEDPEERNAME"] = callee.name
        self.caller.variables["BRIDGEPEER"] = callee.name
        self.dialer.on_bridged(self.caller, callee)
        self._arm(callee, leg)

    def _arm(self, callee: Channel, leg: OutboundLeg) -> None:
        """The caller and ``callee`` are bridged: pass hold across, take transfers, watch."""
        self._winner_leg = leg
        caller_leg = self.caller.tech_pvt
        if caller_leg is not None:
            caller_leg.peer_hold_changed = leg.hold
        leg.peer_hold_changed = caller_leg.hold if caller_leg is not None else None
        leg.blind_transfer = lambda exten: self._transfer_caller(callee, exten)
        leg.attended_transfer = lambda replaces: self._attended(CALLEE, replaces)
        self._transfer_legs = [leg]
        self.dialer.bridged[leg] = (self, CALLEE)
        if isinstance(caller_leg, SipLeg):
            caller_leg.blind_transfer = lambda exten: self._transfer_callee(callee, exten)
            caller_leg.attended_transfer = lambda replaces: self._attended(CALLER, replaces)
            self._transfer_legs.append(caller_leg)
            self.dialer.bridged[caller_leg] = (self, CALLER)
        callee.when_hungup().addCallback(lambda cause: self._callee_hungup(callee, cause))

    def _disarm(self) -> None:
        """The legs of this Dial take no more transfers and pass no more hold."""
        for leg in self._transfer_legs:
            leg.blind_transfer = None
            leg.attended_transfer = None
            leg.peer_hold_changed = None
            self.dialer.bridged.pop(leg, None)
        self._transfer_legs = []

    # -- blind transfer ------------------------------------------------------------------------
    def _transfer_target(self, transferor: Channel, transferee: Channel, exten: str) -> str | None:
        """The context ``exten`` is looked up in, or None when it does not exist there."""
        sip = self.dialer.sip
        context = transferor.context
        for key in ("TRANSFER_CONTEXT", "_TRANSFER_CONTEXT", "__TRANSFER_CONTEXT"):
            if transferor.variables.get(key):
                context = transferor.variables[key]
                break
        if sip is None or not sip.hooks.dialplan().exists(
            context, exten, 1, transferee.caller_id_num or None
        ):
            log.info(
                "Blind transfer by %s to '%s@%s' refused: no such extension",
                transferor.name,
                exten,
                context,
                extra={"channel": transferor.name},
            )
            return None
        return context

    def _unbridge(self, callee: Channel) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        self._disarm()
        self.caller.bridged_to = None
        callee.bridged_to = None

    def _transfer_caller(self, callee: Channel, exten: str) -> Callable[[], None] | None:
        """The callee sends the caller to ``exten`` (chan_sip's ``ast_async_goto``)."""
        context = self._transfer_target(callee, self.caller, exten)
        if context is None or self.done.called:
            return None

        def transfer() -> None:
            log.info(
                "%s blind-transferred %s to %s@%s",
                callee.name,
                self.caller.name,
                exten,
                context,
                extra={"channel": self.caller.name},
            )
            self._unbridge(callee)
            self.dialer.on_transferred(self.caller, callee)
            self.caller.restart_cdr()
            result = self._result("ANSWER", causes.NORMAL_CLEARING)
            self._finish(dataclasses.replace(result, peer_name="", transfer=(context, exten)))

        return transfer

    def _transfer_callee(self, callee: Channel, exten: str) -> Callable[[], None] | None:
        """The caller sends the callee to ``exten``: a new dialplan run on the callee."""
        context = self._transfer_target(self.caller, callee, exten)
        sip = self.dialer.sip
        if context is None or sip is None or self.done.called:
            return None

        def transfer() -> None:
            log.info(
                "%s blind-transferred %s to %s@%s",
                self.caller.name,
                callee.name,
                exten,
                context,
                extra={"channel": callee.name},
            )
            self._unbridge(callee)
            self.transferred = True
            callee.dialer = self.dialer
            callee.restart_cdr()
            sip.hooks.start_dialplan(callee, context, exten)

        return transfer

    # -- attended transfer -----------------------------------------------------------------------
    def _attended(self, role: str, replaces: Replaces) -> Attended | tuple[int, str]:
        """This Dial's ``role`` leg sent a REFER replacing another call (module docstring)."""
        sip = self.dialer.sip
        key = (replaces.call_id, replaces.to_tag, replaces.from_tag)
        replaced = None if sip is None else sip.leg_by_dialog(key)
        if replaced is None or replaced.channel.gone:
            return 481, "Call/Transaction Does Not Exist"
        side = self.dialer.bridged.get(replaced)
        if self.done.called or side is None or side[0] is self or side[0].done.called:
            return 603, "Declined (No bridged channel)"
        other, other_role = side
        if other_role == role:
            return 501, "Not Implemented (attended transfer between these calls)"
        keep, release = (self, other) if role == CALLEE else (other, self)
        target, target_leg = release.winner, release._winner_leg
        transferee = keep.caller
        if target is None or target_leg is None or transferee.media is None or target.media is None:
            return 603, "Declined (No bridged channel)"
        try:
            bridge = self.dialer.bridge_factory(transferee.media, target.media)
        except MediaError as e:
            log.info(
                "Attended transfer of %s to %s refused: %s",
                transferee.name,
                target.name,
                e,
                extra={"channel": transferee.name},
            )
            return 488, "Not Acceptable Here"

        def join() -> None:
            release._give_up()
            keep._take_over(target, target_leg, bridge)

        return Attended(join, replaced.channel)

    def _give_up(self) -> None:
        """An attended transfer took the callee to another Dial: this one ends (ANSWER) when
        the caller (the transferor) leaves, without hanging the callee up."""
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        self._disarm()
        self.transferred = True
        self.caller.bridged_to = None

    def _take_over(self, callee: Channel, leg: OutboundLeg, bridge: Bridge) -> None:
        """An attended transfer replaced this Dial's callee (the transferor) by ``callee``,
        already bridged to the caller by ``bridge``."""
        old = self.winner
        log.info(
            "%s attended-transferred %s to %s",
            old.name if old is not None else "?",
            self.caller.name,
            callee.name,
            extra={"channel": self.caller.name},
        )
        if self.bridge is not None:
            self.bridge.stop()
        self._disarm()
        if old is not None:
            old.bridged_to = None
        self.bridge = bridge
        self.winner = callee
        self._bridged_with(callee, leg)

    def _leg_failed(self, channel: Channel, cause: int, status: int, reason: str) -> None:
        log.info(
            "%s is %s (%d %s)",
            channel.name,
            causes.cause_text(cause),
            status,
            reason,
            extra={"channel": self.caller.name},
        )
        if self.winner is not None:
            return
        self.failures.append(cause)
        if status == 488 and not self.caller.userfield:
            self.caller.userfield = reason  # why the callee refused the offer, for the CDR
        if self.early_bridge is not None and self.early_bridge[0] is channel:
            self.early_bridge[1].stop()
            self.early_bridge = None
        if all(c.gone for c, _ in self.legs) and not self.done.called:
            self._cancel_timer()
            self._finish(self._result(status_for(self.failures), self._cause()))

    def _timed_out(self) -> None:
        self._timer = None
        if self.winner is not None or self.done.called:
            return
        log.info("Nobody picked up in %s s", self.timeout, extra={"channel": self.caller.name})
        self._hangup_all(causes.NO_ANSWER)
        self._finish(self._result("NOANSWER", causes.NO_ANSWER))

    def _caller_hungup(self, cause: int) -> None:
        if self.done.called:
            return
        if self.transferred:
            self._finish(self._result("ANSWER", causes.NORMAL_CLEARING))
        elif self.winner is None:
            self._cancel_timer()
            self._hangup_all(causes.NORMAL_CLEARING)
            self._finish(self._result("CANCEL", cause))
        else:
            if self.bridge is not None:
                self.bridge.stop()
            # Record the result first: the callee's own hang-up below is not "the peer hung up".
            self._finish(self._result("ANSWER", causes.NORMAL_CLEARING))
            self.winner.hangup(causes.NORMAL_CLEARING)

    def _callee_hungup(self, callee: Channel, cause: int) -> None:
        if self.done.called or self.transferred or callee is not self.winner:
            # (an attended transfer replaced this callee by another)
            return
        if self.bridge is not None:
            self.bridge.stop()
        self.caller.bridged_to = None
        self._finish(self._result("ANSWER", cause, peer_hangup=True))

    # -- results -------------------------------------------------------------------------------
    def _hangup_all(self, cause: int) -> None:
        if self.early_bridge is not None:
            self.early_bridge[1].stop()
            self.early_bridge = None
        for channel, _ in self.legs:
            if not channel.gone:
                channel.hangup(cause)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _cause(self) -> int:
        return self.failures[-1] if self.failures else causes.NORMAL_CLEARING

    def _result(self, status: DialStatus, cause: int, peer_hangup: bool = False) -> DialResult:
        now = self.scheduler.seconds()
        answered = 0.0 if self.answered_at is None else now - self.answered_at
        return DialResult(
            status=status,
            dialed_time=now - self.started,
            answered_time=answered,
            peer_hangup=peer_hangup,
            cause=cause,
            peer_name=self.winner.name if self.winner is not None else "",
        )

    def _finish(self, result: DialResult) -> None:
        self._disarm()
        if self._caller_watch is not None and not self._caller_watch.called:
            self._caller_watch.cancel()
        if not self.done.called:
            self.done.callback(result)
