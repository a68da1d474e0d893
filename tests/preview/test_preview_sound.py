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
CLICKS_S = (0.408, 0.958, 1.308)  # mid-frame: a tick is at every 1/60 s


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
            # AAC decodes to planar float (channels, n); a packed format is (1, n * channels)
            arr = f.to_ndarray()
            arr = arr.T if f.format.is_planar else arr.reshape(-1, 2)
            parts.append(arr.mean(axis=1))
    assert first == pytest.approx(0.0, abs=1e-6)  # the priming is an edit list, not a delay
    samples = np.concatenate(parts)
    return rate, frames / rate, audio_s, samples


def _onsets(x: np.ndarray, rate: int) -> list[float]:
    """Each click's time: the loudest sample of each loud stretch (lossy coding blurs a
    click's first samples, not its peak)."""
    mag = np.abs(x)
    loud = np.flatnonzero(mag > 0.25 * mag.max())
    groups = np.split(loud, np.flatnonzero(np.diff(loud) > rate // 20) + 1)
    return [int(g[np.argmax(mag[g])]) / rate for g in groups if len(g)]


def _check_heard(shown: np.ndarray, clicks: list[float] | tuple[float, ...], heard: list[float],
                 fps: float, frame_s: float) -> None:
    """Each click the video covers is heard at its frame's output time plus its offset in it.

    Output frame ``k`` covers session time ``[shown[k], shown[k] + frame_s)``; a click in a
    stretch no frame covers (dropped ticks on a loaded machine) is not heard, with the picture.
    """
    want: list[tuple[float, bool]] = []  # (output time, must be heard)
    for click in clicks:
        k = int(np.searchsorted(shown, click, side="right")) - 1
        into = click - shown[k] if k >= 0 else -1.0
        if 0 <= into < frame_s + 0.002:  # at a frame's edge the next grab's jitter decides
            want.append((k / fps + into, into < frame_s - 0.002))
    assert any(required for _, required in want), (clicks, shown[:3])
    for got in heard:
        assert min(abs(got - w) for w, _ in want) <= 1 / fps, (got, want)
    for w, required in want:
        if required:
            assert min(abs(got - w) for got in heard) <= 1 / fps, (w, heard)


def test_clicks_play_under_their_frames(session: Path, tmp_path: Path) -> None:
    res = write_preview(session, tmp_path, width=160)
    assert res.video is not None
    fps, video_s, audio_s, x = _decode(res.video)
    assert abs(audio_s - video_s) < 1 / fps
    ts = np.load(session / "timestamps.npy") / 1e9
    shown = ts[list(res.rows)]
    _check_heard(shown, CLICKS_S, _onsets(x, RATE), fps, 1 / 60)


def test_every_other_frame_keeps_real_time(session: Path, tmp_path: Path) -> None:
    res = write_preview(session, tmp_path, width=160, every=2, start_s=0.3)
    assert res.video is not None
    fps, video_s, audio_s, x = _decode(res.video)
    assert fps == pytest.approx(30.0)
    assert abs(audio_s - video_s) < 1 / fps
    shown = np.load(session / "timestamps.npy")[list(res.rows)] / 1e9
    _check_heard(shown, CLICKS_S, _onsets(x, RATE), fps, 2 / 60)


def test_no_audio_no_track(tmp_path: Path) -> None:
    out = tmp_path / "s"
    record_synthetic(out, max_frames=30, fps=60.0, size=(160, 120))
    merge_session(out)
    res = write_preview(out, tmp_path / "p", width=160)
    assert res.video is not None
    with av.open(str(res.video)) as inp:
        assert len(inp.streams.audio) == 0 and len(inp.streams.video) == 1


def test_recorded_audio_clicks_under_their_frames(tmp_path: Path) -> None:
    """A real ``record --audio`` (a device 400 ppm fast): each true click under its frame."""
    from nitrogen_capture.audio.base import AudioSettings

    out = tmp_path / "s"
    record_synthetic(out, max_frames=120, fps=60.0, size=(160, 120),
                     audio=AudioSettings(source="drift_ppm=400;click_s=0.3",
                                         backend="synthetic", rate=RATE, channels=2))
    merge_session(out)
    res = write_preview(out, tmp_path / "p", width=160)
    assert res.video is not None
    fps, video_s, audio_s, x = _decode(res.video)
    assert abs(audio_s - video_s) < 1 / fps
    shown = np.load(out / "timestamps.npy")[list(res.rows)] / 1e9
    # The session's own audio.flac: where merge put each click (the drift corrected).
    from nitrogen_capture.session.audio_store import read_session_audio

    audio = read_session_audio(out)
    assert audio is not None and audio.rate == RATE
    clicks = _onsets(audio.samples.mean(axis=1), RATE)
    assert len(clicks) >= 5
    _check_heard(shown, clicks, _onsets(x, RATE), fps, 1 / 60)
