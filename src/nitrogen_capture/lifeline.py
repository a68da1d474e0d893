"""Child processes that end when their parent ends, however it ends (``kill -9`` included).

Two kinds of children, two tools; every platform difference of the two is here:

- :func:`die_with_parent`, the first call of a worker process started through
  multiprocessing (the encoder pool's, the local batch engine's). Linux: the kernel sends
  SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); elsewhere a watchdog thread polls the
  parent.
- :func:`tied_command`, for a program started with ``subprocess`` (the demo's Xvfb, game and
  recorder, the calibration window): on Linux the command runs behind a two-line Python
  launcher that sets ``PR_SET_PDEATHSIG`` to the program's own stop signal and then replaces
  itself with the program (``execvp``: the setting survives it), so the program is asked to stop
  the way its owner would have asked. Elsewhere the command is returned unchanged: the owner's
  clean-up on SIGINT and SIGTERM is all there is.

``PR_SET_PDEATHSIG`` fires when the *thread* that started the child ends, so the thread that
starts such a child must outlive it (the main thread, or the recorder's capture thread for
its encoder pool). A child whose parent died before the call sees a different
``os.getppid()`` and leaves at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent", "tied_command"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_S = 0.5  # how often a worker without PR_SET_PDEATHSIG checks its parent

# argv: parent PID, signal number, the program and its arguments. -I -S: no site, no
# environment (~20 ms); errors of prctl are ignored: the program then runs as it would have.
_LAUNCHER = ("import ctypes, os, sys\n"
             "ctypes.CDLL(None).prctl(1, int(sys.argv[2]), 0, 0, 0)\n"
             "os.getppid() == int(sys.argv[1]) or os._exit(1)\n"
             "os.execvp(sys.argv[3], sys.argv[3:])\n")


def _pdeathsig_kill() -> bool:
    """Have the kernel SIGKILL this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (its owner) dies, however it dies.

    Linux: the kernel sends SIGKILL (``PR_SET_PDEATHSIG``); a parent that died before the call
    shows as a different ``os.getppid()``. Elsewhere, or when prctl fails: a daemon thread polls
    the parent every :data:`WATCHDOG_S` and leaves with ``os._exit`` (psutil compares the
    process's start time, so a reused PID does not keep the worker alive).
    """
    if _pdeathsig_kill():
        if os.getppid() != parent_pid:
            os._exit(1)
        return
    import psutil

    try:
        parent = psutil.Process(parent_pid)
    except psutil.Error:
        os._exit(1)

    def watch() -> None:
        while parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE:
            time.sleep(WATCHDOG_S)
        os._exit(1)

    def guarded() -> None:
        try:
            watch()
        except psutil.Error:
            os._exit(1)

    threading.Thread(target=guarded, name="parent-watchdog", daemon=True).start()


def tied_command(cmd: list[str], sig: int) -> list[str]:
    """``cmd``, run so that it receives ``sig`` when this process dies (Linux; else unchanged).

    The launcher replaces itself with the program (``execvp``), so the PID that ``subprocess``
    reports, the process name and the signals sent to it are the program's own.
    """
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), str(int(sig)), *cmd]
