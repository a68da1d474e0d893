"""Check a session and measure it: every problem is collected, none stops the check.

:func:`validate_session` looks at, in order:

* ``meta.json``: present, valid JSON, schema version this tool reads (a newer one ends the check);
* the session lock: a live one (being recorded) is a warning and its open chunk's journal no
  error; a stale one (the recorder died) is a warning, and its journal an error as below;
* leftover journals: a chunk left open by a crash is an error ("run merge to recover");
* each chunk: every array present and loadable, dtype and shape (``K == len(layout)``), row counts
  equal to each other and to ``num_frames``, first/last frame index as in meta, events sorted;
* frames, by the session's frame store (``FrameStore.check``); frames behind a symbolic link or
  outside the session are an error and are not read. PNG storage: missing and extra
  files per chunk; with ``check_frames`` every PNG's signature, ``IHDR`` size and ``IEND``
  trailer are read (a few bytes per file: catches truncated and foreign files and size changes
  inside a chunk) and a sample of up to 8 frames per chunk is fully decoded with
  ``cv2.imread``. Video storage: the file exists and, with ``check_frames`` and PyAV installed,
  its decodable frame count equals the rows. A ``files.frames`` entry naming another place than
  the store reads is a warning; an unknown ``frame_format`` kind an error;
* across chunks: timestamps and frame indices strictly increasing; tick gaps not covered by a pause
  are dropped ticks (a warning);
* merged files: when present they must equal the concatenation of the merged chunks;
* a session without any frame (killed before its first frame reached the disk; merge writes an
  empty dataset for it) is a warning, not an error;
* input: a requested gamepad that delivered nothing, no or almost no input, input that stops for
  minutes of recording are warnings (:mod:`.input_check`, the rule merge writes into meta.json);
* OS frame times (only when the source stamped frames, :mod:`.frametimes`): OS times that go
  back, lie after the grab time, or change on a repeated row are errors, and so are
  ``capture.repeated_frames`` / ``frames_without_os_time`` that disagree with the arrays;
* a ``play`` rollout (meta.json ``play``): its sources, counts and takeovers agree
  (:mod:`.rollout_check`), and ``stats["play"]`` holds its figures;
* capture failovers (``auto`` on Windows switched backend while recording, ``capture.choice``):
  an info line each, and ``stats["capture_switches"]``.

The report also carries statistics: frames, duration, achieved fps (intervals that span a pause are
left out), frame interval and jitter (|interval - 1/fps|) p50/p99/max in ms, dropped ticks, pauses,
late frames, encoder cost, input activity (presses per key, mouse motion, event counts) and,
when the source stamped frames, ``frame_times``: the capture latency (our grab time minus the OS
time) p50/p90/max and the repeated frames.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SchemaVersionError, SessionFormatError
from ..events import BUTTON, EVENT_DTYPE, KEY, MOTION, PAD_BUTTON, PRESS, WHEEL
from ..rows import OS_TIME_NONE
from .alignment import Alignment, alignment
from .audio_check import audio_problems
from .chunkcheck import check_chunk_arrays
from .frames import ERROR, INFO, WARNING
from .frametimes import describe as describe_frame_times
from .frametimes import frame_time_counts, frame_time_problems, frame_time_stats
from .input_check import PREFIX as INPUT_CHECK
from .input_check import input_warnings
from .lock import lock_status
from .meta import ChunkEntry, Labels
from .paths import run_merge
from .reader import SessionReader
from .repair import open_chunk_unsafe
from .rollout_check import play_stats, rollout_problems
from .timeline import achieved_fps, leading_missed, live_intervals, tick_jumps

__all__ = ["Problem", "ValidationReport", "validate_session"]


@dataclass(frozen=True)
class Problem:
    """One finding: ``level`` is error, warning or info; ``where`` names the file or chunk."""

    level: str
    where: str
    message: str


@dataclass(frozen=True)
class ValidationReport:
    """All problems found in a session plus its statistics (see the module docstring)."""

    root: Path
    problems: tuple[Problem, ...]
    stats: dict[str, Any] = field(default_factory=dict)
    alignment: Alignment | None = None  # None when meta.json could not be read

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        """Problems of level error."""
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """Problems of level warning."""
        return [p for p in self.problems if p.level == WARNING]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"root": str(self.root), "ok": self.ok, "stats": self.stats,
                "alignment": self.alignment.to_json() if self.alignment else None,
                "problems": [{"level": p.level, "where": p.where, "message": p.message}
                             for p in self.problems]}

    def format(self) -> str:
        """A readable multi-line report for the CLI."""
        s = self.stats
        lines = [f"session {self.root}: {'OK' if self.ok else 'ERRORS'} "
                 f"({len(self.errors)} errors, {len(self.warnings)} warnings)"]
        if "frames" in s:
            if s.get("labels"):
                lines.append(f"  {Labels(**s['labels']).describe()}")
            lines.append(f"  frames {s['frames']} in {s['chunks']} chunks, "
                         f"duration {s['duration_s']:.2f} s")
            fps_t = s.get("fps_target")
            lines.append(f"  fps achieved {s['fps_achieved']:.2f}"
                         + (f" (target {fps_t:g})" if fps_t else ""))
            iv, jt = s["interval_ms"], s["jitter_ms"]
            lines.append(f"  frame interval ms p50 {iv['p50']:.2f} p99 {iv['p99']:.2f} "
                         f"max {iv['max']:.2f}; jitter ms p50 {jt['p50']:.2f} "
                         f"p99 {jt['p99']:.2f} max {jt['max']:.2f}")
            lines.append(f"  dropped ticks {s['dropped_ticks']}, pauses {s['pauses']} "
                         f"({s['paused_s']:.2f} s), late frames {s['late_frames']}")
            enc = s.get("encoder") or {}
            if enc.get("ms_per_frame_mean") is not None:
                lines.append(f"  encoder {enc.get('name', '?')}: {enc['ms_per_frame_mean']:.2f} ms"
                             f"/frame mean, p99 {enc.get('ms_per_frame_p99', float('nan')):.2f}")
            inp = s["input"]
            presses = ", ".join(f"{k} {v}" for k, v in inp["presses"].items()) or "none"
            lines.append(f"  input: {inp['events']} events; presses: {presses}")
            lines.append(f"  mouse motion |dx| {inp['mouse_abs_dx']:.0f} |dy| "
                         f"{inp['mouse_abs_dy']:.0f} counts; wheel steps {inp['wheel_steps']:.0f}")
            if s.get("frame_times"):
                lines.append(f"  frame times: {describe_frame_times(s['frame_times'])}")
            if s.get("audio"):
                au = s["audio"]
                drift = ", ".join(f"{r['drift_ppm']:+.0f}" for r in au["runs"]) or "-"
                lines.append(f"  audio: {au['recorded_s']:.2f} s at {au['rate']} Hz x"
                             f"{au['channels']} in {au['chunks']} chunks; cut {au['cut_s']} s, "
                             f"lost {au['lost_s']} s; device clock drift ppm {drift}")
            if s.get("play"):
                pl = s["play"]
                lines.append(f"  rollout: {pl['policy_rows']} policy rows, {pl['human_rows']} "
                             f"human rows; {pl['takeovers']} takeover(s), "
                             f"{pl['takeover_s']:.2f} s")
        if self.alignment is not None:
            lines.append(f"  alignment: {self.alignment.sentence()}")
        for p in self.problems:
            lines.append(f"  {p.level.upper():7s} {p.where}: {p.message}")
        return "\n".join(lines)


def validate_session(root: str | Path, *, check_frames: bool = True) -> ValidationReport:
    """Check the session at ``root`` and return every problem found (never raises for damage)."""
    root = Path(root)
    probs: list[Problem] = []
    try:
        reader = SessionReader(root)
    except (SessionFormatError, SchemaVersionError) as exc:
        return ValidationReport(root, (Problem(ERROR, "meta.json", str(exc)),))
    add = probs.append
    # The session lock (docs/format.md, "Lock"): the open chunk of a live recording is no error.
    live = _check_lock(reader, probs)
    for number, j in reader.paths.open_journals().items():
        if live:
            add(Problem(INFO, j.name, "open chunk: the lock holder is still writing it"))
            continue
        why = open_chunk_unsafe(reader, number, j)
        add(Problem(ERROR, j.name, "a chunk was left open (crash or kill): " + (
            f"merge cannot recover it: {why}" if why else f"{run_merge()} to recover")))
    _check_set_aside(reader, probs)
    listed = {c.index for c in reader.chunks}
    open_ = set(reader.paths.open_journals())
    for idx in sorted(set(reader.paths.chunk_numbers_on_disk()) - listed - open_):
        add(Problem(WARNING, f"chunk {idx}", "files on disk but not listed in meta.json"))

    frames_ok = True
    try:
        _ = reader.frame_store
    except SessionFormatError as exc:  # an unknown frame_format kind: frames are not checked
        add(Problem(ERROR, "meta.json", str(exc)))
        frames_ok = False
    good: dict[int, dict[str, npt.NDArray[Any]]] = {}
    row = 0
    for c in reader.chunks:
        if c.first_row != row:
            add(Problem(WARNING, f"chunk {c.index}", f"first_row is {c.first_row}, the "
                        f"chunks before it hold {row} rows"))
        row += c.num_frames
        arrays = _check_chunk(reader, c, probs)
        if arrays is not None:
            good[c.index] = arrays
        if frames_ok:
            check_chunk_frames(reader, c, probs, check_frames)

    included = [c.index for c in reader.included_chunks()]
    usable = [i for i in included if i in good]
    cat = {k: np.concatenate([good[i][k] for i in usable]) if usable else np.zeros(0, np.int64)
           for k in ("frame_indices", "timestamps")}
    _check_order(cat["frame_indices"], cat["timestamps"], probs)
    frame_times = _check_frame_times(reader, [good[i] for i in usable], usable == included,
                                     probs)
    if reader.paths.merged("actions").is_file() and usable == included:
        _check_merged(reader, [good[i] for i in usable], probs)
    events = [good[i]["events"] for i in usable if "events" in good[i]]
    stats = _stats(reader, cat["frame_indices"], cat["timestamps"], events, len(usable))
    if frame_times is not None:
        stats["frame_times"] = frame_times
    if reader.meta.play is not None:
        stats["play"] = _check_rollout(reader, [good[i] for i in usable], usable == included,
                                       cat["timestamps"], probs)
    if reader.meta.audio is not None:  # --audio (docs/audio.md)
        stats["audio"] = _check_audio(reader, {i: good[i]["timestamps"] for i in usable},
                                      cat["timestamps"], live, probs)
    switches = reader.meta.capture.switches if reader.meta.capture else []
    if switches:  # only then: the stats of every other session stay as they were
        stats["capture_switches"] = switches
    for sw in switches:
        add(Problem(INFO, "capture", f"switched from {sw.get('from')} to {sw.get('to')} at "
                    f"frame {sw.get('frame')}: {sw.get('reason')}"))
    if not stats["frames"] and not reader.paths.journals():
        # e.g. killed before the first frame reached the disk: merge wrote an empty dataset.
        add(Problem(WARNING, "session", "no frames: nothing was recorded (or recovered)"))
    ev = np.concatenate(events) if events else np.zeros(0, EVENT_DTYPE)
    for w in input_warnings(ev, cat["timestamps"], reader.pauses, gamepad=reader.meta.gamepad):
        add(Problem(WARNING, "input", w.removeprefix(INPUT_CHECK)))
    for what, n in sorted(reader.meta.input.losses.items()):
        add(Problem(WARNING, "input", f"{what} {n}: the input source lost events while "
                    "recording (meta.json input.losses)"))
    if stats["dropped_ticks"]:
        dropped = stats["dropped_ticks"]
        share = dropped / max(dropped + stats["frames"], 1)
        add(Problem(WARNING, "frame_indices",
                    f"{dropped} dropped ticks ({share:.1%} of the recorded periods) in "
                    f"{stats['gaps']} gaps not explained by pauses (late capture or full frame "
                    f"queue); longest interval {stats['interval_ms']['max']:.0f} ms"))
    return ValidationReport(root, tuple(probs), stats, alignment(reader.meta, stats))


def _check_lock(reader: SessionReader, probs: list[Problem]) -> bool:
    """Report the session lock; True while it keeps other processes out (not stale)."""
    status = lock_status(reader.paths)
    if status is None:
        return False
    name = reader.paths.lock.name
    if not status.blocks:
        h = status.holder
        assert h is not None  # only a parsed lock can be stale
        probs.append(Problem(WARNING, name, f"stale lock of PID {h.pid} ({h.action} since "
                             f"{h.started}; the process is gone): merge removes it"))
    elif status.holder is not None and status.holder.action == "record":
        probs.append(Problem(WARNING, name, f"{status.holder.describe()}: its last chunk is "
                             "still open; validate again once it has finished"))
    else:
        probs.append(Problem(WARNING, name, status.message(reader.root)))
    return status.blocks
def _check_set_aside(reader: SessionReader, probs: list[Problem]) -> None:
    """Say what crash recovery set aside in ``orphans/`` folders: kept, but in no row."""
    try:
        store = reader.frame_store
    except SessionFormatError:
        return  # said elsewhere
    paths = reader.paths
    numbers = ({c.index for c in reader.chunks} | set(paths.chunk_numbers_on_disk())
               | set(paths.frame_chunk_numbers()))
    seen: set[Path] = set()
    for n in sorted(numbers):
        folder = store.orphans_dir(n)
        if folder in seen:
            continue
        seen.add(folder)
        rel = folder.relative_to(reader.root).as_posix()
        if folder.is_symlink():
            probs.append(Problem(WARNING, rel, "is a symbolic link: crash repair never moves "
                                 "files through it, so an open chunk here cannot be recovered"))
            continue
        if not folder.is_dir():
            continue
        count = sum(1 for _ in folder.iterdir())
        if count:
            probs.append(Problem(WARNING, rel, f"{count} file(s) set aside by crash recovery "
                                 "(kept, but in no row of the session)"))


def _check_chunk(reader: SessionReader, c: ChunkEntry,
                 probs: list[Problem]) -> dict[str, npt.NDArray[Any]] | None:
    """Check one chunk's arrays (the check merge makes too); return them when all are usable."""
    where = f"chunk {c.index}"
    if not c.complete:
        probs.append(Problem(WARNING, where, "not marked complete in meta.json"))
    checked = check_chunk_arrays(reader, c)
    probs += [Problem(ERROR, where, problem.message) for problem in checked.problems]
    ev = checked.arrays.get("events")
    if ev is not None and len(ev) and np.any(np.diff(ev["t_ns"]) < 0):
        probs.append(Problem(WARNING, where, "events are not sorted by t_ns"))
    if not checked.ok:
        return None
    fi = checked.arrays["frame_indices"]
    if reader.has_frame_times:
        a = checked.arrays
        probs += [Problem(ERROR, where, m) for m in frame_time_problems(
            a["timestamps"], a["os_timestamps"], a["repeated"])]
    if c.num_frames and (c.first_frame_index != fi[0] or c.last_frame_index != fi[-1]):
        probs.append(Problem(WARNING, where, f"frame indices {fi[0]}..{fi[-1]} differ from "
                             f"meta.json {c.first_frame_index}..{c.last_frame_index}"))
    return checked.arrays


