"""A small library of sessions for the batch-conversion tests, and helpers to compare outputs.

The library (sessions written by :func:`session_factory.make_session`, 16x12 PNG frames with
scripted-looking input): ``game_a/s1``, ``game_a/s2``, ``game_b/s3`` (two chunks), plus, on
request, ``broken`` (a chunk PNG replaced by junk: a damaged session), ``short`` (3 frames: no
window) and ``idle`` (a session whose input arrays are all zero).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from session_factory import make_session
from trees import tree

GOOD = {"game_a/s1": (30, 25), "game_a/s2": (40,), "game_b/s3": (20, 30)}


def make_library(top: Path, *, damaged: bool = True, extra: dict[str, tuple[int, ...]] | None
                 = None) -> Path:
    """Write the library under ``top``; return ``top``."""
    for k, (name, sizes) in enumerate({**GOOD, **(extra or {})}.items()):
        make_session(top / name, sizes, seed=k + 1)
    if damaged:
        make_broken(top / "broken")
        make_session(top / "short", (3,), seed=8)
        idle = make_session(top / "idle", (25,), seed=9)
        for c in idle.paths.root.glob("*_chunk_*.npy"):
            if c.name.startswith(("actions_", "mouse_deltas_")):
                np.save(c, np.zeros_like(np.load(c)))
    return top


def make_broken(root: Path) -> Path:
    """A session with a chunk PNG replaced by junk: its conversion fails on that frame."""
    make_session(root, (20, 20), seed=7)
    (root / "frames" / "chunk_002" / "000004.png").write_bytes(b"not a png")
    return root


def tree_digest(root: Path, *, skip: tuple[str, ...] = ("manifest.json",)) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest), some names left out."""
    return {rel: what for rel, what in tree(root).items()
            if what != "dir" and Path(rel).name not in skip}


def pt_outputs(out: Path) -> dict[str, str]:
    """Digests of a ``.pt`` batch output: the file(s) and index, not the manifest."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.parent.glob(f"{out.stem}*"))
            if p.is_file() and not p.name.endswith(".manifest.json")}


def manifest(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def states(doc: dict[str, Any]) -> dict[str, str]:
    """Session folder name -> state, from a manifest."""
    return {Path(s).name: r["state"] for s, r in doc["sessions"].items()}


def crash_once(job: Any, *, marker: str, inner: Callable[[Any], Any], session: str) -> Any:
    """Run ``inner(job)``, but first kill this worker process once, for the task of ``session``.

    The marker file (written before the kill) makes the retry run normally.
    """
    if Path(job.task.session).name == session and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)
    return inner(job)
