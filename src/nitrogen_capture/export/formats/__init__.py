"""The registry of export formats: ``--format`` name -> :class:`ExportFormat` object.

The built-in formats are registered here in ``--format``'s order (``pt`` first: the default).
``convert``'s flag takes its choices (:func:`names`) and help (:func:`help_text`) from here,
``ConvertSettings`` checks ``format`` against it, and every conversion, batch, manifest and merge
calls the object :func:`get` returns. A new format is one module with an ``ExportFormat``
subclass and one :func:`register` call (docs/extending.md, "An export format").
"""

from __future__ import annotations

from ...errors import ConfigError
from .. import settings as _settings
from .base import Check, ExportFormat
from .dataset import DatasetFormat
from .lerobot import LerobotFormat
from .pt import PtFormat

__all__ = ["Check", "ExportFormat", "all_formats", "find", "get", "help_text", "names",
           "register", "unregister"]

_FORMATS: dict[str, ExportFormat] = {}
_BUILTIN: tuple[str, ...] = ()
_names: tuple[str, ...] = ()


def _renamed() -> None:
    # The same tuple object while only the built-ins are registered: convert's --format
    # choices are settings.FORMATS itself (tests/cli/test_settings.py pins this).
    global _names
    current = tuple(_FORMATS)
    _names = _BUILTIN if current == _BUILTIN else current


def register(fmt: ExportFormat) -> ExportFormat:
    """Add ``fmt`` under ``fmt.name`` (last in ``--format``'s choices); it is returned.

    Registering the same object again is a no-op; another object under a taken name is refused.
    """
    if not fmt.name or fmt.name.startswith("-") or fmt.name != fmt.name.strip():
        raise ValueError(f"an export format needs a name usable as --format, got {fmt.name!r}")
    held = _FORMATS.get(fmt.name)
    if held is not None and held is not fmt:
        raise ValueError(f"--format {fmt.name} is registered already ({type(held).__name__})")
    _FORMATS[fmt.name] = fmt
    _renamed()
    return fmt


def unregister(name: str) -> None:
    """Remove the format ``name`` (a test's toy format, when the test ends)."""
    _FORMATS.pop(name, None)
    _renamed()


def names() -> tuple[str, ...]:
    """The registered formats' names, in ``--format``'s order."""
    return _names


def all_formats() -> tuple[ExportFormat, ...]:
    """The registered format objects, in ``--format``'s order."""
    return tuple(_FORMATS.values())


def find(name: str) -> ExportFormat | None:
    """The format ``name`` (None: no such format)."""
    return _FORMATS.get(name)


def get(name: str) -> ExportFormat:
    """The format ``name``; a ConfigError naming the choices when there is none."""
    fmt = _FORMATS.get(name)
    if fmt is None:
        raise ConfigError(f"--format must be one of {', '.join(_names)}, got {name!r}",
                          setting="format")
    return fmt


def help_text() -> str:
    """``--format``'s help: each format's words, the last after "or"."""
    words = [f.help or f.name for f in _FORMATS.values()]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


for _fmt in (PtFormat(), DatasetFormat(), LerobotFormat()):
    register(_fmt)
if tuple(_FORMATS) != _settings.FORMATS:  # the settings' tuple is the built-ins' order
    raise RuntimeError(f"export formats {tuple(_FORMATS)} differ from settings.FORMATS")
_BUILTIN = _settings.FORMATS
_renamed()


class _Lookup:
    """The registry as ``ConvertSettings`` checks against it (settings.FormatLookup)."""

    names = staticmethod(names)
    find = staticmethod(find)
    all_formats = staticmethod(all_formats)


_settings.use_formats(_Lookup())
