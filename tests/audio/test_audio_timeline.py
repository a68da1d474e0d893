"""The audio chunk store and the session timeline: drift corrected, cuts kept, crash parts kept.

A simulated device whose clock runs 400 ppm fast delivers 10 ms blocks; arrivals are the true
time of the block's last sample plus a positive scheduling delay (a few ms, sometimes 30 ms).
The rendered session audio must put every click at its true session time within 1 ms, where the
nominal rate alone would be off by 400 ppm (24 ms after 60 s).
"""

from __future__ import annotations

import numpy as np
import pytest

from nitrogen_capture.audio.clockmap import fit_runs
from nitrogen_capture.audio.timeline import render
from nitrogen_capture.errors import SessionFormatError
from nitrogen_capture.session.audio_store import (
    AudioChunkWriter,
    audio_chunks,
    audio_files,
    open_parts,
    read_audio_chunk,
    recover_audio_parts,
)
from nitrogen_capture.session.paths import SessionPaths

RATE = 16000
DRIFT_PPM = 400.0
T_OPEN_NS = 250_000_000  # the device's sample 0 is at 0.25 s session time


def _device(seconds: float, seed: int = 0, *, bursts: bool = False, drop: tuple[float, float]
            | None = None):
    """(samples, arrivals): blocks of 10 ms from a drifting device with clicks every 0.5 s.

    ``bursts``: the server hands blocks over in bursts every 2 s (each block arrives at the
    burst's end, up to 2 s late), as PulseAudio's null-sink monitor does. ``drop`` ``(at_s,
    gap_s)``: the server drops ``gap_s`` of samples at ``at_s``: the device's later samples
    arrive that much later for good (the stored index runs on without them).
    """
    rng = np.random.default_rng(seed)
    true_rate = RATE * (1 + DRIFT_PPM / 1e6)
    n = int(seconds * RATE)
    samples = rng.normal(0, 30, (n, 1))
    click_at = np.arange(0, n, RATE // 2)  # every 0.5 s of device time
    for k in click_at:
        samples[k:k + 40, 0] += 10000
    blocks = []
    shift = np.zeros(n)  # how much later than sample index / rate each sample really is
    if drop is not None:
        shift[int(drop[0] * RATE):] = drop[1] * 1e9
    for start in range(0, n - 160, 160):
        end = start + 160
        t_true = T_OPEN_NS + (end - 1) * 1e9 / true_rate + shift[end - 1]
        delay = rng.exponential(2e6) + (30e6 if rng.random() < 0.02 else 0)
        if bursts:
            delay += 2e9 - (t_true % 2e9)
        blocks.append((start, end, int(t_true + delay)))
    clicks_ns = T_OPEN_NS + click_at * 1e9 / true_rate + shift[click_at]
    return samples.astype(np.int16), blocks, clicks_ns


def _write(paths, samples, blocks, chunk_of, keep=lambda t: True):
    writers = {}
    for start, end, t in blocks:
        if not keep(t):
            continue
        c = chunk_of(t)
        if c not in writers:
            for w in writers.values():
                w.finish(RATE)
            writers.clear()
            writers[c] = AudioChunkWriter(paths, c, 1)
        writers[c].append(samples[start:end], 0, start, end, t)
    return writers


def _onsets(audio, rate):
    loud = np.abs(audio[:, 0].astype(np.int32)) > 5000
    edges = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    return edges * 1e9 / rate


def test_drift_is_measured_and_corrected_across_chunks(tmp_path):
    paths = SessionPaths(tmp_path)
    samples, blocks, clicks = _device(60.0)
    left = _write(paths, samples, blocks, lambda t: 1 + int(t // 20e9))
    for w in left.values():
        w.finish(RATE)
    assert audio_chunks(paths) == [1, 2, 3, 4] and open_parts(paths) == []
    chunks = [read_audio_chunk(paths, c) for c in audio_chunks(paths)]
    fit = fit_runs(np.concatenate([c.pieces for c in chunks]), RATE)[0]
    assert abs(fit.drift_ppm - DRIFT_PPM) < 20
    audio, _ = render(chunks, RATE, 1)
    found = _onsets(audio, RATE)
    assert len(found) == len(clicks)
    err_ms = np.abs(found - clicks) / 1e6
    assert err_ms.max() < 1.0, err_ms.max()
    # What assuming the nominal rate would give at the end: the drift the fit removed.
    assert (clicks[-1] - T_OPEN_NS) * DRIFT_PPM / 1e6 / 1e6 > 20


def test_cuts_stay_silent_and_the_rest_in_place(tmp_path):
    paths = SessionPaths(tmp_path)
    samples, blocks, clicks = _device(20.0, seed=1)
    cut = (8e9, 12e9)
    left = _write(paths, samples, blocks, lambda t: 1, keep=lambda t: not cut[0] <= t < cut[1])
    for w in left.values():
        w.finish(RATE)
    audio, _ = render([read_audio_chunk(paths, 1)], RATE, 1, end_ns=21_000_000_000)
    assert len(audio) == 21 * RATE
    a, b = int(cut[0] * RATE / 1e9) + 200, int(cut[1] * RATE / 1e9) - 200
    assert not audio[a:b].any()
    found = _onsets(audio, RATE)
    expected = clicks[(clicks < cut[0] - 20e6) | (clicks > cut[1] + 20e6)]
    assert len(found) == len(expected)
    assert np.abs(found - expected).max() / 1e6 < 1.0


def test_a_kill_leaves_parts_that_recover_to_whole_rows(tmp_path):
    paths = SessionPaths(tmp_path)
    samples, blocks, _ = _device(3.0, seed=2)
    writers = _write(paths, samples, blocks, lambda t: 1)
    w = writers[1]
    w.flush()
    w.abandon()
    files = audio_files(paths, 1)
    # The kill came mid-write: half a row and a few samples past the last whole row.
    with open(files.blocks_part, "ab") as f:
        f.write(b"\x01" * 17)
    with open(files.pcm_part, "ab") as f:
        f.write(b"\x00" * 33)
    assert open_parts(paths) == [1]
    assert recover_audio_parts(paths, RATE, 1) == [1]
    chunk = read_audio_chunk(paths, 1)
    assert len(chunk.samples) == w.samples == len(chunk.pieces) * 160
    np.testing.assert_array_equal(chunk.samples, samples[:len(chunk.samples)])
    assert not files.pcm_part.exists() and not files.blocks_part.exists()


def test_rows_that_disagree_with_the_samples_are_refused(tmp_path):
    paths = SessionPaths(tmp_path)
    samples, blocks, _ = _device(1.0, seed=3)
    for w in _write(paths, samples, blocks, lambda t: 1).values():
        w.finish(RATE)
    files = audio_files(paths, 1)
    pieces = np.load(files.blocks)
    pieces[0, 2] += 1
    np.save(files.blocks, pieces)
    with pytest.raises(SessionFormatError, match="samples but piece rows"):
        read_audio_chunk(paths, 1)


def test_bursts_are_late_arrivals_not_lost_sound(tmp_path):
    paths = SessionPaths(tmp_path)
    samples, blocks, clicks = _device(30.0, seed=4, bursts=True)
    for w in _write(paths, samples, blocks, lambda t: 1).values():
        w.finish(RATE)
    chunk = read_audio_chunk(paths, 1)
    fit = fit_runs(chunk.pieces, RATE)[0]
    assert fit.steps == () and fit.lost_ns == 0
    assert abs(fit.drift_ppm - DRIFT_PPM) < 40
    audio, _ = render([chunk], RATE, 1)
    err = np.abs(_onsets(audio, RATE) - clicks) / 1e6
    # A burst's last block is the least delayed arrival: dated to within a block (10 ms).
    assert err.max() < 12.0, err.max()


def test_samples_the_server_dropped_get_their_own_intercept(tmp_path):
    paths = SessionPaths(tmp_path)
    samples, blocks, clicks = _device(30.0, seed=5, drop=(12.3, 0.3))
    for w in _write(paths, samples, blocks, lambda t: 1).values():
        w.finish(RATE)
    chunk = read_audio_chunk(paths, 1)
    fit = fit_runs(chunk.pieces, RATE)[0]
    assert len(fit.steps) == 1 and abs(fit.lost_ns / 1e6 - 300) < 5
    assert abs(fit.steps[0][0] - 12.3 * RATE) <= 160  # at the block of the drop
    audio, _ = render([chunk], RATE, 1)
    found = _onsets(audio, RATE)
    assert len(found) == len(clicks)
    assert (np.abs(found - clicks) / 1e6).max() < 1.0
