"""Shared pytest fixtures.

``xvfb_display``: a private Xvfb (1280x720x24, the one ``nitrogen-capture demo`` uses) for the
whole session, for tests marked ``x11``; ``DISPLAY`` points at it while it runs. ``demo_display``:
a second one for the demo game, ``DISPLAY`` left alone. Both follow the one policy of
tests/xserver.py (a missing Xvfb is a failure, not a skip; stopped at the end).

``pulse_server``: a private PulseAudio server with a null sink ``game``, per test
(tests/pulse_server.py), ``os.environ`` pointing at it; skipped without ``pulseaudio``.

``no_process_left_behind`` (autouse, whole session): every process the tests start inherits
``NITROGEN_CAPTURE_TEST_RUN`` (a token of this pytest run), so at the end the ones still alive
are found even after they were re-parented (an orphaned encoder worker, a resource tracker, an
Xvfb): they are killed and the session fails with their list. The token, not "nitrogen_capture
in the command line", because other test runs on the same machine have that too. On Windows the
guard works the same way (psutil reads other processes' environments there too); under Wine it
leaves Wine's own programs alone (explorer.exe /desktop, services.exe, winedevice.exe...): Wine
starts them on demand from whichever program first needs them, so they inherit the token, but
they belong to the prefix (``wineserver -k`` ends them), and killing the desktop process would
break every later window of the prefix.

Under Wine 8 (tests_wine/, the Windows tier) one more thing is set up: ``kernel32.CopyFile2``
is unimplemented there and Wine kills the calling process (no exception) the moment CPython 3.13's
``shutil.copy2`` / ``copytree`` reach it. The tests copy trees with those, so under Wine the
session hides ``_winapi.CopyFile2``; shutil then takes its documented fallback (copyfile +
copystat), the path it takes on Windows builds without CopyFile2. Real Windows is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psutil
import pytest

from nitrogen_capture.winecompat import wine_version
from pulse_server import PulseServer, pulseaudio_missing
from waiting import wait_until
from xserver import private_xvfb

_RUN_TOKEN_VAR = "NITROGEN_CAPTURE_TEST_RUN"
_GRACE_S = 5.0  # a process that is already stopping gets this long
_WINE = wine_version() is not None

if _WINE:
    import _winapi

    if hasattr(_winapi, "CopyFile2"):
        del _winapi.CopyFile2  # Wine 8 aborts the process in it (see the module docstring)


def _wine_own(p: psutil.Process) -> bool:
    """Whether ``p`` is one of Wine's programs (it lives in C:\\windows), under Wine only."""
    if not _WINE:
        return False
    windir = os.environ.get("WINDIR") or os.environ.get("SYSTEMROOT") or r"C:\windows"
    with contextlib.suppress(psutil.Error, OSError, IndexError):
        # cmdline, not exe(): psutil's exe() needs NtQuerySystemInformation's
        # SystemProcessIdInformation, which Wine 8 answers with ERROR_INVALID_PARAMETER.
        program = p.cmdline()[0]
        return os.path.normcase(program).startswith(os.path.normcase(windir) + os.sep)
    return False


def _ours(token: str) -> list[psutil.Process]:
    """Live processes of this test run other than pytest itself and its resource tracker."""
    from multiprocessing import resource_tracker

    keep = {os.getpid(), getattr(resource_tracker._resource_tracker, "_pid", None)}
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    for p in psutil.process_iter():
        if p.pid in found or p.pid in keep:
            continue
        with contextlib.suppress(psutil.Error):
            if p.environ().get(_RUN_TOKEN_VAR) == token:
                found[p.pid] = p
    alive = []
    for p in found.values():
        with contextlib.suppress(psutil.Error):
            if (p.pid not in keep and p.status() != psutil.STATUS_ZOMBIE
                    and not _wine_own(p)):
                alive.append(p)
    return alive


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail the session when a process started by the tests outlives them (and kill it)."""
    token = uuid.uuid4().hex
    old = os.environ.get(_RUN_TOKEN_VAR)
    os.environ[_RUN_TOKEN_VAR] = token
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(_RUN_TOKEN_VAR, None)
        else:
            os.environ[_RUN_TOKEN_VAR] = old
    with contextlib.suppress(AssertionError):  # stopping ones get a grace; then they are killed
        wait_until(lambda: not _ours(token), "the tests' processes gone", _GRACE_S,
                   interval=0.1)
    left = _ours(token)
    described = []
    for p in left:
        with contextlib.suppress(psutil.Error):
            described.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
            p.kill()
    if described:
        pytest.fail("processes started by the tests outlived them (killed now):\n"
                    + "\n".join(described), pytrace=False)


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb for the whole session, with DISPLAY pointing at it.

    The session is an X11 one even when the tests run from a Wayland desktop: its variables are
    hidden meanwhile, or ``auto`` would record through the portal (desktop.py).
    """
    wayland = ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "SWAYSOCK")
    with private_xvfb() as display:
        old = {name: os.environ.get(name) for name in ("DISPLAY", *wayland)}
        os.environ["DISPLAY"] = display
        for name in wayland:
            os.environ.pop(name, None)
        try:
            yield display
        finally:
            for name, value in old.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="session")
def demo_display() -> Iterator[str]:
    """Another private Xvfb for the whole session, for the demo game (DISPLAY left alone)."""
    with private_xvfb() as display:
        yield display


@pytest.fixture
def pulse_server() -> Iterator[PulseServer]:
    """A private PulseAudio server with a null sink ``game``, for one test (tests/pulse_server.py).

    ``os.environ`` points at it while the test runs (``PULSE_SERVER``...); ``.env`` holds the same
    for subprocesses. Skipped where Debian's pulseaudio is not installed (the Windows workflow).
    """
    why = pulseaudio_missing()
    if why is not None:
        pytest.skip(why)
    with PulseServer() as server, server.applied():
        yield server
