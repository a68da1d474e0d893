"""Input listeners -> timestamped :class:`InputEvent` values, chosen by :func:`get_input_backends`.

Backends: ``pynput`` (keyboard, mouse buttons, wheel) with raw relative motion from XInput2
(``_xi2_raw``) on X11 or Raw Input (``_rawinput_win32``) on Windows; ``scripted`` (a deterministic
timeline, for tests and the synthetic source); ``none``. ``auto`` honours
``$NITROGEN_INPUT_BACKEND``. Backends are imported only when chosen.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import ConfigError
from ..events import InputEvent
from .base import InputSource

__all__ = ["BACKENDS", "InputEvent", "InputSource", "get_input_backends"]

BACKENDS: tuple[str, ...] = ("auto", "pynput", "scripted", "none")
ENV_VAR = "NITROGEN_INPUT_BACKEND"


def get_input_backends(name: str = "auto", **options: Any) -> list[InputSource]:
    """Return the unstarted input sources for ``name``.

    Args:
        name: one of :data:`BACKENDS`.
        **options: ``seed`` and ``fps`` for the scripted timeline; ``region`` for raw-motion
            fallbacks; ``target`` for window-bound listeners.
    """
    if name == "auto":
        name = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        if name == "auto":
            name = "pynput"
    if name == "none":
        return []
    if name == "scripted":
        from ._scripted import ScriptedInput

        return [ScriptedInput(seed=int(options.get("seed", 0)),
                              fps=float(options.get("fps", 30.0)),
                              gamepad=bool(options.get("gamepad", False)))]
    if name == "pynput":
        from ._live import live_input_sources

        if sys.platform != "win32":  # no X display: one line now, not a failed start later
            from ..xdisplay import check_x11_display

            check_x11_display()
        return live_input_sources(**options)
    raise ConfigError(f"unknown input backend '{name}': choose one of {', '.join(BACKENDS)}")
