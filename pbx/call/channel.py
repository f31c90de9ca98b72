"""Channels: one call leg, technology-neutral (Asterisk's ``struct ast_channel``).

A :class:`Channel` is what the dialplan drives (it implements
:class:`pbx.call.dialplan_api.DialplanChannel`) and what ``Dial()`` bridges. Signalling is the
technology's business, through a :class:`ChannelDriver` (the SIP leg for ``SIP/…`` channels);
media is a :class:`pbx.call.media.MediaLeg`. The channel keeps Asterisk's vocabulary: names
``SIP/alice-0000000a``, states Down/Ring/Ringing/Up, Q.850 hangup causes, variables with
inheritance prefixes, and the per-call facts a CDR needs.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.python.failure import Failure

from pbx.call.dialplan_api import (
    ChannelState,
    DialOptions,
    DialResult,
    Indication,
    MissingSound,
)
from pbx.core import causes
from pbx.core.clock import Cancellable, Scheduler
from pbx.core.errors import MediaError

if TYPE_CHECKING:
    from pbx.call.media import MediaLeg

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_sequence = itertools.count(1)
_uniqueids = itertools.count(1)


def next_channel_suffix() -> str:
    """The 8 hex digits chan_sip appends to channel names (a process-wide counter)."""
    return format(next(_sequence), "08x")


class ChannelDriver(Protocol):
    """The technology side of a channel: how to signal on its leg."""

    def answer(self) -> Deferred[None]:
        """Send the answer (200 OK); fires when the peer confirmed it (ACK)."""
        ...

    def indicate(self, what: Indication) -> None: ...

    def hangup(self, cause: int) -> None:
        """Tear the leg down: final response before answer, BYE after."""
        ...

    def send_info_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Signal a DTMF digit out of band (SIP INFO for ``dtmfmode=info`` peers)."""
        ...


class Dialer(Protocol):
    """``Dial()`` as the call layer implements it (see :mod:`pbx.call.dial`)."""

    def dial(
        self, caller: Channel, targets: list[str], timeout: float | None, options: DialOptions
    ) -> Deferred[DialResult]: ...


class SoundLibrary(Protocol):
    def load(self, name: str) -> tuple[object, int] | None:
        """Decoded PCM for a prompt name (``hello-world``) and its rate, or None if missing."""
        ...


