"""Read a session directory written in format version 1 (docs/format.md).

:class:`SessionReader` checks ``meta.json`` once and then hands out chunk arrays, events, frame
paths and decoded frames. Every ``.npy`` is loaded with ``np.load(allow_pickle=False)``: a session
is data from disk and never gets to run code. A missing, truncated or corrupt file raises
:class:`~nitrogen_capture.errors.SessionFormatError` naming the file, so merge/validate can name
the damaged chunk.

Row numbering: merged row ``i`` is chunk ``c`` row ``i - offset(c)`` where the offsets are the
running sum of ``num_frames`` over the *included* chunks: the chunks listed in
``meta["merged"]["chunks"]`` after a merge (a merge with ``--skip-bad`` leaves some out), else
every complete chunk in index order.

Time: event and frame times stay relative to ``meta["clock"]["t0_ns"]`` (ns since the first
tick); nothing here converts them to absolute monotonic or wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError
from ..events import EVENT_DTYPE
from ..rows import ARRAY_SPECS, empty_rows
from ..rows import array_names as row_array_names
from .frames import FrameStore, Size, open_frame_store
from .io import inside
from .meta import ChunkEntry, Pause, SessionMeta
from .paths import SessionPaths, run_merge
from .timeline import achieved_fps, pause_cuts

__all__ = ["ARRAY_SPECS", "SessionReader", "inside", "load_npy", "segments"]

Chunk = ChunkEntry
T = TypeVar("T")
# ARRAY_SPECS (dtype and trailing shape of each chunk array) is declared in ..rows.


def _npy_payload(f: Any, path: Path) -> None:
    """Check the header of an open ``.npy``: its data must fit in the file (before allocating)."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(f)
    else:
        raise ValueError(f"npy format version {version} is not read")
    if dtype.hasobject:
        raise ValueError("holds Python objects")
    count = 1
    for d in shape:
        count *= int(d)
    size = path.stat().st_size
    if count * dtype.itemsize > size - f.tell():
        raise ValueError(f"header says {list(shape)} {dtype}, the file holds {size} bytes")


def load_npy(path: Path, root: Path | None = None) -> npt.NDArray[Any]:
    """Load one ``.npy`` without unpickling; damage becomes a SessionFormatError naming the file.

    With ``root``, a file that resolves outside that session directory (a symlink) is refused.
    The header is checked against the file size first, so a damaged shape allocates nothing.
    """
    if root is not None and not inside(path, root):
        raise SessionFormatError(f"{path} points outside the session {root}", path=path)
    if not path.is_file():
        raise SessionFormatError(f"{path} is missing", path=path)
    try:
        with open(path, "rb") as f:
            _npy_payload(f, path)
        return np.asarray(np.load(path, allow_pickle=False))
    except Exception as exc:
        # numpy's header parser raises many types (ValueError, SyntaxError,
        # tokenize.TokenError, MemoryError, ...): for a file from disk all of them mean damage.
        shown = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise SessionFormatError(f"{path} is truncated or corrupt ({shown})",
                                 path=path) from exc


def segments(
    frame_indices: npt.ArrayLike,
    *,
    valid: npt.ArrayLike | None = None,
    pauses: Sequence[Pause] = (),
    min_length: int = 1,
) -> list[tuple[int, int]]:
    """Contiguous runs of rows as half-open ``(start, stop)`` merged-row ranges.

    Rows ``i`` and ``i + 1`` are in one run when ``frame_indices[i + 1] == frame_indices[i] + 1``,
    no pause starts between them, and both are ``valid`` (e.g. their frame exists). Invalid rows
    belong to no run. Runs shorter than ``min_length`` are left out. Exporters build training
    windows inside one run only, never across a pause or dropped ticks.
    """
    fi = np.asarray(frame_indices, dtype=np.int64)
    n = len(fi)
    ok = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if len(ok) != n:
        raise ValueError(f"valid has {len(ok)} rows, frame_indices has {n}")
    if n == 0:
        return []
    joined = (fi[1:] == fi[:-1] + 1) & ok[1:] & ok[:-1] & ~pause_cuts(fi, pauses)
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i in range(n):
        if not ok[i]:
            start = None
            continue
        if start is None:
            start = i
        if i == n - 1 or not joined[i]:
            if i + 1 - start >= min_length:
                out.append((start, i + 1))
            start = None
    return out


