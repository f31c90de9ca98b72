"""Audio signal helpers for Playback and tests: tones, tone detection, WAV files, resampling.

Pure Python on 16-bit mono samples (``array('h')``), meant for control-rate work: a prompt is
read, resampled to 8 kHz and encoded *once*, then sent frame by frame; tests generate tones
and check what came out of a bridge.

* :func:`sine`, :func:`goertzel_power`, :func:`dominant_frequency`, :func:`detect_tone`.
* :func:`read_wav` / :func:`write_wav`: 16-bit PCM mono at 8, 16 or 48 kHz through the stdlib
  :mod:`wave`, plus G.711 WAV (format tag 7 μ-law, 6 A-law), which :mod:`wave` refuses, by
  walking the RIFF chunks here.
* :func:`resample_to_8k`: decimation from 16/48 kHz with a windowed-sinc low-pass (Hamming,
  3.6 kHz cutoff, flat to 3 kHz), good enough for prompts, not for music.
"""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from array import array
from dataclasses import dataclass
from operator import mul
from typing import Final, Literal

from pbx.core.errors import MediaError
from pbx.media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

SUPPORTED_RATES: Final = (8000, 16000, 48000)

WAVE_FORMAT_PCM: Final = 1
WAVE_FORMAT_ALAW: Final = 6
WAVE_FORMAT_MULAW: Final = 7

WavEncoding = Literal["pcm16", "ulaw", "alaw"]


def sine(freq: float, ms: int, rate: int = 8000, amplitude: float = 0.5) -> array[int]:
    """``ms`` milliseconds of a sine at ``freq`` Hz; ``amplitude`` is a fraction of full scale."""
    n = rate * ms // 1000
    scale = amplitude * 32767
    step = 2 * math.pi * freq / rate
    return array("h", (round(scale * math.sin(step * i)) for i in range(n)))


