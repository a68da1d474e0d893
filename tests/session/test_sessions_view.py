"""``nitrogen-capture sessions DIR``: the library view over factory-made sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import run_cli
from hostile_fs import BIG_SPARSE, make_deep_tree, make_unreadable, needs_fifo, remove_tree
from markers import make_symlink, wine_lacks_symlinks
from nitrogen_capture.session.library import MAX_DEPTH, disk_size, find_sessions, scan_library
from nitrogen_capture.session.lock import LockHolder
from nitrogen_capture.session.meta import MAX_META_BYTES
from session_factory import make_session


def _edit_meta(root: Path, **fields: object) -> None:
    path = root / "meta.json"
    meta = json.loads(path.read_text())
    meta.update(fields)
    path.write_text(json.dumps(meta))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Five sessions: complete, unmerged, interrupted, crashed (open journal and a stale lock)
    and one being recorded (a live lock: this process)."""
    top = tmp_path / "lib"
    a = make_session(top / "a_complete", (5, 4), merge=True)
    _edit_meta(a.root, labels={"game": "Celeste", "notes": "", "controller": "ps"},
               fps={"target": 30.0, "achieved": 29.97})
    make_session(top / "games" / "b_unmerged", (6,))
    c = make_session(top / "c_interrupted", (3, 3), merge=True)
    _edit_meta(c.root, status="interrupted")
    d = make_session(top / "d_crashed", (4, 2), open_last=True)
    holder = LockHolder.current("record")
    d.paths.lock.write_text(json.dumps({"pid": _dead_pid(), "host": holder.host,
                                        "started": "2026-11-29T10:00:00+00:00",
                                        "process_start": None, "action": "record"}))
    e = make_session(top / "e_live", (3, 2), open_last=True)
    e.paths.lock.write_bytes(holder.to_bytes())
    return top


