"""Locally generated RTP payloads and their pacing: prompts (Playback) and RFC 4733 digits.

A media stream relays what the other leg sends; sometimes pbx itself is the source: a prompt
played by ``Playback``/``Background``, or a DTMF digit sent by ``SendDTMF`` or converted from
SIP INFO. This module owns *what* to send and *when*, as pure pacing objects driven by ``now``:

* :class:`Prompt` cuts an already encoded G.711 payload into frames of one packetisation
  interval (the last one padded with the codec's silence) and says when each is due;
* :class:`DtmfQueue` turns digits into the RFC 4733 §2.5.1 packet schedule of
  :class:`pbx.media.codecs.telephone_event.DtmfSender`, one digit after the other with a
  gap between them.

* :class:`LocalSource` combines both for one stream and builds their RTP packets, with an SSRC
  of their own; the stream rewrites them into the leg's one outgoing SSRC/sequence/timestamp
  space (:class:`pbx.media.rtp.StreamRewriter`) and protects them (:mod:`pbx.media.stream`).

Nothing here touches a socket or a clock: ``now`` is an argument.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final, NamedTuple

from pbx.core.errors import MediaError
from pbx.media.codecs.telephone_event import DtmfPacket, DtmfSender
from pbx.media.rtp import RTP_HEADER

#: Frames a late timer may send in one burst; older due frames are skipped (a receiver's
#: jitter buffer absorbs a short burst, not a long one).
MAX_BURST: Final = 5

#: Silence between two queued digits (Asterisk's SendDTMF default gap is 250 ms; 100 ms is
#: what phones send when dialling fast and every receiver handles it).
DIGIT_GAP: Final = 0.1

#: The G.711 codes of a zero sample: what pads a prompt's last frame.
SILENCE: Final = {"ulaw": 0xFF, "alaw": 0xD5}


class Frame(NamedTuple):
    """One prompt frame: its payload and its timestamp offset from the prompt's start."""

    payload: bytes
    ts_offset: int


