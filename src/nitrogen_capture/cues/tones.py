"""The four cue sounds, generated with numpy and :mod:`wave` (the WAVs in ``data/`` are these).

``start`` (also played on resume) rises, ``pause`` is one low tone, ``stop`` falls over three
tones, ``losing`` (the recording started losing frames) is two short low beeps. Each is 16-bit
mono at :data:`RATE` Hz, at most 0.3 s, faded in and out so it does not click. The committed
files are regenerated (from the repository root) with::

    from nitrogen_capture.cues.tones import write_tones
    write_tones("src/nitrogen_capture/data")

and ``tests/cues/test_cues.py`` checks that they still equal this module's output.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

__all__ = ["RATE", "TONES", "tone_wav", "write_tones"]

RATE = 22_050
# Cue sound -> its notes (frequency in Hz, duration in s).
TONES: dict[str, tuple[tuple[float, float], ...]] = {
    "start": ((660.0, 0.07), (990.0, 0.09)),
    "pause": ((440.0, 0.14),),
    "stop": ((880.0, 0.07), (660.0, 0.07), (440.0, 0.12)),
    "losing": ((330.0, 0.06), (0.0, 0.05), (330.0, 0.06)),  # frequency 0: a silence
}
_FADE_S = 0.008
_VOLUME = 0.35


def _note(freq: float, seconds: float) -> np.ndarray:
    n = round(RATE * seconds)
    t = np.arange(n) / RATE
    env = np.minimum(1.0, np.minimum(t, t[::-1]) / _FADE_S)
    return np.sin(2 * np.pi * freq * t) * env


def tone_wav(name: str) -> bytes:
    """The WAV file of cue sound ``name`` (a key of :data:`TONES`)."""
    samples = np.concatenate([_note(f, s) for f, s in TONES[name]])
    pcm = np.round(samples * _VOLUME * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_tones(directory: str | Path) -> list[Path]:
    """Write ``cue_<name>.wav`` for every tone into ``directory``; return the paths."""
    out = []
    for name in TONES:
        path = Path(directory) / f"cue_{name}.wav"
        atomic_write(path, tone_wav(name))
        out.append(path)
    return out
