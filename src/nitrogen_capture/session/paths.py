"""Names and layout of a session directory, format version 1 (see docs/format.md).

Every path a writer or reader touches is built here, so the format lives in one place::

    <session>/
      frames/chunk_001/000001.png     one PNG per frame, 1-based within the chunk, 6 digits
      frames/chunk_001.mkv            instead of the PNG folder with --frame-format video
      actions_chunk_001.npy           (n, K) int8
      mouse_deltas_chunk_001.npy      (n, 2) float32
      frame_indices_chunk_001.npy     (n,) int64 scheduler tick index
      timestamps_chunk_001.npy        (n,) int64 ns since meta clock.t0_ns
      events_chunk_001.npy            structured (t_ns, device, code, value), t_ns since t0
      gamepad_chunk_001.npy           (n, 21) float32, only when a gamepad was recorded
      journal_chunk_001.jsonl         the open chunk's journal; removed once the chunk is complete
      actions.npy mouse_deltas.npy frame_indices.npy timestamps.npy [gamepad.npy]   merged
      dataset.npz  dataset.pt  meta.json
      session.lock                    while a recorder or merge works on the session (.lock)
"""

from __future__ import annotations

import os
from pathlib import Path

from ..rows import CHUNK_ARRAYS

__all__ = [
    "CHUNK_ARRAYS",
    "LOCK_NAME",
    "META_NAME",
    "SCHEMA_VERSION",
    "SessionPaths",
    "is_session",
    "run_merge",
]

SCHEMA_VERSION = 1
META_NAME = "meta.json"
LOCK_NAME = "session.lock"  # held by record and merge (session/lock.py, docs/format.md "Lock")

# Per-chunk arrays by stem (declared in ..rows); "gamepad_chunk_NNN.npy" (GAMEPAD_WIDTH
# columns) is added when a pad was recorded.


def is_session(folder: str | Path) -> bool:
    """Whether ``folder`` is a session: the one rule, it holds an entry named ``meta.json``.

    Any kind of entry counts (links followed): a FIFO or a folder at that name is a damaged
    session, still a session (listed as damaged, never searched for sessions inside, never
    written into). Reads no file. Raises OSError when it cannot be told (permission denied, a
    link loop).
    """
    try:
        os.stat(Path(folder) / META_NAME)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def run_merge(root: str | Path | None = None) -> str:
    """The one advice to run merge (every "run merge" a message gives is built here).

    ``run merge`` where the command is already named, else ``run `nitrogen-capture merge
    --root ROOT```.
    """
    return "run merge" if root is None else f"run `nitrogen-capture merge --root {root}`"



class SessionPaths:
    """Path builder for one session directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def meta(self) -> Path:
        """meta.json."""
        return self.root / META_NAME

    @property
    def lock(self) -> Path:
        """session.lock: who is recording (or merging) the session right now."""
        return self.root / LOCK_NAME

    @property
    def frames_dir(self) -> Path:
        """frames/."""
        return self.root / "frames"

    def chunk_frames_dir(self, chunk: int) -> Path:
        """frames/chunk_NNN/ (PNG storage)."""
        return self.frames_dir / f"chunk_{chunk:03d}"

    def frame_png(self, chunk: int, number: int) -> Path:
        """frames/chunk_NNN/NNNNNN.png; ``number`` is 1-based within the chunk."""
        return self.chunk_frames_dir(chunk) / f"{number:06d}.png"

    def chunk_video(self, chunk: int, ext: str = "mkv") -> Path:
        """frames/chunk_NNN.mkv (video storage)."""
        return self.frames_dir / f"chunk_{chunk:03d}.{ext}"

    def chunk_array(self, stem: str, chunk: int) -> Path:
        """<stem>_chunk_NNN.npy."""
        return self.root / f"{stem}_chunk_{chunk:03d}.npy"

    def events(self, chunk: int) -> Path:
        """events_chunk_NNN.npy."""
        return self.chunk_array("events", chunk)

    def journal(self, chunk: int) -> Path:
        """journal_chunk_NNN.jsonl."""
        return self.root / f"journal_chunk_{chunk:03d}.jsonl"

    def merged(self, stem: str) -> Path:
        """<stem>.npy (merged)."""
        return self.root / f"{stem}.npy"

    @property
    def events_merged(self) -> Path:
        """events.npy (merged)."""
        return self.root / "events.npy"

    @property
    def npz(self) -> Path:
        """dataset.npz."""
        return self.root / "dataset.npz"

    @property
    def pt(self) -> Path:
        """dataset.pt."""
        return self.root / "dataset.pt"

    def journals(self) -> list[Path]:
        """Journals left on disk (an unfinished chunk after a crash), by chunk number."""
        return list(self.open_journals().values())

    def open_journals(self) -> dict[int, Path]:
        """Chunk number -> its journal, for every journal left on disk, in chunk order."""
        return self._numbered("journal_chunk_*.jsonl")

    def chunk_numbers_on_disk(self) -> list[int]:
        """Chunk numbers that have an actions file or a journal."""
        return sorted({*self._numbered("actions_chunk_*.npy"), *self.open_journals()})

    def frame_chunk_numbers(self) -> list[int]:
        """Chunk numbers with frames on disk (``frames/chunk_NNN/`` or ``frames/chunk_NNN.mkv``)."""
        found = {n for n in self._numbered("frames/chunk_*")}
        return sorted(found)

    def _numbered(self, pattern: str) -> dict[int, Path]:
        # Names that do not end in a chunk number (e.g. a stray "journal_chunk_x.jsonl") are
        # not ours: ignored, never a crash.
        found = {}
        for p in self.root.glob(pattern):
            number = p.stem.rsplit("_", 1)[-1]
            if number.isdigit() and number.isascii():
                found[int(number)] = p
        return dict(sorted(found.items()))
