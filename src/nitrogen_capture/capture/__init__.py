"""Frame sources behind one small base class, chosen by :func:`get_capture_backend`.

Backends: ``mss`` (X11 XShm, macOS, Windows GDI), ``dxcam`` (Windows Desktop Duplication),
``synthetic`` (a moving test pattern with a frame-number barcode; no display needed),
``pipewire`` (Wayland: the ScreenCast portal's PipeWire stream).
``auto`` picks DXCam then mss on Windows and mss elsewhere. The ``NITROGEN_CAPTURE_BACKEND``
environment variable overrides ``auto``. Each backend is one module named by one line of
:data:`REGISTRY` and imported only when chosen; :func:`register_capture_backend` adds one at
run time (tests register fakes through it, docs/extending.md "A capture backend").

A backend captures a :class:`CaptureTarget`: a region, or a window or stream when the backend
says so in :attr:`FrameSource.targets`. A region-only backend given a window grabs the window's
client area, as every backend does today; a stream it cannot grab at all.

DXCam does not fail when constructed but when it opens (``DuplicateOutput``: E_NOTIMPL under
Wine 8, E_ACCESSDENIED on a locked screen, unsupported over remote desktop) or grabs. ``auto``
therefore *tries* it - open, one grab, close - before choosing it, and otherwise falls back to
mss (GDI on Windows) with one warning saying why. The tried source is closed and a fresh one is
returned: the recorder opens it on its grabbing thread.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable

from ..errors import CaptureError, ConfigError, DependencyError
from .base import (
    BackendConfig,
    CaptureSettings,
    CaptureTarget,
    Frame,
    FrameSource,
    Region,
)

__all__ = [
    "BACKENDS",
    "REGISTRY",
    "BackendConfig",
    "CaptureSettings",
    "CaptureTarget",
    "Frame",
    "FrameSource",
    "Region",
    "capture_backend_class",
    "get_capture_backend",
    "register_capture_backend",
    "unregister_capture_backend",
]

#: Backend name -> ``"module:Class"`` (relative to this package) or a callable returning the
#: class. Adding a backend is one module plus one line here.
REGISTRY: dict[str, str | Callable[[], type[FrameSource]]] = {
    "mss": "._mss:MssSource",
    "dxcam": "._dxcam:DxcamSource",
    "wgc": "._wgc:WgcSource",
    "synthetic": "._synthetic:SyntheticSource",
    "pipewire": "._pipewire:PipeWireSource",
}
#: The names ``--capture-backend`` offers: ``auto`` and the built-in registry.
BACKENDS: tuple[str, ...] = ("auto", *REGISTRY)
ENV_VAR = "NITROGEN_CAPTURE_BACKEND"

log = logging.getLogger(__name__)


def register_capture_backend(name: str,
                             loader: str | Callable[[], type[FrameSource]]) -> None:
    """Make ``name`` a capture backend: ``loader`` is ``"package.module:Class"`` or a callable.

    Raises:
        ConfigError: ``name`` is ``auto`` or already taken.
    """
    if name == "auto" or name in REGISTRY:
        raise ConfigError(f"capture backend '{name}' is already registered")
    REGISTRY[name] = loader


def unregister_capture_backend(name: str) -> None:
    """Forget a backend added by :func:`register_capture_backend` (built-ins stay)."""
    if name not in BACKENDS:
        REGISTRY.pop(name, None)


def capture_backend_class(name: str) -> type[FrameSource]:
    """The frame-source class registered as ``name`` (imports its module now).

    Raises:
        ConfigError: unknown name.
        DependencyError: the backend's package is missing.
    """
    loader = REGISTRY.get(name)
    if loader is None:
        raise ConfigError(f"unknown capture backend '{name}': choose one of "
                          f"{', '.join(('auto', *REGISTRY))}")
    if callable(loader):
        return loader()
    module, _, attr = loader.partition(":")
    cls: type[FrameSource] = getattr(importlib.import_module(module, __name__), attr)
    return cls


def _make(name: str, target: CaptureTarget, settings: CaptureSettings,
          config: BackendConfig | None = None) -> FrameSource:
    cls = capture_backend_class(name)
    if config is None:
        config = cls.config_type.from_settings(settings)
    elif not isinstance(config, cls.config_type):
        raise ConfigError(f"capture backend '{name}' takes {cls.config_type.__name__} options, "
                          f"not {type(config).__name__}")
    if target.kind not in cls.targets:
        if target.kind != "window":
            raise ConfigError(f"capture backend '{name}' cannot capture a {target.kind} target")
        target = CaptureTarget(target.region)  # a region backend grabs the window's client area
    return cls.from_target(target, config)


def get_capture_backend(name: str = "auto", *, region: Region | None = None,
                        target: CaptureTarget | None = None, seed: int = 0,
                        monitor: int | None = None, synthetic_repeat: int = 0,
                        portal_reset: bool = False, fps: float | None = None,
                        config: BackendConfig | None = None) -> FrameSource:
    """Return an unopened frame source for ``target`` (or ``region``).

    Args:
        name: ``auto`` or a registered backend (:data:`REGISTRY`); ``auto`` honours
            ``$NITROGEN_CAPTURE_BACKEND``.
        region: desktop region to grab (shorthand for ``CaptureTarget.of_region(region)``).
        target: what to grab; give this or ``region``.
        seed: shared setting (:class:`CaptureSettings`): the synthetic texture's seed.
        monitor: shared setting: DXCam's monitor, numbered as in mss (1 is the first monitor;
            0 or None lets DXCam find the output of the region).
        synthetic_repeat: shared setting: every Nth synthetic frame repeats the one before.
        portal_reset: shared setting: the Wayland portal's picker shows again (pipewire).
        fps: shared setting: the recording's target frame rate (WGC paces itself by it).
        config: the named backend's own options instead (its :attr:`~FrameSource.config_type`).

    Raises:
        ConfigError: unknown backend name, options of another backend, a target it cannot grab.
        DependencyError: the backend's package is missing (the message names the extra).
        CaptureError: no backend works here.
    """
    if (region is None) == (target is None):
        raise ConfigError("give the capture backend a region or a target (one of them)")
    if target is None:
        assert region is not None
        target = CaptureTarget.of_region(region)
    settings = CaptureSettings(seed=seed, monitor=monitor, synthetic_repeat=synthetic_repeat,
                               portal_reset=portal_reset, fps=fps)
    if name == "auto":
        name = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if name != "auto":
        return _make(name, target, settings, config)
    errors: list[str] = []
    reason: str | None = None
    if sys.platform == "win32":
        try:
            _try_source(_make("dxcam", target, settings))
            return _make("dxcam", target, settings)
        except (DependencyError, CaptureError, ConfigError) as exc:
            # ConfigError too: a region across two monitors is no single DXGI output's, and
            # GDI grabs it whole.
            reason = getattr(exc, "short", None) or str(exc)
            errors.append(f"dxcam: {exc}")
    try:
        source = _make("mss", target, settings)
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
