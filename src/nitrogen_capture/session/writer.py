"""The session writer: chunk arrays, the journal and meta.json, on one thread.

:class:`SessionWriter` is driven by the recorder's writer thread only (it is not thread-safe by
design: one owner, no locks). It learns, in this order for each frame:

1. :meth:`on_frame` - a frame was captured and queued for encoding (journal: frame record);
2. :meth:`on_events` - raw events as they were drained (journal: event records);
3. :meth:`on_row` - the binned row of the oldest frame without one (after the binning delay);
4. :meth:`on_encoded` - its PNG is on disk (video: the frame is in the encoder);
5. one-file frame stores (video) only, once per chunk: :meth:`on_file_closed` - the chunk's
   ``.mkv`` is finished.

A chunk is complete when no more frames can join it (the next chunk started or recording
stopped), every row is binned and every frame is encoded (and, for a one-file store, its file is
closed, so a complete chunk never points at a file without its last frames or index): then its
arrays are saved atomically,
``meta.json`` is replaced and its journal deleted. Until then the journal (flushed about once a
second) is what crash recovery rebuilds the chunk from (docs/format.md).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ..binning import GAMEPAD_WIDTH
from ..events import HeldKeys, InputEvent, events_to_array
from ..rows import OS_TIME_NONE
from .frames import open_frame_store
from .frametimes import add_frame_time_counts
from .io import atomic_save_npy
from .journal import (
    ChunkRecord,
    EventRecord,
    FrameRecord,
    JournalRecord,
    PauseRecord,
    ResumeRecord,
    RolloutRecord,
    StateRecord,
)
from .meta import ChunkEntry, SessionMeta
from .paths import SessionPaths, run_merge
from .rollout_rows import RolloutRow, rollout_arrays

__all__ = ["ChunkState", "SessionWriter"]

log = logging.getLogger(__name__)


@dataclass
class ChunkState:
    """One chunk while it is being written."""

    number: int
    first_row: int
    region: list[int]
    size: tuple[int, int]
    held_at_start: list[str]
    frame_indices: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    os_timestamps: list[int] = field(default_factory=list)  # when the source stamps frames
    repeated: list[bool] = field(default_factory=list)
    actions: list[npt.NDArray[np.int8]] = field(default_factory=list)
    mouse: list[npt.NDArray[np.float32]] = field(default_factory=list)
    gamepad: list[npt.NDArray[np.float32]] = field(default_factory=list)
    rollout: list[RolloutRow] = field(default_factory=list)  # a `play` session's rows
    events: list[InputEvent] = field(default_factory=list)
    journal_events: list[InputEvent] = field(default_factory=list)
    encoded: int = 0
    failed: int = 0
    closed: bool = False
    file_closed: bool = True  # video storage: False until the chunk's file is closed
    file_error: str | None = None
    journal: IO[str] | None = None

    @property
    def num_frames(self) -> int:
        """Frames captured into this chunk so far."""
        return len(self.timestamps)

    @property
    def ready(self) -> bool:
        """Every frame binned and encoded, and no more frames to come."""
        n = self.num_frames
        return (self.closed and self.file_closed and len(self.actions) == n
                and self.encoded + self.failed == n)


class SessionWriter:
    """Writes one session directory (see the module docstring for the call order)."""

    def __init__(self, paths: SessionPaths, meta: SessionMeta, *, gamepad: bool) -> None:
        self.paths = paths
        self.meta = meta
        self.gamepad = gamepad
        # The source stamps its frames: chunks get os_timestamps and repeated (docs/format.md).
        self.frame_times = meta.capture is not None and meta.capture.frame_time_source is not None
        # A `play` rollout: chunks get action_source and policy_* (docs/format.md, "Rollouts").
        self.rollout = meta.play is not None
        self.rollout_pad = meta.play is not None and meta.play.pad_output
        self.open_chunks: list[ChunkState] = []
        self.encode_ms: list[float] = []
        self.bytes_written = 0
        self.errors: list[str] = []
        self._held = HeldKeys()  # keys held in the journaled stream
        # Events stored before the first frame (the held state entered at the start, presses
        # just before it): journaled into the first chunk when it opens.
        self._before_first: list[InputEvent] = []
        # Where frames go and whether a chunk waits for its file to be closed.
        self.frame_store = open_frame_store(paths.root, meta.frame_format)

    @property
    def held(self) -> list[tuple[str, str]]:
        """``(code, device)`` of the keys held in the journaled (stored) event stream."""
        return self._held.items()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Create the directory tree and the first meta.json."""
        self.paths.frames_dir.mkdir(parents=True, exist_ok=True)
        self.write_meta()

    def write_meta(self) -> None:
        """Replace meta.json atomically."""
        self.meta.save(self.paths.meta)

    # -- inputs from the recorder --------------------------------------------------------------
    def on_frame(self, chunk: int, tick: int, t_rel: int, region: list[int],
                 size: tuple[int, int], os_t_rel: int | None = None,
                 repeated: bool = False) -> None:
        """A frame was captured into ``chunk`` and queued for encoding.

        ``os_t_rel`` / ``repeated``: its OS time and repeat flag (stored when the session's
        source stamps frames; ``os_t_rel`` None or OS_TIME_NONE: the source gave no time).
        """
        current = self.open_chunks[-1] if self.open_chunks else None
        if current is None or current.number != chunk:
            current = self._open_chunk(chunk, region, size, current)
        current.frame_indices.append(tick)
        current.timestamps.append(t_rel)
        if not self.frame_times:
            self._journal(current, FrameRecord(current.num_frames - 1, tick, t_rel))
            return
        os_t = OS_TIME_NONE if os_t_rel is None else os_t_rel
        current.os_timestamps.append(os_t)
        current.repeated.append(bool(repeated))
        self._journal(current, FrameRecord(current.num_frames - 1, tick, t_rel,
                                           None if os_t == OS_TIME_NONE else os_t,
                                           bool(repeated)))

    def _open_chunk(self, number: int, region: list[int], size: tuple[int, int],
                    previous: ChunkState | None) -> ChunkState:
        moved, self._before_first = self._before_first, []
        if previous is not None:
            previous.closed = True
            # Events journaled after the previous chunk's last frame belong to the new chunk.
            last_t = previous.timestamps[-1]
            moved = [e for e in previous.journal_events if e.t_ns > last_t]
            self._close_journal(previous)
        first_row = self.rows_total_frames()
        state = ChunkState(number, first_row, region, size,
                           held_at_start=self._held.undo(moved).codes(),
                           file_closed=not self.frame_store.single_file)
        self.open_chunks.append(state)
        state.journal = open(self.paths.journal(number), "w", encoding="utf-8")  # noqa: SIM115
        self._journal(state, ChunkRecord(number, first_row, region, list(size)))
        self._journal(state, StateRecord(state.held_at_start))
        for ev in moved:
            self._journal_event(state, ev)
        self.maybe_finalize()
        return state

    def rows_total_frames(self) -> int:
        """Frames in every chunk started so far."""
        done = self.meta.frames_listed
        return done + sum(c.num_frames for c in self.open_chunks)

    def on_events(self, events: list[InputEvent]) -> None:
        """Raw events as drained (session-relative times); journaled for crash recovery."""
        if not self.open_chunks:  # before the first frame: kept for the first chunk's journal
            for ev in events:
                self._held.apply(ev)
            self._before_first.extend(events)
            return
        chunk = self.open_chunks[-1]
        for ev in events:
            self._journal_event(chunk, ev)

    def _journal_event(self, chunk: ChunkState, ev: InputEvent) -> None:
        chunk.journal_events.append(ev)
        self._held.apply(ev)
        self._journal(chunk, EventRecord(ev))

    def on_row(self, actions: npt.NDArray[np.int8], mouse: npt.NDArray[np.float32],
               pad: npt.NDArray[np.float32], events: list[InputEvent],
               rollout: RolloutRow | None = None) -> None:
        """The binned row of the oldest frame that has none yet, with its interval's events.

        ``rollout``: a `play` session's rollout row (stored and journaled when it is one).
        """
        for chunk in self.open_chunks:
            if len(chunk.actions) < chunk.num_frames:
                chunk.actions.append(actions)
                chunk.mouse.append(mouse)
                chunk.gamepad.append(pad)
                chunk.events.extend(events)
                if self.rollout:
                    if rollout is None:  # a recorder bug, not user input
                        raise RuntimeError("a rollout row is missing")
                    chunk.rollout.append(rollout)
                    self._journal(chunk, RolloutRecord(
                        len(chunk.actions) - 1, rollout.source,
                        tuple(int(i) for i in np.flatnonzero(rollout.keys)),
                        (float(rollout.mouse[0]), float(rollout.mouse[1])),
                        None if rollout.pad is None else tuple(float(v) for v in rollout.pad)))
                break
        else:
            raise RuntimeError("binned row without a frame")  # a recorder bug, not user input
        self.maybe_finalize()

    def on_encoded(self, chunk_number: int, ms: float, nbytes: int, error: str | None) -> None:
        """A frame of ``chunk_number`` was written (or failed to be)."""
        for chunk in self.open_chunks:
            if chunk.number == chunk_number:
                if error is None:
                    chunk.encoded += 1
                    self.encode_ms.append(ms)
                    # What this frame added to the disk (a one-file store's closing result
                    # adds the rest of the file): the results sum to the bytes written.
                    self.bytes_written += nbytes
                else:
                    chunk.failed += 1
                    self.errors.append(error)
                break
        self.maybe_finalize()

    def on_file_closed(self, chunk_number: int, nbytes: int, error: str | None) -> None:
        """One-file store: chunk ``chunk_number``'s file is closed (or failed to be)."""
        for chunk in self.open_chunks:
            if chunk.number == chunk_number:
                chunk.file_closed = True
                chunk.file_error = error
                self.bytes_written += nbytes
                if error is not None:
                    self.errors.append(error)
                break
        self.maybe_finalize()

    def on_control(self, record: PauseRecord | ResumeRecord) -> None:
        """Journal a pause/resume record."""
        if self.open_chunks:
            self._journal(self.open_chunks[-1], record)

    # -- journal ---------------------------------------------------------------------------------
    def _journal(self, chunk: ChunkState, record: JournalRecord) -> None:
        if chunk.journal is not None:
            chunk.journal.write(record.line())

    def flush_journal(self) -> None:
        """Flush the open journals to disk (called about twice a second)."""
        for chunk in self.open_chunks:
            if chunk.journal is not None:
                chunk.journal.flush()
                os.fsync(chunk.journal.fileno())

    def _close_journal(self, chunk: ChunkState) -> None:
        if chunk.journal is not None:
            chunk.journal.flush()
            chunk.journal.close()
            chunk.journal = None

    # -- completion ------------------------------------------------------------------------------
    def close_all(self) -> None:
        """No more frames will come (recording stopped)."""
        if self.open_chunks:
            self.open_chunks[-1].closed = True
        self.maybe_finalize()

    def maybe_finalize(self) -> None:
        """Write every chunk that is ready, oldest first."""
        while self.open_chunks and self.open_chunks[0].ready:
            self._finalize(self.open_chunks.pop(0))

    def _finalize(self, chunk: ChunkState) -> None:
        n = chunk.num_frames
        if chunk.failed or chunk.file_error:
            # Some frames never reached the disk (e.g. disk full): keep the journal so the
            # rows whose PNGs exist can still be recovered by `merge`, and say so.
            log.info("chunk %d: %d of %d frames could not be written; %s to recover",
                     chunk.number, chunk.failed, n, run_merge())
            self._close_journal(chunk)
            return
        k = len(self.meta.layout)
        arrays: dict[str, npt.NDArray[Any]] = {
            "actions": np.array(chunk.actions, dtype=np.int8).reshape(n, k),
            "mouse_deltas": np.array(chunk.mouse, dtype=np.float32).reshape(n, 2),
            "frame_indices": np.array(chunk.frame_indices, dtype=np.int64),
            "timestamps": np.array(chunk.timestamps, dtype=np.int64),
        }
        if self.gamepad:
            arrays["gamepad"] = np.array(chunk.gamepad, dtype=np.float32).reshape(n, GAMEPAD_WIDTH)
        if self.frame_times:
            arrays["os_timestamps"] = np.array(chunk.os_timestamps, dtype=np.int64)
            arrays["repeated"] = np.array(chunk.repeated, dtype=np.bool_)
        if self.rollout:
            arrays.update(rollout_arrays(chunk.rollout, k, pad=self.rollout_pad))
        files = {"frames": self.frame_store.relative_location(chunk.number)}
        for stem, arr in arrays.items():
            path = self.paths.chunk_array(stem, chunk.number)
            atomic_save_npy(path, arr)
            files[stem] = path.name
        atomic_save_npy(self.paths.events(chunk.number), events_to_array(chunk.events))
        files["events"] = self.paths.events(chunk.number).name
        self.meta.put_chunk(ChunkEntry.build(
            chunk.number, chunk.first_row, chunk.frame_indices, chunk.timestamps,
            region=chunk.region, size=chunk.size, held_at_start=chunk.held_at_start, files=files))
        if self.frame_times:  # the counts of meta.json are those of the chunks it lists
            self.meta.capture = add_frame_time_counts(self.meta.capture, arrays["os_timestamps"],
                                                      arrays["repeated"])
        self.write_meta()
        self._close_journal(chunk)
        self.paths.journal(chunk.number).unlink(missing_ok=True)
        log.debug("chunk %d complete: %d frames", chunk.number, n)