def goertzel_power(samples: array[int] | list[int], freq: float, rate: int) -> float:
    """Squared magnitude of the DFT of ``samples`` at ``freq`` (Goertzel; any frequency,
    not only bin centres). A full-scale-``A`` sine at ``freq`` over N samples gives ~(A*N/2)²."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def dominant_frequency(
    samples: array[int] | list[int], rate: int, candidates: list[float] | tuple[float, ...]
) -> float:
    """The candidate frequency with the most energy in ``samples``."""
    if not candidates:
        raise ValueError("no candidate frequencies")
    return max(candidates, key=lambda f: goertzel_power(samples, f, rate))


def detect_tone(
    samples: array[int] | list[int], rate: int, freq: float, min_ratio: float = 0.5
) -> bool:
    """Whether a tone at ``freq`` carries at least ``min_ratio`` of the total energy.

    The ratio ``2 * power / (N * energy)`` is 1 for a pure sine at ``freq`` (Parseval) and
    near 0 for silence, noise or a tone elsewhere.
    """
    energy = float(sum(x * x for x in samples))
    if not samples or energy == 0:
        return False
    ratio = 2 * goertzel_power(samples, freq, rate) / (len(samples) * energy)
    return ratio >= min_ratio


@dataclass(frozen=True)
class Audio:
    """Decoded mono audio: 16-bit linear samples at ``rate`` Hz."""

    rate: int
    samples: array[int]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate


def _native(samples: array[int]) -> array[int]:
    # WAV is little-endian; array('h') is native.
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def _chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise MediaError("not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    off = 12
    while off + 8 <= len(data):
        cid, size = struct.unpack_from("<4sI", data, off)
        body = data[off + 8 : off + 8 + size]
        if len(body) < size and cid != b"data":
            raise MediaError(f"WAV chunk {cid!r} truncated")
        chunks.setdefault(cid, body)
        # Chunks are word-aligned: an odd size is followed by a pad byte.
        off += 8 + size + (size & 1)
    if b"fmt " not in chunks or b"data" not in chunks:
        raise MediaError("WAV file without fmt or data chunk")
    return chunks


def read_wav(data: bytes) -> Audio:
    """Decode a mono WAV file: 16-bit PCM, μ-law or A-law, at 8, 16 or 48 kHz.

    :raises MediaError: for other formats, channel counts or rates, or a malformed file.
    """
    chunks = _chunks(data)
    fmt = chunks[b"fmt "]
    if len(fmt) < 16:
        raise MediaError("WAV fmt chunk too short")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if channels != 1:
        raise MediaError(f"WAV has {channels} channels; only mono is supported")
    if rate not in SUPPORTED_RATES:
        raise MediaError(f"WAV sample rate {rate} Hz not supported (8000, 16000, 48000)")
    if tag == WAVE_FORMAT_PCM:
        if bits != 16:
            raise MediaError(f"WAV PCM with {bits} bits; only 16-bit is supported")
        try:
            with wave.open(io.BytesIO(data), "rb") as w:
                frames = w.readframes(w.getnframes())
        except (wave.Error, EOFError) as e:
            raise MediaError(f"bad WAV file: {e}") from e
        return Audio(rate, _native(array("h", frames)))
    if tag in (WAVE_FORMAT_MULAW, WAVE_FORMAT_ALAW):
        if bits != 8:
            raise MediaError(f"G.711 WAV with {bits} bits per sample")
        decode = ulaw_decode if tag == WAVE_FORMAT_MULAW else alaw_decode
        return Audio(rate, array("h", decode(chunks[b"data"])))
    raise MediaError(f"WAV format tag {tag:#x} not supported (PCM, A-law, mu-law)")


def write_wav(samples: array[int], rate: int, encoding: WavEncoding = "pcm16") -> bytes:
    """Encode mono 16-bit samples as a WAV file: 16-bit PCM (via :mod:`wave`), or μ-law /
    A-law (format tag 7 / 6, with the ``fact`` chunk non-PCM files carry)."""
    if encoding == "pcm16":
        out = io.BytesIO()
        little = array("h", samples)
        if sys.byteorder != "little":
            little.byteswap()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(little.tobytes())
        return out.getvalue()
    if encoding == "ulaw":
        tag, payload = WAVE_FORMAT_MULAW, ulaw_encode(samples.tobytes())
    else:
        tag, payload = WAVE_FORMAT_ALAW, alaw_encode(samples.tobytes())
    fmt = struct.pack("<HHIIHHH", tag, 1, rate, rate, 1, 8, 0)
    body = b"".join(
        (
            b"WAVE",
            struct.pack("<4sI", b"fmt ", len(fmt)),
            fmt,
            struct.pack("<4sII", b"fact", 4, len(payload)),
            struct.pack("<4sI", b"data", len(payload)),
            payload,
            b"\0" * (len(payload) & 1),
        )
    )
    return struct.pack("<4sI", b"RIFF", len(body)) + body


_CUTOFF_HZ: Final = 3600.0


def _lowpass(rate: int, taps: int) -> list[float]:
    centre = (taps - 1) / 2
    coeffs = []
    for i in range(taps):
        x = i - centre
        if x == 0:
            h = 2 * _CUTOFF_HZ / rate
        else:
            h = math.sin(2 * math.pi * _CUTOFF_HZ * x / rate) / (math.pi * x)
        coeffs.append(h * (0.54 - 0.46 * math.cos(2 * math.pi * i / (taps - 1))))
    gain = sum(coeffs)
    return [c / gain for c in coeffs]


def resample_to_8k(samples: array[int], rate: int) -> array[int]:
    """Decimate 16 or 48 kHz audio to 8 kHz (low-pass, then keep every 2nd / 6th sample).

    :raises MediaError: for a rate that is not 8000, 16000 or 48000.
    """
    if rate == 8000:
        return array("h", samples)
    if rate not in SUPPORTED_RATES:
        raise MediaError(f"cannot resample {rate} Hz to 8 kHz")
    factor = rate // 8000
    # 32 taps per output sample: ~0.8 kHz transition band, ~50 dB stopband (Hamming).
    taps = _lowpass(rate, 32 * factor + 1)
    half = len(taps) // 2
    padded = [0] * half + list(samples) + [0] * half
    n = len(taps)
    out = array("h")
    for i in range(0, len(samples), factor):
        value = round(sum(map(mul, taps, padded[i : i + n])))
        out.append(max(-32768, min(32767, value)))
    return out
