"""A private PulseAudio server for the demo, with a null sink the game plays into.

The recorder reads the sink's monitor, and nothing reaches the speakers or the user's own sound
server.

Debian's ``pulseaudio`` runs with ``-n`` (no default configuration) and a script that loads only
the native protocol on ``<dir>/native`` (anonymous access) and a null sink ``game`` as the
default sink, so ``game.monitor`` is what the game plays. Its ``HOME``, ``XDG_RUNTIME_DIR`` and
``XDG_CONFIG_HOME`` are private folders of its own folder (a unix socket path must stay under 108
bytes: the demo puts it in its scratch folder, :mod:`nitrogen_capture.scratch`, which the next run
removes after a ``kill -9``). It does not exit when idle, dies with this process
(:func:`~nitrogen_capture.lifeline.tied_command`), and :meth:`SoundServer.stop` kills its
process group and removes the folder.

:attr:`SoundServer.env` is what a client (the game, the recorder) needs to reach it and only it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import AudioError
from ..lifeline import tied_command

__all__ = ["MONITOR", "SINK", "SoundServer", "sound_server_missing"]

SINK = "game"
MONITOR = f"{SINK}.monitor"
_START_TIMEOUT_S = 20.0  # a margin on a loaded machine, not an estimate
_PROGRAMS = ("pulseaudio", "pactl")


def sound_server_missing() -> str | None:
    """Why a private server cannot run here (None: it can)."""
    for program in _PROGRAMS:
        if shutil.which(program) is None:
            return f"{program} not found (Debian: apt-get install pulseaudio pulseaudio-utils)"
    return None


class SoundServer:
    """One private ``pulseaudio`` with the null sink ``game`` (see the module docstring)."""

    def __init__(self, rate: int = 48000, channels: int = 2, parent: Path | None = None) -> None:
        self.rate = rate
        self.channels = channels
        self.dir = Path(tempfile.mkdtemp(prefix="pa-", dir=parent))
        self.socket = self.dir / "native"
        self.log = self.dir / "pulseaudio.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Variables a client process needs to reach this server only."""
        return {"PULSE_SERVER": f"unix:{self.socket}", "PULSE_COOKIE": str(self.dir / "cookie"),
                "PULSE_CLIENTCONFIG": str(self.dir / "client.conf")}

    def start(self) -> SoundServer:
        """Start the server and wait until ``pactl info`` answers.

        Raises:
            AudioError: it did not start (with the end of its log).
        """
        if sys.platform == "win32":  # the demo is an X11 one; process groups are POSIX
            raise AudioError("no private sound server: PulseAudio is Linux-only here")
        missing = sound_server_missing()
        if missing is not None:
            raise AudioError(f"no private sound server: {missing}")
        for sub in ("home", "run", "config"):
            (self.dir / sub).mkdir(mode=0o700)
        (self.dir / "client.conf").write_text("autospawn = no\n")
        script = self.dir / "default.pa"
        script.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            f"load-module module-null-sink sink_name={SINK} rate={self.rate} "
            f"channels={self.channels}\nset-default-sink {SINK}\n")
        env = {**os.environ, **self.env, "HOME": str(self.dir / "home"),
               "XDG_RUNTIME_DIR": str(self.dir / "run"),
               "XDG_CONFIG_HOME": str(self.dir / "config")}
        cmd = ["pulseaudio", "-n", "-F", str(script), "--daemonize=no", "--exit-idle-time=-1",
               "--disallow-exit", "--use-pid-file=no", "--log-target=stderr"]
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(tied_command(cmd, signal.SIGKILL), env=env,
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          start_new_session=True)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-2:]
                self.stop()
                raise AudioError(f"the private sound server did not start: {' / '.join(tail)}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        return subprocess.run(["pactl", "info"], env={**os.environ, **self.env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30, check=False).returncode == 0

    def stop(self) -> None:
        """Stop the server's process group and remove its folder (idempotent)."""
        proc, self._proc = self._proc, None
        if sys.platform == "win32":  # never started there (start refuses)
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SoundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

