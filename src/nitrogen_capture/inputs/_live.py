"""The live input sources of this platform (the ``pynput`` input backend).

* Linux/X11: :class:`~._pynput.PynputInput` (keys, buttons, wheel through XRecord) and
  :class:`~._xi2_raw.XI2RawMotion` (raw relative motion). Without usable XInput2 the motion
  source is left out and a warning is recorded: the recorder copies
  :attr:`LiveSources.warnings` into ``meta.json`` ``input.warnings`` so a session without mouse
  deltas says why.
* Windows: :class:`~._pynput.PynputInput` and the Raw Input (``WM_INPUT``) motion source
  ``RawInputMotion`` from ``_rawinput_win32``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from .base import InputSource

__all__ = ["LiveSources", "live_input_sources"]

log = logging.getLogger(__name__)


class LiveSources(list[InputSource]):
    """A list of input sources plus the warnings met while building it (for ``meta.json``)."""

    def __init__(self, sources: list[InputSource] | None = None,
                 warnings: list[str] | None = None) -> None:
        super().__init__(sources or [])
        self.warnings: list[str] = list(warnings or [])


def live_input_sources(**options: Any) -> LiveSources:
    """Build the unstarted live sources for this platform.

    Args:
        **options: ``raw_motion`` (default True) turns the raw-motion source off when False;
            ``display`` names the X display (default ``$DISPLAY``). Other keys (``seed``,
            ``fps``, ``region``, ``target``) are accepted and ignored.
    """
    from ._pynput import PynputInput

    sources = LiveSources([PynputInput()])
    if not options.get("raw_motion", True):
        return sources
    if sys.platform == "win32":
        from . import _rawinput_win32

        motion_cls: Any = _rawinput_win32.RawInputMotion
        sources.append(motion_cls())
        return sources
    from ._xi2_raw import XI2RawMotion, probe_xi2

    display = options.get("display")
    reason = probe_xi2(display)
    if reason is None:
        sources.append(XI2RawMotion(display))
    else:
        msg = f"no raw mouse motion (XInput2 unavailable: {reason}); mouse_deltas stay zero"
        log.warning(msg)
        sources.warnings.append(msg)
    return sources