class SessionReader:
    """Read-only view of one session directory.

    Raises:
        SessionFormatError: meta.json is missing, not JSON, or a field is invalid.
        SchemaVersionError: the session was written by a newer format version.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.paths = SessionPaths(self.root)
        if self.paths.meta.is_symlink() and not inside(self.paths.meta, self.root):
            raise SessionFormatError(f"{self.paths.meta} points outside the session",
                                     path=self.paths.meta)
        self.meta: SessionMeta = SessionMeta.load(self.paths.meta)
        self.layout = self.meta.layout
        self.chunks: list[ChunkEntry] = self.meta.chunks
        self._rows_checked: set[int] = set()  # chunks whose num_frames the files bear out

    @property
    def has_gamepad(self) -> bool:
        """Whether the session recorded a gamepad (``gamepad_chunk_NNN.npy`` files)."""
        return self.meta.gamepad

    @property
    def has_frame_times(self) -> bool:
        """Whether the frame source stamped its frames (``os_timestamps``, ``repeated`` files)."""
        capture = self.meta.capture
        return capture is not None and capture.frame_time_source is not None

    @cached_property
    def frame_store(self) -> FrameStore:
        """The session's frame storage, chosen by meta.json ``frame_format`` (see ``.frames``).

        Raises SessionFormatError naming an unknown ``frame_format`` kind.
        """
        return open_frame_store(self.root, self.meta.frame_format)

    @property
    def frame_kind(self) -> str:
        """The frame store's ``frame_format`` kind (a registry key of ``.frames``)."""
        return self.frame_store.kind

    @property
    def pauses(self) -> list[Pause]:
        """The pause segments of meta.json."""
        return list(self.meta.pauses)

    @property
    def is_rollout(self) -> bool:
        """Whether ``play`` recorded this session (``action_source``, ``policy_*`` arrays)."""
        return self.meta.play is not None

    def array_names(self) -> tuple[str, ...]:
        """Per-chunk array stems of this session (optional ones only when recorded)."""
        play = self.meta.play
        return row_array_names(frozenset({"gamepad"}) if self.has_gamepad else frozenset(),
                               frame_times=self.has_frame_times, play=play is not None,
                               play_pad=play is not None and play.pad_output)

    def array_spec(self, stem: str) -> tuple[np.dtype[Any], tuple[int | None, ...]]:
        """:data:`ARRAY_SPECS` of array ``stem`` (trailing None: one column per layout key)."""
        return ARRAY_SPECS[stem]

    def chunk(self, index: int) -> ChunkEntry:
        """The meta entry of chunk ``index``."""
        entry = self.meta.chunk(index)
        if entry is None:
            raise SessionFormatError(f"{self.paths.meta}: no chunk {index}", chunk=index)
        return entry

    def included_chunks(self) -> list[ChunkEntry]:
        """Chunks that make up the merged arrays (see the module docstring)."""
        return self.meta.included_chunks()

    def row_offsets(self) -> dict[int, int]:
        """Merged row of each included chunk's row 0."""
        out, row = {}, 0
        for c in self.included_chunks():
            out[c.index] = row
            row += c.num_frames
        return out

    # -- files --------------------------------------------------------------------------------
    def _file(self, c: Chunk, stem: str, default: Path) -> Path:
        # The writer records file names in the chunk entry (checked to stay inside the session
        # when meta.json was read); fall back to the format's names.
        name = c.files.get(stem)
        return self.root / name if name else default

    def array_path(self, c: Chunk, stem: str) -> Path:
        """Path of one chunk array (``actions``, ``timestamps``, ``events``, ...)."""
        return self._file(c, stem, self.paths.chunk_array(stem, c.index))

    def load_array(self, path: Path) -> npt.NDArray[Any]:
        """:func:`load_npy` of a file of this session (refused when it resolves outside)."""
        return load_npy(path, self.root)

    def chunk_arrays(self, c: Chunk) -> dict[str, npt.NDArray[Any]]:
        """Load the per-frame arrays of chunk ``c`` (not events, not frames), unchecked.

        Readers that use the values go through :meth:`checked_arrays`.
        """
        return {stem: self.load_array(self.array_path(c, stem)) for stem in self.array_names()}

    def chunk_events(self, c: Chunk) -> npt.NDArray[Any]:
        """The chunk's events structured array; a file without the event fields is an error."""
        p = self.array_path(c, "events")
        ev = self.load_array(p)
        names = ev.dtype.names
        if (names is None or set(names) != set(EVENT_DTYPE.names or ()) or ev.ndim != 1
                or any(ev.dtype[f].kind != EVENT_DTYPE[f].kind for f in names)):
            raise SessionFormatError(f"{p}: not an events array (dtype {ev.dtype}, shape "
                                     f"{list(ev.shape)})", chunk=c.index, path=p)
        bad = int(np.count_nonzero(~np.isfinite(ev["value"])))
        if bad:
            raise SessionFormatError(f"{p}: {bad} events have a NaN or infinite value",
                                     chunk=c.index, path=p)
        return ev

    def checked_arrays(self, c: Chunk) -> dict[str, npt.NDArray[Any]]:
        """Chunk ``c``'s arrays and events, checked as merge checks them, and in time order.

        The one path by which convert and preview read a chunk's arrays: dtype, shape and row
        count against ``num_frames`` (:func:`~.chunkcheck.check_chunk_arrays`), then timestamps
        and frame indices strictly increasing. Raises SessionFormatError naming the chunk and file.
        """
        from .chunkcheck import check_chunk_arrays, check_order

        checked = check_chunk_arrays(self, c)
        problems = checked.problems or check_order(self, c, checked.arrays)
        if problems:
            raise problems[0].error()
        self._rows_checked.add(c.index)
        return checked.arrays

    def _require_frames(self, c: Chunk) -> None:
        """Check before per-row work on ``c``'s frames.

        Its location is safe and its ``num_frames`` is what its timestamps file holds (so a
        damaged ``num_frames`` costs nothing).
        """
        self.frame_store.require_safe(c.index)
        if c.index in self._rows_checked:
            return
        path = self.array_path(c, "timestamps")
        ts = self.load_array(path)
        if ts.ndim != 1 or len(ts) != c.num_frames:
            raise SessionFormatError(
                f"chunk {c.index}: {path.name} has {len(ts) if ts.ndim else 0} rows, meta.json "
                f"says num_frames {c.num_frames}", chunk=c.index, path=path)
        self._rows_checked.add(c.index)

    @staticmethod
    def frame_size(c: Chunk) -> Size:
        """The real (w, h) of chunk ``c``'s frames: its ``size``, else its region's; or None."""
        if c.size is not None:
            return c.size
        if c.region is not None:
            return c.region[2] - c.region[0], c.region[3] - c.region[1]
        return None

    def frames_path(self, c: Chunk) -> Path:
        """Where chunk ``c``'s frames are: its PNG folder or its video file."""
        return self.frame_store.location(c.index)

    def frame_paths(self, c: Chunk) -> list[Path]:
        """Where each row's frame is stored, whether or not it exists.

        A one-file store names the chunk's file for every row.
        """
        self._require_frames(c)
        idx = c.index
        return [self.frame_store.frame_target(idx, r) for r in range(c.num_frames)]

    def frames_present(self, c: Chunk) -> npt.NDArray[np.bool_]:
        """Per row of ``c``: does its frame exist on disk (nothing is decoded)."""
        self._require_frames(c)
        return self.frame_store.frames_present(c.index, c.num_frames)

    def iter_chunk_frames(self, c: Chunk) -> Iterator[npt.NDArray[np.uint8]]:
        """Decode the chunk's frames in row order as BGR (H, W, 3) uint8 arrays."""
        self._require_frames(c)
        return self.frame_store.iter_frames(c.index, c.num_frames,
                                            self.frame_size(c))

    def map_chunk_frames(self, c: Chunk, rows: Iterable[int],
                         transform: Callable[[npt.NDArray[np.uint8]], T], *,
                         workers: int = 1) -> Iterator[T]:
        """``transform(BGR frame)`` of each chunk row in ``rows`` (increasing), in order.

        Stores whose frames decode independently (PNG) use ``workers`` threads.
        """
        self._require_frames(c)
        return self.frame_store.map_frames(c.index, c.num_frames,
                                           self.frame_size(c), rows, transform, workers=workers)

    def iter_frames(self, start: int = 0, stop: int | None = None,
                    ) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
        """Yield ``(merged_row, BGR frame)`` for merged rows in ``[start, stop)``, one at a time."""
        offsets = self.row_offsets()
        for c in self.included_chunks():
            off, n = offsets[c.index], c.num_frames
            if off + n <= start or (stop is not None and off >= stop):
                continue
            for r, img in enumerate(self.iter_chunk_frames(c)):
                row = off + r
                if stop is not None and row >= stop:
                    return
                if row >= start:
                    yield row, img

    # -- merged -------------------------------------------------------------------------------
    def merged_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Load the merged arrays (``actions.npy`` ...); run ``nitrogen-capture merge`` first."""
        if not self.paths.merged("actions").is_file():
            raise SessionFormatError(
                f"session {self.root} is not merged: {run_merge(self.root)}"
            )
        out = {stem: self.load_array(self.paths.merged(stem)) for stem in self.array_names()}
        out["events"] = self.load_array(self.paths.events_merged)
        return out

    def concat_arrays(self, chunks: Iterable[Chunk] | None = None) -> dict[str, npt.NDArray[Any]]:
        """Concatenate chunk arrays and events (default: the included chunks) in memory.

        Each chunk is read through :meth:`checked_arrays`; times must also increase from one
        chunk to the next (SessionFormatError naming the chunk and file otherwise).
        """
        parts: dict[str, list[npt.NDArray[Any]]] = {s: [] for s in self.array_names()}
        events: list[npt.NDArray[Any]] = []
        last: dict[str, int] = {}
        for c in self.included_chunks() if chunks is None else chunks:
            arrays = self.checked_arrays(c)
            for stem in ("timestamps", "frame_indices"):
                arr = arrays[stem]
                if len(arr) and stem in last and int(arr[0]) <= last[stem]:
                    path = self.array_path(c, stem)
                    raise SessionFormatError(
                        f"chunk {c.index}: {path.name} starts at {int(arr[0])}, not after the "
                        f"previous chunk's last value {last[stem]}", chunk=c.index, path=path)
                if len(arr):
                    last[stem] = int(arr[-1])
            for stem in self.array_names():
                parts[stem].append(arrays[stem])
            events.append(arrays["events"])
        k = len(self.layout)
        empty = empty_rows(k)
        out = {s: np.concatenate(v) if v else empty[s] for s, v in parts.items()}
        out["events"] = np.concatenate(events) if events else np.zeros(0, EVENT_DTYPE)
        return out

    def achieved_fps(self, pauses: Sequence[Pause] | None = None) -> float:
        """The included chunks' achieved fps by the one rule (:func:`.timeline.achieved_fps`).

        What the recorder stores as ``fps.achieved`` when it stops, and crash repair and merge
        when they settle a session; ``pauses`` default to the session's (the recorder passes
        its own, which may hold a pause not yet on disk). 0.0 for fewer than two frames, or
        arrays that cannot be read (validate names those).
        """
        fi, ts = [], []
        try:
            for c in self.included_chunks():
                arrays = self.checked_arrays(c)
                fi.append(arrays["frame_indices"])
                ts.append(arrays["timestamps"])
        except SessionFormatError:
            return 0.0
        if not fi:
            return 0.0
        return round(achieved_fps(np.concatenate(fi), np.concatenate(ts),
                                  self.pauses if pauses is None else pauses), 3)

    def segments(self, min_length: int = 1,
                 frame_indices: npt.NDArray[Any] | None = None) -> list[tuple[int, int]]:
        """Contiguous merged-row runs: no pause, no tick gap, frame on disk (:func:`segments`).

        ``frame_indices``: the included chunks' merged frame indices when the caller already
        loaded them (:meth:`concat_arrays`), so they are not read and checked a second time.
        """
        chunks = self.included_chunks()
        if not chunks:
            return []
        fi = (np.concatenate([self.checked_arrays(c)["frame_indices"] for c in chunks])
              if frame_indices is None else frame_indices)
        ok = np.concatenate([self.frames_present(c) for c in chunks])
        return segments(fi, valid=ok, pauses=self.pauses, min_length=min_length)
