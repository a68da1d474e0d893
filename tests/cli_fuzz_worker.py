"""The worker process of ``tests/cli/test_cli_fuzz.py``, both ends: it runs fuzz cases through
``cli.main`` in-process, one after the other, and :func:`run_cases` drives workers from the test.

Protocol: the test starts ``python -m cli_fuzz_worker TEMPLATE WORLDS`` and writes one case a
line (JSON ``{"argv": [...], "real": bool}``; ``@W@`` in the argv stands for the case's world
folder); the worker answers one JSON line: exit code, stdout, stderr, seconds, the boundary stub
the run reached (if any), the watchdog's hang notes and what changed in the world. A case that
gets no answer within the timeout is a hang, and one that kills the worker (SIGSEGV in a C
library) gets its exit status as the answer: :func:`run_cases` kills that worker (and what it
started) and goes on with a new one.

Why a process and not the test's: a FIFO given to a flag blocks a reader in ``open()`` until a
writer comes, which no in-process timeout can interrupt. And stdout / stderr here have a
terminal's encodings (UTF-8; strict for stdout, ``backslashreplace`` for stderr), so a message
that cannot be printed fails as it would for a user. ``DISPLAY`` and ``WAYLAND_DISPLAY`` are
unset: nothing here opens a window or grabs a screen.

Boundary stubs: the commands that would start a display, a game, a window or a cluster stop
where that work would begin, after every check of their flags, by raising :class:`Boundary` (a
``BaseException``, so no ``except Exception`` of the product catches it): ``demo`` (its Xvfb),
``calibrate`` (``run_calibration``: its window, injector and recording), ``convert`` on Ray
(``run_ray``) and ``record`` when the case is not ``real`` (``Recorder.run``). A ``real`` record
records (synthetic source, scripted input), stopped by a watchdog after :data:`RECORD_LIMIT_S`
(the case then reports a hang). ``report`` renders its plots as a 1x1 PNG: matplotlib's layout
and PNG encoding are most of its time, and ``tests/preview/test_report.py`` checks the real plots.
The CLI's parser is built once (argparse takes ~15 ms to build it; the pass calls main() some 2,500
times); the test classifies a freshly built one.

A world is a copy of the template (a valid session ``sess/`` and the files the values point
at) plus a FIFO and a session list; the next case reuses it while nothing in it changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import psutil

RECORD_LIMIT_S = 30.0
W = "@W@"
Result = dict[str, Any]


class Boundary(BaseException):  # not an Exception: no handler of the product catches it
    """The command passed its checks and would start a display, window or cluster now."""


# -- the worker ------------------------------------------------------------------------------
def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (relative path -> kind and content hash), links not followed.

    A FIFO or device is recorded by kind only: opening it could block.
    """
    out: dict[str, str] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                rel = Path(entry.path).relative_to(root).as_posix()
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    out[rel] = "dir"
                    stack.append(Path(entry.path))
                elif stat.S_ISLNK(mode):
                    out[rel] = "link:" + os.readlink(entry.path)
                elif stat.S_ISREG(mode):
                    out[rel] = hashlib.sha1(Path(entry.path).read_bytes()).hexdigest()
                else:
                    out[rel] = f"special:{stat.S_IFMT(mode)}"
    return out


