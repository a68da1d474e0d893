"""The audio backends' registry: one factory for ``record --audio`` and ``audio-sources``.

``auto`` is ``pulse`` on Linux (PulseAudio, or PipeWire through ``pipewire-pulse``) and
``wasapi`` on Windows (loopback of the render endpoint); ``synthetic`` generates a click track on
its own drifting clock (tests and ``--source synthetic``). Each backend is a module of this
package imported only when asked for, so the platform libraries load lazily (docs/audio.md
"Backends").
"""

from __future__ import annotations

import sys
from importlib import import_module

from ..errors import ConfigError
from .base import AudioDevice, AudioSettings, AudioSource

__all__ = ["AUDIO_BACKENDS", "auto_backend", "list_audio_devices", "make_audio_source"]

# name -> (module, class name); the modules import their libraries inside open()/list.
_BACKENDS: dict[str, tuple[str, str]] = {
    "pulse": ("._pulse", "PulseSource"),
    "wasapi": ("._wasapi", "WasapiSource"),
    "synthetic": ("._synthetic", "SyntheticAudio"),
}
AUDIO_BACKENDS: tuple[str, ...] = ("auto", *_BACKENDS)


def auto_backend(platform: str | None = None) -> str:
    """The backend ``auto`` means on ``platform`` (default: this one)."""
    return "wasapi" if (platform or sys.platform) == "win32" else "pulse"


def _class(backend: str) -> type[AudioSource]:
    name = auto_backend() if backend == "auto" else backend
    if name not in _BACKENDS:
        raise ConfigError(f"--audio-backend must be one of {', '.join(AUDIO_BACKENDS)}, "
                          f"got {backend}", setting="backend")
    module, cls = _BACKENDS[name]
    found: type[AudioSource] = getattr(import_module(module, __package__), cls)
    return found


def make_audio_source(settings: AudioSettings) -> AudioSource:
    """The (unopened) source ``settings`` asks for.

    Raises:
        ConfigError: an unknown backend.
    """
    return _class(settings.backend)(settings)


def list_audio_devices(backend: str = "auto") -> list[AudioDevice]:
    """What ``backend`` can record (``audio-sources``), the default first.

    Raises:
        AudioError: the sound server cannot be reached.
        DependencyError: the backend's library is not installed.
    """
    return _class(backend).list_devices()
