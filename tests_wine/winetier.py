"""Run the Windows interpreter of the test tier (scripts/wine_setup.sh) under Wine.

Everything here runs on the Linux side: the tests start Windows programs with ``wine``, inject
input into their windows through XTEST (Wine draws its windows on the tests' Xvfb) and read the
sessions the Windows recorder writes, on the same disk.

Two Wine facts shape this module:
* a Windows CPython whose stdout is redirected to a *file* dies in ``init_sys_streams``
  (WinError 6); through a pipe it runs, so every process gets pipes, drained by threads;
* ``wineserver`` is per prefix and outlives the programs: the session fixture stops it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIER = Path(os.environ.get("WINE_TIER", ROOT / ".wine-tier"))
PYTHON_EXE = TIER / "python" / "python.exe"
SETUP_HINT = "run `make test-windows` (it builds the tier with scripts/wine_setup.sh)"


def wine_binary() -> str:
    """The ``wine`` launcher (Debian's wine64 package puts wine64 under /usr/lib/wine)."""
    for name in ("wine", "wine64", "/usr/lib/wine/wine64"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(f"no wine on this machine: {SETUP_HINT}")


def winpath(path: str | Path) -> str:
    """The Windows path of a Linux path (Wine maps / to drive Z:)."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def wine_env(display: str, prefix: Path) -> dict[str, str]:
    """Environment for a Windows program on ``display`` in Wine prefix ``prefix``."""
    return {
        **os.environ,
        "DISPLAY": display,
        "WINEPREFIX": str(prefix),
        "WINEDEBUG": "-all",
        # No Mono / Gecko installers: the tier never needs .NET or the HTML engine.
        "WINEDLLOVERRIDES": "mscoree,mshtml=",
        "NITROGEN_CAPTURE_SRC": winpath(ROOT / "src"),
        "SDL_AUDIODRIVER": "dummy",
        "PYGAME_HIDE_SUPPORT_PROMPT": "1",
        "PYTHONUTF8": "1",
        "PYTHONIOENCODING": "utf-8",
    }


class WinProcess:
    """A Windows program under Wine whose stdout and stderr are drained into strings."""

    def __init__(self, args: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            [wine_binary(), *self.args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._threads = [threading.Thread(target=self._drain, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self._out), (self.proc.stderr, self._err))]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _drain(stream: object, into: list[bytes]) -> None:
        assert stream is not None
        with stream:  # type: ignore[attr-defined]
            for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
                into.append(line)

    @property
    def stdout(self) -> str:
        """What the program printed so far."""
        return b"".join(self._out).decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        """What the program wrote to stderr so far."""
        return b"".join(self._err).decode("utf-8", "replace")

    def wait(self, timeout: float) -> int:
        """Wait for the exit and the drained output; kill and raise on timeout."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.args} did not exit within {timeout:g} s\n"
                                 f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}") from None
        for thread in self._threads:
            thread.join(timeout=5)
        return code

    def kill(self) -> None:
        """Kill the wine launcher (the tests' prefix teardown stops what is left)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def exited_silently(self) -> bool:
        """Whether the program exited non-zero without printing a byte (a Wine start-up flake:
        the Windows process dies before its first line; started again, it runs)."""
        if self.proc.poll() in (None, 0):
            return False
        for thread in self._threads:
            thread.join(timeout=5)
        return not self._out and not self._err

    def wait_for(self, text: str, timeout: float) -> None:
        """Wait until stdout or stderr contains ``text``."""
        deadline = time.monotonic() + timeout
        while text not in self.stdout and text not in self.stderr:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from {self.args} (exit {self.proc.poll()})\n"
                                     f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")
            time.sleep(0.05)


class WineTier:
    """The Windows interpreter, one Wine prefix and one X display, for one test session."""

    def __init__(self, display: str, prefix: Path) -> None:
        self.display = display
        self.prefix = prefix
        self.env = wine_env(display, prefix)

    def spawn(self, *args: str, exe: Path = PYTHON_EXE, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> WinProcess:
        """Start ``exe args`` (the Windows CPython by default) under Wine."""
        return WinProcess([str(exe), *args], {**self.env, **(env or {})}, cwd=cwd)

    def spawn_ready(self, *args: str, marker: str, timeout: float = 60,
                    cwd: Path | None = None) -> WinProcess:
        """:meth:`spawn` and wait for ``marker``; started once more if it exited silently.

        Only a silent non-zero exit (:meth:`WinProcess.exited_silently`) is retried: anything the
        program printed is a real failure, raised with its output.
        """
        for attempt in (1, 2):
            proc = self.spawn(*args, cwd=cwd)
            try:
                proc.wait_for(marker, timeout=timeout)
                return proc
            except AssertionError:
                if attempt == 2 or not proc.exited_silently():
                    proc.kill()  # a program that never got ready does not outlive the test
                    raise
        raise AssertionError("unreachable")

    def taskkill(self, *selector: str) -> None:
        """End Windows processes inside the prefix (``"/pid", "123"`` or ``"/im", "x.exe"``).

        A Windows program outlives the wine launcher :meth:`WinProcess.kill` ends.
        """
        subprocess.run([wine_binary(), "taskkill", "/f", *selector], env=self.env, timeout=30,
                       check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    @contextlib.contextmanager
    def running(self, script: Path, marker: str, timeout: float = 90) -> Iterator[WinProcess]:
        """Run a Windows CPython ``script`` that prints ``MARKER <pid>`` when it is ready.

        Yields once the marker is out; on exit ends the launcher and the Windows process (by
        the PID the script printed).
        """
        proc = self.spawn(winpath(script))
        try:
            proc.wait_for(marker, timeout=timeout)
            yield proc
        finally:
            proc.kill()
            pid = re.search(rf"{re.escape(marker)} (\d+)", proc.stdout)
            if pid:
                self.taskkill("/pid", pid.group(1))

    def start(self, program: str, *args: str, cwd: Path | None = None) -> WinProcess:
        """Start any Windows program by name or path (``notepad``, a ``.exe``) under Wine."""
        return WinProcess([program, *args], self.env, cwd=cwd)

    def python(self, *args: str, timeout: float = 120, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the Windows CPython to its end; returns the exit code and the output.

        A run that exits non-zero without printing a byte is started once more
        (:meth:`WinProcess.exited_silently`).
        """
        for _attempt in (1, 2):
            proc = self.spawn(*args, cwd=cwd, env=env)
            code = proc.wait(timeout)
            if not proc.exited_silently():
                break
        return subprocess.CompletedProcess(proc.args, code, proc.stdout, proc.stderr)

    def start_server(self) -> None:
        """Start a persistent wineserver and Wine's services with no pipes of ours.

        The first Wine program of a prefix starts wineserver, explorer.exe and the services,
        which inherit its stdout: started from a test's pipes they would hold those pipes open
        after the test's program exits.
        """
        exe = shutil.which("wineserver") or "/usr/lib/wine/wineserver"
        subprocess.run([exe, "-p"], env=self.env, timeout=30, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([wine_binary(), "cmd", "/c", "exit"], env=self.env, timeout=120,
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def stop_server(self) -> None:
        """Stop every program of the prefix (``wineserver -k``) and wait for the server."""
        env = self.env
        for args in (["wineserver", "-k"], ["wineserver", "-w"]):
            exe = shutil.which(args[0]) or "/usr/lib/wine/wineserver"
            subprocess.run([exe, *args[1:]], env=env, timeout=30, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def x_window(display: str, title: str, timeout: float = 30) -> int:
    """The X window that Wine made for the Windows window titled ``title`` (exact WM_NAME).

    Found by title: under Wine ``_NET_WM_PID`` is the Unix PID of the wine process, which the
    tests do not know for a program started through the ``wine`` launcher.
    """
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        deadline = time.monotonic() + timeout
        while True:
            stack = [d.screen().root]
            while stack:
                win = stack.pop()
                if (win.get_wm_name() == title
                        and win.get_attributes().map_state == X.IsViewable):
                    return int(win.id)
                stack.extend(win.query_tree().children)
            if time.monotonic() > deadline:
                raise AssertionError(f"no mapped X window titled {title!r} after {timeout:g} s")
            time.sleep(0.1)
    finally:
        d.close()


def activate(display: str, window_id: int) -> None:
    """Make a Wine window the foreground window, as a window manager would.

    The tests' Xvfb has no window manager. Wine's windows take part in ICCCM's ``WM_TAKE_FOCUS``
    protocol, so Wine ignores a bare X focus change (``FocusIn``) and makes the desktop window
    the foreground on ``FocusOut``: keys then reach no window and ``GetForegroundWindow`` is the
    desktop. Probed under Wine 8: X focus plus the ``WM_TAKE_FOCUS`` client message a WM sends
    make ``GetForegroundWindow`` follow the X focus, and the keys reach that window.
    """
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.protocol import event

    d = xdisplay.Display(display)
    try:
        win = d.create_resource_object("window", window_id)
        protocols, take = d.intern_atom("WM_PROTOCOLS"), d.intern_atom("WM_TAKE_FOCUS")
        win.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
        win.send_event(event.ClientMessage(window=win, client_type=protocols,
                                           data=(32, [take, X.CurrentTime, 0, 0, 0])),
                       event_mask=0)
        d.sync()
    finally:
        d.close()
