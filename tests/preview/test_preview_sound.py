"""``preview.mp4`` carries the session's sound, each click under the frame of its time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.preview import write_preview
from nitrogen_capture.session import merge_session
from recording import record_synthetic
from session_audio import add_audio, audio_samples

av = pytest.importorskip("av")

RATE = 48000
CLICKS_S = (0.40, 0.95, 1.30)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sound") / "s"
    record_synthetic(out, max_frames=96, fps=60.0, size=(160, 120))
    merge_session(out)
    add_audio(out, audio_samples(1.7, RATE, 2, CLICKS_S), RATE)
    return out


def _decode(path: Path) -> tuple[float, float, float, np.ndarray]:
    """(video rate, video seconds, audio seconds, mono audio samples from time 0)."""
    with av.open(str(path)) as inp:
        assert len(inp.streams.video) == 1 and len(inp.streams.audio) == 1
        v, a = inp.streams.video[0], inp.streams.audio[0]
        assert a.codec_context.name == "aac" and a.rate == RATE and a.channels == 2
        audio_s = a.duration * float(a.time_base)
        frames = sum(1 for _ in inp.decode(v))
        rate = float(v.average_rate)
    with av.open(str(path)) as inp:
        parts, first = [], None
        for f in inp.decode(inp.streams.audio[0]):
            first = f.time if first is None else first
            parts.append(f.to_ndarray().reshape(-1, 2).mean(axis=1))
    assert first == pytest.approx(0.0, abs=1e-6)  # the priming is an edit list, not a delay
    samples = np.concatenate(parts)
    return rate, frames / rate, audio_s, samples


def _onsets(x: np.ndarray, rate: int) -> list[float]:
    loud = np.flatnonzero(np.abs(x) > 0.25 * np.abs(x).max())
    starts = loud[np.concatenate(([True], np.diff(loud) > rate // 20))]
    return [i / rate for i in starts]


def test_clicks_play_under_their_frames(session: Path, tmp_path: Path) -> None:
    res = write_preview(session, tmp_path, width=160)
    assert res.video is not None
    fps, video_s, audio_s, x = _decode(res.video)
    assert abs(audio_s - video_s) < 1 / fps
    ts = np.load(session / "timestamps.npy") / 1e9
    shown = ts[list(res.rows)]
    onsets = _onsets(x, RATE)
    assert len(onsets) == len(CLICKS_S)
    for click, heard in zip(CLICKS_S, onsets, strict=True):
        k = int(np.argmin(np.abs(shown - click)))  # the output frame showing the click's time
        assert abs(heard - k / fps) <= 1 / fps, (click, heard, k / fps)


def test_every_other_frame_keeps_real_time(session: Path, tmp_path: Path) -> None:
    res = write_preview(session, tmp_path, width=160, every=2, start_s=0.3)
    assert res.video is not None
    fps, video_s, audio_s, x = _decode(res.video)
    assert fps == pytest.approx(30.0)
    assert abs(audio_s - video_s) < 1 / fps
    shown = np.load(session / "timestamps.npy")[list(res.rows)] / 1e9
    onsets = _onsets(x, RATE)
    assert len(onsets) == len(CLICKS_S)
    for click, heard in zip(CLICKS_S, onsets, strict=True):
        assert abs(heard - (click - shown[0])) <= 1 / fps


def test_no_audio_no_track(tmp_path: Path) -> None:
    out = tmp_path / "s"
    record_synthetic(out, max_frames=30, fps=60.0, size=(160, 120))
    merge_session(out)
    res = write_preview(out, tmp_path / "p", width=160)
    assert res.video is not None
    with av.open(str(res.video)) as inp:
        assert len(inp.streams.audio) == 0 and len(inp.streams.video) == 1
