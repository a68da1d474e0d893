"""Processes and shared memory never outlive their owner (src/nitrogen_capture/encoderpool/pool.py).

- an encoder worker dies with its parent (``PR_SET_PDEATHSIG`` on Linux, the psutil watchdog
  elsewhere), and the resource tracker then exits by itself;
- the pool names nothing in /dev/shm (memfd slots, pipes: no segment, no semaphore), also when
  a slot grows; the Windows backend (named mappings) carries frames too;
- a worker that dies is reaped at once and the frames it held are reported as failed;
- a clean close and a failed start print no resource-tracker warning;
- ``kill -9`` of ``record`` at random moments (bench/kill9.py): nothing survives, ``merge``
  recovers a valid session, and less than 1.5 s is lost; ``kill -9`` of the whole process
  group leaves no semaphore, segment or process either;
- a process-group SIGINT (Ctrl+C) at random moments: exit 0, merged, valid, nothing left;
- ``demo`` stopped by SIGTERM or Ctrl+C stops the game, the recorder and Xvfb.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import psutil
import pytest

from nitrogen_capture.codecs.jobs import READY
from nitrogen_capture.codecs.png import png_worker
from nitrogen_capture.encoderpool.pool import EncodeResult, EncoderPool, EncoderSpec
from nitrogen_capture.session import validate_session
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SHM = Path("/dev/shm")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="/dev/shm and process groups are Linux's")


def _kill9() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kill9", REPO / "bench" / "kill9.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kill9"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


kill9 = _kill9()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def _wait_gone(procs: list[psutil.Process], timeout: float = 5.0) -> list[psutil.Process]:
    """The processes of ``procs`` still alive once they are all gone or ``timeout`` passed."""
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not [p for p in procs if kill9._alive(p)], "gone", timeout)
    return [p for p in procs if kill9._alive(p)]


# -- the pool in-process ------------------------------------------------------------------------
def _maps_under_dev_shm(pid: int) -> set[str]:
    """The /dev/shm entries process ``pid`` maps (unlinked ones included)."""
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split(maxsplit=5)[-1] if len(line.split()) >= 6 else ""
        if path.startswith("/dev/shm/"):
            names.add(Path(path.removesuffix(" (deleted)")).name)
    return names


@linux_only
def test_the_pool_names_nothing_in_dev_shm(tmp_path: Path) -> None:
    # Slots are memfds and tasks go through pipes: no segment, no semaphore, nothing a group
    # kill could leave behind (the old pool mapped a psm_ segment per slot and 6-10 sem.mp-).
    results: list[EncodeResult] = []
    spec = EncoderSpec(png_worker, "opencv", workers=2)
    before = _maps_under_dev_shm(os.getpid())  # what this pytest process mapped already
    with EncoderPool(spec, 4, results.append) as pool:
        pool.preallocate(32 * 24 * 3)
        assert pool.wait_ready()
        frame = np.full((24, 32, 3), 7, np.uint8)
        for i in range(6):  # every slot is reused
            wait_until(lambda i=i: pool.submit(frame, tmp_path / f"{i}.png", tag=i),
                       "a free slot")
        big = np.full((40, 48, 3), 9, np.uint8)  # the window grew: slots grow in place
        for i in range(6, 10):
            wait_until(lambda i=i: pool.submit(big, tmp_path / f"{i}.png", tag=i),
                       "a free slot")
        assert pool.drain(timeout=30)
        assert _maps_under_dev_shm(os.getpid()) - before == set()
        assert [_maps_under_dev_shm(pid) for pid in pool.pids] == [set(), set()]
    assert sorted(r.tag for r in results) == list(range(10))
    assert all(r.error is None for r in results), results
    import cv2

    assert cv2.imread(str(tmp_path / "3.png")).shape == (24, 32, 3)
    assert cv2.imread(str(tmp_path / "9.png"))[0, 0, 0] == 9


def test_the_windows_slots_carry_frames_too(tmp_path: Path) -> None:
    # The named-mapping backend (Windows'), run here too: a grown slot gets a new mapping that
    # the workers open by the name each frame carries.
    results: list[EncodeResult] = []
    spec = EncoderSpec(png_worker, "opencv", workers=2)
    with EncoderPool(spec, 2, results.append, slot_kind="named") as pool:
        assert pool.wait_ready()
        for i, (h, w) in enumerate([(24, 32), (24, 32), (24, 32), (40, 48), (40, 48)]):
            frame = np.full((h, w, 3), i, np.uint8)
            wait_until(lambda i=i, frame=frame: pool.submit(frame, tmp_path / f"{i}.png", tag=i),
                       "a free slot")
        assert pool.drain(timeout=30)
    assert sorted(r.tag for r in results) == list(range(5))
    assert all(r.error is None for r in results), results
    import cv2

    assert [int(cv2.imread(str(tmp_path / f"{i}.png"))[0, 0, 0]) for i in range(5)] == \
        list(range(5))


def _stuck_worker(tasks: Any, results: Any, arg: Any) -> None:
    """An encoder that takes frames and never reports them (it waits for the test's kill)."""
    results.put(READY)
    while tasks.get() is not None:
        time.sleep(3600)


@linux_only
def test_a_worker_that_dies_is_reaped_at_once_and_its_frames_reported(tmp_path: Path) -> None:
    results: list[EncodeResult] = []
    with EncoderPool(EncoderSpec(_stuck_worker, None, workers=1), 4, results.append) as pool:
        assert pool.wait_ready()
        for i in range(3):
            assert pool.submit(np.zeros((8, 8, 3), np.uint8), tmp_path / f"{i}.png", tag=i)
        worker = psutil.Process(pool.pids[0])
        worker.kill()
        wait_until(lambda: not kill9._exists(worker), lambda: f"reaped: {worker.status()}", 10,
                   ignore=(psutil.Error,))
        # Reaped (not a zombie for the rest of the recording), its frames reported as failed
        # and their slots free again.
        assert not kill9._exists(worker), worker.status()
        assert pool.drain(timeout=10)
        assert not pool.alive()
        assert sorted(r.tag for r in results) == [0, 1, 2]
        assert all(r.error and "ended" in r.error for r in results), results
        assert not pool.submit(np.zeros((8, 8, 3), np.uint8), tmp_path / "x.png")


_POOL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import numpy as np
    from nitrogen_capture.codecs.png import png_worker
    from nitrogen_capture.encoderpool.pool import EncoderPool, EncoderSpec

    def shm(pid):
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
        return {Path(ln.split(maxsplit=5)[5].removesuffix(" (deleted)")).name
                for ln in lines if len(ln.split()) >= 6 and "/dev/shm/" in ln}

    pool = EncoderPool(EncoderSpec(png_worker, "opencv", workers=2), 8, lambda r: None)
    pool.preallocate(64 * 48 * 3)
    assert pool.wait_ready()
    print(" ".join(set().union(*(shm(p) for p in [os.getpid(), *pool.pids]))), flush=True)
    print(" ".join(str(p) for p in pool.pids), flush=True)
    if sys.argv[1] == "close":
        pool.submit(np.zeros((48, 64, 3), np.uint8), Path(sys.argv[2]))
        pool.close()
    elif sys.argv[1] == "forget":
        raise SystemExit(3)  # never closed
    else:
        time.sleep(60)
""")


@linux_only
@pytest.mark.parametrize("how", ["close", "forget"])
def test_no_resource_tracker_warning_on_a_clean_or_forgotten_pool(tmp_path: Path,
                                                                  how: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _POOL_SCRIPT, how, str(tmp_path / "f.png")],
                          capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == (0 if how == "close" else 3), proc.stderr
    assert "resource_tracker" not in proc.stderr and "leaked" not in proc.stderr, proc.stderr
    names = proc.stdout.split("\n")[0].split()
    assert names == []  # nothing named in /dev/shm at all (there used to be 8 segments)


@linux_only
def test_workers_and_resource_tracker_die_with_a_killed_parent() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _POOL_SCRIPT, "sleep"], env=_env(),
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == []  # nothing named in /dev/shm
        workers = [int(p) for p in proc.stdout.readline().split()]
        kids = psutil.Process(proc.pid).children(recursive=True)
        assert set(workers) < {p.pid for p in kids}  # the rest: the resource tracker
        assert any("resource_tracker" in " ".join(p.cmdline()) for p in kids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert not _wait_gone(kids), "a worker or the resource tracker outlived its parent"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_watchdog_ends_a_worker_whose_parent_died() -> None:
    # The non-Linux path (Windows, macOS), forced here: a psutil poll of the parent.
    # psutil imported before the platform is forced: its import refuses "win32" on Linux (the
    # worker then died of that ImportError, not of the watchdog, and the test passed on it).
    child = ("import os, sys, time\n"
             "import psutil\n"
             "from nitrogen_capture.lifeline import die_with_parent\n"
             "sys.platform = 'win32'\n"
             "die_with_parent(os.getppid()); print('watched', flush=True); time.sleep(60)")
    middle = ("import subprocess, sys, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
              "print(p.pid, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", middle], env=_env(), stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        said = {proc.stdout.readline().strip() for _ in range(2)}  # its pid; the child's word
        assert "watched" in said, said  # its watchdog runs: the child imported and started it
        worker = psutil.Process(int(next(w for w in said if w.isdigit())))
        proc.kill()
        proc.wait(timeout=10)
        assert not _wait_gone([worker], timeout=10), "the watchdog did not end the worker"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_failed_start_is_one_line_without_tracker_warnings(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
         "--region", "0", "0", "320", "240", "--seconds", "2", "--status-interval", "0",
         "--out", str(blocker / "s")], capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nitrogen-capture record: error:"), \
        proc.stderr


# -- record killed or interrupted at random moments ---------------------------------------------
@linux_only
@pytest.mark.slow  # ~5 s a trial
@pytest.mark.parametrize(("frame_format", "trials", "size"),
                         [("png", 5, (320, 240)), ("video", 3, (640, 360))])
def test_kill_9_of_record_leaves_nothing_and_loses_under_1_5_s(
        tmp_path: Path, frame_format: str, trials: int, size: tuple[int, int]) -> None:
    results = [kill9.kill9_trial(tmp_path / str(i), frame_format, delay, size=size)
               for i, delay in enumerate(kill9.delays(seed=11, trials=trials))]
    for t in results:
        kill9.remove_leftovers(t)
        assert not t.survivors, t
        assert not t.leftover_segments and not t.leftover_semaphores, t
        assert not t.tracker_warnings, t  # nothing was registered that could leak
        assert t.merge_rc == 0 and t.valid, t
        assert t.loss_s is not None and 0 <= t.loss_s < 1.5, t


@linux_only
@pytest.mark.slow  # ~5 s a trial
@pytest.mark.parametrize(("frame_format", "workers"), [("png", 2), ("video", 1)])
def test_kill_9_of_the_process_group_leaves_no_semaphore_segment_or_process(
        tmp_path: Path, frame_format: str, workers: int) -> None:
    # The resource tracker dies with the group, so whatever multiprocessing named stays in
    # /dev/shm: the old pool left 10 (PNG) or 6 (video) sem.mp-* per kill.
    t = kill9.kill9_trial(tmp_path / "k", frame_format, 1.0, kill="group", settle_s=20.0)
    kill9.remove_leftovers(t)
    assert t.processes_before >= workers + 1, t  # the workers and the resource tracker
    assert t.semaphores_mapped == 0 and t.segments_mapped == 0, t
    assert not t.leftover_semaphores and not t.leftover_segments, t
    assert not t.survivors and t.dead_after_s < 5, t
    # Zombies are the adopter's to reap (PID 1 here); they must not linger.
    assert t.reaped_after_s is not None, t
    assert t.merge_rc == 0 and t.valid, t


def _sigint_trial(root: Path, frame_format: str, delay_s: float) -> None:
    out = root / "s"
    root.mkdir()
    proc = subprocess.Popen(kill9.record_cmd(out, frame_format, (320, 240), 30.0),
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        t0_ns = kill9.wait_for_t0(out, proc)
        time.sleep(max(0.0, t0_ns / 1e9 + delay_s - time.monotonic()))
        parent = psutil.Process(proc.pid)
        known = [parent, *parent.children(recursive=True)]
        mapped = kill9.mapped_shm(known)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "stopped: SIGINT" in stdout and "merged " in stdout, stdout
    assert "resource_tracker" not in stderr, stderr
    # The resource tracker leaves on its own once it reads EOF, a moment after the recorder.
    wait_until(lambda: not kill9.session_processes(proc.pid, known),
               lambda: str([kill9._describe(p) for p in kill9.session_processes(proc.pid, known)]),
               5)
    assert not [n for n in mapped if (SHM / n).exists()]
    report = validate_session(out)
    assert report.ok, report.format()
    assert (out / "actions.npy").is_file()


@linux_only
@pytest.mark.slow  # ~3-5 s a trial
@pytest.mark.parametrize("frame_format", ["png", "video"])
def test_ctrl_c_of_record_at_random_moments_merges_and_leaves_nothing(
        tmp_path: Path, frame_format: str) -> None:
    for i, delay in enumerate(kill9.delays(seed=5, trials=2, low=0.0, high=2.5)):
        _sigint_trial(tmp_path / str(i), frame_format, delay)


# -- demo ---------------------------------------------------------------------------------------
def test_only_the_first_signal_interrupts_the_demo() -> None:
    from nitrogen_capture.demo.runner import DemoInterrupted, stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals():
        with pytest.raises(DemoInterrupted) as info:
            # raise_signal, not os.kill: on Windows os.kill terminates the process. It runs the
            # Python handler before it returns (PyErr_CheckSignals), so no wait is needed.
            signal.raise_signal(signal.SIGTERM)
        assert info.value.signal_name == "SIGTERM" and info.value.signum == signal.SIGTERM
        signal.raise_signal(signal.SIGINT)  # during clean-up: ignored (it would raise here)
    assert signal.getsignal(signal.SIGTERM) == before


@linux_only
@pytest.mark.x11
@pytest.mark.slow  # starts Xvfb, the game and the recorder (~10 s)
@pytest.mark.parametrize("group", [False, True], ids=["sigterm", "ctrl-c"])
def test_a_stopped_demo_stops_everything_it_started(tmp_path: Path, group: bool) -> None:
    out = tmp_path / "demo"
    env = {**_env(), "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nitrogen_capture", "demo", "--out", str(out), "--seconds", "30",
         "--size", "640x360"], env=env, start_new_session=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (out / "meta.json").is_file(), "the recorder's clock started", 60,
                   proc=proc)
        parent = psutil.Process(proc.pid)

        def started() -> list[psutil.Process]:  # Xvfb, game, record + its workers
            known = parent.children(recursive=True)
            names = {p.name() for p in known}
            return known if "Xvfb" in names and len(known) >= 4 else []

        known = wait_until(started, lambda: str({p.name() for p in parent.children(True)}), 30,
                           proc=proc, ignore=(psutil.Error,))
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    signum = signal.SIGINT if group else signal.SIGTERM
    assert proc.returncode == 128 + signum, (proc.returncode, stdout, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines == [f"nitrogen-capture demo: stopped by {signum.name}: the game, the recorder "
                     f"and Xvfb are stopped; the unchecked session is in {out}"], stderr
    assert not [kill9._describe(p) for p in kill9.session_processes(proc.pid, known)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["clock"]["t0_ns"] > 0


def _demo_work_folder(procs: list[psutil.Process]) -> Path:
    """The demo's scratch folder, from its game's command line (``--log <work>/game.json``)."""
    for p in procs:
        with contextlib.suppress(psutil.Error):
            cmd = p.cmdline()
            if "--log" in cmd:
                return Path(cmd[cmd.index("--log") + 1]).parent
    raise AssertionError("no process of the demo names its working folder")


@linux_only
@pytest.mark.x11
@pytest.mark.slow  # starts Xvfb, the game and the recorder (~10 s)
@pytest.mark.parametrize("group", [True, False], ids=["group", "main"])
def test_kill_9_of_the_demo_leaves_no_xvfb_process_semaphore_or_folder(tmp_path: Path,
                                                                        group: bool) -> None:
    out = tmp_path / "demo"
    env = {**_env(), "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    with (tmp_path / "demo.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nitrogen_capture", "demo", "--out", str(out), "--seconds",
             "30", "--size", "640x360"], env=env, start_new_session=True, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: (out / "meta.json").is_file(),
                   lambda: f"the recorder's clock started: {(tmp_path / 'demo.log').read_text()}",
                   60, proc=proc)
        parent = psutil.Process(proc.pid)
        known = parent.children(recursive=True)
        assert "Xvfb" in {p.name() for p in known}
        mapped = kill9.mapped_shm([parent, *known])
        work = _demo_work_folder(known)
        if group:  # Xvfb runs in its own session: the group kill does not reach it
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # the game, the recorder and Xvfb all outlived this before
            proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Each got its stop signal from the kernel: the recorder (SIGINT) stops cleanly and merges.
    assert not _wait_gone(known, timeout=60), [kill9._describe(p) for p in known
                                               if kill9._alive(p)]
    assert not [n for n in mapped if (SHM / n).exists()]
    if not group:
        # Killed right after meta.json: the stop can find the recorder anywhere in its start-up,
        # and its Xvfb dies at the same instant, so closing the capture, the target and the
        # listeners fails. The session still ends whole: finished, no journal left open (one
        # was, once, when a failed close skipped the writer's stop). Whether it merged depends
        # on which came first, the SIGINT or the lost display (test_start_stop_race.py).
        meta = json.loads((out / "meta.json").read_text())
        assert meta["status"] == "complete" and not list(out.glob("journal_*")), \
            (meta["status"], meta["stop_reason"], sorted(p.name for p in out.iterdir()))
        report = validate_session(out)
        assert report.ok, report.format()
    # A folder cannot vanish with its owner: the next run removes it by its own record. On a
    # shared machine that next run may be another test's demo, sweeping it first.
    from nitrogen_capture.scratch import sweep

    present = work.is_dir()
    assert work in sweep() or not present
    assert not work.exists()
