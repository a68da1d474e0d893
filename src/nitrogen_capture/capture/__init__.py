"""Frame sources behind one small base class, chosen by :func:`get_capture_backend`.

Backends (the names of ``--capture-backend``, :data:`REGISTRY` and ``meta.json``
``capture.backend``): on Windows ``dxgi`` (DXGI Desktop Duplication through DXCam), ``wgc``
(Windows Graphics Capture) and ``gdi`` (GDI through python-mss); elsewhere ``mss`` (X11 XShm,
macOS) and ``pipewire`` (Wayland: the ScreenCast portal's PipeWire stream); everywhere
``synthetic`` (a moving test pattern with a frame-number barcode; no display needed). The old
names stay accepted (:data:`ALIASES`): ``dxcam`` is ``dxgi``, and ``mss`` on Windows is ``gdi``
(:func:`canonical_backend`); ``dxgi``/``wgc``/``gdi`` elsewhere are refused in one line.

``auto`` (or ``$NITROGEN_CAPTURE_BACKEND``, which overrides it) is, on Windows, the chain
:data:`WINDOWS_CHAIN` (``_chain.py``): each backend is *tried* - open, one grab, close - before
it is chosen, because DXGI and WGC fail when they open (``DuplicateOutput``: E_NOTIMPL under
Wine 8, DXGI_ERROR_UNSUPPORTED on a hybrid-GPU laptop, E_ACCESSDENIED on a locked screen) or
grab, not when constructed; one line says what was chosen and why the others were refused, and
the recording fails over to the next backend if the chosen one stops working. Elsewhere ``auto``
is mss (a Wayland desktop is decided before, in record/autopaths.py).

Each backend is one module named by one line of :data:`REGISTRY` and imported only when chosen;
:func:`register_capture_backend` adds one at run time (tests register fakes through it,
docs/extending.md "A capture backend").

A backend captures a :class:`CaptureTarget`: a region, or a window or stream when the backend
says so in :attr:`FrameSource.targets`. A region-only backend given a window grabs the window's
client area, as every backend does today; a stream it cannot grab at all.
"""

from __future__ import annotations

import importlib
import importlib.util
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
    "ALIASES",
    "BACKENDS",
    "CAPTURE_HELP",
    "REGISTRY",
    "WINDOWS_CHAIN",
    "BackendConfig",
    "CaptureSettings",
    "CaptureTarget",
    "Frame",
    "FrameSource",
    "Region",
    "canonical_backend",
    "capture_backend_class",
    "get_capture_backend",
    "register_capture_backend",
    "unregister_capture_backend",
]

#: Backend name -> ``"module:Class"`` (relative to this package) or a callable returning the
#: class. Adding a backend is one module plus one line here.
REGISTRY: dict[str, str | Callable[[], type[FrameSource]]] = {
    "dxgi": "._dxcam:DxcamSource",
    "wgc": "._wgc:WgcSource",
    "gdi": "._mss:MssSource",
    "mss": "._mss:MssSource",
    "synthetic": "._synthetic:SyntheticSource",
    "pipewire": "._pipewire:PipeWireSource",
}
#: Old names still accepted: name -> registry name (``mss`` is also ``gdi`` on Windows).
ALIASES: dict[str, str] = {"dxcam": "dxgi"}
#: The backends that only exist on Windows.
WINDOWS_ONLY: frozenset[str] = frozenset({"dxgi", "wgc", "gdi"})
#: What ``auto`` tries on Windows, in order.
WINDOWS_CHAIN: tuple[str, ...] = ("dxgi", "wgc", "gdi")
#: The names ``--capture-backend`` offers: ``auto``, the built-in registry and the aliases.
BACKENDS: tuple[str, ...] = ("auto", *REGISTRY, *ALIASES)
ENV_VAR = "NITROGEN_CAPTURE_BACKEND"
#: ``--capture-backend``'s help (record, calibrate).
CAPTURE_HELP = ("auto (the default), or on Windows dxgi (Desktop Duplication), wgc (Windows "
                "Graphics Capture) or gdi; elsewhere mss or pipewire; synthetic anywhere. auto "
                "on Windows tries dxgi, then wgc, then gdi, says in one line which it uses, "
                "and switches to the next one if it stops working. The old names dxcam (= dxgi) "
                "and mss (= gdi on Windows) still work; $NITROGEN_CAPTURE_BACKEND overrides auto")

def register_capture_backend(name: str,
                             loader: str | Callable[[], type[FrameSource]]) -> None:
    """Make ``name`` a capture backend: ``loader`` is ``"package.module:Class"`` or a callable.

    Raises:
        ConfigError: ``name`` is ``auto``, an old name (:data:`ALIASES`) or already taken.
    """
    if name == "auto" or name in REGISTRY or name in ALIASES:
        raise ConfigError(f"capture backend '{name}' is already registered")
    REGISTRY[name] = loader


