"""A private Xvfb virtual display for the demo and the tier-1 tests.

``Xvfb -displayfd FD`` picks a free display number itself and writes it to FD once the server
accepts connections, so there is no race on display numbers and no fixed sleep::

    with xvfb((1280, 720)) as display:      # ":99"
        subprocess.run([...], env={**os.environ, "DISPLAY": display})

:func:`spawn` starts a process with SIGINT and SIGTERM held until its owner has it: the demo
turns those signals into an exception (:mod:`.runner`), and one raised between the fork and the
assignment of the ``Popen`` would leave a process nobody stops. The server gets SIGTERM from the
kernel when the process that started it dies, ``kill -9`` included (Linux:
:func:`~nitrogen_capture.lifeline.tied_command`).
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from ..errors import PlatformError
from ..lifeline import tied_command

__all__ = ["XvfbServer", "interrupt", "spawn", "xvfb"]

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 15.0
class _Spawning:
    """Children being started now, and a stop requested meanwhile (main thread only)."""

    depth = 0
    pending: BaseException | None = None


_spawning = _Spawning()


def interrupt(exc: BaseException) -> None:
    """Raise ``exc`` (from a signal handler) now, or once :func:`spawn` registered its child.

    So a child being started when the stop comes is always among the processes that get stopped.

    A held-back signal, not a blocked one: a signal mask is inherited through ``exec``, and a
    child started with SIGTERM blocked would never see the SIGTERM that asks it to stop.
    """
    if _spawning.depth:
        _spawning.pending = exc
        return
    raise exc


def spawn(cmd: list[str], register: Callable[[subprocess.Popen[bytes]], None],
          **kwargs: Any) -> subprocess.Popen[bytes]:
    """``Popen(cmd, **kwargs)``, handed to ``register`` before a pending stop is raised."""
    _spawning.depth += 1
    try:
        proc = subprocess.Popen(cmd, **kwargs)
        register(proc)
    finally:
        _spawning.depth -= 1
    pending = _spawning.pending
    if pending is not None and not _spawning.depth:
        _spawning.pending = None
        raise pending
    return proc


class XvfbServer:
    """One Xvfb process. :meth:`start` returns the DISPLAY string; :meth:`stop` is idempotent."""

    def __init__(self, size: tuple[int, int] = (1280, 720), depth: int = 24) -> None:
        self.size = size
        self.depth = depth
        self.display: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._err: IO[bytes] | None = None

    def _keep(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc

    def start(self) -> str:
        """Start Xvfb and wait until it accepts connections (stopped again if that fails)."""
        try:
            return self._start()
        except BaseException:  # a signal while waiting, a timeout: Xvfb must not survive
            self.stop()
            raise

    def _start(self) -> str:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise PlatformError(
                "Xvfb is not installed: install the Debian package xvfb "
                "(apt-get install xvfb), or use --visible to run on your own display"
            )
        w, h = self.size
        # stderr goes to a file, not a pipe: nobody drains a pipe while Xvfb runs, and a full
        # pipe would block the server.
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        read_fd, write_fd = os.pipe()
        try:
            # Its own session: a terminal's Ctrl+C goes to the demo's process group, and the
            # display must outlive it until the demo has stopped the game and the recorder.
            # Being in another session, it would survive a kill -9 of the demo's process
            # group: tied_command makes the kernel send it SIGTERM when the demo dies.
            cmd = [exe, "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x{self.depth}",
                   "-nolisten", "tcp", "-noreset"]
            spawn(tied_command(cmd, signal.SIGTERM), self._keep, start_new_session=True,
                  pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=self._err)
        finally:
            os.close(write_fd)
        try:
            number = self._read_display(read_fd)
        finally:
            os.close(read_fd)
        self.display = f":{number}"
        assert self._proc is not None
        log.info("Xvfb %s started (pid %d, %dx%d)", self.display, self._proc.pid, w, h)
        return self.display

    def _read_display(self, fd: int) -> int:
        assert self._proc is not None and self._err is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            chunk = os.read(fd, 64) if ready else b""
            if not chunk:  # EOF (Xvfb died) or timeout
                if self._proc.poll() is None:
                    self._proc.terminate()
                    self._proc.wait(timeout=5)
                self._err.seek(0)
                tail = self._err.read().decode(errors="replace").strip().splitlines()[-3:]
                self.stop()
                raise PlatformError(
                    "Xvfb did not start" + (": " + " / ".join(tail) if tail else
                                            f" within {_START_TIMEOUT_S:g} s")
                )
            data += chunk
        return int(data.strip())

    def stop(self) -> None:
        """Terminate Xvfb (kill after 5 s)."""
        proc, self._proc = self._proc, None
        if self._err is not None:
            self._err.close()
            self._err = None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def pid(self) -> int | None:
        """PID of the running server."""
        return self._proc.pid if self._proc else None


@contextmanager
def xvfb(size: tuple[int, int] = (1280, 720), depth: int = 24) -> Iterator[str]:
    """Run a private Xvfb for the duration of the block and yield its DISPLAY string."""
    server = XvfbServer(size, depth)
    display = server.start()
    try:
        yield display
    finally:
        server.stop()