class Prompt:
    """Paces an encoded prompt as fixed-size frames, the first one at ``start``.

    :param payload: the whole prompt in the leg's codec (one octet per sample for G.711).
    :param frame_samples: samples per frame (160 for 20 ms at 8 kHz).
    :param silence: the octet that pads the last frame.
    :param start: when the first frame is due.
    :param interval: seconds per frame.
    """

    __slots__ = ("_payload", "_frame", "_silence", "_start", "_interval", "_index", "_count")

    def __init__(
        self, payload: bytes, frame_samples: int, silence: int, start: float, interval: float
    ) -> None:
        self._payload = payload
        self._frame = frame_samples
        self._silence = silence
        self._start = start
        self._interval = interval
        self._index = 0
        self._count = -(-len(payload) // frame_samples)

    @property
    def start(self) -> float:
        """When the first frame was due."""
        return self._start

    @property
    def done(self) -> bool:
        """Every frame has been handed out (or skipped)."""
        return self._index >= self._count

    def next_at(self) -> float | None:
        """When the next frame is due, ``None`` when done."""
        if self.done:
            return None
        return self._start + self._index * self._interval

    def due(self, now: float) -> list[Frame]:
        """The frames due at ``now``, at most :data:`MAX_BURST` (older ones are skipped)."""
        # A 1 ms tolerance keeps a timer that fires a hair early from waiting a whole frame.
        last = min(self._count, int((now - self._start) / self._interval + 0.001) + 1)
        if last <= self._index:
            return []
        self._index = max(self._index, last - MAX_BURST)
        frames = []
        size = self._frame
        while self._index < last:
            chunk = self._payload[self._index * size : (self._index + 1) * size]
            if len(chunk) < size:
                chunk += bytes((self._silence,)) * (size - len(chunk))
            frames.append(Frame(chunk, self._index * size))
            self._index += 1
        return frames


class DtmfQueue:
    """Digits waiting to be sent and the schedule of the one being sent (RFC 4733 §2.5.1).

    :param clock_rate: the telephone-event clock rate.
    :param interval_ms: time between the packets of one event (the stream's ptime).
    """

    def __init__(self, clock_rate: int = 8000, interval_ms: int = 20) -> None:
        self._sender = DtmfSender(clock_rate, interval_ms)
        self._pending: deque[tuple[str, int]] = deque()
        self._packets: deque[DtmfPacket] = deque()
        self._event_start = 0.0
        self._next_digit_at = 0.0

    @property
    def active(self) -> bool:
        """A digit is being sent or waits to be sent."""
        return bool(self._packets or self._pending)

    def add(self, digit: str, duration_ms: int) -> None:
        """Queue a digit; validated at once.

        :raises ValueError: for a character that is not a DTMF digit or a bad duration.
        """
        self._sender.schedule(digit, duration_ms)
        self._pending.append((digit, duration_ms))

    def clear(self) -> None:
        """Drop everything, including the rest of the digit being sent."""
        self._pending.clear()
        self._packets.clear()

    def next_at(self) -> float | None:
        """When :meth:`due` next has something, ``None`` when idle."""
        if self._packets:
            return self._event_start + self._packets[0].offset_ms / 1000
        if self._pending:
            return self._next_digit_at
        return None

    def due(self, now: float) -> list[tuple[DtmfPacket, float]]:
        """The packets due at ``now``, each with its event's start time (which the stream turns
        into the event's RTP timestamp)."""
        out: list[tuple[DtmfPacket, float]] = []
        while True:
            if not self._packets:
                if not self._pending or now < self._next_digit_at:
                    return out
                digit, duration_ms = self._pending.popleft()
                self._packets.extend(self._sender.schedule(digit, duration_ms))
                self._event_start = now
            packet = self._packets[0]
            if self._event_start + packet.offset_ms / 1000 > now + 0.001:
                return out
            self._packets.popleft()
            out.append((packet, self._event_start))
            if not self._packets:
                self._next_digit_at = now + DIGIT_GAP


Write = Callable[[bytearray, float], None]


class LocalSource:
    """The prompts and digits pbx originates on one stream, as RTP packets of their own SSRC.

    The packets go to ``write`` (the stream's send path, which rewrites them into the leg's
    outgoing SSRC/sequence/timestamp space). Their timestamps come from the clock, one timeline
    for prompts and digits, so the rewriter sees one well-behaved source. While a digit is
    being sent, prompt frames that fall due are skipped (the prompt keeps its own time).

    :param ssrc: the SSRC of the packets handed to ``write``.
    :param write: ``write(packet, now)``.
    """

    def __init__(self, ssrc: int, write: Write) -> None:
        self._ssrc = ssrc
        self._write = write
        self._seq = 0
        self._codec = ""
        self._pt = 0
        self._clock_rate = 8000
        self._frame_ms = 20
        self._dtmf_pt = -1
        self._dtmf = DtmfQueue()
        self._prompt: Prompt | None = None
        self._on_done: Callable[[], None] | None = None

    def configure(
        self,
        codec: str,
        payload_type: int,
        clock_rate: int,
        frame_ms: int,
        dtmf_pt: int | None,
        dtmf_clock_rate: int,
    ) -> None:
        """Take the negotiated format; a digit being sent is dropped if DTMF changed."""
        dtmf = -1 if dtmf_pt is None else dtmf_pt
        if (dtmf, dtmf_clock_rate, frame_ms) != (self._dtmf_pt, self._clock_rate, self._frame_ms):
            self._dtmf = DtmfQueue(dtmf_clock_rate, frame_ms)
        self._codec, self._pt, self._clock_rate = codec, payload_type, clock_rate
        self._frame_ms, self._dtmf_pt = frame_ms, dtmf

    @property
    def active(self) -> bool:
        """A prompt plays or a digit is being sent."""
        return self._prompt is not None or self._dtmf.active

    @property
    def playing(self) -> bool:
        return self._prompt is not None

    def play(self, payload: bytes, now: float, on_done: Callable[[], None]) -> None:
        """Start a prompt encoded in the configured codec (stopping one that plays).

        :raises MediaError: for a codec other than G.711.
        """
        if self._codec not in SILENCE:
            raise MediaError(f"cannot play to an {self._codec or 'unnegotiated'} leg")
        self.stop()
        samples = self._clock_rate * self._frame_ms // 1000
        self._prompt = Prompt(payload, samples, SILENCE[self._codec], now, self._frame_ms / 1000)
        self._on_done = on_done
        self.run(now)

    def stop(self) -> None:
        """Stop the prompt at once and run its ``on_done``; a no-op when none plays."""
        done, self._on_done = self._on_done, None
        self._prompt = None
        if done is not None:
            done()

    def send_dtmf(self, digit: str, duration_ms: int, now: float) -> None:
        """Queue one digit.

        :raises MediaError: no telephone-event payload type was negotiated.
        :raises ValueError: not a DTMF digit, or a bad duration.
        """
        if self._dtmf_pt < 0:
            raise MediaError("no telephone-event negotiated, cannot send DTMF")
        self._dtmf.add(digit, duration_ms)
        self.run(now)

    def clear(self) -> None:
        """Stop everything (the prompt's ``on_done`` runs)."""
        self._dtmf.clear()
        self.stop()

    def next_at(self) -> float | None:
        times = [t for t in (self._dtmf.next_at(), self._prompt_next()) if t is not None]
        return min(times) if times else None

    def _prompt_next(self) -> float | None:
        return self._prompt.next_at() if self._prompt is not None else None

    def run(self, now: float) -> None:
        """Send whatever is due at ``now``."""
        for packet, started in self._dtmf.due(now):
            self._send(packet.payload, self._dtmf_pt, self._ts(started), packet.marker, now)
        prompt = self._prompt
        if prompt is None:
            return
        base = self._ts(prompt.start)
        for frame in prompt.due(now):
            if not self._dtmf.active:
                ts = (base + frame.ts_offset) & 0xFFFFFFFF
                self._send(frame.payload, self._pt, ts, frame.ts_offset == 0, now)
        if prompt.done:
            self.stop()

    def _ts(self, when: float) -> int:
        return int(when * self._clock_rate) & 0xFFFFFFFF

    def _send(self, payload: bytes, pt: int, ts: int, marker: bool, now: float) -> None:
        self._seq = (self._seq + 1) & 0xFFFF
        packet = bytearray(12 + len(payload))
        RTP_HEADER.pack_into(
            packet, 0, 0x80, (0x80 if marker else 0) | pt, self._seq, ts, self._ssrc
        )
        packet[12:] = payload
        self._write(packet, now)
