"""``convert --audio-features logmel``: ``audio_logmel`` in the .pt, the slice before each frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.audio.features import LogMelSpec, logmel, mel_filterbank
from nitrogen_capture.session import merge_session
from nitrogen_capture.session.audio_store import SessionAudio
from recording import record_synthetic
from session_audio import add_audio

torch = pytest.importorskip("torch")

RATE = 16000
TONE_HZ = 1000.0


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A 60 fps session whose audio is silent until 2 ms after row 40's time, then a tone."""
    out = tmp_path_factory.mktemp("ptaudio") / "s"
    record_synthetic(out, max_frames=90, fps=60.0, size=(64, 48))
    merge_session(out)
    ts = np.load(out / "timestamps.npy")
    onset = round((ts[40] / 1e9 + 0.002) * RATE)
    n = round((ts[-1] / 1e9 + 0.5) * RATE)
    x = np.zeros((n, 2), np.int16)
    t = np.arange(n - onset) / RATE
    x[onset:, 0] = x[onset:, 1] = (8000 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)
    add_audio(out, x, RATE)
    return out, onset


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_logmel_per_window(session: tuple[Path, int], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = session
    out = tmp_path / "x.pt"
    res = run_cli(capsys, "convert", "--root", str(root), "--out", str(out), "--seq-len", "4",
                  "--img-size", "16", "--audio-features", "logmel", "--no-progress")
    assert res.code == 0, res.err
    d = _load(out)
    mel, meta = d["audio_logmel"], d["meta"]
    spec = meta["audio_features"]
    assert spec["key"] == "audio_logmel" and spec["rate"] == RATE and spec["n_mels"] == 64
    assert spec["window_s"] == pytest.approx(1 / 60)
    m = d["obs"].shape[0]
    assert mel.dtype == torch.float32 and tuple(mel.shape) == (m, 64, spec["frames"])
    assert (spec["n_fft"], spec["hop"], spec["frames"]) == (512, 128, 3)  # ceil(266.7 / 128)
    rows = np.asarray(meta["windows"]["row"])
    silent = np.log(1e-10)
    fb = mel_filterbank(RATE, spec["n_fft"], 64)
    tone_band = int(np.argmax(fb[:, round(TONE_HZ * spec["n_fft"] / RATE)]))
    for i, row in enumerate(rows.tolist()):
        x = mel[i].numpy()
        if row <= 40:  # the slice ends at the frame's time: the tone after it is not heard
            assert np.allclose(x, silent), row
        elif row >= 42:
            assert int(np.argmax(x[:, -1])) == tone_band, row
            assert x[tone_band, -1] > silent + 20
    assert (rows <= 40).any() and (rows >= 42).any()


def test_logmel_matches_direct_stft() -> None:
    rate = 16000
    rng = np.random.default_rng(3)
    x = (rng.normal(0, 3000, (rate, 1))).astype(np.int16)
    audio = SessionAudio(x, rate)
    spec = LogMelSpec.make(rate, 0.02)
    t_ns = np.array([500_000_000])
    got = logmel(audio, t_ns, spec)[0]
    end = rate // 2
    fb = mel_filterbank(rate, spec.n_fft, spec.n_mels)
    for j in range(spec.frames):
        stop = end - spec.hop * (spec.frames - 1 - j)
        seg = x[stop - spec.n_fft:stop, 0] / 32768.0 * np.hanning(spec.n_fft)
        want = np.log(fb @ np.abs(np.fft.rfft(seg)) ** 2 + 1e-10)
        assert np.allclose(got[:, j], want, atol=1e-3)
    assert (fb.sum(axis=1) > 0).all()  # no empty band


def test_no_audio_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "s"
    record_synthetic(root, max_frames=40, fps=60.0, size=(64, 48))
    merge_session(root)
    res = run_cli(capsys, "convert", "--root", str(root), "--out", str(tmp_path / "x.pt"),
                  "--seq-len", "4", "--img-size", "16", "--audio-features", "logmel")
    res.one_line_error(1, "has no audio (recorded without --audio)",
                       "leave out --audio-features")
    assert not (tmp_path / "x.pt").exists()


def test_audio_features_only_for_pt(session: tuple[Path, int], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(capsys, "convert", "--root", str(session[0]), "--out", str(tmp_path / "d"),
                  "--format", "nitrogen-dataset", "--audio-features", "logmel")
    res.one_line_error(2, "--audio-features is for --format pt")


def test_audio_features_not_in_a_batch(session: tuple[Path, int], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(capsys, "convert", "--root", str(session[0].parent), "--recursive",
                  "--out", str(tmp_path / "x.pt"), "--audio-features", "logmel", "--no-progress")
    res.one_line_error(2, "--audio-features takes one session (--root), not a batch")