def _check_order(fi: npt.NDArray[Any], ts: npt.NDArray[Any], probs: list[Problem]) -> None:
    for name, arr in (("frame_indices", fi), ("timestamps", ts)):
        bad = np.flatnonzero(np.diff(arr) <= 0)
        if len(bad):
            i = int(bad[0])
            probs.append(Problem(ERROR, name, f"not strictly increasing at {len(bad)} rows, first "
                                 f"at merged row {i + 1} ({arr[i]} -> {arr[i + 1]})"))


def _check_frame_times(reader: SessionReader, chunks: list[dict[str, npt.NDArray[Any]]],
                       whole: bool, probs: list[Problem]) -> dict[str, Any] | None:
    """OS frame times across chunks and meta.json's counts; their statistics (None: none).

    ``whole``: ``chunks`` are every included chunk, so meta.json's counts must equal theirs.
    """
    if not reader.has_frame_times:
        return None
    cat = {k: np.concatenate([c[k] for c in chunks]) if chunks else np.zeros(0, np.int64)
           for k in ("timestamps", "os_timestamps", "repeated")}
    # Within a chunk _check_chunk said it; here only what goes back from one chunk to the next.
    starts = np.cumsum([0, *(len(c["timestamps"]) for c in chunks)])[:-1]
    for i in range(1, len(chunks)):
        prev, cur = chunks[i - 1]["os_timestamps"], chunks[i]["os_timestamps"]
        pv, cv = prev[prev != OS_TIME_NONE], cur[cur != OS_TIME_NONE]
        if len(pv) and len(cv) and cv[0] < pv[-1]:
            probs.append(Problem(ERROR, "os_timestamps", f"goes back from one chunk to the "
                                 f"next at merged row {int(starts[i])} ({int(pv[-1])} -> "
                                 f"{int(cv[0])})"))
    capture = reader.meta.capture
    assert capture is not None  # has_frame_times
    rep, missing = frame_time_counts(cat["os_timestamps"], cat["repeated"])
    if whole and (rep, missing) != (capture.repeated_frames, capture.frames_without_os_time):
        probs.append(Problem(ERROR, "meta.json", f"capture.repeated_frames "
                             f"{capture.repeated_frames} and frames_without_os_time "
                             f"{capture.frames_without_os_time} disagree with the arrays "
                             f"({rep} and {missing}): {run_merge()} again"))
    return frame_time_stats(capture.frame_time_source, cat["timestamps"], cat["os_timestamps"],
                            cat["repeated"])


