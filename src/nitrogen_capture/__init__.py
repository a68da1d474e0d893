"""NitroGen Capture: record games and export training data for NitroGen and BC trainers.

Importing this package is cheap: it imports no capture or input backend, no torch, no pynput,
no PyAV. Backends are imported lazily by their factories.
"""

from __future__ import annotations

from .errors import (
    CaptureError,
    ConfigError,
    DependencyError,
    ExportError,
    InputError,
    NitrogenCaptureError,
    PlatformError,
    SchemaVersionError,
    SessionError,
    SessionFormatError,
    TargetError,
)
from .keylayout import DEFAULT_LAYOUT, KeyLayout, load_layout

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LAYOUT",
    "CaptureError",
    "ConfigError",
    "DependencyError",
    "ExportError",
    "InputError",
    "KeyLayout",
    "NitrogenCaptureError",
    "PlatformError",
    "SchemaVersionError",
    "SessionError",
    "SessionFormatError",
    "TargetError",
    "__version__",
    "load_layout",
]
