"""The on-screen recording indicator: a visible state that is never in the data.

``get_indicator(name)`` picks the backend (``record --indicator``, :data:`INDICATOR_BACKENDS`):

- ``x11``: a small override-redirect window drawn with core X (:mod:`._x11`), placed in a screen
  corner outside the captured rectangle; when the capture covers every corner it is not drawn
  and one warning says so;
- ``win32``: a small topmost window that Windows itself leaves out of every capture
  (``SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE)``, Windows 10 2004 and later;
  :mod:`._win32`);
- ``auto`` (default): ``win32`` on Windows, ``x11`` where an X display is set, else nothing; a
  backend that cannot start here is one warning and no indicator, never a failed recording;
- ``none``: nothing. ``fake`` (tests) remembers the states it was shown.

The states and colours are in :mod:`.base`; :class:`~nitrogen_capture.record.indicate.
IndicatorFeed` keeps one showing a recorder's state (and an episode loop's).
"""

from __future__ import annotations

import logging
import sys

from ..errors import ConfigError, DependencyError, PlatformError
from .base import PHASES, Indicator, IndicatorState, label

__all__ = ["INDICATOR_BACKENDS", "PHASES", "Indicator", "IndicatorState", "get_indicator",
           "label"]

log = logging.getLogger(__name__)

# The choices of RecordConfig.indicator / `record --indicator`.
INDICATOR_BACKENDS: tuple[str, ...] = ("auto", "x11", "win32", "none")


def get_indicator(name: str = "auto", *, display: str | None = None) -> Indicator:
    """The indicator ``name`` (one of :data:`INDICATOR_BACKENDS`, or ``fake`` for tests).

    Raises:
        ConfigError: unknown name.
        DependencyError / PlatformError: an explicit ``x11`` or ``win32`` cannot run here
            (``auto`` then gives no indicator, with one warning).
    """
    if name == "fake":
        from ._fake import FakeIndicator

        return FakeIndicator()
    if name not in INDICATOR_BACKENDS:
        raise ConfigError(f"--indicator must be one of {', '.join(INDICATOR_BACKENDS)}, "
                          f"got {name}", setting="indicator")
    if name == "none":
        return Indicator()
    if name == "auto":
        return _auto(display)
    return _make(name, display)


def _make(name: str, display: str | None) -> Indicator:
    if name == "win32":
        if sys.platform != "win32":
            raise PlatformError("--indicator win32 runs on Windows only")
        from ._win32 import Win32Indicator

        return Win32Indicator()
    from ._x11 import X11Indicator

    return X11Indicator(display)


def _auto(display: str | None) -> Indicator:
    from ..xdisplay import no_display_message

    if sys.platform == "win32":
        name = "win32"
    elif sys.platform.startswith("linux") and (display or no_display_message() is None):
        name = "x11"
    else:
        log.debug("no indicator: no backend for %s without an X display", sys.platform)
        return Indicator()
    try:
        return _make(name, display)
    except (DependencyError, PlatformError) as exc:
        log.warning("no on-screen indicator: %s", exc)
        return Indicator()