def diff(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Added, changed and removed entries between two :func:`tree` maps."""
    return {"added": sorted(after.keys() - before.keys()),
            "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
            "removed": sorted(before.keys() - after.keys())}


def _boundary(what: str) -> Any:
    def stub(*args: Any, **kwargs: Any) -> Any:
        raise Boundary(what)
    return stub


def _install_stubs(hang: list[str], real: list[int]) -> None:
    import cv2
    import numpy as np

    import nitrogen_capture.calibrate as calibrate
    import nitrogen_capture.cli as cli
    import nitrogen_capture.demo.runner as demo_runner
    import nitrogen_capture.export.batch.run as batch_run
    import nitrogen_capture.record as record
    import nitrogen_capture.report.plots as plots

    demo_runner._display = _boundary("demo: Xvfb")
    calibrate.run_calibration = _boundary("calibrate: calibration")
    batch_run.run_ray = _boundary("convert: Ray")
    parser = cli.build_parser()
    cli.build_parser = lambda: parser
    tiny = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes()
    plots._png = lambda fig: tiny
    real_build = record.build_recorder

    def build_recorder(*args: Any, **kwargs: Any) -> Any:
        recorder = real_build(*args, **kwargs)
        real[1] += 1  # recordings built in this case
        if not real[0]:
            recorder.run = _boundary("record: recording")
            return recorder
        if real[1] > 2:  # a collection run with no end (--episodes 0): two episodes show it
            recorder.run = _boundary("record: a third episode")
            return recorder

        def stop() -> None:
            hang.append(f"record still running after {RECORD_LIMIT_S:g} s")
            recorder.stop("fuzz watchdog")

        timer = threading.Timer(RECORD_LIMIT_S, stop)
        timer.daemon = True
        real_run = recorder.run

        def run() -> Any:
            timer.start()
            try:
                return real_run()
            finally:
                timer.cancel()

        recorder.run = run
        return recorder

    record.build_recorder = build_recorder


def _new_world(template: Path, root: Path) -> Path:
    world = Path(tempfile.mkdtemp(prefix="w", dir=root))  # a new name, also after a restart
    shutil.copytree(template, world, symlinks=True, dirs_exist_ok=True)
    (world / "list.txt").write_text(f"{world / 'sess'}\n", encoding="utf-8")
    (world / "tasks.txt").write_text("reach the flag\ncollect 3 coins\n", encoding="utf-8")
    if hasattr(os, "mkfifo"):
        os.mkfifo(world / "fifo")
    return world


def _run(argv: list[str], cwd: Path, hang: list[str]) -> Result:
    from nitrogen_capture.cli import main

    out_b, err_b = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace",
                           write_through=True)
    saved = sys.stdout, sys.stderr, os.getcwd()
    logging.root.handlers.clear()  # main() points logging at this run's stderr
    sys.stdout, sys.stderr = out, err
    os.chdir(cwd)
    code: int | None = None
    reached = ""
    t0 = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage errors 2, --help 0
        code = exc.code if isinstance(exc.code, int) else 1
    except Boundary as exc:
        reached = str(exc)
    except BaseException:  # what the interpreter would print, and its exit status
        err.write(traceback.format_exc())
        code = 1
    finally:
        seconds = time.perf_counter() - t0
        sys.stdout, sys.stderr = saved[0], saved[1]
        os.chdir(saved[2])
        logging.root.handlers.clear()
    return {"code": code, "out": out_b.getvalue().decode("utf-8", "replace"),
            "err": err_b.getvalue().decode("utf-8", "replace"), "seconds": seconds,
            "boundary": reached, "hang": list(hang)}


def _private_stdio() -> tuple[TextIO, TextIO]:
    """The protocol's own copies of stdin and stdout; fds 0 and 1 become /dev/null.

    Whatever a case writes to fd 1 (a child process it starts) or reads from fd 0 then cannot
    mix with the protocol's lines.
    """
    cases = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the process's life
    return cases, replies


def serve(template: Path, root: Path) -> None:
    """Answer one JSON line per case line until the cases end."""
    cases, replies = _private_stdio()
    hang: list[str] = []
    real = [1, 0]  # [record for real in this case, recordings built in it]
    _install_stubs(hang, real)
    world: Path | None = None
    before: dict[str, str] = {}
    for line in cases:
        case = json.loads(line)
        if world is None:
            world = _new_world(template, root)
            before = tree(world)
        hang.clear()
        real[0], real[1] = case["real"], 0
        result = _run([a.replace(W, str(world)) for a in case["argv"]], world / "cwd", hang)
        result["diff"] = diff(before, tree(world))
        result["world"] = str(world)
        if any(result["diff"].values()):  # the next case gets a fresh world
            shutil.rmtree(world, ignore_errors=True)
            world = None
        replies.write(json.dumps(result) + "\n")
        replies.flush()
    if world is not None:
        shutil.rmtree(world, ignore_errors=True)


# -- the test's side ---------------------------------------------------------------------------
class Worker:
    """One worker process, fed one case at a time."""

    def __init__(self, template: Path, worlds: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(PYTHONPATH=os.pathsep.join(sys.path), SDL_AUDIODRIVER="dummy",
                   PYGAME_HIDE_SUPPORT_PROMPT="1")
        self.log = worlds / "worker.log"  # the worker's own stderr, for a worker that dies
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli_fuzz_worker", str(template), str(worlds)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True,
                encoding="utf-8")
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # the worker is gone

    def run(self, argv: Sequence[str], real: bool, timeout: float) -> Result | None:
        """The worker's answer, or None when none came within ``timeout`` seconds."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"argv": list(argv), "real": real}) + "\n")
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if not line:  # the case killed the worker (a crash in a C library: SIGSEGV)
            code = self.proc.wait(timeout=60)
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
            return {"code": code, "out": "", "err": f"the process died: exit status {code} "
                                                   f"{' '.join(tail)}",
                    "seconds": 0.0, "boundary": "", "hang": [], "died": True,
                    "diff": {"added": [], "changed": [], "removed": []}}
        answer: Result = json.loads(line)
        return answer

    def close(self, kill: bool = False) -> None:
        """End the worker; ``kill``: it hangs, so kill it and every process it started."""
        if kill:
            try:
                procs = [psutil.Process(self.proc.pid)]
                procs += procs[0].children(recursive=True)
            except psutil.Error:
                procs = []
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    p.kill()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with contextlib.suppress(OSError):  # killed with a case still in the pipe
            self.proc.stdin.close()  # the end of the cases: the worker returns
        self.proc.wait(timeout=120)
        self._reader.join(timeout=120)  # it has read to the end: the pipe can close
        self.proc.stdout.close()


def run_cases(cases: Sequence[tuple[Sequence[str], bool]], template: Path, worlds: Path, *,
              workers: int, timeout: float) -> list[Result | None]:
    """Each case's answer (None: it hung), ``workers`` workers taking the next case in turn."""
    todo = list(enumerate(cases))
    todo.reverse()
    lock = threading.Lock()
    answers: list[Result | None] = [None] * len(cases)
    errors: list[BaseException] = []

    def drive(n: int) -> None:
        folder = worlds / f"worker{n}"
        folder.mkdir()
        worker = Worker(template, folder)
        try:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    i, (argv, real) = todo.pop()
                answer = answers[i] = worker.run(argv, real, timeout)
                if answer is None or answer.get("died"):  # a new worker for the next case
                    worker.close(kill=True)
                    worker = Worker(template, folder)
        except BaseException as exc:  # re-raised by run_cases, in the test's thread
            errors.append(exc)
        finally:
            worker.close()

    threads = [threading.Thread(target=drive, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return answers


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
