"""One check of a chunk's arrays, shared by merge and validate.

Merge stops at the first problem; validate collects every problem.

Each problem is a :class:`ChunkProblem` (chunk, file, message); :meth:`ChunkProblem.error` turns
it into the :class:`~nitrogen_capture.errors.SessionFormatError` that merge raises, with the chunk
and file as attributes, so no caller parses a message.

The checks read a chunk through :class:`ChunkFiles`, which
:class:`~nitrogen_capture.session.reader.SessionReader` provides: the reader calls these checks
(``checked_arrays``), so this module does not import it back.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError
from .meta import ChunkEntry

__all__ = ["ChunkArrays", "ChunkFiles", "ChunkProblem", "check_chunk_arrays", "check_order"]


class ChunkFiles(Protocol):
    """What the checks read of a session (a :class:`~.reader.SessionReader`)."""

    @property
    def layout(self) -> Sized:
        """The session's key layout (its length is the number of action columns)."""

    def array_names(self) -> tuple[str, ...]:
        """The per-chunk array stems of the session."""

    def array_spec(self, stem: str) -> tuple[np.dtype[Any], tuple[int | None, ...]]:
        """Dtype and trailing shape of array ``stem`` (None: the number of action columns)."""

    def array_path(self, c: ChunkEntry, stem: str) -> Path:
        """The file of array ``stem`` of chunk ``c``."""

    def load_array(self, path: Path) -> npt.NDArray[Any]:
        """One ``.npy`` of the session (SessionFormatError when damaged)."""

    def chunk_events(self, c: ChunkEntry) -> npt.NDArray[Any]:
        """Chunk ``c``'s events (SessionFormatError when damaged)."""


@dataclass(frozen=True)
class ChunkProblem:
    """One thing wrong with a chunk's files."""

    chunk: int
    path: Path
    message: str

    def error(self) -> SessionFormatError:
        """The error merge raises for it (``chunk N: message``)."""
        return SessionFormatError(f"chunk {self.chunk}: {self.message}", chunk=self.chunk,
                                  path=self.path)


@dataclass
class ChunkArrays:
    """A chunk's arrays as loaded (``events`` included when readable) and what is wrong."""

    chunk: ChunkEntry
    arrays: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    problems: list[ChunkProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every array present, of the right dtype, shape and row count, and finite."""
        return not self.problems


def check_chunk_arrays(reader: ChunkFiles, c: ChunkEntry) -> ChunkArrays:
    """Load every array and the events of chunk ``c``; check dtype, shape and rows against meta."""
    out = ChunkArrays(c)
    n, k = c.num_frames, len(reader.layout)

    def problem(msg: str, path: Path) -> None:
        out.problems.append(ChunkProblem(c.index, path, msg))

    for stem in (*reader.array_names(), "events"):
        path = reader.array_path(c, stem)
        try:
            arr = reader.chunk_events(c) if stem == "events" else reader.load_array(path)
        except SessionFormatError as exc:
            problem(str(exc), path)
            continue
        out.arrays[stem] = arr
        if stem == "events":
            continue
        dtype, tail = reader.array_spec(stem)
        want = (n, *(k if d is None else d for d in tail))
        if arr.dtype != dtype or arr.ndim != len(want) or arr.shape[1:] != want[1:]:
            shown = ", ".join(["n", *map(str, want[1:])])
            problem(f"{path.name} is {arr.dtype}{list(arr.shape)}, expected {dtype}[{shown}] "
                    f"(layout has {k} keys)", path)
        elif len(arr) != n:
            problem(f"{path.name} has {len(arr)} rows, meta.json says num_frames {n}", path)
        elif arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            problem(f"{path.name} holds {bad} NaN or infinite values", path)
    return out



def check_order(reader: ChunkFiles, c: ChunkEntry,
                arrays: dict[str, npt.NDArray[Any]]) -> list[ChunkProblem]:
    """Problems of order: timestamps and frame indices must strictly increase.

    For a chunk whose arrays passed :func:`check_chunk_arrays` (the exporters' and preview's time
    axis needs it).
    """
    out = []
    for stem in ("timestamps", "frame_indices"):
        arr = arrays[stem]
        bad = np.flatnonzero(np.diff(arr) <= 0)
        if len(bad):
            i = int(bad[0])
            path = reader.array_path(c, stem)
            out.append(ChunkProblem(c.index, path, f"{path.name} is not strictly increasing at "
                                    f"row {i + 1} ({arr[i]} -> {arr[i + 1]})"))
    return out
