"""Sound prompts by name, as Asterisk's file streams find them (``main/file.c``).

``Playback(hello-world)`` names a prompt without extension; :class:`SoundLibrary` looks for
``<name>.<ext>`` in each sound directory in order (a name may hold sub-directories,
``digits/1``, or be an absolute path), trying the formats of :data:`FORMATS`, and decodes the
first file found to 16-bit mono PCM at 8 kHz (:mod:`pbx.media.tone` reads WAV and resamples
16/48 kHz). Decoded prompts are cached by name; :meth:`SoundLibrary.clear` forgets them (after
the files changed). The media leg encodes the PCM into its codec when it plays it.

Formats: ``wav`` (16-bit PCM, μ-law or A-law; 8, 16 or 48 kHz), ``ulaw``/``alaw`` (raw G.711 at
8 kHz), ``sln`` (raw signed 16-bit little-endian at 8 kHz, Asterisk's "slinear"), ``sln16`` and
``sln48`` (the same at 16 and 48 kHz).
"""

from __future__ import annotations

import logging
import os
import sys
from array import array
from collections.abc import Callable, Sequence

from pbx.core.errors import MediaError
from pbx.media.codecs.g711 import alaw_decode, ulaw_decode
from pbx.media.tone import read_wav, resample_to_8k

log = logging.getLogger(__name__)

RATE = 8000


def _wav(data: bytes) -> tuple[array[int], int]:
    audio = read_wav(data)
    return audio.samples, audio.rate


def _g711(decode: Callable[[bytes], bytes]) -> Callable[[bytes], tuple[array[int], int]]:
    def read(data: bytes) -> tuple[array[int], int]:
        return array("h", decode(data)), RATE

    return read


def _slinear(rate: int) -> Callable[[bytes], tuple[array[int], int]]:
    def read(data: bytes) -> tuple[array[int], int]:
        samples = array("h", data[: len(data) // 2 * 2])
        if sys.byteorder != "little":
            samples.byteswap()
        return samples, rate

    return read


#: Extension -> reader, in the order files are looked for.
FORMATS: dict[str, Callable[[bytes], tuple[array[int], int]]] = {
    "wav": _wav,
    "ulaw": _g711(ulaw_decode),
    "alaw": _g711(alaw_decode),
    "sln": _slinear(8000),
    "sln16": _slinear(16000),
    "sln48": _slinear(48000),
}


class SoundLibrary:
    """Prompts found under ``dirs`` (searched in order), decoded once.

    :param dirs: sound directories, e.g. ``["/var/lib/pbx/sounds/en", "contrib/sounds"]``.
    """

    def __init__(self, dirs: Sequence[str]) -> None:
        self.dirs = tuple(dirs)
        self._cache: dict[str, array[int]] = {}

    def find(self, name: str) -> str | None:
        """The path of the file that plays as ``name``, ``None`` when there is none."""
        if not name or name.endswith("/"):
            return None
        bases = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in self.dirs]
        for base in bases:
            for ext in FORMATS:
                path = f"{base}.{ext}"
                if os.path.isfile(path):
                    return path
        return None

    def load(self, name: str) -> tuple[array[int], int] | None:
        """``(samples, 8000)`` for the prompt ``name``, or ``None`` when no file exists.

        :raises MediaError: the file exists but cannot be decoded (the message names it).
        """
        cached = self._cache.get(name)
        if cached is not None:
            return cached, RATE
        path = self.find(name)
        if path is None:
            return None
        samples = self.decode(path)
        self._cache[name] = samples
        return samples, RATE

    def decode(self, path: str) -> array[int]:
        """Read and decode one file (its extension says the format) to 8 kHz PCM.

        :raises MediaError: unreadable, unknown extension, or undecodable.
        """
        ext = path.rsplit(".", 1)[-1].lower()
        reader = FORMATS.get(ext)
        if reader is None:
            raise MediaError(f"{path}: unknown sound format {ext!r}")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise MediaError(f"{path}: {exc.strerror}") from None
        try:
            samples, rate = reader(data)
            return resample_to_8k(samples, rate)
        except MediaError as exc:
            raise MediaError(f"{path}: {exc}") from None

    def clear(self) -> None:
        """Forget every decoded prompt."""
        self._cache.clear()
