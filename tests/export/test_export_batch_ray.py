"""Batch conversion on Ray, for real: a private local Ray with 2 CPUs (``ray[data]``, test extra).

The same sessions give byte-identical output on the local engine and on Ray (a damaged one
listed failed either way), and a Ray worker process killed in the middle of a task is retried by
Ray and the output is still complete and the same. Each test starts and stops its own Ray.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

from batch_library import crash_once, make_library, pt_outputs, states, tree_digest
from cli_run import run_cli
from markers import needs_torch
from nitrogen_capture.export import ConvertSettings
from nitrogen_capture.export.batch import BatchSettings, run_batch
from nitrogen_capture.export.batch.tasks import run_task
from waiting import wait_until

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("lib") / "lib")


@needs_torch
def test_ray_writes_the_same_bytes_as_local(library: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    outs, summaries = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / engine / "lib.pt"
        r = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                    "--engine", engine, "--jobs", "2", "--img-size", "32", "--shard-frames", "50",
                    "--no-progress")
        assert r.code == 1, (r.out, r.err)  # the damaged session
        lines = [ln for ln in r.err.splitlines() if ln.strip()]
        assert lines == ["nitrogen-capture convert: error: 1 of 6 sessions failed (listed above);"
                         " the others were converted"], r.err
        outs[engine] = pt_outputs(out)
        summaries[engine] = r.out.splitlines()[:7]
    assert len(outs["ray"]) >= 3 and outs["ray"] == outs["local"]
    assert summaries["ray"] == summaries["local"]
    assert any("broken" in ln and "failed" in ln for ln in summaries["ray"])


def test_ray_dataset_tree_equals_local(library: Path, tmp_path: Path) -> None:
    trees = {}
    for engine in ("local", "ray"):
        conv = ConvertSettings(root=library, out=tmp_path / engine, format="nitrogen-dataset",
                               video=True)
        got = run_batch(BatchSettings(conv, (library / "game_a",), recursive=True, jobs=2,
                                      engine=engine))
        assert got.count("done") == 2
        trees[engine] = tree_digest(tmp_path / engine)
    assert any(k.endswith("video.mp4") for k in trees["ray"])
    assert trees["ray"] == trees["local"]


@needs_torch
def test_a_killed_ray_worker_is_retried(library: Path, tmp_path: Path) -> None:
    # The wrapper lives in a test module the Ray workers cannot import: send it by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[crash_once.__module__])
    marker = tmp_path / "crashed"
    fn = functools.partial(crash_once, marker=str(marker), inner=run_task, session="s3")
    roots = (library / "game_a", library / "game_b")
    conv = ConvertSettings(root=library, out=tmp_path / "k.pt", img_size=16)
    got = run_batch(BatchSettings(conv, roots, recursive=True, jobs=2, engine="ray"),
                    task_fn=fn)
    assert marker.exists()  # the worker running s3 did die
    assert states({"sessions": got.sessions}) == {"s1": "done", "s2": "done", "s3": "done"}
    ref = ConvertSettings(root=library, out=tmp_path / "ref" / "k.pt", img_size=16)
    run_batch(BatchSettings(ref, roots, recursive=True, jobs=1))
    assert pt_outputs(tmp_path / "k.pt") == pt_outputs(tmp_path / "ref" / "k.pt")


def test_no_cluster_to_join_is_one_line(library: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    r = run_cli(capsys, "convert", "--root", str(library / "game_a"), "--recursive", "--out",
                str(tmp_path / "a.pt"), "--engine", "ray", "--ray-address", "auto",
                "--no-progress")
    r.one_line_error(1, "cannot start or join the Ray cluster at auto")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups are POSIX's")
def test_a_killed_runs_ray_folder_is_removed_by_the_next_run(library: Path,
                                                            tmp_path: Path) -> None:
    import os
    import re
    import signal
    import subprocess

    import psutil

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(repo / "src"), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "nitrogen_capture", "convert", "--root", str(library / "game_a"),
            "--recursive", "--out", str(tmp_path / "tree"), "--format", "nitrogen-dataset",
            "--engine", "ray", "--jobs", "2", "--no-progress"]
    proc = subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    folder = None
    try:
        def ray_folder() -> Path | None:  # the private Ray is up: its processes name it
            for p in psutil.Process(proc.pid).children(recursive=True):
                try:
                    found = re.search(r"(/[^\s=,]*/ngray-[^/\s=,]+)", " ".join(p.cmdline()))
                except psutil.Error:
                    continue
                if found:
                    return Path(found.group(1))
            return None

        folder = wait_until(ray_folder, "the private Ray's folder", 120, proc=proc,
                            interval=0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert folder.is_dir()  # a folder cannot vanish with its owner...
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not folder.exists()  # ...the next run removes it by its own record
