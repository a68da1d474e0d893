"""Rebuild the chunk that was open when the recorder died (kill -9, power loss, disk full).

A chunk with a ``journal_chunk_NNN.jsonl`` on disk was never finished. :func:`repair_session`
rebuilds it from the journal and the frames on disk (docs/format.md, "Journal"):

1. Parse the journal; a torn last line (the process died mid-write) is ignored.
2. Keep the longest prefix of rows whose journal ``frame`` record **and** frame both exist, as the
   session's frame store counts them (``FrameStore.count_on_disk``): PNGs are written to a
   temporary name and renamed, so a PNG that exists is whole; for video storage the frames that
   PyAV can decode from the (crash-tolerant) MKV count.
3. Re-bin actions, mouse deltas and gamepad from the journal's events with the recorder's own
   :class:`~nitrogen_capture.binning.ActionBinner`, starting from the held keys of the
   journal's ``state`` line, so the result equals what the live recorder would have written.
4. Set aside what is beyond the kept prefix (``FrameStore.trim``: PNGs to
   ``frames/chunk_NNN/orphans/``; a video chunk's file is rewritten as its first ``kept`` frames
   by stream copy and the original goes to ``frames/orphans/``; never deleted), check that what
   it writes fits on the disk, write the chunk's arrays together (all under temporary names,
   then all renamed: never some without the others), add/replace the chunk entry in
   ``meta.json`` last (``complete: true, recovered: true``, status ``recovered``), and only then
   delete the journal.

A full disk is one line naming the session, the space needed and free (diskspace.py); the
chunk's arrays are then all absent and its journal is kept, so a merge with room recovers it.

Every step is idempotent: a repair interrupted half-way can simply be run again. Finished chunks
are never touched. Limitation: the journal stores no gamepad axis state at chunk start, so stick
axes of a recovered chunk start at 0 until the pad next reports them.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..binning import ActionBinner, bin_events
from ..diskspace import check_free, on_disk, said_when_full
from ..errors import SessionFormatError
from ..events import BUTTON, KEY, InputEvent, events_to_array
from ..keylayout import MOUSE_BUTTONS
from ..rows import OS_TIME_NONE, SOURCE_POLICY
from .frametimes import set_frame_time_counts
from .io import data_size, inside, is_plain_file, json_bytes, set_aside, write_together
from .journal import (
    ChunkRecord,
    EventRecord,
    FrameRecord,
    PauseRecord,
    ResumeRecord,
    RolloutRecord,
    StateRecord,
    decode,
    load_line,
)
from .lock import SessionLock
from .meta import ChunkEntry, Pause, SessionMeta
from .paths import META_NAME, SessionPaths, run_merge
from .reader import SessionReader
from .rollout_rows import RolloutRow, rollout_arrays
from .timeline import achieved_fps

__all__ = ["Journal", "RecoveredChunk", "RepairReport", "parse_journal", "repair_session"]

log = logging.getLogger(__name__)


@dataclass
class Journal:
    """What a chunk journal holds (see docs/format.md; its records: :mod:`.journal`)."""

    chunk: ChunkRecord | None = None
    frames: dict[int, tuple[int, int]] = field(default_factory=dict)  # row -> (tick, t_ns)
    # row -> (OS time or None, repeated), for a source that stamps frames (docs/format.md)
    frame_times: dict[int, tuple[int | None, bool]] = field(default_factory=dict)
    rollout: dict[int, RolloutRecord] = field(default_factory=dict)  # a `play` session's rows
    events: list[InputEvent] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    torn_last_line: bool = False
    bad_lines: int = 0


def _rollout_rows(j: Journal, kept: int, keys: int,
                  meta: SessionMeta) -> tuple[list[RolloutRow], int]:
    """A recovered chunk's rollout rows and how many the journal did not have.

    The writer journals a rollout row when it bins the row, a moment after the frame, so a crash
    can leave the last frames without one: they get nothing proposed and the source of the row
    before them, and ``play.stats.rows_without_rollout`` counts them (docs/format.md).
    """
    pad = meta.play is not None and meta.play.pad_output
    rows: list[RolloutRow] = []
    source, missing = SOURCE_POLICY, 0
    for r in range(kept):
        rec = j.rollout.get(r)
        if rec is None:
            missing += 1
            rows.append(RolloutRow.unknown(keys, source, pad))
            continue
        source = rec.src
        row_keys = np.zeros(keys, np.int8)
        row_keys[[k for k in rec.keys if k < keys]] = 1
        rows.append(RolloutRow(rec.src, row_keys, np.array(rec.m, np.float32),
                               None if rec.pad is None else np.array(rec.pad, np.float32)))
    if missing and meta.play is not None:
        stats = dict(meta.play.stats)
        stats["rows_without_rollout"] = int(stats.get("rows_without_rollout", 0)) + missing
        meta.play = dataclasses.replace(meta.play, stats=stats)
    return rows, missing


def parse_journal(path: Path) -> Journal:
    """Parse a journal; a torn last line is ignored, other unreadable lines are counted.

    A journal is data from disk: any line that is not JSON, nests deeper than a journal does,
    holds NaN or Infinity, or whose numbers are not integers in int64 range (times, ticks; rows
    below 2**40) or finite (values) is a bad line, counted and skipped, never an error
    (:func:`.journal.decode`). Lines repair does not use (a second chunk or state line, a
    resume without a pause) are skipped unread.
    """
    j = Journal()
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    open_pause: PauseRecord | None = None
    for n, raw in enumerate(lines):
        try:
            rec = load_line(raw)
            kind = rec["kind"]
        except (ValueError, KeyError, TypeError, IndexError, RecursionError):
            if n == len(lines) - 1:
                j.torn_last_line = True
            else:
                j.bad_lines += 1
            continue
        if ((kind == "chunk" and j.chunk is not None) or (kind == "state" and j.held)
                or (kind == "resume" and open_pause is None)):
            continue
        try:
            record = decode(rec)
        except (KeyError, TypeError, ValueError, AttributeError):
            j.bad_lines += 1
            continue
        if isinstance(record, ChunkRecord):
            j.chunk = record
        elif isinstance(record, FrameRecord):
            j.frames[record.row] = (record.index, record.t)
            if record.rep is not None:
                j.frame_times[record.row] = (record.os, record.rep)
        elif isinstance(record, EventRecord):
            j.events.append(record.event)
        elif isinstance(record, RolloutRecord):
            j.rollout[record.row] = record
        elif isinstance(record, StateRecord):
            j.held = record.held
        elif isinstance(record, PauseRecord):
            _close_pause(j, open_pause, None, None)
            open_pause = record
        elif isinstance(record, ResumeRecord):
            _close_pause(j, open_pause, record.end_tick, record.end_t)
            open_pause = None
    _close_pause(j, open_pause, None, None)  # still open when the recorder died
    j.events.sort(key=lambda e: e.t_ns)  # stable: equal times keep journal order
    return j


def _close_pause(j: Journal, started: PauseRecord | None, end_tick: int | None,
                 end_t: int | None) -> None:
    if started is not None:
        j.pauses.append(Pause.closed(started.start_tick, started.start_t, started.reason,
                                     end_tick, end_t))


@dataclass(frozen=True)
class RecoveredChunk:
    """What repair did to one open chunk."""

    index: int
    rows_kept: int
    journal_frames: int
    frames_on_disk: int
    orphaned: tuple[str, ...]
    events_kept: int
    events_dropped: int
    torn_last_line: bool
    note: str = ""


@dataclass(frozen=True)
class RepairReport:
    """Result of :func:`repair_session`."""

    root: Path
    recovered: tuple[RecoveredChunk, ...] = ()
    # Journals of chunks that were already complete, set aside in orphans/ (their new place).
    journals_removed: tuple[str, ...] = ()
    refused: tuple[tuple[int, str], ...] = ()  # open chunks left as they are, and why

    @property
    def changed(self) -> bool:
        """Whether anything on disk was changed."""
        return bool(self.recovered or self.journals_removed)

    def summary(self) -> str:
        """One line per recovered chunk."""
        out = [f"chunk {r.index}: recovered {r.rows_kept} rows (journal {r.journal_frames}, "
               f"frames on disk {r.frames_on_disk}, {len(r.orphaned)} moved to orphans)"
               + (f"; {r.note}" if r.note else "") for r in self.recovered]
        out += [f"chunk already complete: its leftover journal was moved to {j}"
                for j in self.journals_removed]
        out += [f"chunk {i}: not recovered: {why}" for i, why in self.refused]
        return "\n".join(out)


def repair_session(root: str | Path, *, held: SessionLock | None = None) -> RepairReport:
    """Rebuild every chunk that still has a journal; see the module docstring.

    ``held`` is the caller's lock of this session (merge's); without it repair takes the
    session lock itself (docs/format.md, "Lock"), refusing a session that is being recorded.
    """
    if held is None:
        with SessionLock.acquire(SessionPaths(root), "repair") as lock:
            return repair_session(root, held=lock)
    reader = SessionReader(root)
    paths = reader.paths
    recovered: list[RecoveredChunk] = []
    removed: list[str] = []
    refused: list[tuple[int, str]] = []
    for number, jpath in paths.open_journals().items():
        idx = number
        why = open_chunk_unsafe(reader, idx, jpath)
        if why is not None:
            # Never read or move anything through a link or outside the session.
            log.info("chunk %d: not recovered: %s", idx, why)
            refused.append((idx, why))
            continue
        entry = reader.meta.chunk(idx)
        if entry is not None and entry.complete and all(
                reader.array_path(entry, s).is_file() for s in reader.array_names()):
            # Died after meta.json was replaced but before the journal was deleted: the chunk
            # is whole; its journal is set aside (never deleted without a word).
            dest = set_aside(jpath, reader.frame_store.orphans_dir(idx))
            log.info("chunk %d was complete: its journal was moved to %s", idx, dest)
            removed.append(dest.relative_to(reader.root).as_posix())
            continue
        recovered.append(_repair_chunk(reader, idx, jpath))
        reader = SessionReader(root)  # meta.json changed
    return RepairReport(Path(root), tuple(recovered), tuple(removed), tuple(refused))


def open_chunk_unsafe(reader: SessionReader, idx: int, jpath: Path) -> str | None:
    """Why merge will refuse to recover the open chunk ``idx`` (a link, a non-file), or None."""
    if not is_plain_file(jpath) or not inside(jpath, reader.root):
        return f"{jpath.name} is not a regular file inside the session"
    try:
        store = reader.frame_store
    except SessionFormatError as exc:
        return str(exc)
    return store.unsafe(idx, repair=True)


def _repair_chunk(reader: SessionReader, idx: int, jpath: Path) -> RecoveredChunk:
    paths: SessionPaths = reader.paths
    j = parse_journal(jpath)
    # Longest prefix of rows with a journal record and a frame on disk.
    rows = 0
    while rows in j.frames:
        rows += 1
    store = reader.frame_store
    on_disk_rows = store.count_on_disk(idx)
    kept = min(rows, on_disk_rows)
    # A full disk stops the repair with the journal in place and the chunk's arrays absent, so
    # a later merge with room recovers the chunk (docs/reliability.md, section 7). Setting aside
    # the frames beyond the kept rows first is safe: a later repair keeps the same rows.
    todo = f"free some space and {run_merge()} again ({jpath.name} is kept: nothing is lost)"
    meta = reader.meta
    with said_when_full(paths.root, 0, f"chunk {idx}'s orphans/", todo):
        orphaned = store.trim(idx, kept)  # (a video chunk's copy checks its own space)
    if kept == 0:
        # Nothing to rebuild: keep the journal's data beside the orphans rather than delete it.
        dest = set_aside(jpath, store.orphans_dir(idx))
        log.warning("chunk %d: no frame survived; journal moved to %s", idx, dest)
        meta.status = "recovered"  # the session is settled: not "recording" for ever after
        with said_when_full(paths.root, on_disk([len(json_bytes(meta.to_json()))]), META_NAME,
                            f"free some space and {run_merge()} again (the journal is in "
                            "orphans/)"):
            meta.save(paths.meta)
        return RecoveredChunk(idx, 0, len(j.frames), on_disk_rows, orphaned, 0, len(j.events),
                              j.torn_last_line, "no complete frame: journal kept in orphans/")

    ticks = np.array([j.frames[r][0] for r in range(kept)], dtype=np.int64)
    times = np.array([j.frames[r][1] for r in range(kept)], dtype=np.int64)
    t_last = int(times[-1])
    prev = [c for c in reader.chunks if c.index < idx]
    # This chunk's events are those in (t_last(previous chunk), t_last] (docs/format.md).
    t_prev = prev[-1].last_t_ns if prev else None
    events = [e for e in j.events
              if e.t_ns <= t_last and (t_prev is None or e.t_ns > t_prev)]
    binner = ActionBinner(reader.layout)
    # Held keys at chunk start: press them, then close a throw-away frame so they count as held
    # (not as presses latched inside the first interval), exactly like the live binner's state.
    for k in j.held:
        binner.feed(InputEvent(int(times[0]), BUTTON if k in MOUSE_BUTTONS else KEY, k, 1.0))
    binner.close_frame()
    binned = bin_events(events, times, reader.layout, binner)
    ev = events_to_array(events)

    arrays: dict[str, npt.NDArray[Any]] = {
        "actions": binned.actions, "mouse_deltas": binned.mouse_deltas,
        "frame_indices": ticks, "timestamps": times, "events": ev}
    if reader.has_gamepad:
        arrays["gamepad"] = binned.gamepad
    if reader.has_frame_times:  # a row the journal has no OS time for gets none
        stamped = [j.frame_times.get(r, (None, False)) for r in range(kept)]
        arrays["os_timestamps"] = np.array(
            [OS_TIME_NONE if t is None else t for t, _ in stamped], dtype=np.int64)
        arrays["repeated"] = np.array([rep for _, rep in stamped], dtype=np.bool_)
    unknown_rows = 0
    if reader.is_rollout:
        recovered, unknown_rows = _rollout_rows(j, kept, len(reader.layout), meta)
        arrays.update(rollout_arrays(recovered, len(reader.layout),
                                     pad=meta.play is not None and meta.play.pad_output))
    files = {stem: paths.chunk_array(stem, idx).name for stem in arrays}
    files["frames"] = store.relative_location(idx)

    line = j.chunk or ChunkRecord(None, None, None, None)
    capture = meta.capture
    # Not the journal's first_row: an earlier chunk recovered with fewer rows shifts this one.
    meta.put_chunk(ChunkEntry.build(
        idx, sum(c.num_frames for c in prev), ticks.tolist(), times.tolist(),
        region=line.region or (capture.region if capture else None),
        size=line.size or (capture.size if capture else None),
        held_at_start=j.held, files=files, recovered=True))
    known = {p.start_tick for p in meta.pauses}
    meta.pauses += [p for p in j.pauses if p.start_tick not in known]
    meta.counters = dataclasses.replace(meta.counters, frames=meta.frames_listed)
    meta.status = "recovered"

    # The recorder died before it could say: the one rule on the frames now listed, and the
    # frame time counts of those rows.
    listed = _listed_with(reader, idx, arrays)
    meta.fps_achieved = 0.0 if listed is None else round(
        achieved_fps(listed["frame_indices"], listed["timestamps"], meta.pauses), 3)
    if reader.has_frame_times and listed is not None:
        meta.capture = set_frame_time_counts(meta.capture, listed["os_timestamps"],
                                             listed["repeated"])
    # Everything this step writes, checked against the free space before the first change.
    outputs = [(paths.chunk_array(stem, idx), arr) for stem, arr in arrays.items()]
    what = f"chunk {idx}'s arrays rebuilt from {jpath.name}"
    needed = on_disk([*(data_size(a) for _, a in outputs), len(json_bytes(meta.to_json()))])
    check_free(paths.root, needed, what, todo)
    with said_when_full(paths.root, needed, what, todo):
        write_together(outputs)  # the chunk's arrays appear together or not at all
    try:
        with said_when_full(paths.root, needed, f"{what} ({META_NAME})", todo):
            meta.save(paths.meta)  # last: a chunk listed there is whole
    except OSError:  # not replaced (atomic.py): back to the journal alone, as before the repair
        for dest, _ in outputs:
            dest.unlink(missing_ok=True)
        raise
    jpath.unlink()  # last: everything it described is on disk now
    dropped = len(j.events) - len(events)
    note = f"{dropped} events outside the kept frames' span dropped" if dropped else ""
    if unknown_rows:
        more = f"{unknown_rows} rollout rows without their rollout line (nothing proposed)"
        note = f"{note}; {more}" if note else more
    log.info("chunk %d: recovered %d rows", idx, kept)
    return RecoveredChunk(idx, kept, len(j.frames), on_disk_rows, orphaned, len(events), dropped,
                          j.torn_last_line, note)


def _listed_with(reader: SessionReader, idx: int,
                 rebuilt: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]] | None:
    """The listed chunks' arrays concatenated, chunk ``idx`` as just rebuilt (not yet on disk).

    None when another chunk's arrays cannot be read (validate names it).
    """
    parts: list[tuple[int, dict[str, npt.NDArray[Any]]]] = []
    try:
        for c in reader.included_chunks():
            if c.index != idx:
                parts.append((c.index, reader.checked_arrays(c)))
    except SessionFormatError:
        return None
    parts.append((idx, rebuilt))
    parts.sort(key=lambda p: p[0])
    return {stem: np.concatenate([p[1][stem] for p in parts]) for stem in reader.array_names()}
