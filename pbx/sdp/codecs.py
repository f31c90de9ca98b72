"""Codec registry: Asterisk codec names <-> SDP encodings.

Owns the mapping between the names a ``sip.conf`` ``allow=`` list uses (``ulaw``, ``opus`` ...)
and what appears on an ``m=`` line: static payload types (RFC 3551 §6, Table 4), ``a=rtpmap``
encodings, and the payload types pbx uses when it writes an offer.  Also recognises the
non-codec formats that ride on an audio ``m=`` line: ``telephone-event`` (RFC 4733 §2.1), comfort
noise ``CN`` (RFC 3389) and ``red`` (RFC 2198).

It does not parse ``allow``/``disallow`` (the config layer resolves those into an ordered list of
names) and does not choose the answer (:mod:`pbx.sdp.negotiator` does).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from pbx.sdp.model import MediaDescription, RtpMap


@dataclass(frozen=True)
class Codec:
    """One codec (or telephone-event) as pbx writes it into SDP.

    :param name: the Asterisk name (``ulaw``).
    :param encoding: the SDP encoding name (``PCMU``).
    :param clock_rate: the RTP clock rate (G.722 says 8000, RFC 3551 §4.5.2).
    :param channels: the rtpmap encoding parameter, only where the codec requires it (opus: 2,
        RFC 7587 §7).
    :param offer_pt: the payload type pbx uses when it offers this codec.
    :param fmtp: the ``a=fmtp`` parameters pbx sends with this codec, if any.
    :param static: whether ``offer_pt`` is a static RFC 3551 assignment (matches without rtpmap).
    """

    name: str
    encoding: str
    clock_rate: int
    offer_pt: int
    channels: int | None = None
    fmtp: str | None = None
    static: bool = False

    @property
    def rtpmap(self) -> RtpMap:
        """The ``a=rtpmap`` pbx writes for this codec with its offer PT."""
        return self.rtpmap_for(self.offer_pt)

    def rtpmap_for(self, payload_type: int) -> RtpMap:
        params = None if self.channels is None else str(self.channels)
        return RtpMap(payload_type, self.encoding, self.clock_rate, params)

    def matches(self, encoding: str, clock_rate: int, channels: int) -> bool:
        """Whether an offered ``encoding/clock_rate[/channels]`` is this codec.

        Encoding names compare case-insensitively (RFC 4855 §3); a missing channel count
        means one channel (RFC 8866 §6.6).
        """
        return (
            encoding.lower() == self.encoding.lower()
            and clock_rate == self.clock_rate
            and channels == (self.channels or 1)
        )


AUDIO_CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        Codec("ulaw", "PCMU", 8000, 0, static=True),
        Codec("alaw", "PCMA", 8000, 8, static=True),
        Codec("g722", "G722", 8000, 9, static=True),
        Codec("gsm", "GSM", 8000, 3, static=True),
        # Annex B (VAD/CNG) off, as Asterisk offers it: its g729 codec does not do CNG.
        Codec("g729", "G729", 8000, 18, fmtp="annexb=no", static=True),
        # Dynamic; 111 is the PT browsers use, so relayed opus keeps its number.
        Codec("opus", "opus", 48000, 111, channels=2, fmtp="minptime=10;useinbandfec=1"),
    )
}
"""Audio codecs pbx can put on an ``m=audio`` line, by Asterisk name."""

TELEPHONE_EVENT = Codec("telephone-event", "telephone-event", 8000, 101, fmtp="0-16")
"""RFC 4733 DTMF events as pbx offers them: PT 101, events 0-16 (what Asterisk offers)."""

TELEPHONE_EVENT_48K = dataclasses.replace(TELEPHONE_EVENT, clock_rate=48000, offer_pt=110)
"""The same on opus's 48 kHz clock (RFC 4733 §2.1), on PT 110 as browsers offer it. Received
SDP resolves both rates to :data:`TELEPHONE_EVENT` (:class:`OfferedFormat` keeps the rate)."""

G711 = frozenset({"ulaw", "alaw"})
"""The codecs for which an offer carries ``a=ptime:20``."""

NON_CODEC_ENCODINGS = frozenset({"telephone-event", "cn", "red"})
"""Encodings that are not voice codecs (lower case): left out of "offer has only ..." reasons."""

# RFC 3551 Table 4: static audio payload types (encoding, clock rate, channels).
STATIC_AUDIO_PTS: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
}


@dataclass(frozen=True)
class OfferedFormat:
    """One payload type of a received ``m=`` line, resolved to an encoding where possible.

    :param encoding: from ``a=rtpmap``, else from the static table, else ``None`` (a dynamic PT
        without rtpmap, which no codec can match).
    :param codec: the registry entry it matches (an audio codec or telephone-event), if any.
    """

    payload_type: int
    encoding: str | None
    clock_rate: int
    channels: int
    codec: Codec | None

    @property
    def label(self) -> str:
        """How the format is named in a NotAcceptable reason: the encoding as offered."""
        return self.encoding if self.encoding is not None else str(self.payload_type)


def offered_formats(md: MediaDescription) -> list[OfferedFormat]:
    """Resolve every RTP payload type of ``md`` in ``m=`` line order.

    A rtpmap wins over the static table (RFC 8866 §6.6); non-numeric formats are skipped.
    """
    rtpmaps = md.rtpmaps()
    result = []
    for pt in md.payload_types:
        rtpmap = rtpmaps.get(pt)
        if rtpmap is not None:
            encoding, rate, channels = rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels
        elif pt in STATIC_AUDIO_PTS:
            encoding, rate, channels = STATIC_AUDIO_PTS[pt]
        else:
            result.append(OfferedFormat(pt, None, 0, 0, None))
            continue
        result.append(
            OfferedFormat(pt, encoding, rate, channels, _identify(encoding, rate, channels))
        )
    return result


@functools.lru_cache(maxsize=256)  # the same few formats in every call's offer and answer
def _identify(encoding: str, clock_rate: int, channels: int) -> Codec | None:
    for codec in AUDIO_CODECS.values():
        if codec.matches(encoding, clock_rate, channels):
            return codec
    if encoding.lower() == TELEPHONE_EVENT.encoding and clock_rate in (8000, 48000):
        return TELEPHONE_EVENT
    return None


def joint_codecs(
    offered: Sequence[OfferedFormat], allowed: Sequence[str]
) -> list[tuple[Codec, int]]:
    """Codecs in ``allowed`` order that the offer also has, each with the offer's first PT.

    Names pbx has no SDP mapping for (video codecs in an allow list, typos) never match.
    """
    result = []
    for name in allowed:
        codec = AUDIO_CODECS.get(name)
        for fmt in offered:
            if codec is not None and fmt.codec is codec:
                result.append((codec, fmt.payload_type))
                break
    return result


def telephone_event(offered: Sequence[OfferedFormat], clock_rate: int) -> OfferedFormat | None:
    """The offered telephone-event to answer with, given the first joint codec's clock rate.

    RFC 4733 §2.1 ties the event clock to the audio clock, so a ``telephone-event/48000`` goes
    with opus and ``/8000`` with G.711; failing that, the first one offered.
    """
    events = [f for f in offered if f.codec is TELEPHONE_EVENT]
    for fmt in events:
        if fmt.clock_rate == clock_rate:
            return fmt
    return events[0] if events else None


def offered_codec_labels(offered: Sequence[OfferedFormat]) -> list[str]:
    """The voice encodings of an offer as offered, without duplicates or non-codec formats."""
    labels: list[str] = []
    for fmt in offered:
        label = fmt.label
        if label.lower() not in NON_CODEC_ENCODINGS and label not in labels:
            labels.append(label)
    return labels
