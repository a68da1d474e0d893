"""A private PulseAudio server for the audio tests: :class:`PulseServer`.

It is the demo's :class:`~nitrogen_capture.demo.soundserver.SoundServer` (one recipe for the
product and the tests) plus what tests do to a server: play into it, unload and reload its sink,
kill it, point this process at it.

Debian's ``pulseaudio`` runs with its own runtime directory (a short ``/tmp/pa-*`` folder: a unix
socket path must stay under 108 bytes), no user session and no default configuration (``-n``):
its script loads only the native protocol on ``<dir>/native`` with anonymous access and a null
sink ``game`` (the default sink), so ``game.monitor`` is the default sink's monitor, as the
game's output is on a desktop. It does not exit when idle and dies with the test process
(``lifeline.tied_command``); ``stop`` kills its process group and removes the folder.

Use::

    with PulseServer() as server:          # started, pactl answering
        with server.applied():             # os.environ["PULSE_SERVER"] etc. for this process
            ...
        subprocess.run(cmd, env={**os.environ, **server.env})
        player = server.play(samples, 48000)  # pacat into the sink; player.wait()
        server.unload_sink(); server.load_sink(rate=44100)

The fixture ``pulse_server`` (tests/conftest.py) gives a started server, applied, per test; it
skips where ``pulseaudio`` is not installed (the Windows workflow).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from nitrogen_capture.demo.soundserver import SINK, SoundServer, sound_server_missing
from waiting import wait_until

MONITOR = f"{SINK}.monitor"
_LEAD_S = 0.25  # how far the feed runs ahead of playback (pacat can still run dry under load)


def pulseaudio_missing() -> str | None:
    """Why a private server cannot run here, or the tests cannot play into it (None: both can).

    The server's own programs are the demo's check; the tests also play with ``pacat``.
    """
    if (why := sound_server_missing()) is not None:
        return why
    if shutil.which("pacat") is None:
        return "pacat not found (Debian: apt-get install pulseaudio-utils)"
    return None


def _feed(player: subprocess.Popen[bytes], data: npt.NDArray[np.int16], rate: int) -> None:
    """Write ``data`` to ``player``'s stdin in 10 ms pieces, at most _LEAD_S ahead of the clock."""
    assert player.stdin is not None
    piece = max(1, rate // 100)
    start = time.monotonic()
    with contextlib.suppress(BrokenPipeError, ValueError, OSError):  # pacat killed by stop()
        for i in range(0, len(data), piece):
            ahead = i / rate - (time.monotonic() - start)
            if ahead > _LEAD_S:
                time.sleep(ahead - _LEAD_S)  # pacing a real-time feed, not waiting on a condition
            player.stdin.write(data[i:i + piece].tobytes())
            player.stdin.flush()
        player.stdin.close()


class PulseServer(SoundServer):
    """The demo's private server (demo/soundserver.py) plus what the tests do to it."""

    def __init__(self, rate: int = 48000, channels: int = 2) -> None:
        super().__init__(rate, channels)
        self._players: list[tuple[subprocess.Popen[bytes], threading.Thread]] = []
        self._saved: dict[str, str | None] | None = None

    def start(self) -> PulseServer:
        """Start the server and wait until ``pactl info`` answers (AudioError: it did not)."""
        super().start()
        return self

    def _sink_module(self, rate: int | None = None) -> str:
        return (f"load-module module-null-sink sink_name={SINK} rate={rate or self.rate} "
                f"channels={self.channels}")

    def pactl(self, *args: str) -> str:
        """``pactl ARGS`` against this server; its stdout (raises on a non-zero exit)."""
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env}, check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def _pactl_ok(self, *args: str) -> bool:
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env},
                              capture_output=True, timeout=30).returncode == 0

    def sink_loaded(self) -> bool:
        """Whether the sink ``game`` exists now."""
        return any(line.split("\t")[1:2] == [SINK]
                   for line in self.pactl("list", "short", "sinks").splitlines())

    def unload_sink(self) -> None:
        """Unload the null sink's module: its monitor vanishes under any stream reading it."""
        for line in self.pactl("list", "short", "modules").splitlines():
            index, name, args = ([*line.split("\t"), "", ""])[:3]
            if name == "module-null-sink" and f"sink_name={SINK}" in args:
                self.pactl("unload-module", index)
        wait_until(lambda: not self.sink_loaded(), "the sink unloaded", 10.0)

    def load_sink(self, rate: int | None = None) -> None:
        """Load the null sink ``game`` again (at ``rate``, default the server's) as default."""
        self.pactl(*self._sink_module(rate).split())
        self.pactl("set-default-sink", SINK)
        wait_until(self.sink_loaded, "the sink loaded", 10.0)

    def play(self, samples: npt.NDArray[np.int16], rate: int) -> subprocess.Popen[bytes]:
        """Play int16 ``(n, channels)`` (or ``(n,)``) samples into the sink with ``pacat``.

        The samples are fed at the pace they play (10 ms pieces, at most 0.25 s ahead), as a
        game's audio thread does: given many seconds at once, the null sink renders them faster
        than real time and its monitor delivers bursts of ~1.3 s (seen with PulseAudio 16.1).
        Returns the running ``pacat`` at once (``.wait()`` for the end; ``stop`` ends any left).
        """
        data = np.ascontiguousarray(samples, dtype="<i2")
        channels = 1 if data.ndim == 1 else data.shape[1]
        player = subprocess.Popen(
            ["pacat", "--playback", f"--device={SINK}", "--format=s16le", f"--rate={rate}",
             f"--channels={channels}", "--raw", "--latency-msec=100"],
            env={**os.environ, **self.env}, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        feeder = threading.Thread(target=_feed, args=(player, data.reshape(len(data), -1), rate),
                                  name="pacat-feeder", daemon=True)
        feeder.start()
        self._players.append((player, feeder))
        return player

    def kill(self) -> None:
        """``kill -9`` the server (its clients' connections break); ``stop`` still cleans up."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=30)

    def apply(self) -> None:
        """Point this process's ``os.environ`` at the server (``restore`` undoes it)."""
        if self._saved is None:
            self._saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)

    def restore(self) -> None:
        """Put back the variables :meth:`apply` changed."""
        saved, self._saved = self._saved, None
        for name, value in (saved or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    @contextlib.contextmanager
    def applied(self) -> Iterator[PulseServer]:
        """:meth:`apply` for the block."""
        self.apply()
        try:
            yield self
        finally:
            self.restore()

    def stop(self) -> None:
        """Kill the players and the server's process group, remove the folder (idempotent)."""
        for player, feeder in self._players:
            if player.poll() is None:
                player.kill()
            player.wait(timeout=30)
            feeder.join(timeout=30)
            for pipe in (player.stdin, player.stderr):  # a killed player's feed stops mid-write
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        self._players.clear()
        super().stop()
        self.restore()

    def __enter__(self) -> PulseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
