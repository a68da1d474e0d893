"""Give a merged test session its audio by hand: ``audio.flac`` plus the meta.json ``audio`` object.

Independent of the recorder (as session_factory.py is of the writer): the downstream readers
are tested against docs/audio.md's contract, sample ``n`` at ``n / rate`` s after ``clock.t0_ns``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nitrogen_capture.session.audio_store import AUDIO_MERGED, write_flac
from nitrogen_capture.session.meta import SessionMeta
from nitrogen_capture.session.meta_audio import AudioInfo
from nitrogen_capture.session.paths import SessionPaths

CLICK_S = 0.004  # a click's length
LEVEL = 200  # the hiss under everything recorded (silence is 0: cut or never recorded)


def audio_samples(seconds: float, rate: int, channels: int, clicks_s: Sequence[float] = (),
                  cut: Sequence[tuple[float, float]] = (), seed: int = 0) -> np.ndarray:
    """int16 ``(n, channels)``: a low hiss, loud clicks at ``clicks_s``, zeros over ``cut``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    x = rng.normal(0, LEVEL, (n, channels))
    for t in clicks_s:
        a = round(t * rate)
        x[a:a + round(CLICK_S * rate)] = 20000
    for lo, hi in cut:
        x[round(lo * rate):round(hi * rate)] = 0
    return np.clip(x, -32768, 32767).astype(np.int16)


def add_audio(root: Path, samples: np.ndarray, rate: int, *, cut_s: float = 0.0,
              lost: Sequence[dict[str, object]] = (), drift_ppm: float = 35.0) -> AudioInfo:
    """Write ``samples`` as the session's ``audio.flac`` and its meta.json ``audio`` object."""
    write_flac(root / AUDIO_MERGED, samples, rate)
    channels = int(samples.shape[1])
    info = AudioInfo(
        rate=rate, channels=channels,
        source={"backend": "synthetic", "id": "test", "name": "test clicks", "kind": "monitor"},
        settings={"source": "synthetic", "backend": "synthetic", "block_ms": 10},
        runs=({"run": 0, "rate": rate * (1 + drift_ppm / 1e6), "drift_ppm": drift_ppm,
               "t0_ns": 0, "observations": 100,
               "jitter_ms": {"p50": 0.1, "p99": 0.4, "max": 0.5}},),
        stats={"recorded_s": len(samples) / rate - cut_s, "cut_s": cut_s, "lost_s": 0.0,
               "device_lost": list(lost), "reopened": 0, "stalls": 0, "chunks": 1},
        status="lost" if lost else "ok",
        merged={"file": AUDIO_MERGED, "samples": len(samples), "seconds": len(samples) / rate})
    paths = SessionPaths(root)
    meta = SessionMeta.load(paths.meta)
    dataclasses.replace(meta, audio=info).save(paths.meta)
    return info
