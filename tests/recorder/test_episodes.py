"""``record --episodes``: collection runs, one session per episode (cli/episodes.py).

The synthetic source runs whole runs in-process (names, tasks, resets, meta.json); the episode
keys and their marks are driven through the recorder's own router with the keys a player
presses. The run against the real demo game, with keys injected through XTEST, is in
tests/recorder/test_episodes_x11.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli_run import run_cli
from e2e_fixtures import wait_for_t0
from nitrogen_capture.keylayout import DEFAULT_HOTKEYS, KeyLayout
from nitrogen_capture.record.episode import EpisodeControl, EpisodePlan
from nitrogen_capture.session.meta import SessionMeta
from waiting import wait_until

SYNTH = ("record", "--source", "synthetic", "--fps", "30", "--status-interval", "0")


def _sessions(top: Path) -> list[Path]:
    return sorted(p.parent for p in top.glob("*/*/meta.json"))


def test_a_run_records_each_episode_as_a_named_labelled_session(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("reach the flag\n\ncollect 3 coins\n", encoding="utf-8")
    run = run_cli(capsys, *SYNTH, "--out-dir", str(tmp_path / "runs"), "--episodes", "3",
                  "--episode-seconds", "1", "--reset-seconds", "0.3", "--tasks", str(tasks),
                  "--game", "My Game")
    assert run.code == 0, run.err
    roots = _sessions(tmp_path / "runs")
    assert len(roots) == 3, run.out
    assert {r.parent.name for r in roots} == {"My-Game"}  # one folder per game, a safe name
    assert [r.name[-4:] for r in roots] == ["-001", "-002", "-003"]
    metas = [SessionMeta.load(r / "meta.json") for r in roots]
    run_ids = {m.episode.run for m in metas if m.episode}
    assert run_ids == {f"My-Game/{roots[0].name[:-4]}"}
    assert [(m.episode.index, m.episode.count, m.episode.attempt, m.episode.ended)
            for m in metas if m.episode] == [(i, 3, 1, "time") for i in (1, 2, 3)]
    # The task file's lines in order, cycling; no key marked an outcome.
    assert [m.effective_labels.task for m in metas] == [
        "reach the flag", "collect 3 coins", "reach the flag"]
    assert {m.effective_labels.outcome for m in metas} == {None}
    for m in metas:
        # 1 s of recording at 30 fps: 30 periods, each a frame or a counted drop (a stall of a
        # busy machine may carry the last tick past the end).
        assert m.merged is not None and m.merged.frames > 0
        assert m.merged.frames + m.counters.dropped_ticks >= 30, m.counters
        assert m.stop_reason == "episode time"
    # Episodes after the first start in a reset: a pause at tick 0, never in the frames.
    assert [p.reason for p in metas[0].pauses] == []
    for m in metas[1:]:
        assert m.pauses[0].reason == "reset" and m.pauses[0].start_tick == 0
        assert m.pauses[0].end_t_ns - m.pauses[0].start_t_ns >= 0.3e9 - 1 / 30 * 1e9
    assert "3 episode(s) kept, 0 discarded" in run.out
    assert f"nitrogen-capture sessions {roots[0].parent}" in run.out


@pytest.mark.parametrize(("args", "needle"), [
    (("--episodes", "2"), "--episodes needs --out-dir"),
    (("--out-dir", "X", "--out", "Y"), "--out and --out-dir are exclusive"),
    (("--out-dir", "X", "--episodes", "-1"), "--episodes must be >= 0"),
    (("--out-dir", "X", "--episode-seconds", "0"), "--episode-seconds must be > 0"),
    (("--out-dir", "X", "--reset-seconds", "nan"), "--reset-seconds"),
    (("--out-dir", "X", "--task", "a", "--tasks", "f"), "--task and --tasks are exclusive"),
    (("--out-dir", "X", "--task", "x" * 1001), "--task must be at most 1000 characters"),
    (("--out-dir", "X", "--tasks", "missing.txt"), "missing.txt"),
])
def test_bad_run_settings_are_one_line_and_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        args: tuple[str, ...], needle: str) -> None:
    monkeypatch.chdir(tmp_path)
    run_cli(capsys, *SYNTH, *args).one_line_error(2, needle)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_tasks_file_is_refused(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "tasks.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    run_cli(capsys, *SYNTH, "--out-dir", str(tmp_path / "r"), "--tasks", str(empty)
            ).one_line_error(2, "holds no task")
    assert not (tmp_path / "r").exists()


def test_episode_keys_act_only_in_a_run() -> None:
    assert "f9" not in DEFAULT_HOTKEYS.keys  # a plain recording keeps F9..F12 as game keys
    run_keys = DEFAULT_HOTKEYS.with_episode_keys().keys
    assert {run_keys[k] for k in ("f9", "f10", "f11", "f12")} == {
        "success", "failure", "discard", "end"}
    assert "success" not in DEFAULT_HOTKEYS.to_dict()  # plain sessions' meta.json as before
    # A layout may use F9 as a game key, but then it cannot run episodes with the default keys.
    layout = KeyLayout(("w", "f9"))
    with pytest.raises(Exception, match="f9"):
        layout.with_hotkeys(layout.hotkeys.with_episode_keys())


def test_episode_keys_end_or_mark() -> None:
    marks: list[str] = []
    first = EpisodeControl(EpisodePlan(1, 3, None, 0.0, has_previous=False), marks.append)
    assert not first.key("success", in_reset=True)  # nothing before the first episode
    assert marks == [] and first.ended_by is None
    assert first.key("failure", in_reset=False) and first.ended_by == "failure"
    later = EpisodeControl(EpisodePlan(2, 3, 5.0, 2.0, has_previous=True), marks.append)
    assert not later.key("end", in_reset=True)  # "end" has no meaning for a finished episode
    assert not later.key("discard", in_reset=True)
    assert marks == ["discard"] and later.previous_discarded
    assert not later.reset_over(int(1.9e9)) and later.reset_over(int(2.0e9))
    assert not later.episode_over(4.9) and later.episode_over(5.0)


def test_a_discarded_run_session_is_kept_with_its_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The mark rewrites meta.json only: every file of the episode stays (never destroy data)."""
    from nitrogen_capture.cli.episodes import _relabel

    run = run_cli(capsys, *SYNTH, "--out-dir", str(tmp_path / "runs"), "--episode-seconds",
                  "0.5")
    assert run.code == 0, run.err
    (root,) = _sessions(tmp_path / "runs")
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()
              and p.name != "meta.json"}
    _relabel(root, "discarded", set_outcome=True)
    assert SessionMeta.load(root / "meta.json").effective_labels.discarded
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()
            and p.name != "meta.json"} == before
    assert json.loads((root / "meta.json").read_text())["episode"]["count"] == 1


