"""Read a LeRobot dataset's JSON files strictly (a leaf: layout, info and stats import it)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

__all__ = ["MAX_JSON_BYTES", "load_json"]

MAX_JSON_BYTES = 64 << 20  # a metadata file larger than this is not one this tool wrote


def load_json(path: Path) -> Any:
    """A JSON file of a dataset, strictly: no NaN or Infinity, bounded size and nesting.

    Raises ValueError (or OSError) saying what is wrong.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        raw = f.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES >> 20} MiB")

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