class Channel:
    """One call leg. ``driver`` and ``media`` are attached by the technology that made it."""

    def __init__(
        self,
        tech: str,
        resource: str,
        scheduler: Scheduler,
        *,
        context: str = "default",
        exten: str = "s",
        caller_id_name: str = "",
        caller_id_num: str = "",
        uniqueid: str = "",
        outbound: bool = False,
    ) -> None:
        self.name = f"{tech}/{resource}-{next_channel_suffix()}"
        self.tech = tech
        self.resource = resource
        self.scheduler = scheduler
        self.uniqueid = uniqueid or f"{int(scheduler.seconds())}.{next(_uniqueids)}"
        self.linkedid = self.uniqueid
        self.variables: dict[str, str] = {}
        self.caller_id_name = caller_id_name
        self.caller_id_num = caller_id_num
        self.state: ChannelState = "Down"
        self.hangup_cause: int | None = None
        self.outbound = outbound
        self.context = context
        self.exten = exten
        self.priority = 1
        self.application = ""
        self.app_data = ""
        self.account_code = ""
        self.peer_name = resource
        self.created_at = scheduler.seconds()
        self.cdr_start = self.created_at
        """Where this channel's CDR starts: its creation, or the blind transfer that ended
        its previous CDR (:meth:`restart_cdr`)."""
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.bridged_to: Channel | None = None
        self.last_bridged: Channel | None = None  # the callee, for the CDR after the bridge
        self.driver: ChannelDriver | None = None
        #: The technology's own object for this leg (Asterisk's ``tech_pvt``): the SIP leg.
        self.tech_pvt: Any = None
        self.media: MediaLeg | None = None
        self.dialer: Dialer | None = None
        self.sounds: SoundLibrary | None = None
        self.userfield = ""
        self.cdr_app: tuple[str, str] = ("", "")
        """(lastapp, lastdata) for the CDR; see :meth:`executing`."""
        self.last_dialed = ""
        """The name of the last channel Dial created for this one (CDR dstchannel)."""
        self._hungup_waiters: list[Deferred[int]] = []
        # A list, not a deque: it rarely holds more than a digit or two, and an empty deque
        # costs 600 bytes per channel for as long as the call lasts.
        self._digits: list[str] = []
        self._digit_waiter: Deferred[str | None] | None = None
        self._digit_interrupts = ""
        self.on_state: list[Callable[[Channel], None]] = []

    def __repr__(self) -> str:
        return f"<Channel {self.name} {self.state}>"

    # -- state -------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self.state == "Up"

    @property
    def gone(self) -> bool:
        return self.hangup_cause is not None

    def set_state(self, state: ChannelState) -> None:
        if self.state == state or self.gone:
            return
        self.state = state
        if state == "Up" and self.answered_at is None:
            self.answered_at = self.scheduler.seconds()
        for listener in list(self.on_state):
            listener(self)

    def executing(self, context: str, exten: str, priority: int, app: str, data: str) -> None:
        """The dialplan engine reports where it is (``core show channels`` Location column).

        The CDR's lastapp/lastdata follow, except that once ``Dial`` ran they stay on it, as
        Asterisk's ``AST_CDR_LOCK_APP`` keeps them (a Busy or Hangup after Dial does not hide
        which number was dialed).
        """
        self.context, self.exten, self.priority = context, exten, priority
        self.application, self.app_data = app, data
        if self.cdr_app[0] != "Dial" and not self.gone:
            self.cdr_app = (app, data)

    def restart_cdr(self) -> None:
        """A blind transfer ended this channel's CDR (the caller wrote it): the next one
        starts now, answered now if the channel is up, with nothing dialed yet."""
        self.cdr_start = self.scheduler.seconds()
        self.cdr_app = ("", "")
        self.last_dialed = ""
        self.last_bridged = None
        self.variables.pop("DIALEDPEERNAME", None)

    def ended(self, cause: int) -> None:
        """The leg is gone (either side): record the cause, wake every waiter once."""
        if self.gone:
            return
        self.hangup_cause = cause
        self.ended_at = self.scheduler.seconds()
        self.variables.setdefault("HANGUPCAUSE", str(cause))
        if self._digit_waiter is not None and not self._digit_waiter.called:
            waiter, self._digit_waiter = self._digit_waiter, None
            waiter.callback(None)
        if self.media is not None:
            self._record_qos()
            self.media.close()
        waiters, self._hungup_waiters = self._hungup_waiters, []
        for d in waiters:
            d.callback(cause)
        for listener in list(self.on_state):
            listener(self)
        # Break the channel <-> leg <-> media cycles now, and the caller <-> callee one of a
        # bridge (the CDR keeps ``last_bridged``), so an ended call is freed by reference
        # counting instead of waiting for (and lengthening) a garbage collection.
        self.driver = None
        self.media = None
        self.tech_pvt = None
        self.bridged_to = None

    def _record_qos(self) -> None:
        """chan_sip's ``RTPAUDIOQOS`` variables, kept for the ``h`` extension and the CDR."""
        media = self.media
        if media is None or not media.codec:
            return
        st = media.stats()
        rtt = f"{st.rtt:.6f}" if st.rtt is not None else "0.000000"
        self.variables["RTPAUDIOQOS"] = (
            f"ssrc={st.local_ssrc};themssrc={st.remote_ssrc or 0};lp={st.rx_lost};"
            f"rxjitter={st.rx_jitter:.6f};rxcount={st.rx_packets};txjitter={st.tx_jitter:.6f};"
            f"txcount={st.tx_packets};rlp={st.tx_lost};rtt={rtt}"
        )
        security = [f"codec={st.codec}"]
        if st.ice_state:
            security.append(f"ice={st.ice_state}")
        if st.dtls_state:
            security.append(f"dtls={st.dtls_state}")
        if st.srtp_profile:
            security.append(f"srtp={st.srtp_profile}")
        self.variables["RTPAUDIOQOSMEDIA"] = ";".join(security)

    # -- DialplanChannel ---------------------------------------------------------------------
    def answer(self) -> Deferred[None]:
        if self.up:
            return succeed(None)
        if self.driver is None or self.gone:
            return succeed(None)
        return self.driver.answer()

    def indicate(self, what: Indication) -> None:
        if self.driver is not None and not self.gone:
            self.driver.indicate(what)

    def hangup(self, cause: int = causes.NORMAL_CLEARING) -> None:
        if self.gone:
            return
        if self.driver is not None:
            self.driver.hangup(cause)
        self.ended(cause)

    def when_hungup(self) -> Deferred[int]:
        if self.hangup_cause is not None:
            return succeed(self.hangup_cause)
        # Cancelling the Deferred (a Dial that ended) takes it off the list, so it does not
        # keep the finished Dial alive for the rest of the call.
        d: Deferred[int] = Deferred(lambda d: self._hungup_waiters.remove(d))
        self._hungup_waiters.append(d)
        return d

    def wait(self, seconds: float) -> Deferred[None]:
        call: list[Cancellable] = []

        def cancel(d: Deferred[None]) -> None:
            if call and call[0].active():
                call[0].cancel()

        d: Deferred[None] = Deferred(cancel)
        call.append(self.scheduler.callLater(max(0.0, seconds), _fire_if_waiting, d, None))
        return d

    # -- DTMF ----------------------------------------------------------------------------
    def digit_received(self, digit: str, via_info: bool = False) -> None:
        """A DTMF digit from the leg: RFC 4733 (``via_info`` False) or SIP INFO.

        In a bridge, RFC 4733 packets are relayed by the bridge itself; a digit the other side
        cannot receive that way is converted: INFO -> RFC 4733, RFC 4733 -> INFO.
        """
        log.info("DTMF '%s' received on %s", digit, self.name, extra={"channel": self.name})
        other = self.bridged_to
        if other is not None and not other.gone:
            other_media = other.media
            can_rfc4733 = other_media is not None and other_media.dtmf_payload_type is not None
            if via_info and can_rfc4733 and other_media is not None:
                other_media.send_dtmf(digit)
            elif not can_rfc4733 and other.driver is not None:
                other.driver.send_info_dtmf(digit)
            return
        waiter = self._digit_waiter
        if waiter is not None and not waiter.called:
            if not self._digit_interrupts or digit in self._digit_interrupts:
                self._digit_waiter = None
                waiter.callback(digit)
            return
        self._digits.append(digit)

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        if self._digits:
            return succeed(self._digits.pop(0))
        if self.gone:
            return succeed(None)
        call: list[Cancellable] = []

        def cancel(d: Deferred[str | None]) -> None:
            if call and call[0].active():
                call[0].cancel()
            if self._digit_waiter is d:
                self._digit_waiter = None

        d: Deferred[str | None] = Deferred(cancel)
        self._digit_waiter = d
        self._digit_interrupts = ""

        def timed_out() -> None:
            if self._digit_waiter is d:
                self._digit_waiter = None
            _fire_if_waiting(d, None)

        if timeout > 0:
            call.append(self.scheduler.callLater(timeout, timed_out))
        d.addBoth(lambda r: _cancel_call(call, r))
        return d

    # -- media applications --------------------------------------------------------------
    def play(self, files: list[str], interrupt_digits: str = "") -> Deferred[str | None]:
        return _Playback(self, files, interrupt_digits).start()

    def echo(self) -> Deferred[None]:
        media = self.media
        if media is None:
            return self.when_hungup().addCallback(lambda _: None)
        media.echo(True)
        # app_echo: '#' ends the echo; everything else is echoed too.
        waiter = self._wait_interrupt("#")

        def stop(d: Deferred[None]) -> None:
            media.echo(False)
            if not waiter.called:
                waiter.cancel()

        done: Deferred[None] = Deferred(stop)

        def finished(_: object) -> None:
            media.echo(False)
            _fire_if_waiting(done, None)

        waiter.addCallbacks(finished, _ignore_cancel)
        self.when_hungup().addCallback(finished)
        return done

    def _wait_interrupt(self, digits: str) -> Deferred[str | None]:
        """The next digit among ``digits`` (queued digits not among them are discarded)."""
        while self._digits:
            queued = self._digits.pop(0)
            if queued in digits:
                return succeed(queued)

        def cancel(d: Deferred[str | None]) -> None:
            if self._digit_waiter is d:
                self._digit_waiter = None

        d: Deferred[str | None] = Deferred(cancel)
        self._digit_waiter = d
        self._digit_interrupts = digits
        return d

    def dial(
        self, targets: list[str], timeout: float | None, options: DialOptions
    ) -> Deferred[DialResult]:
        if self.dialer is None:
            return succeed(DialResult("CHANUNAVAIL", cause=causes.CHAN_NOT_IMPLEMENTED))
        return self.dialer.dial(self, targets, timeout, options)