def test_rows_and_totals(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = {r.session: r for r in scan_library(library)}
    assert list(rows) == ["a_complete", "c_interrupted", "d_crashed", "e_live",
                          "games/b_unmerged"]
    a = rows["a_complete"]
    assert (a.game, a.controller, a.status, a.merged, a.frames) == (
        "Celeste", "ps", "complete", True, 9)
    assert a.fps_achieved == 29.97 and a.dropped_ticks == 0
    assert a.date is not None and len(a.date) == len("2026-11-24 15:00")
    assert a.duration_s is not None and 0.2 < a.duration_s < 0.4  # 9 frames at 30 fps
    assert a.size_bytes == disk_size(library / "a_complete") > 0
    assert (rows["games/b_unmerged"].status, rows["games/b_unmerged"].merged) == (
        "complete", False)
    assert rows["c_interrupted"].status == "interrupted"
    assert rows["d_crashed"].status == "interrupted (run merge)"
    assert rows["d_crashed"].frames == 4  # the listed chunk; the open one is not counted yet
    assert rows["e_live"].status == "recording"
    assert rows["games/b_unmerged"].game is None  # a synthetic recording names no game
    assert (library / "d_crashed" / "session.lock").exists()  # the view changes nothing

    run = run_cli(capsys, "sessions", str(library))
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == ["session", "game", "date", "duration", "size", "frames", "fps",
                                "dropped", "merged", "status"]
    assert len(lines) == 7
    assert lines[1].startswith("a_complete ") and " Celeste " in lines[1]
    assert lines[1].split()[-2:] == ["yes", "complete"] and " 29.97 " in lines[1]
    assert lines[4].split()[-1] == "recording"
    assert lines[-1].startswith(f"total: 5 session(s), {9 + 6 + 6 + 4 + 3} frames, ")


def test_json(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "sessions", str(library), "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert [d["session"] for d in data] == ["a_complete", "c_interrupted", "d_crashed", "e_live",
                                           "games/b_unmerged"]
    assert set(data[0]) == {"session", "status", "game", "controller", "date", "duration_s",
                            "size_bytes", "frames", "fps_achieved", "dropped_ticks", "merged",
                            "task", "outcome", "tags", "episode"}
    assert data[0]["game"] == "Celeste" and data[0]["merged"] is True
    assert (data[0]["task"], data[0]["outcome"], data[0]["tags"], data[0]["episode"]) == (
        "", None, [], None)


def _episode(run: str, index: int, attempt: int = 1) -> dict[str, object]:
    return {"run": run, "index": index, "count": 3, "attempt": attempt, "ended": "key"}


@pytest.fixture
def episodes(tmp_path: Path) -> Path:
    """A collection day: run r1 (three episodes, the second re-recorded) and one loose session."""
    top = tmp_path / "day"
    specs = [
        ("r1/ep1", {"game": "Celeste", "task": "Reach the FLAG in 1-A", "outcome": "success",
                    "tags": ["night", "pro"]}, _episode("r1", 1)),
        ("r1/ep2", {"game": "Celeste", "task": "Reach the flag in 1-A", "outcome": "discarded",
                    "tags": ["night"]}, _episode("r1", 2)),
        ("r1/ep2b", {"game": "Celeste", "task": "Reach the flag in 1-A", "outcome": "failure",
                     "tags": ["night"]}, _episode("r1", 2, attempt=2)),
        ("loose", {"game": "Hollow Knight", "task": "", "outcome": None, "tags": []}, None),
    ]
    for name, labels, episode in specs:
        b = make_session(top / name, (3,))
        _edit_meta(b.root, labels={"notes": "", "controller": "keyboard", **labels},
                   **({"episode": episode} if episode else {}))
    return top


def test_episode_columns_and_json(episodes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "sessions", str(episodes))
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split()[:6] == ["session", "game", "task", "outcome", "episode", "tags"]
    row = next(ln for ln in lines if ln.startswith("r1/ep2b "))
    assert " failure " in row and " 2/3 try 2 " in row and " night " in row
    assert " Reach the flag in 1-A " in row
    loose = next(ln for ln in lines if ln.startswith("loose "))
    assert loose.split()[3:7] == ["-", "-", "-", "-"]  # no task, outcome, episode, tags
    assert lines[-1].startswith("total: 4 session(s), 12 frames, ")
    assert "filtered out" not in lines[-1]
    data = {d["session"]: d for d in json.loads(
        run_cli(capsys, "sessions", str(episodes), "--json").out)}
    assert data["r1/ep1"]["tags"] == ["night", "pro"]
    assert data["r1/ep2b"]["episode"] == _episode("r1", 2, attempt=2)
    assert data["loose"]["episode"] is None and data["loose"]["outcome"] is None


def test_a_long_task_is_cut_in_the_table_only(episodes: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _edit_meta(episodes / "loose", labels={"task": "jump " * 100})
    run = run_cli(capsys, "sessions", str(episodes))
    loose = next(ln for ln in run.out.splitlines() if ln.startswith("loose "))
    assert "jump jump jump" in loose and "..." in loose and len(loose) < 200
    data = {d["session"]: d for d in json.loads(
        run_cli(capsys, "sessions", str(episodes), "--json").out)}
    assert data["loose"]["task"] == "jump " * 100


@pytest.mark.parametrize(("flags", "shown"), [
    (["--game", "celeste"], ["r1/ep1", "r1/ep2", "r1/ep2b"]),
    (["--task", "FLAG IN"], ["r1/ep1", "r1/ep2", "r1/ep2b"]),
    (["--outcome", "success"], ["r1/ep1"]),
    (["--outcome", "none"], ["loose"]),
    (["--tag", "night"], ["r1/ep1", "r1/ep2", "r1/ep2b"]),
    (["--tag", "night", "--tag", "pro"], ["r1/ep1"]),
    (["--episode-run", "r1", "--outcome", "failure"], ["r1/ep2b"]),
    (["--episode-run", "r2"], []),
])
def test_filters(episodes: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                 shown: list[str]) -> None:
    data = json.loads(run_cli(capsys, "sessions", str(episodes), "--json", *flags).out)
    assert [d["session"] for d in data] == shown
    run = run_cli(capsys, "sessions", str(episodes), *flags)
    assert run.code == 0, run.err
    assert [ln.split()[0] for ln in run.out.splitlines()[1:-1]] == shown
    total = run.out.splitlines()[-1]
    assert total.startswith(f"total: {len(shown)} session(s), {3 * len(shown)} frames, ")
    assert total.endswith(f"; {4 - len(shown)} session(s) filtered out")


def test_a_damaged_session_is_shown_whatever_the_filter(
        episodes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = episodes / "broken"
    bad.mkdir()
    (bad / "meta.json").write_text("{broken")
    run = run_cli(capsys, "sessions", str(episodes), "--outcome", "success")
    assert [ln.split()[0] for ln in run.out.splitlines()[1:-1]] == ["broken", "r1/ep1"]
    assert run.out.splitlines()[-1].endswith("; 3 session(s) filtered out")


def test_bad_filters_are_one_line(episodes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "sessions", str(episodes), "--outcome", "won").one_line_error(2, "--outcome")
    run_cli(capsys, "sessions", str(episodes), "--tag", "a,b").one_line_error(2, "--tag")


def test_a_damaged_meta_is_a_row_not_an_abort(library: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = library / "f_damaged"
    bad.mkdir()
    (bad / "meta.json").write_text("{broken")
    worse = library / "g_bad_field"
    make_session(worse, (3,))
    _edit_meta(worse, labels={"controller": "joystick"})
    rows = {r.session: r for r in scan_library(library)}
    assert rows["f_damaged"].status.startswith("damaged: meta.json is not valid JSON")
    assert rows["g_bad_field"].status.startswith("damaged: ")
    assert "labels.controller" in rows["g_bad_field"].status
    run = run_cli(capsys, "sessions", str(library))
    assert run.code == 0 and "total: 7 session(s)" in run.out
    line = next(ln for ln in run.out.splitlines() if ln.startswith("f_damaged"))
    assert "damaged: meta.json is not valid JSON" in line and str(bad) not in line


@wine_lacks_symlinks
def test_search_stays_inside_and_skips_session_trees(tmp_path: Path) -> None:
    top = tmp_path / "lib"
    s = make_session(top / "s", (3,))
    # A "session" inside a session's frames tree is never looked for.
    inner = s.paths.frames_dir / "nested"
    inner.mkdir()
    (inner / "meta.json").write_text("{}")
    outside = make_session(tmp_path / "outside", (3,))
    make_symlink(top / "link", outside.root)
    assert list(find_sessions(top)) == [s.root]
    assert list(find_sessions(s.root)) == [s.root]  # DIR may be a session itself


def test_bad_dir_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "sessions", str(tmp_path / "nope")).one_line_error(1, "not a directory")
    run = run_cli(capsys, "sessions", str(tmp_path))
    assert run.code == 0 and run.out.strip() == (
        "session  game  date  duration  size  frames  fps  dropped  merged  status\n"
        "total: 0 session(s), 0 frames, 0.0 s, 0 B")


# -- one bad entry never stops the scan ------------------------------------------------------
def _good_and(top: Path) -> Path:
    make_session(top / "a_good", (3,))
    make_session(top / "z_good" / "inner", (2,))
    return top


def _row(run_out: str, name: str) -> str:
    return next(ln for ln in run_out.splitlines() if ln.startswith(name + " "))


def test_an_unreadable_folder_is_a_row_and_the_rest_is_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    top = _good_and(tmp_path / "lib")
    make_session(top / "m_locked" / "s", (3,))
    (top / "n_plain").mkdir()
    make_session(top / "n_plain" / "meta_unreadable", (2,))
    make_unreadable(monkeypatch, top / "m_locked")
    make_unreadable(monkeypatch, top / "n_plain" / "meta_unreadable" / "meta.json")
    rows = {r.session: r for r in scan_library(top)}
    assert list(rows) == ["a_good", "m_locked", "n_plain/meta_unreadable", "z_good/inner"]
    assert rows["m_locked"].status == "unreadable: permission denied"
    assert rows["m_locked"].problem and not rows["m_locked"].is_session
    assert rows["n_plain/meta_unreadable"].status == (
        "damaged: meta.json cannot be read: Permission denied")
    assert rows["a_good"].status == rows["z_good/inner"].status == "complete"
    run = run_cli(capsys, "sessions", str(top))
    assert run.code == 0, run.err
    assert _row(run.out, "m_locked").split()[-3:] == ["unreadable:", "permission", "denied"]
    assert run.out.splitlines()[-1].startswith("total: 3 session(s), 5 frames, ")
    assert run.out.splitlines()[-1].endswith("; 1 folder(s) not searched (see their status)")


def test_an_oversized_meta_json_is_a_row_read_no_further(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = _good_and(tmp_path / "lib")
    huge = make_session(top / "huge", (3,))
    # Sparse (truncate writes no byte); where a file system cannot, just over the bound.
    size = BIG_SPARSE if sys.platform != "win32" else MAX_META_BYTES + 1
    with open(huge.paths.meta, "r+b") as f:
        f.truncate(size)
    rows = {r.session: r for r in scan_library(top)}
    assert rows["huge"].status.startswith("damaged: meta.json is too large: ")
    assert rows["huge"].status.endswith(f" > {MAX_META_BYTES // 1_000_000}.0 MB allowed")
    assert rows["a_good"].status == "complete"
    run = run_cli(capsys, "sessions", str(top))
    assert run.code == 0 and "total: 3 session(s)" in run.out
    if size == BIG_SPARSE:
        assert "meta.json is too large: 3.2 GB > 64.0 MB allowed" in _row(run.out, "huge")


def test_a_tree_deeper_than_the_bound_is_one_row(tmp_path: Path) -> None:
    top = _good_and(tmp_path / "lib")
    # A session exactly MAX_DEPTH folders below DIR is found; one level deeper is not searched.
    chain = "/".join(["d"] * (MAX_DEPTH - 2))  # deep/d/.../d/s: MAX_DEPTH folders
    make_session(top / "deep" / chain / "s", (2,))
    make_session(top / "deep" / chain / "e" / "s", (2,))
    rows = {r.session: r for r in scan_library(top)}
    assert rows[f"deep/{chain}/s"].status == "complete"
    assert rows[f"deep/{chain}/e"].status == (
        f"too deep: more than {MAX_DEPTH} folders below the top, its 1 subfolder(s) not searched")
    assert f"deep/{chain}/e/s" not in rows
    assert len(rows) == 4


@pytest.mark.skipif(os.mkdir not in os.supports_dir_fd, reason="builds with dir_fd: POSIX")
def test_a_thousand_levels_deep_tree_is_no_recursion_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = _good_and(tmp_path / "lib")
    try:
        make_deep_tree(top / "deep", 1100)  # beyond Python's recursion limit (1000)
        run = run_cli(capsys, "sessions", str(top))
        assert run.code == 0, run.err[-2000:]
        assert "RecursionError" not in run.err
        deep = _row(run.out, "deep/" + "/".join(["d"] * (MAX_DEPTH - 1)))
        assert deep.endswith("too deep: more than 32 folders below the top, its 1 "
                             "subfolder(s) not searched")
        assert {"a_good", "z_good/inner"} <= {r.session for r in scan_library(top)}
    finally:
        remove_tree(top / "deep")


@needs_fifo
@pytest.mark.timeout(60)  # a regression blocks opening a FIFO: the signal ends the test
def test_a_fifo_meta_or_lock_is_a_row_not_a_hang(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    top = _good_and(tmp_path / "lib")
    (top / "fifo_meta").mkdir()
    os.mkfifo(top / "fifo_meta" / "meta.json")
    locked = make_session(top / "fifo_lock", (3,))
    os.mkfifo(locked.paths.lock)
    rows = {r.session: r for r in scan_library(top)}
    assert rows["fifo_meta"].status == (
        "damaged: meta.json is a FIFO (named pipe), not a regular file")
    # An unreadable lock may be a recorder that is still writing it: never taken for stale.
    assert rows["fifo_lock"].status == "recording"
    run = run_cli(capsys, "sessions", str(top))
    assert run.code == 0 and "total: 4 session(s)" in run.out
