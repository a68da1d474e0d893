"""What a LeRobot dataset folder written by this tool may hold, and how it is recognised.

``--overwrite`` replaces, and an append extends, only a folder that holds this tool's LeRobot
dataset (:data:`LEROBOT_DATASET`, the output-path rule of :mod:`nitrogen_capture.outputs`).
Recognising one takes two things:

1. **Nothing foreign.** Every entry under the folder is a name of the layout (docs/export.md,
   "LeRobot"): ``meta/`` (``info.json``, ``stats.json``, ``tasks.parquet``, the mark,
   ``episodes/chunk-CCC/file-FFF.parquet``), ``data/chunk-CCC/file-FFF.parquet``,
   ``videos/<key>/chunk-CCC/file-FFF.mp4``, a batch's ``manifest.json`` and ``.parts/`` (each
   part a dataset plus its ``part.json``), or one of the tool's temporaries (``.NAME.partial``).
   A session, a README or any other file makes the folder not ours to delete.
2. **A mark.** ``meta/nitrogen-capture.json`` (:data:`MARK`), ``{"format":
   "nitrogen-capture.lerobot-dataset"}``, written first into every new dataset. It is a file of
   its own, not a key of ``info.json``: LeRobot's current loader (``DatasetInfo.from_dict``,
   ``lerobot.datasets.utils``) warns about unknown keys there on every load and drops them when
   it rewrites the file, and outside validators read ``info.json`` too; nothing of LeRobot reads
   other files in ``meta/`` (it globs ``meta/episodes/*/*.parquet`` only).
   Datasets written before the mark existed are recognised by their features instead: exactly
   ``observation.images.game`` (a video), ``action`` named by this tool's action spaces, the
   optional ``gamepad`` with the pad's 21 names, the optional ``frame_is_repeat`` (bool) and
   LeRobot's five bookkeeping columns. A batch
   output is also recognised by its manifest. A folder holding only empty layout folders (and
   temporaries) is a dataset that never got its first file: ours as well.

A symbolic link whose name fits the layout does not make a folder foreign (deleting it never
touches what it points to), but an append refuses it (:mod:`.existing`).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...marks import has_format
from ...outputs import OutputKind
from .jsonfile import load_json

__all__ = ["LEROBOT_DATASET", "MARK", "MARK_FORMAT", "Tree", "add_cuts", "is_ours",
           "is_temporary", "load_json", "mark_bytes", "read_mark", "repeat_total", "scan"]

MARK = "meta/nitrogen-capture.json"
MARK_FORMAT = "nitrogen-capture.lerobot-dataset"
BATCH_MANIFEST = "manifest.json"
BATCH_PARTS = ".parts"
_CHUNK = re.compile(r"chunk-\d{3,9}")
_PARQUET = re.compile(r"file-\d{3,9}\.parquet")
_MP4 = re.compile(r"file-\d{3,9}\.mp4")
_FLAC = re.compile(r"episode-\d{6,9}\.flac")
# ".NAME.partial" (atomic.py) and the video writer's ".file-NNN.partial.mp4" of earlier versions.
_TEMPORARY = re.compile(r"\..+\.partial(\.mp4)?")
_META_FILES = frozenset({"info.json", "stats.json", "tasks.parquet", MARK.split("/")[1]})


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of this tool's temporary file names."""
    return _TEMPORARY.fullmatch(name) is not None


def mark_bytes(repeated_frames: int | None = None,
               repeat_cut: dict[str, int] | None = None,
               episodes: list[dict[str, Any]] | None = None) -> bytes:
    """The content of :data:`MARK`: the format, then what the finished dataset holds.

    ``repeated_frames``: rows of the dataset whose frame repeats the row before's (the
    ``frame_is_repeat`` feature); ``repeat_cut``: ``stretches`` and ``rows`` that
    ``--max-repeat-frames`` left out over every write (docs/export.md, "Repeated frames");
    ``episodes``: each episode's session labels (``episode_index``, ``session``, ``task``,
    ``outcome``, ``tags``, ``episode``; docs/export.md, "Task and outcome").
    The mark is written first without them, and again with them once the dataset is complete.
    """
    doc: dict[str, Any] = {"format": MARK_FORMAT, "format_version": 1,
                           "note": "a LeRobot v3.0 dataset written by nitrogen-capture "
                                   "(docs/export.md)"}
    if repeated_frames is not None:
        doc["repeated_frames"] = repeated_frames
    if repeat_cut is not None:
        doc["repeat_cut"] = repeat_cut
    if episodes:
        doc["episodes"] = episodes
    return (json.dumps(doc, indent=4) + "\n").encode("utf-8")


def read_mark(root: Path) -> dict[str, Any]:
    """The mark of the dataset at ``root`` as a dict ({} when missing or unreadable)."""
    try:
        doc = load_json(root / MARK)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def add_cuts(mark: dict[str, Any] | None, cut: dict[str, Any] | None) -> dict[str, int] | None:
    """A mark's ``repeat_cut`` plus this write's ``cut`` (None when neither cut anything)."""
    old = (mark or {}).get("repeat_cut")
    counts = [c for c in (old, cut) if isinstance(c, dict)]
    if not counts:
        return None
    total = {"stretches": 0, "rows": 0}
    for c in counts:
        for key in total:
            v = c.get(key)
            total[key] += v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0
    return total


def repeat_total(stats: dict[str, Any]) -> int | None:
    """Rows flagged ``frame_is_repeat`` in a dataset, from its merged stats (mean x count)."""
    from .info import REPEAT_KEY

    s = stats.get(REPEAT_KEY)
    if s is None:
        return None
    return round(float(s["mean"][0]) * float(s["count"][0]))


