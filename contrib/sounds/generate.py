"""Generate pbx's sample prompts into this directory (committed; re-run to refresh them).

Voice prompts: Debian's ``espeak-ng`` (voice ``en-us``, 150 words/min) through ``sox`` to 8 kHz
mono μ-law WAV (8 KB/s; what ulaw legs send untouched). ``tone-1000hz``: exactly 1 s of a
1000 Hz sine at half scale, 16-bit PCM at 8 kHz, computed by ``pbx.media.tone.sine`` so it is
identical on every machine; audio tests detect it after a call's G.711 path.

Usage: ``python contrib/sounds/generate.py`` (needs espeak-ng and sox for the voice prompts).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pbx.media.tone import sine, write_wav  # noqa: E402

HERE = Path(__file__).resolve().parent

PROMPTS = {
    "hello-world": "Hello world.",
    "demo-congrats": "Congratulations. Your P B X is up and running.",
    "demo-echotest": "This is the echo test. Speak, and you will hear yourself. "
    "Press the pound key when done.",
    "vm-goodbye": "Goodbye.",
}


def speak(name: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
        out = HERE / f"{name}.wav"
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(out)], check=True
        )


def main() -> None:
    (HERE / "tone-1000hz.wav").write_bytes(write_wav(sine(1000, 1000), 8000))
    for name, text in PROMPTS.items():
        speak(name, text)
    for path in sorted(HERE.glob("*.wav")):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
