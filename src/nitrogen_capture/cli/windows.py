"""``windows``: list the visible windows (as ``record --debug-list-windows``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``windows``."""
    from .args import add_common

    w: argparse.ArgumentParser = sub.add_parser(
        "windows", help="list visible windows (same as record --debug-list-windows)")
    add_common(w)
    return w


def run(args: argparse.Namespace) -> int:
    """Print the window table (on Wayland after a line naming where the list comes from)."""
    from ..desktop import detect_desktop
    from ..targets import format_window_table, get_window_backend

    backend = get_window_backend()
    try:
        desktop = detect_desktop()
        if desktop.is_wayland:
            print(_source_line(desktop.describe(), backend.name, desktop.x_display))
        print(format_window_table(backend.list_windows()))
    finally:
        backend.close()
    return 0


def _source_line(where: str, backend: str, x_display: str | None) -> str:
    """Which windows a Wayland desktop's list holds, and from where."""
    if backend == "sway":
        return f"{where}: windows from sway's IPC (native Wayland and XWayland ones)"
    return (f"{where}: XWayland windows only, through X11 on {x_display} (this compositor lists "
            "no native Wayland windows: the portal's picker chooses those)")
