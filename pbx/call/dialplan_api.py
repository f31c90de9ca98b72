"""The channel contract between the dialplan and the call layer.

The dialplan drives one call leg through :class:`DialplanChannel`; ``pbx.call`` implements it
(``pbx.call.channel.Channel``). The contract lives in the call layer because the dialplan
sits above it: the dialplan imports this module and nothing else of ``pbx.call``.

Every waiting method returns a ``Deferred``. When the channel hangs up, the call layer fires
the Deferreds of :meth:`DialplanChannel.when_hungup`;
the engine then cancels whatever the current application is waiting on, so an implementation's
pending ``wait``/``play``/``wait_for_digit``/``echo``/``dial`` Deferreds must support
``cancel()`` (stop the tone, the playback, the outbound legs) and should themselves errback or
be cancelled once the channel is gone.

DTMF: digits that arrive while nobody waits for one are queued on the channel and consumed, in
order, by the next :meth:`~DialplanChannel.play` with ``interrupt_digits`` or
:meth:`~DialplanChannel.wait_for_digit`; a digit that is not in a playback's
``interrupt_digits`` is discarded (Asterisk ``ast_waitstream`` behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from twisted.internet.defer import Deferred

ChannelState = Literal["Down", "Ring", "Ringing", "Up"]
"""Asterisk state names (``ast_state2str``) the dialplan reads."""

Indication = Literal["ringing", "progress", "busy", "congestion"]

DialStatus = Literal["ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL"]


class MissingSound(Exception):
    """``play()`` failed because a sound file does not exist (its name without extension)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True, slots=True)
class DialOptions:
    """What ``Dial()`` asked for, parsed (app_dial option letters in brackets).

    :ivar ringback: ``r`` (and ``m[(class)]``, as pbx has no music on hold): indicate ringing
        to the caller ourselves instead of passing the callee's 180/183 through.
    :ivar continue_on_callee_hangup: ``g``: the caller's dialplan continues after the callee
        hangs up (used by the dialplan itself; the call layer may ignore it).
    :ivar raw: the option string as written, for logging and options pbx does not implement.
    """

    ringback: bool = False
    continue_on_callee_hangup: bool = False
    raw: str = ""


@dataclass(frozen=True, slots=True)
class DialResult:
    """How a ``dial()`` ended.

    :ivar status: the ``DIALSTATUS`` value.
    :ivar dialed_time: seconds from the start of dialing until the dial (and, after an
        answer, the bridged call) ended.
    :ivar answered_time: seconds the bridged call lasted (0 when nobody answered).
    :ivar peer_hangup: True when, after an answer, the callee hung up first.
    :ivar cause: the Q.850 cause of the outbound leg (``pbx.core.causes``), e.g. 17 for busy.
    :ivar peer_name: the channel that answered (``SIP/bob-00000002``), "" when none did.
    :ivar transfer: ``(context, exten)`` when the callee blind-transferred the caller (SIP
        REFER): the caller's dialplan continues there at priority 1 (an async goto).
    """

    status: DialStatus
    dialed_time: float = 0.0
    answered_time: float = 0.0
    peer_hangup: bool = False
    cause: int = 16
    peer_name: str = ""
    transfer: tuple[str, str] | None = None


class DialplanChannel(Protocol):
    """One call leg as the dialplan sees it (``struct ast_channel``, narrowed)."""

    name: str
    """``SIP/alice-0000000a``: technology, peer, 8 hex digits."""
    uniqueid: str
    """``UNIQUEID``: unique over the life of the PBX."""
    variables: dict[str, str]
    """Channel variables; the dialplan reads and writes ``DIALSTATUS`` etc. here. Names keep
    their inheritance prefix (``_FOO``/``__FOO`` are inherited by channels that ``dial()``
    creates, once / always, as in Asterisk)."""
    caller_id_name: str
    caller_id_num: str
    """Caller ID (settable through ``CALLERID()``; the call layer uses it for new legs)."""
    state: ChannelState
    hangup_cause: int | None
    """Q.850 cause once the channel has hung up (either side), else None."""

    def executing(self, context: str, exten: str, priority: int, app: str, data: str) -> None:
        """The engine is about to run ``app(data)`` at ``exten@context:priority`` (the
        Location and Application(Data) columns of ``core show channels``)."""
        ...

    def answer(self) -> Deferred[None]:
        """Answer (200 OK with the SDP answer); fires once answered. A no-op when Up."""
        ...

    def indicate(self, what: Indication) -> None:
        """Signal progress to the caller.

        ``ringing`` -> 180, ``progress`` -> 183 with SDP (early media). ``busy`` and
        ``congestion`` before answer reject the call (486 / 503 per the cause map) and hang the
        channel up with cause 17 / 34; once Up they play the tone in-band.
        """
        ...

    def hangup(self, cause: int = 16) -> None:
        """End the channel: BYE when Up, otherwise a final response per the cause -> SIP map
        (``pbx.core.causes.cause_to_sip``). Idempotent."""
        ...

    def when_hungup(self) -> Deferred[int]:
        """A new Deferred firing with the Q.850 cause when the channel ends (at once if it has
        already ended). Each caller gets its own Deferred."""
        ...

    def wait(self, seconds: float) -> Deferred[None]:
        """Fire after ``seconds`` (media keeps flowing; used by ``Wait``/``Busy``...)."""
        ...

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        """The next DTMF digit (a queued one at once), or None after ``timeout`` seconds."""
        ...

    def play(self, files: list[str], interrupt_digits: str = "") -> Deferred[str | None]:
        """Play sound files in order (names without extension, Asterisk-style, e.g.
        ``hello-world``). Fires with the digit that interrupted playback, or None when all
        files played. Fails with :class:`MissingSound` when a file does not exist (nothing
        after it is played)."""
        ...

    def echo(self) -> Deferred[None]:
        """Send the caller's media straight back until the channel hangs up (``Echo()``);
        ``#`` ends the echo early, as app_echo does."""
        ...

    def dial(
        self, targets: list[str], timeout: float | None, options: DialOptions
    ) -> Deferred[DialResult]:
        """Ring ``targets`` (``SIP/bob``, ``SIP/bob/100``, ``SIP/100@bob`` ...) in parallel;
        the first to answer is bridged to this channel (others are cancelled). Fires when the
        dial fails or, after an answer, when the bridged call ends. ``timeout`` None rings
        until the caller gives up.

        Unlike the other waits, the engine does not cancel a dial when this channel hangs up:
        the call layer must fire it then (status ``CANCEL`` before an answer; after one, the
        ``ANSWER`` result with ``peer_hangup`` False), so that ``DIALSTATUS`` and
        ``ANSWEREDTIME`` are right in the ``h`` extension and the CDR."""
        ...
