"""Batch conversion on the local engine: one output from many sessions, damage, resume, retry.

``convert --root DIR --recursive`` (docs/export.md, "Many sessions"): every session becomes part
of one ``.pt`` or one dataset tree whatever the worker count or task size; a damaged session is
listed as failed and the rest converted; idle and too-short ones are skipped; a killed run
resumes from its manifest without redoing what was done; a worker killed mid-task is retried; a
``kill -9`` of the run, alone or with its process group, leaves no semaphore and no process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batch_library import crash_once, make_library, manifest, pt_outputs, states, tree_digest
from cli_run import run_cli
from hostile_fs import BIG_SPARSE, make_unreadable, needs_fifo
from markers import HAS_TORCH, needs_torch
from nitrogen_capture.export import ConvertSettings
from nitrogen_capture.export.batch import BatchSettings, run_batch
from nitrogen_capture.export.batch.tasks import run_task
from nitrogen_capture.session.library import MAX_DEPTH
from session_factory import make_session
from waiting import wait_until

if HAS_TORCH:
    import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("lib") / "lib")


@pytest.mark.slow
@needs_torch
def test_library_to_one_pt_with_damaged_idle_short(library: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    r = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                "--jobs", "2", "--no-progress", "--img-size", "32")
    assert r.code == 1, (r.out, r.err)
    assert "1 of 6 sessions failed" in r.err and "Traceback" not in r.err
    lines = {ln.split()[0]: ln for ln in r.out.splitlines()[1:7]}
    assert "failed" in lines["broken"] and "000004.png" in lines["broken"], r.out
    assert "skipped" in lines["short"] and "too short" in lines["short"]
    assert "skipped" in lines["idle"] and "idle: no input in 25 frames" in lines["idle"]
    assert all("done" in lines[s] for s in ("game_a/s1", "game_a/s2", "game_b/s3"))
    doc = manifest(tmp_path / "all.manifest.json")
    assert doc["complete"] and states(doc)["broken"] == "failed"
    data = torch.load(out, weights_only=True)
    meta = data["meta"]
    assert [Path(s["root"]).name for s in meta["sources"]] == ["s1", "s2", "s3"]
    # Each session's windows are exactly what the one-session convert writes for it.
    lo = 0
    for k, name in enumerate(("game_a/s1", "game_a/s2", "game_b/s3")):
        one = tmp_path / f"one{k}.pt"
        assert run_cli(capsys, "convert", "--root", str(library / name), "--out", str(one),
                       "--img-size", "32", "--no-progress").code == 0
        ref = torch.load(one, weights_only=True)
        n = ref["obs"].shape[0]
        assert torch.equal(data["obs"][lo:lo + n], ref["obs"])
        assert torch.equal(data["actions"][lo:lo + n], ref["actions"])
        assert meta["windows"]["session"][lo:lo + n] == [k] * n
        assert meta["windows"]["row"][lo:lo + n] == ref["meta"]["windows"]["row"]
        lo += n
    assert lo == data["obs"].shape[0] == meta["total_windows"]
    assert not (tmp_path / "all.parts").exists()  # the staging folder is gone once merged
    again = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                    "--jobs", "2", "--no-progress", "--img-size", "32")
    assert "nothing to do" in again.out, again.out
    other = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                    "--no-progress", "--img-size", "64")
    other.one_line_error(1, "other settings", "img_size 32 -> 64", "--overwrite")


@pytest.mark.slow
@needs_torch
def test_same_bytes_whatever_the_workers_and_task_size(library: Path, tmp_path: Path) -> None:
    conv = ConvertSettings(root=library, out=tmp_path / "a.pt", img_size=16, shard_frames=40)
    a = run_batch(BatchSettings(conv, (library,), recursive=True, jobs=1))
    conv_b = ConvertSettings(root=library, out=tmp_path / "b" / "a.pt", img_size=16,
                             shard_frames=40)
    b = run_batch(BatchSettings(conv_b, (library,), recursive=True, jobs=2, task_frames=20))
    assert a.windows == b.windows > 80
    tasks = [t for r in b.sessions.values() for t in r["tasks"]]
    assert len(tasks) > len(b.sessions)  # the 50-row sessions were cut into 20-row tasks
    da, db = pt_outputs(tmp_path / "a.pt"), pt_outputs(tmp_path / "b" / "a.pt")
    assert len(da) >= 3 and "a.index.json" in da  # shards + one index
    assert da == db


@pytest.mark.slow
def test_dataset_tree_of_a_library(library: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tree"
    r = run_cli(capsys, "convert", "--root", str(library / "game_a"), "--root",
                str(library / "game_b"), "--recursive", "--out", str(out), "--format",
                "nitrogen-dataset", "--no-video", "--no-progress", "--jobs", "2")
    assert r.code == 0, (r.out, r.err)
    vids = sorted(p.name for p in (out / "actions" / "SHARD_0000").iterdir())
    assert vids == ["s1", "s2", "s3"]
    one = tmp_path / "one"
    assert run_cli(capsys, "convert", "--root", str(library / "game_a" / "s2"), "--out",
                   str(one), "--format", "nitrogen-dataset", "--no-video",
                   "--no-progress").code == 0
    assert (tree_digest(out / "actions" / "SHARD_0000" / "s2")
            == tree_digest(one / "actions" / "SHARD_0000" / "s2"))
    assert states(manifest(out / "manifest.json")) == {"s1": "done", "s2": "done", "s3": "done"}


def test_sessions_file(library: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    listing = library / "todo.txt"
    listing.write_text("# two of them\ngame_a/s2\n\n" + str(library / "game_b" / "s3") + "\n")
    r = run_cli(capsys, "convert", "--sessions", str(listing), "--out", str(tmp_path / "l.pt"),
                "--jobs", "1", "--img-size", "16", "--no-progress")
    assert r.code == 0, r.err
    doc = manifest(tmp_path / "l.manifest.json")
    # 30 windows each with --action-shift 0, one fewer with the default 1.
    assert states(doc) == {"s2": "done", "s3": "done"} and doc["totals"]["windows"] == 58
    listing.unlink()


def test_bad_batch_flags_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_session(tmp_path / "lib" / "s", (5,))
    base = ["convert", "--out", str(tmp_path / "o.pt"), "--no-progress"]
    run_cli(capsys, *base, "--root", str(tmp_path / "nope"), "--recursive").one_line_error(
        2, "--root", "not a directory")
    run_cli(capsys, *base, "--root", str(tmp_path), "--recursive", "--jobs", "0").one_line_error(
        2, "--jobs")
    run_cli(capsys, *base).one_line_error(2, "--root is required")
    run_cli(capsys, *base, "--root", str(tmp_path / "lib"), "--ray-address",
            "auto").one_line_error(2, "--ray-address needs --engine ray")
    (tmp_path / "empty").mkdir()
    run_cli(capsys, *base, "--root", str(tmp_path / "empty"), "--recursive").one_line_error(
        2, "no session")
    run_cli(capsys, *base, "--sessions", str(tmp_path / "list.txt")).one_line_error(
        2, "--sessions", "cannot read")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nitrogen_capture", "convert", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                         os.environ.get("PYTHONPATH", "")])}


def _wait_for_done(man: Path, proc: subprocess.Popen[str], at_least: int) -> dict[str, str]:
    def done() -> dict[str, str] | None:
        if not man.exists():
            return None
        s = states(manifest(man))  # never a ValueError: the manifest is replaced atomically
        return s if sum(v == "done" for v in s.values()) >= at_least else None

    return wait_until(done, f"{at_least} sessions done before the run ends", 120, proc=proc)


@pytest.mark.slow
@needs_torch
def test_interrupted_and_killed_runs_resume(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for k, rows in enumerate((40, 40, 900, 900, 900, 900)):
        make_session(lib / f"s{k}", (rows,), seed=k)
    out, man = tmp_path / "out" / "lib.pt", tmp_path / "out" / "lib.manifest.json"
    args = _cli("--root", str(lib), "--recursive", "--out", str(out), "--jobs", "1",
                "--img-size", "128", "--no-progress")
    # Ctrl+C (SIGINT to the whole group, a pool of 2 workers) once a session is done: exit 130,
    # one line (the workers leave Ctrl+C to the driver, which stops them).
    proc = subprocess.Popen([*args[:-4], "2", *args[-3:]], env=_env(), start_new_session=True,
                            text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_done(man, proc, 1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["nitrogen-capture convert: interrupted"], err
    first = manifest(man)
    done1 = {s for s, r in first["sessions"].items() if r["state"] == "done"}
    assert 1 <= len(done1) < 6 and not first["complete"]
    # kill -9 of the whole group once one more session is done.
    proc = subprocess.Popen(args, env=_env(), start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_done(man, proc, len(done1) + 1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    second = manifest(man)
    done2 = {s for s, r in second["sessions"].items() if r["state"] == "done"}
    assert done1 < done2 and not second["complete"]
    # The last run finishes; nothing done before is done again.
    final = subprocess.run(args, env=_env(), text=True, capture_output=True, timeout=300)
    assert final.returncode == 0, final.stderr
    doc = manifest(man)
    assert doc["complete"] and doc["runs"] == 3
    for s in done2:
        before = next(iter(second["sessions"][s]["tasks"].values()))
        after = next(iter(doc["sessions"][s]["tasks"].values()))
        assert after == before, s  # same finish time, same attempts: not run again
    assert not list(out.parent.glob("lib.parts*"))
    # Byte for byte the output of a run that was never stopped.
    ref = tmp_path / "ref" / "lib.pt"
    subprocess.run(_cli("--root", str(lib), "--recursive", "--out", str(ref), "--jobs", "2",
                        "--img-size", "128", "--no-progress"),
                   env=_env(), check=True, capture_output=True, timeout=300)
    assert pt_outputs(out) == pt_outputs(ref)


@pytest.mark.slow
@needs_torch
def test_a_killed_worker_process_is_retried(library: Path, tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    fn = functools.partial(crash_once, marker=str(marker), inner=run_task, session="s2")
    conv = ConvertSettings(root=library, out=tmp_path / "k.pt", img_size=16)
    got = run_batch(BatchSettings(conv, (library / "game_a", library / "game_b"),
                                  recursive=True, jobs=2), task_fn=fn)
    assert marker.exists()  # the worker running s2 was killed once
    assert got.count("done") == 3 and got.count("failed") == 0
    ref = ConvertSettings(root=library, out=tmp_path / "r" / "k.pt", img_size=16)
    run_batch(BatchSettings(ref, (library / "game_a", library / "game_b"), recursive=True,
                            jobs=1))
    assert pt_outputs(tmp_path / "k.pt") == pt_outputs(tmp_path / "r" / "k.pt")
    s2 = next(r for s, r in got.sessions.items() if s.endswith("s2"))
    assert next(iter(s2["tasks"].values()))["attempts"] == 2


@pytest.mark.slow
def test_two_sessions_with_one_name_get_two_video_ids(tmp_path: Path) -> None:
    import json

    for game in ("a", "b"):
        make_session(tmp_path / game / "run", (30,), seed=len(game))
    conv = ConvertSettings(root=tmp_path, out=tmp_path / "tree", format="nitrogen-dataset",
                           video=False)
    got = run_batch(BatchSettings(conv, (tmp_path / "a", tmp_path / "b"), recursive=True,
                                  jobs=1))
    assert got.count("done") == 2
    vids = sorted(p.name for p in (tmp_path / "tree" / "actions" / "SHARD_0000").iterdir())
    assert len(vids) == 2 and all(v.startswith("run-") for v in vids) and vids[0] != vids[1]
    for v in vids:
        meta = json.loads((tmp_path / "tree" / "actions" / "SHARD_0000" / v / f"{v}_chunk_0000"
                           / "metadata.json").read_text())
        assert meta["original_video"]["video_id"] == v


@needs_torch
@needs_fifo
@pytest.mark.timeout(300)  # a regression blocks on the FIFO: the signal ends the test
def test_bad_library_entries_fail_alone_and_the_rest_is_converted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    top = make_library(tmp_path / "lib", damaged=False)
    make_session(top / "locked" / "s", (30,), seed=11)
    make_unreadable(monkeypatch, top / "locked")  # chmod 000 for an ordinary user
    huge = make_session(top / "huge", (30,), seed=12)
    with open(huge.paths.meta, "r+b") as f:
        f.truncate(BIG_SPARSE)  # sparse: no byte written
    (top / "fifo").mkdir()
    os.mkfifo(top / "fifo" / "meta.json")
    deep = top / "deep" / Path(*["d"] * MAX_DEPTH)
    make_session(deep / "s", (30,), seed=13)
    out = tmp_path / "all.pt"
    r = run_cli(capsys, "convert", "--root", str(top), "--recursive", "--out", str(out),
                "--jobs", "1", "--img-size", "16", "--no-progress")
    assert r.code == 1, (r.out, r.err)
    assert "4 of 7 sessions failed" in r.err and "Traceback" not in r.err
    lines = {ln.split()[0]: ln for ln in r.out.splitlines()[1:8]}
    assert "failed" in lines["locked"] and "unreadable: permission denied" in lines["locked"]
    assert "meta.json is too large: 3.2 GB > 64.0 MB allowed" in lines["huge"]
    assert "meta.json is a FIFO (named pipe), not a regular file" in lines["fifo"]
    too_deep = lines["deep/" + "/".join(["d"] * (MAX_DEPTH - 1))]
    assert "failed" in too_deep and "too deep: more than 32 folders" in too_deep
    assert all("done" in lines[s] for s in ("game_a/s1", "game_a/s2", "game_b/s3")), r.out
    data = torch.load(out, weights_only=True)
    assert [Path(s["root"]).name for s in data["meta"]["sources"]] == ["s1", "s2", "s3"]


def _shm_mapped(procs: list[Any]) -> set[str]:
    """multiprocessing's named semaphores and segments that ``procs`` map (Linux)."""
    names = set()
    for p in procs:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p.pid}/maps").read_text().splitlines():
                path = line.split(maxsplit=5)[5] if len(line.split()) >= 6 else ""
                name = Path(path.removesuffix(" (deleted)")).name
                if path.startswith("/dev/shm/") and name.startswith(("sem.mp-", "psm_")):
                    names.add(name)
    return names


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/shm is Linux's")
@pytest.mark.parametrize("group", [True, False], ids=["group", "main"])
def test_kill_9_of_a_batch_leaves_no_semaphore_or_process(tmp_path: Path, group: bool) -> None:
    import psutil

    lib = tmp_path / "lib"
    for k in range(6):
        make_session(lib / f"s{k}", (900,), seed=k)
    out = tmp_path / "out"
    args = _cli("--root", str(lib), "--recursive", "--out", str(out), "--format",
                "nitrogen-dataset", "--jobs", "2", "--no-progress")
    proc = subprocess.Popen(args, env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def writing() -> list[psutil.Process] | None:  # both workers and a part being written
            kids = psutil.Process(proc.pid).children(recursive=True)
            return kids if len(kids) >= 3 and any((out / ".parts").glob(".tmp-*")) else None

        kids = wait_until(writing, "both workers writing a part", 120, proc=proc,
                          interval=0.01)
        mapped = _shm_mapped([proc, *kids])
        if group:  # the resource tracker dies too: what it would unlink stays
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # the workers must not run on without their driver
            proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    def alive() -> list[psutil.Process]:
        return [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    wait_until(lambda: not alive(), lambda: str([" ".join(p.cmdline()) for p in alive()]), 10,
               ignore=(psutil.Error,))
    # zombies: reaped by whoever adopted them (PID 1 here)
    wait_until(lambda: not [p for p in kids if p.is_running()],
               lambda: str([p.pid for p in kids if p.is_running()]), 30)
    assert not [n for n in mapped if Path("/dev/shm", n).exists()]
    # The next run finishes the batch and removes the killed tasks' temporary folders.
    final = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert states(manifest(out / "manifest.json")) == {f"s{k}": "done" for k in range(6)}
    assert not list(out.glob(".parts/.tmp-*"))
