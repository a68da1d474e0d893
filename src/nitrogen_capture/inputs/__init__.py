"""Input listeners -> timestamped :class:`InputEvent` values, chosen by :func:`get_input_backends`.

Backends: ``pynput`` (keyboard, mouse buttons, wheel) with raw relative motion from XInput2
(``_xi2_raw``) on X11 or Raw Input (``_rawinput_win32``) on Windows; ``evdev`` (the kernel's
keyboards and mice, for native Wayland games, ``_evdev``); ``scripted`` (a deterministic
timeline, for tests and the synthetic source); ``none``. ``auto`` honours
``$NITROGEN_INPUT_BACKEND``. Each backend is a factory named by one line of :data:`REGISTRY`
(imported only when chosen) that turns the shared :class:`InputSettings` into its own frozen
config and its unstarted sources; :func:`register_input_backend` adds one at run time (tests
register fakes through it, docs/extending.md "An input backend").
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..events import InputEvent
from .base import InputFactory, InputSettings, InputSource

if TYPE_CHECKING:
    from ..targets.base import Target

__all__ = ["BACKENDS", "REGISTRY", "InputEvent", "InputFactory", "InputSettings", "InputSource",
           "get_input_backends", "register_input_backend", "unregister_input_backend"]

#: Backend name -> ``"module:factory"`` (relative to this package) or the factory itself.
REGISTRY: dict[str, str | InputFactory] = {
    "pynput": "._live:pynput_sources",
    "evdev": "._evdev:evdev_sources",
    "scripted": "._scripted:scripted_sources",
}
#: The names ``--input-backend`` offers: ``auto``, the built-in registry and ``none``.
BACKENDS: tuple[str, ...] = ("auto", *REGISTRY, "none")
ENV_VAR = "NITROGEN_INPUT_BACKEND"


def register_input_backend(name: str, factory: str | InputFactory) -> None:
    """Make ``name`` an input backend: ``factory`` is ``"package.module:function"`` or callable.

    Raises:
        ConfigError: the name is taken (``auto`` and ``none`` included).
    """
    if name in ("auto", "none") or name in REGISTRY:
        raise ConfigError(f"input backend '{name}' is already registered")
    REGISTRY[name] = factory


def unregister_input_backend(name: str) -> None:
    """Forget a backend added by :func:`register_input_backend` (built-ins stay)."""
    if name not in BACKENDS:
        REGISTRY.pop(name, None)


def _factory(name: str) -> InputFactory:
    loader = REGISTRY.get(name)
    if loader is None:
        raise ConfigError(f"unknown input backend '{name}': choose one of "
                          f"{', '.join(('auto', *REGISTRY, 'none'))}")
    if callable(loader):
        return loader
    module, _, attr = loader.partition(":")
    factory: InputFactory = getattr(importlib.import_module(module, __name__), attr)
    return factory


def get_input_backends(name: str = "auto", *, seed: int = 0, fps: float = 30.0,
                       target: Target | None = None, gamepad: bool = False,
                       gamepad_backend: str = "auto", raw_motion: bool = True,
                       display: str | None = None) -> list[InputSource]:
    """Return the unstarted input sources for ``name``.

    Args:
        name: ``auto``, ``none`` or a registered backend (:data:`REGISTRY`).
        seed: the scripted timeline's seed.
        fps: the scripted timeline's frame rate.
        target: the recorder's target, for window-bound listeners.
        gamepad: also read a gamepad.
        gamepad_backend: the gamepad reader (``auto``, ``xinput``, ``sdl``).
        raw_motion: add the raw-motion source (live backends).
        display: the X display to listen on (None: ``$DISPLAY``).

    The arguments make one :class:`InputSettings`; each backend reads what it needs.
    """
    if name == "auto":
        name = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        if name == "auto":
            name = "pynput"
    if name == "none":
        return []
    settings = InputSettings(seed=seed, fps=fps, gamepad=gamepad,
                             gamepad_backend=gamepad_backend, raw_motion=raw_motion,
                             display=display, target=target)
    return _factory(name)(settings)
