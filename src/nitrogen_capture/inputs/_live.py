"""The live input sources of this platform (the ``pynput`` input backend).

* Linux/X11: :class:`~._pynput.PynputInput` (keys, buttons, wheel through XRecord) and
  :class:`~._xi2_raw.XI2RawMotion` (raw relative motion). Without usable XInput2 the motion
  source is left out and a warning is recorded: the recorder copies
  :attr:`LiveSources.warnings` into ``meta.json`` ``input.warnings`` so a session without mouse
  deltas says why.
* Windows: :class:`~._pynput.PynputInput` and the Raw Input (``WM_INPUT``) motion source
  ``RawInputMotion`` from ``_rawinput_win32``. Under Wine a warning says that the motion is not
  raw: Wine 8 makes ``WM_INPUT`` from the X pointer's moves over its own windows (cursor
  position differences; nothing while the pointer is outside them or pinned at the screen edge),
  measured by tests_wine/test_win32_inputs.py.
* With ``gamepad=True``: :class:`~._sdl.SdlGamepad` (SDL2 through pygame) on Linux/macOS,
  :class:`~._xinput.XInputGamepad` on Windows. XInput only sees Xbox-style pads, so
  ``gamepad_backend="sdl"`` reads a PlayStation pad on Windows through SDL instead.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..winecompat import wine_version
from .base import InputSettings, InputSource

__all__ = ["GAMEPAD_BACKENDS", "LiveConfig", "LiveSources", "gamepad_source",
           "live_input_sources", "pynput_sources"]

log = logging.getLogger(__name__)

GAMEPAD_BACKENDS: tuple[str, ...] = ("auto", "xinput", "sdl")


class LiveSources(list[InputSource]):
    """A list of input sources plus the warnings met while building it (for ``meta.json``)."""

    def __init__(self, sources: list[InputSource] | None = None,
                 warnings: list[str] | None = None) -> None:
        super().__init__(sources or [])
        self.warnings: list[str] = list(warnings or [])


@dataclass(frozen=True)
class LiveConfig:
    """The live (``pynput``) backend's options.

    Attributes:
        gamepad: add a gamepad reader, chosen by ``gamepad_backend`` (:func:`gamepad_source`).
        raw_motion: False leaves the raw-motion source out.
        display: the X display (None: ``$DISPLAY``).
    """

    gamepad: bool = False
    gamepad_backend: str = "auto"
    raw_motion: bool = True
    display: str | None = None

    @classmethod
    def from_settings(cls, settings: InputSettings) -> LiveConfig:
        """The fields of the shared settings this backend reads."""
        return cls(bool(settings.gamepad), str(settings.gamepad_backend or "auto"),
                   bool(settings.raw_motion), settings.display)


def pynput_sources(settings: InputSettings) -> list[InputSource]:
    """The ``pynput`` input backend: :func:`live_input_sources` of the settings."""
    if sys.platform != "win32":  # no X display: one line now, not a failed start later
        from ..xdisplay import check_x11_display

        check_x11_display()
    return live_input_sources(LiveConfig.from_settings(settings))


def live_input_sources(config: LiveConfig | None = None) -> LiveSources:
    """Build the unstarted live sources for this platform (``config``: defaults when None)."""
    from ._pynput import PynputInput

    config = config or LiveConfig()
    sources = LiveSources([PynputInput()])
    if config.gamepad:
        sources.append(gamepad_source(config.gamepad_backend))
    if not config.raw_motion:
        return sources
    if sys.platform == "win32":
        from . import _rawinput_win32

        motion_cls: Any = _rawinput_win32.RawInputMotion
        sources.append(motion_cls())
        wine = wine_version()
        if wine is not None:
            msg = (f"running under Wine {wine}: Raw Input motion comes from the cursor over "
                   "Wine's windows, so mouse_deltas miss motion outside the game window or at "
                   "the screen edge")
            log.warning(msg)
            sources.warnings.append(msg)
        return sources
    from ._xi2_raw import XI2RawMotion, probe_xi2

    display = config.display
    reason = probe_xi2(display)
    if reason is None:
        sources.append(XI2RawMotion(display))
    else:
        msg = f"no raw mouse motion (XInput2 unavailable: {reason}); mouse_deltas stay zero"
        log.warning(msg)
        sources.warnings.append(msg)
    return sources


def gamepad_source(backend: str = "auto") -> InputSource:
    """The unstarted gamepad reader for ``backend``, one of :data:`GAMEPAD_BACKENDS`.

    ``auto`` is XInput on Windows and SDL2 elsewhere.

    Raises:
        ConfigError: unknown backend.
        DependencyError: SDL chosen and pygame missing.
        PlatformError: XInput chosen off Windows.
    """
    if backend not in GAMEPAD_BACKENDS:
        raise ConfigError(f"unknown gamepad backend '{backend}': choose one of "
                          f"{', '.join(GAMEPAD_BACKENDS)}")
    if backend == "xinput" or (backend == "auto" and sys.platform == "win32"):
        from ._xinput import XInputGamepad

        return XInputGamepad()
    from ._sdl import SdlGamepad

    return SdlGamepad()
