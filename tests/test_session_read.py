"""Reader, merge and validate on good sessions written by hand (tests/session_factory.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from markers import HAS_TORCH
from nitrogen_capture.binning import bin_events
from nitrogen_capture.errors import DependencyError, SessionFormatError
from nitrogen_capture.session import (
    SessionReader,
    events_to_inputs,
    merge_session,
    segments,
    validate_session,
)
from nitrogen_capture.session.meta import Pause
from session_factory import LAYOUT, PERIOD, frame_image, make_session


def test_reader_loads_meta_layout_chunks_and_frames(tmp_path):
    b = make_session(tmp_path / "s", (5, 4, 3))
    r = SessionReader(b.root)
    assert r.layout == LAYOUT
    assert [c.index for c in r.chunks] == [1, 2, 3]
    assert r.row_offsets() == {1: 0, 2: 5, 3: 9}
    arrays = r.chunk_arrays(r.chunk(2))
    assert set(arrays) == {"actions", "mouse_deltas", "frame_indices", "timestamps"}
    np.testing.assert_array_equal(arrays["actions"], b.actions[5:9])
    assert [p.name for p in r.frame_paths(r.chunk(3))] == ["000001.png", "000002.png",
                                                          "000003.png"]
    rows = list(r.iter_frames(start=3, stop=7))
    assert [row for row, _ in rows] == [3, 4, 5, 6]
    for row, img in rows:
        np.testing.assert_array_equal(img, frame_image(row))  # PNG is lossless, BGR order


def test_events_to_inputs_round_trip_and_rebin(tmp_path):
    b = make_session(tmp_path / "s", (6, 6))
    r = SessionReader(b.root)
    events = [e for c in r.chunks for e in events_to_inputs(r.chunk_events(c))]
    assert events == b.events  # t_ns stays relative to t0
    again = bin_events(events, b.timestamps, r.layout)
    np.testing.assert_array_equal(again.actions, b.actions)


def test_merge_good_session(tmp_path):
    b = make_session(tmp_path / "s", (5, 4, 3), gamepad=True)
    report = merge_session(b.root)
    assert report.frames == 12 and report.chunks == (1, 2, 3) and not report.skipped
    assert report.torch_written == HAS_TORCH  # without torch: no .pt, a note (next test)
    p = b.paths
    np.testing.assert_array_equal(np.load(p.merged("actions")), b.actions)
    np.testing.assert_array_equal(np.load(p.merged("mouse_deltas")), b.mouse_deltas)
    np.testing.assert_array_equal(np.load(p.merged("frame_indices")), b.frame_indices)
    np.testing.assert_array_equal(np.load(p.merged("timestamps")), b.timestamps)
    np.testing.assert_array_equal(np.load(p.merged("gamepad")), b.gamepad)
    assert len(np.load(p.events_merged)) == len(b.events)
    with np.load(p.npz, allow_pickle=False) as z:
        assert set(z.files) == {"actions", "mouse_deltas", "frame_indices", "timestamps",
                                "gamepad", "events"}
        np.testing.assert_array_equal(z["actions"], b.actions)
    torch = pytest.importorskip("torch")
    pt = torch.load(p.pt, weights_only=True)
    assert pt["meta"]["layout"] == list(LAYOUT.keys)
    assert pt["actions"].dtype == torch.int8 and tuple(pt["actions"].shape) == (12, 4)
    assert torch.equal(pt["timestamps"], torch.from_numpy(b.timestamps))
    assert pt["events"]["code"] == [e.code for e in b.events]
    meta = json.loads(p.meta.read_text())
    assert meta["merged"]["frames"] == 12 and meta["merged"]["chunks"] == [1, 2, 3]
    assert meta["counters"]["frames"] == 12
    assert not list(b.root.glob("*.partial")) and not list(b.root.glob(".*.partial"))
    assert SessionReader(b.root).merged_arrays()["actions"].shape == (12, 4)


def test_merge_without_torch_notes_it(tmp_path, monkeypatch):
    b = make_session(tmp_path / "s", (3,))
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    report = merge_session(b.root)
    assert not report.torch_written and not b.paths.pt.exists()
    assert any("torch" in n for n in report.notes)
    assert b.paths.npz.is_file()


def test_merged_arrays_before_merge_names_the_command(tmp_path):
    b = make_session(tmp_path / "s", (3,))
    with pytest.raises(SessionFormatError, match="run `nitrogen-capture merge --root "):
        SessionReader(b.root).merged_arrays()


def test_validate_good_session_figures(tmp_path):
    b = make_session(tmp_path / "s", (5, 5, 5), gaps={7: (10, "hotkey"), 11: (2, None)},
                     merge=True)
    rep = validate_session(b.root)
    assert rep.ok, rep.format()
    s = rep.stats
    assert s["frames"] == 15 and s["chunks"] == 3
    assert s["dropped_ticks"] == 2 and s["gaps"] == 1
    assert [p.level for p in rep.problems if p.where == "frame_indices"] == ["warning"]
    assert s["pauses"] == 1 and s["paused_s"] == pytest.approx(10 * PERIOD / 1e9)
    # Intervals: the pause-spanning one is left out; the 3-period one after dropped ticks counts.
    dt = np.diff(b.timestamps).astype(float)
    live = np.delete(dt, 6)
    assert s["fps_achieved"] == pytest.approx(len(live) / live.sum() * 1e9)
    assert s["interval_ms"]["max"] == pytest.approx(live.max() / 1e6)
    assert s["late_frames"] == 2 and s["encoder"]["ms_per_frame_mean"] == 1.5
    presses = {k: sum(1 for e in b.events if e.code == k and e.value > 0 and e.device != "motion")
               for k in ("w", "a", "space", "lmb", "q")}
    assert s["input"]["presses"] == {k: v for k, v in sorted(presses.items()) if v}
    assert s["input"]["events"] == len(b.events)
    assert s["input"]["mouse_abs_dx"] == sum(abs(e.value) for e in b.events if e.code == "dx")
    text = rep.format()
    assert "OK" in text and "dropped ticks 2" in text and "fps achieved" in text
    assert json.dumps(rep.to_dict())  # JSON-ready


def test_segments_split_at_pauses_gaps_and_missing_frames():
    fi = np.array([0, 1, 2, 10, 11, 12, 14, 15, 16, 17])
    assert segments(fi) == [(0, 3), (3, 6), (6, 10)]
    assert segments(fi, min_length=4) == [(6, 10)]
    valid = np.ones(10, bool)
    valid[8] = False
    assert segments(fi, valid=valid) == [(0, 3), (3, 6), (6, 8), (9, 10)]
    # A pause whose start falls between two consecutive indices still cuts (defensive).
    assert segments(np.arange(5), pauses=[Pause(3, 3, 0, 0)]) == [(0, 3), (3, 5)]
    assert segments(np.zeros(0, np.int64)) == []


def test_reader_segments_use_pauses_and_frames_on_disk(tmp_path):
    b = make_session(tmp_path / "s", (5, 5), gaps={3: (4, "focus"), 8: (1, None)})
    (b.paths.frame_png(2, 5)).unlink()  # merged row 9
    assert SessionReader(b.root).segments() == [(0, 3), (3, 8), (8, 9)]
    assert SessionReader(b.root).segments(min_length=2) == [(0, 3), (3, 8)]


def test_video_frames_without_av_raise_dependency_error(tmp_path, monkeypatch):
    b = make_session(tmp_path / "s", (2,))
    meta = json.loads(b.paths.meta.read_text())
    meta["frame_format"] = {"kind": "video", "codec": "h264", "ext": "mkv"}
    meta["chunks"][0]["files"]["frames"] = "frames/chunk_001.mkv"
    b.paths.meta.write_text(json.dumps(meta))
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[video\]"):
        list(SessionReader(b.root).iter_frames())
