"""Start and stop a private Xvfb server for the tier-1 (X11) tests.

``Xvfb -displayfd`` picks a free display number itself and writes it to the given pipe, so
parallel test runs never collide on ``:99``.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


class XvfbError(RuntimeError):
    """Xvfb could not be started."""


@contextmanager
def xvfb(size: str = "1280x720x24", timeout_s: float = 15.0) -> Iterator[str]:
    """Run Xvfb for the duration of the block; yields the display name (e.g. ``:3``).

    While it runs, ``DISPLAY`` points at it; the previous value is restored afterwards.
    """
    exe = shutil.which("Xvfb")
    if exe is None:
        raise XvfbError("Xvfb is not installed (make setup installs the xvfb package)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        data = b""
        deadline = time.monotonic() + timeout_s
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(left, 0))
            if not ready:
                raise XvfbError(f"Xvfb did not report a display within {timeout_s} s")
            chunk = os.read(read_fd, 64)
            if not chunk:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise XvfbError(f"Xvfb exited: {err.strip()[-500:]}")
            data += chunk
        display = ":" + data.decode().strip()
        old = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display
        try:
            yield display
        finally:
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
