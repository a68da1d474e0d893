"""A listener's reader thread that blocks in ``select`` and is woken by a self-pipe at stop.

The evdev backend and the XInput2 raw-motion reader both wait on file descriptors (event
devices, the X connection). Polling with a timeout would cost wake-ups all session long and add
its period to the stop; instead the thread also selects on the read end of a pipe
(:attr:`ReaderThread.wake_fd`), and :meth:`ReaderThread.stop` writes one byte to it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

__all__ = ["ReaderThread"]

log = logging.getLogger(__name__)

#: How long stop() waits for the reader before it gives up on it (it is a daemon thread).
JOIN_TIMEOUT_S = 2.0


class ReaderThread:
    """A daemon thread running ``target`` until :meth:`stop`.

    ``target`` selects on :attr:`wake_fd` beside its own descriptors and returns once it is
    readable.
    """

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self.name = name
        self._target = target
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1

    @property
    def wake_fd(self) -> int:
        """The descriptor that becomes readable when the thread should return."""
        return self._wake_r

    def start(self) -> None:
        """Open the pipe and start the thread."""
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._target, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Wake the thread, wait for it (a warning if it hangs), close the pipe; idempotent."""
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("%s thread did not stop within %.0f s", self.name, JOIN_TIMEOUT_S)
            self._thread = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
