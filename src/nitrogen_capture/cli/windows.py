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
    """Print the window table."""
    from ..targets import format_window_table, get_window_backend

    backend = get_window_backend()
    try:
        print(format_window_table(backend.list_windows()))
    finally:
        backend.close()
    return 0
