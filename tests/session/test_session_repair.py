"""Crash recovery: rebuild the open chunk from its journal and the PNGs on disk."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from nitrogen_capture.binning import ActionBinner, bin_events
from nitrogen_capture.events import InputEvent
from nitrogen_capture.session import (
    SessionReader,
    events_to_inputs,
    merge_session,
    parse_journal,
    repair_session,
    validate_session,
)
from session_factory import LAYOUT, _write_journal, make_session


def _cut_inside_frame_record(journal, row):
    """Tear the journal in the middle of the frame record of ``row`` (a kill -9 mid-write)."""
    text = journal.read_text()
    at = text.index(f'"kind": "frame", "row": {row},')
    journal.write_text(text[: at + 12])


def test_repair_torn_journal_and_missing_trailing_pngs(tmp_path):
    b = make_session(tmp_path / "s", (5, 4, 6), open_last=True, seed=3)
    p = b.paths
    held = parse_journal(p.journal(3)).held
    assert held and len(held) < len(LAYOUT)  # a key held across the boundary, another not
    _cut_inside_frame_record(p.journal(3), 5)  # rows 0..4 journaled, row 5 torn
    p.frame_png(3, 5).unlink()  # row 4's PNG never reached the disk
    (p.chunk_frames_dir(3) / ".000007.png.tmp").write_bytes(b"partial")
    j = parse_journal(p.journal(3))
    assert j.torn_last_line and sorted(j.frames) == [0, 1, 2, 3, 4]

    report = repair_session(b.root)
    (rc,) = report.recovered
    assert (rc.index, rc.rows_kept, rc.journal_frames, rc.frames_on_disk) == (3, 4, 5, 4)
    assert rc.torn_last_line
    assert sorted(rc.orphaned) == [".000007.png.tmp", "000006.png"]
    orphans = p.chunk_frames_dir(3) / "orphans"
    assert sorted(x.name for x in orphans.iterdir()) == [".000007.png.tmp", "000006.png"]
    assert not p.journal(3).exists()

    # Rows 9..12 survive, re-binned exactly as the live binner did over the whole stream.
    r = SessionReader(b.root)
    c = r.chunk(3)
    assert c.complete and c.recovered and c.num_frames == 4 and c.first_row == 9
    assert r.meta.status == "recovered" and r.meta.counters.frames == 13
    arrays = r.chunk_arrays(c)
    np.testing.assert_array_equal(arrays["frame_indices"], b.frame_indices[9:13])
    np.testing.assert_array_equal(arrays["timestamps"], b.timestamps[9:13])
    np.testing.assert_array_equal(arrays["actions"], b.actions[9:13])
    np.testing.assert_array_equal(arrays["mouse_deltas"], b.mouse_deltas[9:13])
    lo, hi = b.timestamps[8], b.timestamps[12]
    assert events_to_inputs(r.chunk_events(c)) == [e for e in b.events if lo < e.t_ns <= hi]

    rep = validate_session(b.root)
    assert rep.ok, rep.format()
    assert any(x.level == "info" and "orphans" in x.message for x in rep.problems)
    assert merge_session(b.root).frames == 13
    assert not repair_session(b.root).changed  # idempotent


def test_held_key_released_in_first_interval_is_not_latched(tmp_path):
    """The state line seeds held keys without counting them as presses in the first frame."""
    b = make_session(tmp_path / "s", (3,))
    p = b.paths
    lines = [{"kind": "chunk", "chunk": 2, "first_row": 3, "region": [0, 0, 16, 12]},
             {"kind": "state", "held": ["w", "lmb"]},
             {"kind": "event", "t": 5_000_000_010, "device": "key", "code": "w", "value": 0.0},
             {"kind": "frame", "row": 0, "index": 150, "t": 5_000_000_020},
             {"kind": "event", "t": 5_000_000_025, "device": "button", "code": "lmb",
              "value": 0.0},
             {"kind": "event", "t": 5_000_000_026, "device": "key", "code": "a", "value": 1.0},
             {"kind": "event", "t": 5_000_000_027, "device": "key", "code": "a", "value": 0.0},
             {"kind": "frame", "row": 1, "index": 151, "t": 5_000_000_030},
             {"kind": "pause", "start_t": 5_000_000_031, "start_tick": 152, "reason": "hotkey"},
             {"kind": "resume", "end_t": 5_000_000_040, "end_tick": 160}]
    p.journal(2).write_text("".join(json.dumps(x) + "\n" for x in lines))
    shutil.copytree(p.chunk_frames_dir(1), p.chunk_frames_dir(2))  # 3 PNGs, 2 journaled rows
    repair_session(b.root)
    r = SessionReader(b.root)
    acts = r.chunk_arrays(r.chunk(2))["actions"]
    cols = [LAYOUT.index(k) for k in ("w", "a", "lmb")]
    np.testing.assert_array_equal(acts[:, cols], [[0, 0, 1], [0, 1, 0]])
    # Same as an ActionBinner that carried the state from the previous chunk.
    binner = ActionBinner(LAYOUT)
    binner.feed(InputEvent(0, "key", "w", 1.0))
    binner.feed(InputEvent(0, "button", "lmb", 1.0))
    binner.close_frame()
    evs = [InputEvent(x["t"], x["device"], x["code"], x["value"]) for x in lines
           if x["kind"] == "event"]
    expect = bin_events(evs, [5_000_000_020, 5_000_000_030], LAYOUT, binner)
    np.testing.assert_array_equal(acts, expect.actions)
    assert r.meta.pauses[-1].to_json() == {"start_tick": 152, "end_tick": 160,
                                    "start_t_ns": 5_000_000_031, "end_t_ns": 5_000_000_040,
                                    "reason": "hotkey"}
    assert (p.chunk_frames_dir(2) / "orphans" / "000003.png").is_file()


def test_open_chunk_without_any_frame_keeps_journal_in_orphans(tmp_path):
    b = make_session(tmp_path / "s", (3, 2), open_last=True)
    p = b.paths
    for f in p.chunk_frames_dir(2).glob("*.png"):
        f.unlink()
    (rc,) = repair_session(b.root).recovered
    assert rc.rows_kept == 0 and "orphans" in rc.note
    assert (p.chunk_frames_dir(2) / "orphans" / "journal_chunk_002.jsonl").is_file()
    assert [c.index for c in SessionReader(b.root).chunks] == [1]
    assert merge_session(b.root).frames == 3


def test_stale_journal_of_complete_chunk_is_set_aside_not_deleted(tmp_path):
    b = make_session(tmp_path / "s", (3, 3))
    p = b.paths
    before = p.chunk_array("actions", 2).read_bytes(), p.meta.read_text()
    text = '{"kind": "chunk", "chunk": 2, "first_row": 3}\n{"kind": "fra'
    p.journal(2).write_text(text)
    report = repair_session(b.root)
    moved = "frames/chunk_002/orphans/journal_chunk_002.jsonl"
    assert report.journals_removed == (moved,) and not report.recovered
    assert moved in report.summary()
    assert (p.chunk_array("actions", 2).read_bytes(), p.meta.read_text()) == before
    assert not p.journal(2).exists() and (b.root / moved).read_text() == text


def test_merge_runs_repair_first(tmp_path):
    b = make_session(tmp_path / "s", (4, 4), open_last=True)
    report = merge_session(b.root)
    assert report.repair.recovered[0].rows_kept == 4 and report.frames == 8
    np.testing.assert_array_equal(np.load(b.paths.merged("actions")), b.actions)
    np.testing.assert_array_equal(np.load(b.paths.merged("mouse_deltas")), b.mouse_deltas)


@pytest.mark.parametrize("gamepad", [True, False])
def test_recovered_gamepad_array_follows_meta(tmp_path, gamepad):
    b = make_session(tmp_path / "s", (2, 3), open_last=True, gamepad=gamepad)
    repair_session(b.root)
    assert b.paths.chunk_array("gamepad", 2).is_file() == gamepad
    assert validate_session(b.root).ok


def test_two_open_chunks_first_one_short(tmp_path):
    """The writer can leave two journals (a closed chunk still encoding, and the next one)."""
    b = make_session(tmp_path / "s", (3, 4, 4), open_last=True)
    p = b.paths
    r = SessionReader(b.root)
    c2 = r.chunk(2)
    evs = events_to_inputs(r.chunk_events(c2))
    _write_journal(p, 2, 3, b.frame_indices[3:7], b.timestamps[3:7], evs, list(c2.held_at_start))
    for stem in ("actions", "mouse_deltas", "frame_indices", "timestamps", "events"):
        p.chunk_array(stem, 2).unlink()
    meta = json.loads(p.meta.read_text())
    meta["chunks"] = meta["chunks"][:1]
    p.meta.write_text(json.dumps(meta))
    p.frame_png(2, 4).unlink()  # chunk 2 keeps 3 of its 4 rows

    report = repair_session(b.root)
    assert [(x.index, x.rows_kept) for x in report.recovered] == [(2, 3), (3, 4)]
    r = SessionReader(b.root)
    assert [c.first_row for c in r.chunks] == [0, 3, 6]  # not the journal's 7
    np.testing.assert_array_equal(r.chunk_arrays(r.chunk(3))["actions"], b.actions[7:11])
    rep = validate_session(b.root)
    assert rep.ok, rep.format()
    # The lost row shows up as one dropped tick, so exporters never bridge it.
    assert [w.message[:15] for w in rep.warnings] == ["1 dropped ticks"]
    assert r.segments() == [(0, 6), (6, 10)]
    assert merge_session(b.root).frames == 10


def test_repair_measures_the_fps_the_dead_recorder_could_not(tmp_path):
    b = make_session(tmp_path / "s", (5, 4, 6), open_last=True)
    meta = json.loads(b.paths.meta.read_text())
    assert meta["fps"]["achieved"] is None
    repair_session(b.root)
    r = SessionReader(b.root)
    fps = r.meta.fps_achieved
    assert fps is not None and fps == r.achieved_fps()
    assert abs(fps - 30.0) < 0.5  # the factory's frames are 1/30 s apart


def _lines(path):
    return path.read_text().splitlines(keepends=True)


# Every damaged shape of the open chunk's journal (and of what is around it) ends with the
# session in one truthful state that merge, validate and sessions agree on, and a second merge
# changes nothing: never "interrupted (run merge)" for ever.
JOURNAL_SHAPES = {
    "no_header": lambda r, j: j.write_text("".join(_lines(j)[1:])),
    "empty": lambda r, j: j.write_text(""),
    "header_only": lambda r, j: j.write_text(_lines(j)[0]),
    "garbage": lambda r, j: j.write_bytes(b"\x00\xff not json\n{{{\n"),
    "every_line_torn": lambda r, j: j.write_text(
        "".join(ln[: len(ln) // 2] + "\n" for ln in _lines(j))),
    "frames_gone": lambda r, j: shutil.rmtree(r / "frames" / "chunk_003"),
    "numbered_beyond_meta": lambda r, j: j.rename(r / "journal_chunk_009.jsonl"),
}


@pytest.mark.parametrize("shape", sorted(JOURNAL_SHAPES))
def test_every_journal_shape_ends_in_one_truthful_state(tmp_path, shape):
    from nitrogen_capture.session.library import scan_library

    b = make_session(tmp_path / "s", (6, 6, 5), open_last=True)
    JOURNAL_SHAPES[shape](b.root, b.paths.journal(3))
    report = merge_session(b.root)
    assert report.frames >= 12  # the complete chunks are never lost
    meta = json.loads(b.paths.meta.read_text())
    assert meta["status"] == "recovered"
    assert not list(b.root.glob("journal_chunk_*.jsonl"))
    [row] = scan_library(tmp_path)
    assert row.status == "recovered"
    problems = validate_session(b.root).problems
    assert not [q for q in problems if q.level == "error"], problems
    set_aside = [q for q in problems if "set aside by crash recovery" in q.message]
    recovered = report.repair.recovered[0].rows_kept if report.repair.recovered else 0
    assert bool(set_aside) == (recovered == 0), problems  # what is in no row is said
    before = {q: q.read_bytes() for q in b.root.rglob("*") if q.is_file()}
    merge_session(b.root)  # a second merge finds the session settled
    after = {q: q.read_bytes() for q in b.root.rglob("*") if q.is_file()}
    assert after.keys() == before.keys()
    assert json.loads(b.paths.meta.read_text())["status"] == "recovered"


def test_a_chunk_merge_cannot_recover_is_damaged_not_waiting_for_merge(tmp_path):
    from nitrogen_capture.errors import SessionFormatError
    from nitrogen_capture.session.library import scan_library

    b = make_session(tmp_path / "s", (6, 6, 5), open_last=True)
    shutil.rmtree(b.root / "frames" / "chunk_003")
    (b.root / "frames" / "chunk_003").write_text("not a folder")
    with pytest.raises(SessionFormatError, match="chunk 3"):
        merge_session(b.root)
    [row] = scan_library(tmp_path)
    assert row.status.startswith("damaged: chunk 3 cannot be recovered")
    assert merge_session(b.root, skip_bad=True).frames == 12
    [row] = scan_library(tmp_path)
    assert row.status.startswith("damaged: chunk 3 cannot be recovered")
    assert any("merge cannot recover it" in q.message for q in validate_session(b.root).problems)
