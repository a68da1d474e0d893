"""``auto`` on a Wayland session: the backends a recording uses, told in one line.

``record`` (and ``calibrate``) call :func:`resolve_auto_paths` before anything opens. Off
Wayland it returns the settings unchanged and says nothing, so an X11 session keeps today's
path exactly. On Wayland the window target, when one is named, is looked up first (sway's IPC or
XWayland's X11) to learn whether the game is an XWayland or a native Wayland window, since that
decides the input path (desktop.py); the lookup is closed again and the recording resolves the
target itself as always.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from ..config import RecordConfig
from ..desktop import Desktop, choose_paths, detect_desktop
from ..targets.base import Target

__all__ = ["resolve_auto_paths", "target_shell"]


def target_shell(target: Target) -> str | None:
    """``xwayland``/``xdg_shell`` as the compositor says, ``x11`` for an X11 window, else None."""
    info = getattr(target, "info", None)
    if info is None:
        return None  # a region or a monitor
    if info.shell is not None:
        return str(info.shell)
    backend = getattr(target, "backend", None)
    return "x11" if getattr(backend, "name", None) == "x11" else None


def resolve_auto_paths(config: RecordConfig, say: Callable[[str], None],
                       *, desktop: Desktop | None = None,
                       env: Mapping[str, str] | None = None) -> RecordConfig:
    """``config`` with ``auto`` backends decided for this desktop; ``say`` gets the one line.

    Raises:
        PlatformError: no path works on this Wayland desktop (desktop.choose_paths).
        TargetNotFound: the named window is not there (as the recording would say).
    """
    import os

    env = os.environ if env is None else env
    desktop = detect_desktop(env) if desktop is None else desktop
    if not desktop.is_wayland or config.capture_backend == "synthetic":
        return config
    if "auto" not in (config.capture_backend, config.input_backend):
        return config
    shell = None
    if config.target.is_window and config.input_backend == "auto":
        from ..targets import resolve_target

        target = resolve_target(config.target, wait_s=config.target.wait_s)
        try:
            shell = target_shell(target)
        finally:
            target.close()
    choice = choose_paths(desktop, capture_backend=config.capture_backend,
                          input_backend=config.input_backend, target_shell=shell, env=env)
    if choice.line is not None:
        say(choice.line)
    return dataclasses.replace(config, capture_backend=choice.capture_backend,
                               input_backend=choice.input_backend)