def unregister_capture_backend(name: str) -> None:
    """Forget a backend added by :func:`register_capture_backend` (built-ins stay)."""
    if name not in BACKENDS:
        REGISTRY.pop(name, None)


def _platform() -> str:
    """``sys.platform``, read when asked (tests of the Windows chain replace this one seam)."""
    return sys.platform


def canonical_backend(name: str, platform: str | None = None) -> str:
    """The registry name of ``name`` on ``platform`` (default: this one, ``sys.platform``).

    ``dxcam`` is ``dxgi``; ``mss`` on Windows is ``gdi``; ``auto`` and unknown names come back
    as they are (:func:`capture_backend_class` refuses the unknown ones).

    Raises:
        ConfigError: a Windows-only backend (``dxgi``, ``wgc``, ``gdi``) elsewhere.
    """
    asked = name.strip().lower()
    name = ALIASES.get(asked, asked)
    windows = (platform if platform is not None else _platform()) == "win32"
    if windows and name == "mss":
        return "gdi"
    if not windows and name in WINDOWS_ONLY:
        raise ConfigError(f"capture backend '{asked}' is Windows-only; here use mss/pipewire "
                          "(or auto)", setting="capture_backend")
    return name


def capture_backend_class(name: str) -> type[FrameSource]:
    """The frame-source class registered as ``name`` (imports its module now).

    Raises:
        ConfigError: unknown name.
        DependencyError: the backend's package is missing, or its module is not in this build.
    """
    loader = REGISTRY.get(name)
    if loader is None:
        raise ConfigError(f"unknown capture backend '{name}': choose one of "
                          f"{', '.join(('auto', *REGISTRY, *ALIASES))}")
    if callable(loader):
        return loader()
    module, _, attr = loader.partition(":")
    try:
        found = importlib.import_module(module, __name__)
    except ModuleNotFoundError as exc:
        if exc.name != importlib.util.resolve_name(module, __name__):
            raise
        raise DependencyError(f"capture backend '{name}' is not installed in this build "
                              f"(no module {exc.name})") from exc
    cls: type[FrameSource] = getattr(found, attr)
    return cls


def _make(name: str, target: CaptureTarget, settings: CaptureSettings,
          config: BackendConfig | None = None) -> FrameSource:
    """An unopened source of the registry backend ``name``, named so in ``meta.json``."""
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
    source = cls.from_target(target, config)
    if name in WINDOWS_ONLY:
        source.name = name  # meta.json's name: gdi and mss are one class, mss's own name "mss"
    return source


def get_capture_backend(name: str = "auto", *, region: Region | None = None,
                        target: CaptureTarget | None = None, seed: int = 0,
                        monitor: int | None = None, synthetic_repeat: int = 0,
                        portal_reset: bool = False, fps: float | None = None,
                        config: BackendConfig | None = None) -> FrameSource:
    """Return an unopened frame source for ``target`` (or ``region``).

    Args:
        name: ``auto``, a registered backend (:data:`REGISTRY`) or an alias
            (:func:`canonical_backend`); ``auto`` honours ``$NITROGEN_CAPTURE_BACKEND``.
        region: desktop region to grab (shorthand for ``CaptureTarget.of_region(region)``).
        target: what to grab; give this or ``region``.
        seed: shared setting (:class:`CaptureSettings`): the synthetic texture's seed.
        monitor: shared setting: DXCam's monitor, numbered as in mss (1 is the first monitor;
            0 or None lets DXCam find the output of the region).
        synthetic_repeat: shared setting: every Nth synthetic frame repeats the one before.
        portal_reset: shared setting: the Wayland portal's picker shows again (pipewire).
        fps: shared setting: the recording's target frame rate (WGC paces itself by it).
        config: the named backend's own options instead (its :attr:`~FrameSource.config_type`).

    Returns:
        The named backend's source; for ``auto`` on Windows the chain's choice, wrapped so that
        it fails over while recording (``_chain.ChainSource``, with its ``choice``).

    Raises:
        ConfigError: unknown backend name, a Windows-only one elsewhere, options of another
            backend, a target it cannot grab.
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
    name = canonical_backend(name)
    if name != "auto":
        return _make(name, target, settings, config)
    if _platform() == "win32":
        from ._chain import choose

        # _make and _try_source looked up at call time: tests replace them.
        return choose(WINDOWS_CHAIN, target, lambda n, t: _make(n, t, settings),
                      lambda source: _try_source(source))
    try:
        return _make("mss", target, settings)
    except (DependencyError, CaptureError) as exc:
        raise CaptureError(
            f"no capture backend works here (mss: {exc}); "
            f"pick one with --capture-backend or ${ENV_VAR}, or use --source synthetic"
        ) from exc


def _try_source(source: FrameSource) -> None:
    """Open ``source``, grab one frame and close it; raises what the backend raises."""
    from ._chain import try_source

    try_source(source)
