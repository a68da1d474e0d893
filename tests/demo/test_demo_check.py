"""Tier 0 tests of the demo's pieces that need no display: overlay, script, comparison logic."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from nitrogen_capture.demo import markers, xvfb
from nitrogen_capture.demo.check import CheckReport, alignment, game_stalled
from nitrogen_capture.demo.player import HOTKEY_CHORDS, Op, make_script
from nitrogen_capture.demo.runner import DemoOptions, DemoResult, format_summary
from nitrogen_capture.errors import ConfigError, PlatformError
from nitrogen_capture.keylayout import DEFAULT_LAYOUT


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overlay_round_trip_survives_lossy_coding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)  # noisy scene around it
    frame, presses, mask = int(rng.integers(0, 1 << 24)), int(rng.integers(0, 5000)), \
        int(rng.integers(0, 1 << 28))
    markers.draw_overlay(img, frame, presses, mask, 28)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    lossy = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert markers.read_overlay(lossy, 28) == markers.Overlay(frame, presses, mask)
    assert markers.mask_to_keys(mask, DEFAULT_LAYOUT.keys) == [
        k for i, k in enumerate(DEFAULT_LAYOUT.keys) if mask >> i & 1]


def test_overlay_absent_or_too_small() -> None:
    blank = np.zeros((100, 500, 3), np.uint8)
    ov = markers.read_overlay(blank, 28)
    assert ov.frame is None and ov.presses is None and ov.held_mask == 0
    with pytest.raises(ValueError, match="too small"):
        markers.draw_overlay(np.zeros((40, 500, 3), np.uint8), 1, 0, 0, 28)


def _spans(ops: list[Op], key: str) -> list[tuple[float, float]]:
    downs = [o.t for o in ops if o.code == key and o.device != "motion" and o.value > 0]
    ups = [o.t for o in ops if o.code == key and o.device != "motion" and o.value == 0
           and o.device != "hotkey"]
    return list(zip(downs, ups, strict=True))


def test_script_is_deterministic_and_varied() -> None:
    a = make_script(8, seed=7)
    assert a == make_script(8, seed=7)
    assert a != make_script(8, seed=8)
    assert all(a[i].t <= a[i + 1].t for i in range(len(a) - 1))
    holds = [u - d for k in DEFAULT_LAYOUT.keys for d, u in _spans(a, k)]
    assert min(holds) <= 0.006 and max(holds) >= 0.2  # sub-frame taps and long holds
    assert any(o.device == "motion" for o in a) and any(o.device == "button" for o in a)
    codes = {o.code for o in a if o.device in ("key", "button")}
    assert codes <= set(DEFAULT_LAYOUT.keys) and not any(c.startswith("f") and c[1:].isdigit()
                                                         for c in codes)
    all_spans = sorted(s for k in DEFAULT_LAYOUT.keys for s in _spans(a, k))
    assert any(all_spans[i + 1][0] < all_spans[i][1] for i in range(len(all_spans) - 1))
    assert max(o.t for o in a) <= 8 - 0.3


@pytest.mark.parametrize("seed", range(5))
def test_script_never_forms_a_hotkey_and_repeats_are_apart(seed: int) -> None:
    ops = make_script(10, seed=seed)
    ctrl = _spans(ops, "ctrl")
    for key in ("t", "p"):
        for d, u in _spans(ops, key):
            assert not any(cd < u and d < cu for cd, cu in ctrl)
    for key in DEFAULT_LAYOUT.keys:
        spans = _spans(ops, key)
        assert all(spans[i + 1][0] - spans[i][1] >= 0.12 for i in range(len(spans) - 1))


def test_script_keeps_quiet_around_hotkeys() -> None:
    hot = [(2.0, "f7"), (4.0, "ctrl+t")]
    ops = make_script(6, seed=1, hotkeys=hot)
    assert [(o.t, o.code) for o in ops if o.device == "hotkey"] == hot
    assert all(name in HOTKEY_CHORDS for _, name in hot)
    for t, _ in hot:
        assert not [o for o in ops if o.device != "hotkey" and abs(o.t - t) < 0.4]


def test_alignment_tolerates_one_row_and_no_more() -> None:
    rng = np.random.default_rng(0)
    # Holds of 3-6 rows on 4 keys.
    a = np.zeros((200, 4), bool)
    for k in range(4):
        r = 0
        while r < 190:
            r += int(rng.integers(3, 8))
            a[r:r + int(rng.integers(3, 7)), k] = True
            r += 8
    valid = np.ones(200, bool)
    assert alignment(a, a, valid) == 1.0
    assert alignment(a, np.roll(a, 1, axis=0), valid) == 1.0  # the game is one row late
    assert alignment(a, np.roll(a, 3, axis=0), valid) < 0.9
    valid[:10] = False
    assert alignment(a, a, valid) == pytest.approx(0.95)
    # A latched tap lit for two more rows is fine only with latch_rows.
    tap = np.zeros((10, 1), bool)
    tap[4] = True
    lit = np.zeros((10, 1), bool)
    lit[4:7] = True
    assert alignment(tap, lit, np.ones(10, bool)) < 1.0
    assert alignment(tap, lit, np.ones(10, bool), latch_rows=2) == 1.0


def test_game_stalled_marks_frames_after_a_long_loop() -> None:
    t = np.cumsum([16_000_000] * 20)
    t[10:] += 100_000_000  # frame 11 came 116 ms after frame 10
    log = {"records": {"frame": list(range(1, 21)), "t_ns": t.tolist()}}
    stalled = game_stalled(np.array([1, 5, 10, 11, 12, 14, 15, 20, 99]), log)
    assert stalled.tolist() == [False, False, False, True, True, True, False, False, True]


def test_demo_options_and_summary(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seconds"):
        DemoOptions(out=tmp_path, seconds=1)
    with pytest.raises(ConfigError, match="fps"):
        DemoOptions(out=tmp_path, fps=0)
    res = DemoResult(out=tmp_path, display=":5", record_rc=0, merge_rc=0, validate_rc=0,
                     report=CheckReport(frames=10, problems=["something broke"]))
    text = format_summary(res)
    assert "PROBLEM: something broke" in text and text.endswith("FAILED: see the problems "
                                                                "and logs above")
    res.report = CheckReport(frames=10)
    assert format_summary(res).endswith("OK")


def test_missing_xvfb_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xvfb.shutil, "which", lambda name: None)
    with pytest.raises(PlatformError, match=r"xvfb.*--visible"), xvfb.xvfb():
        pass
