"""Tone files for the desk phones' microphones, and the checks run on what a phone recorded.

A phone plays :func:`write_tone_wav` (a steady sine, 16-bit mono 8 kHz: what baresip's ``aufile``
source accepts at ``ausrc_srate 8000``) and records what it receives. The recording starts when
the first packet is decoded and can begin with silence or comfort noise, so the checks never
look at the whole file at once: :func:`tone_seconds` cuts it into 100 ms windows and counts the
windows in which a tone carries most of the energy (:func:`pbx.media.tone.detect_tone`), and
:func:`describe_audio` prints a per-window summary for assertion messages.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

from pbx.media.tone import detect_tone, dominant_frequency, sine, write_wav

RATE = 8000
WINDOW_MS = 100
#: RMS below this (of 32767) is treated as silence: a G.711 idle pattern or comfort noise.
SILENCE_RMS = 300.0


def write_tone_wav(path: Path, freq: float, seconds: float = 30.0, rate: int = RATE) -> Path:
    """Write ``seconds`` of a ``freq`` Hz sine at half scale to ``path`` (16-bit PCM WAV)."""
    path.write_bytes(write_wav(sine(freq, int(seconds * 1000), rate), rate))
    return path


def _windows(samples: Sequence[int], rate: int) -> list[array[int]]:
    size = rate * WINDOW_MS // 1000
    return [array("h", samples[i : i + size]) for i in range(0, len(samples) - size + 1, size)]


def _rms(window: Sequence[int]) -> float:
    return float((sum(x * x for x in window) / len(window)) ** 0.5) if window else 0.0


def tone_seconds(samples: Sequence[int], rate: int, freq: float) -> float:
    """Seconds of 100 ms windows in which ``freq`` carries at least half the energy."""
    hits = sum(1 for w in _windows(samples, rate) if detect_tone(w, rate, freq))
    return hits * WINDOW_MS / 1000


def voiced_seconds(samples: Sequence[int], rate: int) -> float:
    """Seconds of 100 ms windows louder than :data:`SILENCE_RMS`."""
    loud = sum(1 for w in _windows(samples, rate) if _rms(w) > SILENCE_RMS)
    return loud * WINDOW_MS / 1000


def describe_audio(samples: Sequence[int], rate: int, candidates: Sequence[float]) -> str:
    """One line per half second: RMS and the strongest of ``candidates`` (for failures)."""
    if not samples:
        return "no audio recorded"
    lines = [f"{len(samples) / rate:.2f} s at {rate} Hz"]
    half = rate // 2
    for start in range(0, len(samples), half):
        chunk = array("h", samples[start : start + half])
        strongest = dominant_frequency(chunk, rate, list(candidates))
        lines.append(
            f"  {start / rate:5.1f} s  rms {_rms(chunk):7.0f}  strongest {strongest:g} Hz"
            f"  tone={detect_tone(chunk, rate, strongest)}"
        )
    return "\n".join(lines)