@contextmanager
def _running_run(top: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A run in its own process group (a terminal's Ctrl+C reaches every process of it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nitrogen_capture", *SYNTH, "--out-dir", str(top), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> str:
    """Send ``sig`` to the run's process group; its output once it has exited."""
    os.killpg(proc.pid, sig)
    return proc.communicate(timeout=60)[0].decode(errors="replace")


def _wait_for(path_glob: Callable[[], list[Path]], proc: subprocess.Popen[bytes]) -> Path:
    def found() -> list[Path]:
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")[-2000:]
        return path_glob()

    return wait_until(found, "the run's folder", 60)[0]


@pytest.mark.slow
def test_ctrl_c_in_a_reset_ends_the_run_and_keeps_every_finished_episode(
        tmp_path: Path) -> None:
    """Ctrl+C reaches the whole process group, as a terminal sends it."""
    top = tmp_path / "runs"
    with _running_run(top, "--episodes", "0", "--episode-seconds", "0.5",
                      "--reset-seconds", "600") as proc:
        # Episode 2's recorder has started: it waits in its 600 s reset.
        second = _wait_for(lambda: sorted(top.glob("*/*-002/meta.json")), proc).parent
        wait_for_t0(second / "meta.json", proc)
        out = _signal_group(proc, signal.SIGINT)
    assert proc.returncode == 0, out[-2000:]
    assert "Traceback" not in out
    assert not second.exists()  # nothing was recorded in it: no empty session is left
    (first,) = _sessions(top)
    meta = SessionMeta.load(first / "meta.json")
    assert meta.merged is not None and meta.episode is not None
    assert (meta.episode.index, meta.episode.count, meta.episode.ended) == (1, None, "time")
    assert "1 episode(s) kept, 0 discarded" in out


@pytest.mark.slow
def test_ctrl_c_while_recording_saves_that_episode_as_stopped(tmp_path: Path) -> None:
    top = tmp_path / "runs"
    with _running_run(top, "--episodes", "3") as proc:  # no --episode-seconds: until a key
        root = _wait_for(lambda: sorted(top.glob("*/*-001/meta.json")), proc).parent
        _wait_for(lambda: sorted(root.glob("**/chunk_001*")), proc)  # frames are stored
        out = _signal_group(proc, signal.SIGINT)
    assert proc.returncode == 0, out[-2000:]
    meta = SessionMeta.load(root / "meta.json")
    assert meta.stop_reason == "SIGINT" and meta.merged is not None
    assert meta.episode is not None and meta.episode.ended == "stopped"
    assert meta.effective_labels.outcome is None
    assert _sessions(top) == [root]  # the run ended there


@pytest.mark.slow
def test_kill_9_mid_run_leaves_finished_episodes_whole_and_the_open_one_recoverable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "runs"
    with _running_run(top, "--episodes", "3", "--episode-seconds", "0.5",
                      "--reset-seconds", "0", "--task", "t") as proc:
        second = _wait_for(lambda: sorted(top.glob("*/*-002/meta.json")), proc).parent
        _wait_for(lambda: sorted(second.glob("**/chunk_001*")), proc)
        _signal_group(proc, signal.SIGKILL)
    first = second.with_name(second.name[:-3] + "001")
    meta1 = SessionMeta.load(first / "meta.json")
    assert meta1.merged is not None and meta1.episode is not None  # finished before the kill
    run = run_cli(capsys, "merge", "--root", str(second), "--no-progress")
    assert run.code == 0, run.err
    meta2 = SessionMeta.load(second / "meta.json")
    # The open episode keeps its place in the run and its task, written when it started.
    assert meta2.episode is not None and (meta2.episode.run, meta2.episode.index) == (
        meta1.episode.run, 2)
    assert meta2.effective_labels.task == "t" and meta2.merged is not None
