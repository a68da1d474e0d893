"""Running the Windows build under Wine: detection and the one workaround the package needs.

Wine is a real Win32 implementation (docs/windows.md says what the Windows tier verifies with
it), and many Linux players run their Windows games in it. Wine 8 lacks one function that
CPython 3.13 reaches on its own: ``platform.win32_ver()`` / ``platform.release()`` ask WMI
(``_wmi.exec_query``), and Wine aborts the *whole process* in the unimplemented
``propsys.dll.VariantToString`` (no exception to catch). mss asks ``platform`` for the Windows
version, so ``record`` died inside Wine with no message of ours. Under Wine we therefore keep
``platform`` off WMI; it then reads ``sys.getwindowsversion()``, which is what it does when WMI
is unavailable on real Windows too.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys

__all__ = ["avoid_wmi", "prepare", "wine_version"]

log = logging.getLogger(__name__)


@functools.cache
def wine_version() -> str | None:
    """Wine's version (``"8.0"``) when this Windows process runs under Wine, else None."""
    if sys.platform != "win32":
        return None
    try:
        ntdll = ctypes.WinDLL("ntdll")
    except OSError:
        return None
    # Wine's ntdll exports wine_get_version; Windows' does not (the detection Wine documents).
    func = getattr(ntdll, "wine_get_version", None)
    if func is None:
        return None
    func.restype = ctypes.c_char_p
    version: bytes | None = func()
    return version.decode("ascii", "replace") if version else "unknown"


def avoid_wmi() -> None:
    """Keep ``platform`` from calling WMI (see the module docstring)."""
    platform_module = sys.modules.get("platform")
    if platform_module is None:
        # Not imported yet: platform's own `import _wmi` fails and it uses its fallback.
        sys.modules.setdefault("_wmi", None)  # type: ignore[arg-type]
    elif getattr(platform_module, "_wmi", None) is not None:
        # Imported already: its query helper treats a false _wmi as "WMI unavailable".
        platform_module._wmi = None  # type: ignore[attr-defined]


def prepare() -> None:
    """Apply the Wine workarounds when running under Wine (the CLI calls this first)."""
    version = wine_version()
    if version is not None:
        avoid_wmi()
        log.debug("running under Wine %s: platform kept off WMI", version)