def _fits(parts: tuple[str, ...], folder: bool) -> bool:
    """Whether the entry ``parts`` (relative to the dataset) is a name of the layout."""
    first, n = parts[0], len(parts)
    if first == BATCH_PARTS:  # .parts/<task>/ holds a part: a dataset and its part.json
        if n == 2:
            return folder
        return (parts[2:] == ("part.json",) and not folder) or _fits(parts[2:], folder)
    if n == 1:
        return folder if first in ("meta", "data", "videos", "audio") else (
            first == BATCH_MANIFEST and not folder)
    if first == "meta":
        if n == 2:
            return folder if parts[1] == "episodes" else parts[1] in _META_FILES
        return parts[1] == "episodes" and _chunked(parts[2:], folder, _PARQUET)
    if first == "data":
        return _chunked(parts[1:], folder, _PARQUET)
    if first == "videos":
        return folder if n == 2 else _chunked(parts[2:], folder, _MP4)
    if first == "audio":  # each episode's sound (export/lerobot/audio.py)
        return _chunked(parts[1:], folder, _FLAC)
    return False


def _chunked(rest: tuple[str, ...], folder: bool, file: re.Pattern[str]) -> bool:
    if len(rest) == 1:
        return folder and _CHUNK.fullmatch(rest[0]) is not None
    return (len(rest) == 2 and not folder and _CHUNK.fullmatch(rest[0]) is not None
            and file.fullmatch(rest[1]) is not None)


@dataclass(frozen=True)
class Tree:
    """What :func:`scan` found under a dataset folder (paths relative to it, ``/``-separated)."""

    files: tuple[str, ...] = ()  # regular files of the layout
    folders: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # symbolic links (not followed)
    temporaries: tuple[str, ...] = ()  # this tool's temporary names, whatever they are
    foreign: tuple[str, ...] = field(default=())  # anything else (the first few)


def scan(root: Path, *, limit: int = 5) -> Tree | None:
    """Walk ``root`` without following links and sort every entry (None: unreadable)."""
    files: list[str] = []
    folders: list[str] = []
    links: list[str] = []
    temps: list[str] = []
    foreign: list[str] = []
    stack: list[tuple[str, ...]] = [()]
    try:
        while stack and len(foreign) < limit:
            rel = stack.pop()
            with os.scandir(root.joinpath(*rel)) as it:
                entries = sorted(it, key=lambda e: e.name)
            for e in entries:
                parts = (*rel, e.name)
                name = "/".join(parts)
                mode = e.stat(follow_symlinks=False).st_mode
                if is_temporary(e.name):
                    temps.append(name)
                elif stat.S_ISLNK(mode):
                    (links if _fits(parts, True) or _fits(parts, False) else foreign).append(name)
                elif stat.S_ISDIR(mode) and _fits(parts, True):
                    folders.append(name)
                    stack.append(parts)
                elif stat.S_ISREG(mode) and _fits(parts, False):
                    files.append(name)
                else:
                    foreign.append(name)
    except OSError:
        return None
    return Tree(tuple(files), tuple(folders), tuple(links), tuple(temps), tuple(foreign[:limit]))


def _legacy_features(info_path: Path) -> bool:
    """Whether an unmarked dataset's info.json has exactly this tool's features."""
    from ...keylayout import PAD_AXES, PAD_BUTTONS
    from ..keymap import NITROGEN_ACTIONS
    from .info import DEFAULT_COLUMNS, GAMEPAD_KEY, REPEAT_KEY, SOURCE_KEY, VIDEO_KEY

    try:
        info = load_json(info_path)
        feats = info["features"]
        keys = set(feats)
        if keys - {GAMEPAD_KEY, REPEAT_KEY, SOURCE_KEY} != {VIDEO_KEY, "action", *DEFAULT_COLUMNS}:
            return False
        names = feats["action"]["names"]
        pad = feats.get(GAMEPAD_KEY)
        flag = feats.get(REPEAT_KEY)
        return bool(feats[VIDEO_KEY]["dtype"] == "video" and isinstance(names, list)
                    and (flag is None or flag["dtype"] == "bool")
                    and (names == list(NITROGEN_ACTIONS) or names[-len(PAD_AXES):]
                         == list(PAD_AXES))
                    and (pad is None or pad["names"] == [*PAD_BUTTONS, *PAD_AXES]))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return False


def is_ours(path: Path) -> bool:
    """Whether folder ``path`` holds a LeRobot dataset this tool wrote (module doc)."""
    from ..batch.schema import MANIFEST_FORMAT

    tree = scan(path)
    if tree is None or tree.foreign:
        return False
    if has_format(path / MARK, MARK_FORMAT):
        return True
    if BATCH_MANIFEST in tree.files and has_format(path / BATCH_MANIFEST, MANIFEST_FORMAT):
        return True
    if "meta/info.json" in tree.files:
        return _legacy_features(path / "meta" / "info.json")
    return not tree.files


def explain(path: Path) -> str:
    """Why a folder is not :func:`is_ours` (a few words for the refusal)."""
    tree = scan(path)
    if tree is None:
        return "it cannot be read"
    if tree.foreign:
        return f"{tree.foreign[0]} is not a file of one"
    if "meta/info.json" in tree.files:
        return f"no {MARK} mark, and its features are not this tool's"
    return f"no {MARK} mark and no meta/info.json"


LEROBOT_DATASET = OutputKind("LeRobot dataset", is_ours, folder=True, store="LeRobot dataset",
                             explain=explain)