class _Playback:
    """``play()``: files in order on the channel's media leg, interruptible by digits."""

    def __init__(self, channel: Channel, files: list[str], interrupt_digits: str) -> None:
        self.channel = channel
        self.files = list(files)
        self.interrupts = interrupt_digits
        self.current: Deferred[None] | None = None
        self.digit: Deferred[str | None] | None = None
        self.done: Deferred[str | None] = Deferred(self._cancel)

    def start(self) -> Deferred[str | None]:
        if self.interrupts:
            self.digit = self.channel._wait_interrupt(self.interrupts)
            self.digit.addCallbacks(self._interrupted, _ignore_cancel)
        self._next()
        return self.done

    def _next(self) -> None:
        if self.done.called:
            return
        if not self.files:
            self._finish(None)
            return
        name = self.files.pop(0)
        library, media = self.channel.sounds, self.channel.media
        try:
            loaded = None if library is None else library.load(name)
        except MediaError as e:
            log.warning(
                "Cannot play '%s' on %s: %s",
                name,
                self.channel.name,
                e,
                extra={"channel": self.channel.name},
            )
            loaded = None
        if loaded is None:
            self._fail(MissingSound(name))
            return
        if media is None or self.channel.gone:
            self._finish(None)
            return
        audio, rate = loaded
        try:
            self.current = media.play(audio, rate)  # type: ignore[arg-type]
        except Exception as e:
            self._fail(e)
            return
        self.current.addCallbacks(lambda _: self._next(), self._play_failed)

    def _play_failed(self, failure: object) -> None:
        if not self.done.called:
            self._finish(None)

    def _interrupted(self, digit: str | None) -> None:
        if digit is not None:
            # Report the digit first: stopping the file fires its Deferred, which must not
            # look like the end of the playback.
            self._finish(digit)
            self._stop_current()

    def _stop_current(self) -> None:
        if self.current is not None and not self.current.called:
            self.current.cancel()

    def _finish(self, digit: str | None) -> None:
        if self.digit is not None and not self.digit.called:
            self.digit.cancel()
        if not self.done.called:
            self.done.callback(digit)

    def _fail(self, error: Exception) -> None:
        if self.digit is not None and not self.digit.called:
            self.digit.cancel()
        if not self.done.called:
            self.done.errback(error)

    def _cancel(self, d: Deferred[str | None]) -> None:
        self._stop_current()
        if self.digit is not None and not self.digit.called:
            self.digit.cancel()


def _ignore_cancel(failure: Failure) -> Failure | None:
    """A waiter we cancelled ourselves (the playback or echo ended first) is not an error."""
    return None if isinstance(failure.value, CancelledError) else failure


def _fire_if_waiting(d: Deferred[_T], value: _T) -> None:
    if not d.called:
        d.callback(value)


def _cancel_call(call: list[Cancellable], result: object) -> object:
    if call and call[0].active():
        call[0].cancel()
    if isinstance(result, CancelledError):
        return result
    return result
