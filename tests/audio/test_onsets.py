"""Click onsets in synthetic audio: exact positions, noise, a quiet background, clipping."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from nitrogen_capture.audio.onsets import find_onset_samples, find_onsets
from nitrogen_capture.errors import ConfigError

RATE = 48000


def click(amplitude: float = 12000.0, ms: float = 5.0,
          hz: float = 2000.0) -> npt.NDArray[np.float64]:
    """The demo's click: a sine burst starting at phase 0."""
    k = np.arange(int(RATE * ms / 1000))
    return np.asarray(amplitude * np.sin(2 * np.pi * hz * k / RATE))


def track(starts: list[int], n: int, noise: float = 40.0, seed: int = 1,
          background: npt.NDArray[np.float64] | None = None, amplitude: float = 12000.0,
          channels: int = 2) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, noise, n) if noise else np.zeros(n)
    if background is not None:
        x += background[:n]
    c = click(amplitude)
    for s in starts:
        x[s:s + len(c)] += c[:n - s]
    mono = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return np.repeat(mono[:, None], channels, axis=1)


STARTS = [4800, 9000, 9000 + 1500, 30000, 47000, 80001]  # 1500 samples = 31 ms apart


def test_exact_onsets_within_two_samples() -> None:
    found = find_onset_samples(track(STARTS, 96000), RATE)
    assert len(found) == len(STARTS)
    # Sample 0 of the burst is sin(0) = 0: the first audible sample is the next one.
    assert np.abs(found - np.array(STARTS)).max() <= 2


def test_times_are_session_ns() -> None:
    ns = find_onsets(track([24000], 48000, channels=1), RATE)
    assert len(ns) == 1
    assert abs(int(ns[0]) - 500_000_000) <= 2 * 1e9 / RATE


def test_digital_silence_and_noise_without_clicks_find_nothing() -> None:
    assert len(find_onset_samples(np.zeros((RATE, 2), np.int16), RATE)) == 0
    assert len(find_onset_samples(track([], RATE * 2, noise=200.0), RATE)) == 0
    assert len(find_onset_samples(np.zeros((0, 2), np.int16), RATE)) == 0


def test_loud_noise_still_finds_clicks() -> None:
    found = find_onset_samples(track(STARTS, 96000, noise=600.0, seed=7), RATE)
    assert len(found) == len(STARTS)
    assert np.abs(found - np.array(STARTS)).max() <= 4


def test_quiet_background_music() -> None:
    t = np.arange(96000) / RATE
    music = 1500.0 * np.sin(2 * np.pi * 220 * t) + 800.0 * np.sin(2 * np.pi * 331 * t)
    found = find_onset_samples(track(STARTS, 96000, background=music), RATE)
    assert len(found) == len(STARTS)
    assert np.abs(found - np.array(STARTS)).max() <= 5


def test_clipped_clicks() -> None:
    found = find_onset_samples(track(STARTS, 96000, amplitude=90000.0), RATE)
    assert len(found) == len(STARTS)
    assert np.abs(found - np.array(STARTS)).max() <= 2


def test_refractory_period_merges_a_ringing_click() -> None:
    # Two bursts 12.5 ms apart: one click and its ring within the refractory period.
    found = find_onset_samples(track([10000, 10600], 48000), RATE, refractory_ms=15)
    assert found.tolist() == pytest.approx([10000], abs=2)
    assert len(find_onset_samples(track([10000, 10600], 48000), RATE, refractory_ms=2)) == 2


def test_bad_settings_are_one_error() -> None:
    with pytest.raises(ConfigError, match="rate > 0"):
        find_onset_samples(np.zeros((10, 1), np.int16), 0)