def _check_audio(reader: SessionReader, chunk_ts: dict[int, npt.NDArray[Any]],
                 ts: npt.NDArray[Any], live: bool, probs: list[Problem]) -> dict[str, Any]:
    """The audio's checks (:mod:`.audio_check`) and its ``stats["audio"]``."""
    assert reader.meta.audio is not None
    spans = {i: (int(t[0]), int(t[-1])) for i, t in chunk_ts.items() if len(t)}
    fps = reader.meta.fps_target
    found, stats = audio_problems(reader.paths, reader.meta.audio, spans, reader.pauses, ts,
                                  1e9 / fps if fps else 0.0, live=live)
    probs += [Problem(level, where, message) for level, where, message in found]
    return stats


def _check_rollout(reader: SessionReader, chunks: list[dict[str, npt.NDArray[Any]]],
                   whole: bool, ts: npt.NDArray[Any], probs: list[Problem]) -> dict[str, Any]:
    """A rollout's checks (:mod:`.rollout_check`) and its ``stats["play"]``."""
    play = reader.meta.play
    assert play is not None  # only for a rollout
    parts = [c["action_source"] for c in chunks if "action_source" in c]
    source = np.concatenate(parts) if parts else np.zeros(0, np.int8)
    fps = reader.meta.fps_target
    period = round(1e9 / float(fps)) if fps else int(np.median(np.diff(ts))) if len(ts) > 1 else 1
    for level, where, message in rollout_problems(play, source, ts, period, whole=whole,
                                                  recovered=reader.meta.status == "recovered"):
        probs.append(Problem(level, where, message))
    return play_stats(play, source, ts)


