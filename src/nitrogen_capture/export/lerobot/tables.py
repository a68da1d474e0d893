"""The parquet tables of a LeRobot dataset: per-frame rows (``data/``) and the episodes table.

``data/chunk-CCC/file-FFF.parquet`` holds many episodes' rows, one row per frame: the features
(``observation.state``, ``action``, ``gamepad``: fixed-size float32 lists;
``frame_is_repeat``, bool) then ``timestamp`` (float32, ``frame_index / fps``),
``frame_index``, ``episode_index``, ``index`` (the row's place in the whole dataset) and
``task_index``. A file holding about :data:`~.info.DATA_FILE_MB` is closed and the next episode
starts the next file. Every file is written straight under its final name into the folder the
writer builds the dataset in (``.NAME.new-PID``, :mod:`.writer`): nothing there is visible to a
reader until the whole folder is swapped in, and a failure removes the folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...atomic import atomic_file, make_dirs, open_new
from .info import DATA_FILE_MB, DATA_PATH, EPISODES_PATH, next_file, rel_path

__all__ = ["DataFiles", "RollingFiles", "first_free", "frame_table", "last_file",
           "write_episodes"]


def frame_table(columns: dict[str, npt.NDArray[Any]]) -> Any:
    """A pyarrow table of one episode's rows: 2-D float arrays as fixed-size float32 lists."""
    import pyarrow as pa

    arrays, names = [], []
    for name, values in columns.items():
        if values.ndim == 2:
            flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).ravel())
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, values.shape[1]))
        else:
            arrays.append(pa.array(values))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


class RollingFiles:
    """Output files of one kind opened one after the other (``self._writer``, the current one).

    Subclasses create each file with :meth:`_new_file`: a new file (never an existing name,
    never through a link) in a folder checked to hold no link up to the dataset's root.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._writer: Any = None
        self.written: list[Path] = []  # every file of this conversion

    def _new_file(self, path: Path) -> Path:
        """Create ``path`` empty and note it; returns it (for a writer that takes a name)."""
        make_dirs(path.parent, below=self.root)
        open_new(path, replace=False).close()
        self.written.append(path)
        return path

    def close(self) -> None:
        """Close the current file (idempotent)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def abort(self) -> None:
        """After an error: end the current file without finishing it (here: close it)."""
        self.close()

    def finish(self) -> list[Path]:
        """Close the last file; return every file written."""
        self.close()
        return list(self.written)


class DataFiles(RollingFiles):
    """The data parquet files written by one conversion."""

    def __init__(self, root: Path, start: tuple[int, int]) -> None:
        super().__init__(root)
        self.chunk, self.file = start
        self._bytes = 0

    def write(self, table: Any) -> dict[str, int]:
        """Append one episode's rows; return its ``data/chunk_index`` and ``data/file_index``."""
        import pyarrow.parquet as pq

        if self._writer is None:
            path = self._new_file(self.root / rel_path(DATA_PATH, self.chunk, self.file))
            self._writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            self._bytes = 0
        self._writer.write_table(table)
        cols = {"data/chunk_index": self.chunk, "data/file_index": self.file}
        self._bytes += int(table.nbytes)
        if self._bytes >= DATA_FILE_MB * (1 << 20):
            self.close()
            self.chunk, self.file = next_file(self.chunk, self.file)
        return cols


_NAME = re.compile(r"^chunk-(\d+)/file-(\d+)\.(parquet|mp4)$")


def last_file(folder: Path) -> tuple[int, int] | None:
    """The highest ``(chunk, file)`` under ``folder`` (``chunk-CCC/file-FFF.*``), if any."""
    best: tuple[int, int] | None = None
    if folder.is_dir():
        for p in folder.glob("chunk-*/file-*"):
            m = _NAME.match(f"{p.parent.name}/{p.name}")
            if m:
                key = (int(m.group(1)), int(m.group(2)))
                best = key if best is None or key > best else best
    return best


def first_free(folder: Path) -> tuple[int, int]:
    """Where the next new file under ``folder`` goes: after the highest existing one."""
    last = last_file(folder)
    return (0, 0) if last is None else next_file(*last)


def write_episodes(root: Path, rows: list[dict[str, Any]],
                   at: tuple[int, int] | None = None) -> Path:
    """Write this conversion's episodes table to ``meta/episodes`` file ``at`` (or the next)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk, file = at if at is not None else first_free(root / "meta" / "episodes")
    for row in rows:
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = chunk, file
    path = root / rel_path(EPISODES_PATH, chunk, file)
    make_dirs(path.parent, below=root)
    with atomic_file(path) as f:
        pq.write_table(pa.Table.from_pylist(rows), f)
    return path
