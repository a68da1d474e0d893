"""Frame sources behind one small base class, chosen by :func:`get_capture_backend`.

Backends: ``mss`` (X11 XShm, macOS, Windows GDI), ``dxcam`` (Windows Desktop Duplication),
``synthetic`` (a moving test pattern with a frame-number barcode; no display needed).
``auto`` picks DXCam then mss on Windows and mss elsewhere. The ``NITROGEN_CAPTURE_BACKEND``
environment variable overrides ``auto``. Each backend is imported only when chosen.

DXCam does not fail when constructed but when it opens (``DuplicateOutput``: E_NOTIMPL under
Wine 8, E_ACCESSDENIED on a locked screen, unsupported over remote desktop) or grabs. ``auto``
therefore *tries* it - open, one grab, close - before choosing it, and otherwise falls back to
mss (GDI on Windows) with one warning saying why. The tried source is closed and a fresh one is
returned: the recorder opens it on its grabbing thread.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from ..errors import CaptureError, ConfigError, DependencyError
from .base import Frame, FrameSource, Region

__all__ = ["BACKENDS", "Frame", "FrameSource", "Region", "get_capture_backend"]

BACKENDS: tuple[str, ...] = ("auto", "mss", "dxcam", "synthetic")
ENV_VAR = "NITROGEN_CAPTURE_BACKEND"

log = logging.getLogger(__name__)


def _make(name: str, region: Region, options: dict[str, Any]) -> FrameSource:
    if name == "synthetic":
        from ._synthetic import SyntheticSource

        return SyntheticSource(region, seed=int(options.get("seed", 0)))
    if name == "mss":
        from ._mss import MssSource

        return MssSource(region)
    if name == "dxcam":
        from ._dxcam import DxcamSource

        # --monitor follows mss numbering (1 = first monitor); DXCam outputs count from 0.
        monitor = options.get("monitor")
        return DxcamSource(region, output=None if not monitor else int(monitor) - 1)
    raise ConfigError(f"unknown capture backend '{name}': choose one of {', '.join(BACKENDS)}")


def get_capture_backend(name: str = "auto", *, region: Region, **options: Any) -> FrameSource:
    """Return an unopened frame source for ``region``.

    Args:
        name: one of :data:`BACKENDS`; ``auto`` honours ``$NITROGEN_CAPTURE_BACKEND``.
        region: desktop region to grab.
        **options: backend options (``seed`` for synthetic; ``monitor`` for dxcam, numbered as
            in mss: 1 is the first monitor, 0 or None lets DXCam find the output of the region).

    Raises:
        ConfigError: unknown backend name.
        DependencyError: the backend's package is missing (the message names the extra).
        CaptureError: no backend works here.
    """
    if name == "auto":
        name = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if name != "auto":
        return _make(name, region, options)
    errors: list[str] = []
    reason: str | None = None
    if sys.platform == "win32":
        try:
            _try_source(_make("dxcam", region, options))
            return _make("dxcam", region, options)
        except (DependencyError, CaptureError, ConfigError) as exc:
            # ConfigError too: a region across two monitors is no single DXGI output's, and
            # GDI grabs it whole.
            reason = getattr(exc, "short", None) or str(exc)
            errors.append(f"dxcam: {exc}")
    try:
        source = _make("mss", region, options)
    except (DependencyError, CaptureError) as exc:
        errors.append(f"mss: {exc}")
    else:
        if reason is not None:
            log.warning("capture: dxcam unavailable (%s); using mss (GDI)", reason)
        return source
    raise CaptureError(
        "no capture backend works here (" + "; ".join(errors) + "); "
        f"pick one with --capture-backend or ${ENV_VAR}, or use --source synthetic"
    )


def _try_source(source: FrameSource) -> None:
    """Open ``source``, grab one frame and close it; raises what the backend raises."""
    try:
        source.open()
        source.grab()
    finally:
        source.close()