def _check_merged(reader: SessionReader, chunks: list[dict[str, npt.NDArray[Any]]],
                  probs: list[Problem]) -> None:
    empty = reader.concat_arrays([])  # what merge writes when no chunk survived
    for stem in (*reader.array_names(), "events"):
        path = reader.paths.events_merged if stem == "events" else reader.paths.merged(stem)
        try:
            merged = reader.load_array(path)
        except SessionFormatError as exc:
            probs.append(Problem(ERROR, "merged", f"{exc}: {run_merge()} again"))
            continue
        parts = [c[stem] for c in chunks if stem in c]
        expect = np.concatenate(parts) if parts else empty[stem]
        if (merged.dtype != expect.dtype or merged.shape != expect.shape
                or not np.array_equal(merged, expect)):
            probs.append(Problem(ERROR, "merged", f"{path.name} disagrees with the chunk files: "
                                 f"{run_merge()} again"))
    if not reader.paths.npz.is_file():
        probs.append(Problem(WARNING, "merged", f"dataset.npz is missing: {run_merge()} again"))


def _stats(reader: SessionReader, fi: npt.NDArray[Any], ts: npt.NDArray[Any],
           events: list[npt.NDArray[Any]], chunks: int) -> dict[str, Any]:
    meta, pauses = reader.meta, reader.pauses
    counters = meta.counters
    fps_t = meta.fps_target
    n = len(ts)
    live = live_intervals(fi, ts, pauses)
    # The periods missed before the first frame are a gap too, one no frame index shows.
    drops = [j.dropped for j in tick_jumps(fi, ts, pauses) if j.dropped > 0]
    leading = leading_missed(fi, pauses)
    if leading:
        drops.append(leading)
    dropped, ngaps = sum(drops), len(drops)
    period = 1e9 / float(fps_t) if fps_t else None

    def pct(x: npt.NDArray[np.float64]) -> dict[str, float]:
        if not len(x):
            return {"p50": 0.0, "p99": 0.0, "max": 0.0}
        return {"p50": float(np.percentile(x, 50)) / 1e6, "p99": float(np.percentile(x, 99)) / 1e6,
                "max": float(x.max()) / 1e6}

    ev = np.concatenate(events) if events else None
    presses: Counter[str] = Counter()
    inp = {"events": 0, "presses": {}, "mouse_abs_dx": 0.0, "mouse_abs_dy": 0.0,
           "wheel_steps": 0.0, "by_device": {}}
    if ev is not None and len(ev):
        dev, code, val = ev["device"], ev["code"], ev["value"]
        # The player's presses: not the synthetic HELD ones of a start or resume.
        press = np.isin(dev, [KEY, BUTTON, PAD_BUTTON]) & (val == PRESS)
        presses.update(str(c) for c in code[press])
        mot = dev == MOTION
        inp = {"events": len(ev), "presses": dict(sorted(presses.items())),
               "mouse_abs_dx": float(np.abs(val[mot & (code == "dx")]).sum()),
               "mouse_abs_dy": float(np.abs(val[mot & (code == "dy")]).sum()),
               "wheel_steps": float(np.abs(val[dev == WHEEL]).sum()),
               "by_device": {str(d): int(c) for d, c in zip(*np.unique(dev, return_counts=True),
                                                              strict=True)}}
    return {
        "frames": n, "chunks": chunks,
        "duration_s": float(ts[-1] - ts[0]) / 1e9 if n > 1 else 0.0,
        "fps_target": float(fps_t) if fps_t else None,
        "fps_achieved": achieved_fps(fi, ts, pauses),
        "interval_ms": pct(live),
        "jitter_ms": pct(np.abs(live - period)) if period else pct(np.zeros(0)),
        "dropped_ticks": dropped, "gaps": ngaps,
        "dropped_ticks_meta": counters.dropped_ticks,
        "pauses": len(pauses),
        "paused_s": sum(p.end_t_ns - p.start_t_ns for p in pauses) / 1e9,
        "late_frames": counters.late_frames,
        "encoder": meta.encoder.to_json() if meta.encoder else {},
        "input": inp,
        "labels": meta.effective_labels.to_json(),
    }


def check_chunk_frames(reader: SessionReader, c: ChunkEntry, probs: list[Problem],
                       check_frames: bool) -> None:
    """Chunk ``c``'s frames as the session's frame store checks them (module docstring)."""
    store, idx = reader.frame_store, c.index
    where = f"chunk {idx}"
    listed, reads = c.files.get("frames"), store.relative_location(idx)
    if listed and listed != reads:
        probs.append(Problem(WARNING, where, f"files.frames is {listed}, but this session's "
                             f"frames are read from {reads}"))
    why = store.unsafe(idx)
    if why is not None:  # never read through a link or outside the session
        probs.append(Problem(ERROR, where, why))
        return
    for level, message in store.check(idx, c.num_frames, reader.frame_size(c),
                                      check_frames):
        probs.append(Problem(level, where, message))
