"""The frozen parts of ``meta.json``: chunk entries, pauses, frame format, counters, encoder.

Each part parses itself from a checked :class:`~._check.JsonObject` (``from_json``) and writes the
same JSON shape back (``to_json``); :mod:`.meta` assembles them into the whole document.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from ._check import JsonObject

# The labels (what a person says about a session) live in .labels; named here too, beside the
# other parts of meta.json.
from .labels import (
    CONTROLLERS,
    MAX_LABEL_CHARS,
    MAX_NOTES_CHARS,
    Labels,
    default_controller,
    default_game,
)

__all__ = ["CONTROLLERS", "MAX_LABEL_CHARS", "MAX_NOTES_CHARS", "CaptureInfo", "ChunkEntry",
           "ClockInfo", "ClockPair", "Counters", "EncoderInfo", "FrameFormat", "InputInfo",
           "Labels", "MergedInfo", "Pause", "default_controller", "default_game", "wall_iso"]


_EXT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True)
class FrameFormat:
    """How frames are stored: ``kind`` names the frame store, ``ext`` its file extension.

    ``ext`` None means the store's default. ``options`` holds the store's own settings (codec,
    crf, preset, pix_fmt, ...) as written.
    """

    kind: str = "png"
    encoder: str = "fpng"
    ext: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``frame_format`` object of meta.json."""
        ext = {"ext": self.ext} if self.ext else {}
        return {"kind": self.kind, "encoder": self.encoder, **self.options, **ext}

    @classmethod
    def from_json(cls, o: JsonObject) -> FrameFormat:
        """Parse and check (the extension is a plain lower-case name: it becomes a path)."""
        kind = o.text("kind", "png")
        # The one extension rule: "ext", else "container" (what early video sessions wrote),
        # else the store's default (FrameStore.default_ext).
        ext = o.text("ext", None) or o.text("container", None)
        if ext is not None and not (0 < len(ext) <= 8 and set(ext) <= _EXT_CHARS):
            o.fail(o.path("ext"), "must be a short lower-case file extension", ext)
        options = {k: v for k, v in o.data.items() if k not in ("kind", "encoder", "ext")}
        return cls(kind, o.text("encoder", "unknown"), ext, options)


@dataclass(frozen=True)
class ChunkEntry:
    """One finished (or recovered) chunk: rows ``first_row .. first_row + num_frames``."""

    index: int
    first_row: int
    num_frames: int
    first_frame_index: int
    last_frame_index: int
    first_t_ns: int
    last_t_ns: int
    region: tuple[int, int, int, int] | None
    size: tuple[int, int] | None
    held_at_start: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    complete: bool = True
    recovered: bool = False

    @classmethod
    def build(cls, index: int, first_row: int, frame_indices: list[int], timestamps: list[int],
              *, region: list[int] | tuple[int, ...] | None, size: tuple[int, int] | list[int]
              | None, held_at_start: list[str], files: dict[str, str],
              recovered: bool = False) -> ChunkEntry:
        """The entry of a chunk whose rows have these tick indices and capture times.

        The one builder of chunk entries: the session writer and crash repair both call it.
        """
        return cls(index, first_row, len(timestamps), int(frame_indices[0]),
                   int(frame_indices[-1]), int(timestamps[0]), int(timestamps[-1]),
                   _quad(region), _pair(size), tuple(sorted(held_at_start)), dict(files),
                   True, recovered)

    def to_json(self) -> dict[str, Any]:
        """The chunk's object in meta.json ``chunks``."""
        out = {"index": self.index, "first_row": self.first_row, "num_frames": self.num_frames,
               "first_frame_index": self.first_frame_index,
               "last_frame_index": self.last_frame_index, "first_t_ns": self.first_t_ns,
               "last_t_ns": self.last_t_ns,
               "region": list(self.region) if self.region else None,
               "size": list(self.size) if self.size else None,
               "held_at_start": list(self.held_at_start), "files": dict(self.files),
               "complete": self.complete}
        if self.recovered:
            out["recovered"] = True
        return out

    @classmethod
    def from_json(cls, o: JsonObject, row: int) -> ChunkEntry:
        """Parse and check; ``row`` (the rows before it) is the default ``first_row``."""
        n = o.integer("num_frames", lo=0)
        first_fi = o.integer("first_frame_index", 0, lo=0)
        first_t = o.integer("first_t_ns", 0)
        entry = cls(o.integer("index", lo=1), o.integer("first_row", row, lo=0), n, first_fi,
                    o.integer("last_frame_index", first_fi, lo=first_fi), first_t,
                    o.integer("last_t_ns", first_t, lo=first_t),
                    o.ints("region", None, length=4, nullable=True),
                    o.ints("size", None, length=2, nullable=True),
                    o.strs("held_at_start", ()), o.files("files"), o.flag("complete", True),
                    o.flag("recovered", False))
        if entry.size is not None and min(entry.size) <= 0:
            o.fail(o.path("size"), "must be two sizes > 0", list(entry.size))
        return entry


@dataclass(frozen=True)
class Pause:
    """Ticks ``[start_tick, end_tick)`` not captured, and why (``start``, ``hotkey``, ``focus``)."""

    start_tick: int
    end_tick: int
    start_t_ns: int
    end_t_ns: int
    reason: str = "hotkey"

    def to_json(self) -> dict[str, Any]:
        """The pause's object in meta.json ``pauses``."""
        return dataclasses.asdict(self)

    @classmethod
    def closed(cls, start_tick: int, start_t_ns: int, reason: str,
               end_tick: int | None = None, end_t_ns: int | None = None) -> Pause:
        """A pause that began at ``start_*`` and ended at ``end_*`` (None: where it began).

        The one rule for closing a pause, live (the writer thread) and in crash repair (the
        journal): the end is never before the start.
        """
        return cls(start_tick, max(start_tick if end_tick is None else end_tick, start_tick),
                   start_t_ns, max(start_t_ns if end_t_ns is None else end_t_ns, start_t_ns),
                   reason)

    @classmethod
    def from_json(cls, o: JsonObject) -> Pause:
        """Parse and check (the end is never before the start)."""
        start, t0 = o.integer("start_tick", lo=0), o.integer("start_t_ns", 0)
        return cls(start, o.integer("end_tick", start, lo=start), t0,
                   o.integer("end_t_ns", t0, lo=t0), o.text("reason", "hotkey"))


@dataclass(frozen=True)
class Counters:
    """What the recorder counted (frames kept, ticks, drops, events, privacy filter)."""

    frames: int = 0
    frames_captured: int = 0
    ticks: int = 0
    dropped_ticks: int = 0
    skipped_ticks: int = 0
    late_frames: int = 0
    queue_full_drops: int = 0
    events: int = 0
    events_dropped_unfocused: int = 0
    events_dropped_not_in_layout: int = 0
    events_late: int = 0
    hotkeys: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``counters`` object of meta.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, o: JsonObject) -> Counters:
        """Parse and check (every counter an integer >= 0)."""
        return cls(**{f.name: o.integer(f.name, 0, lo=0) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class EncoderInfo:
    """The frame encoder that ran and what it cost.

    ``settings``: what the encoder was given, for a video encoder its codec, pixel format and
    FFmpeg options (``{"encoder": "libx264", "codec": "h264", "pix_fmt": "yuv420p", "options":
    {"crf": "18", "preset": "ultrafast"}}``) and, when ``--video-encoder auto`` fell back,
    ``fallback`` (the line it logged); empty for PNG and in sessions written before it existed.
    """

    name: str
    workers: int = 1
    slots: int = 0
    ms_per_frame_mean: float | None = None
    ms_per_frame_p99: float | None = None
    bytes_written: int = 0
    errors: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None  # --encoder-priority (encoderpool/priority.py); None: old sessions
    nice: int | None = None  # the niceness each encoder process ran at

    def to_json(self) -> dict[str, Any]:
        """The ``encoder`` object of meta.json."""
        out = {**dataclasses.asdict(self), "errors": list(self.errors)}
        for key in ("priority", "nice"):  # absent in sessions written before they existed
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> EncoderInfo:
        """Parse and check."""
        return cls(o.text("name", "unknown"), o.integer("workers", 1, lo=0),
                   o.integer("slots", 0, lo=0),
                   o.number("ms_per_frame_mean", None, lo=0, nullable=True),
                   o.number("ms_per_frame_p99", None, lo=0, nullable=True),
                   o.integer("bytes_written", 0, lo=0), o.strs("errors", ()),
                   _settings(o.raw("settings", {})),
                   o.text("priority", None, nullable=True),
                   o.integer("nice", None, lo=-20, nullable=True))


def _settings(value: Any) -> dict[str, Any]:
    """``encoder.settings``, leniently: anything but a JSON object (or missing) reads as {}."""
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class MergedInfo:
    """What the last merge wrote: rows, the chunks it took, the ones it left out, its files."""

    frames: int
    chunks: tuple[int, ...]
    skipped_chunks: tuple[int, ...] = ()
    files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``merged`` object of meta.json."""
        return {"frames": self.frames, "chunks": list(self.chunks),
                "skipped_chunks": list(self.skipped_chunks), "files": list(self.files)}

    @classmethod
    def from_json(cls, o: JsonObject) -> MergedInfo:
        """Parse and check."""
        return cls(o.integer("frames", lo=0), o.ints("chunks"), o.ints("skipped_chunks", ()),
                   o.strs("files", ()))


def _quad(v: Any) -> tuple[int, int, int, int] | None:
    return (int(v[0]), int(v[1]), int(v[2]), int(v[3])) if v is not None else None


def _pair(v: Any) -> tuple[int, int] | None:
    return (int(v[0]), int(v[1])) if v is not None else None



@dataclass(frozen=True)
class CaptureInfo:
    """The frame source: backend, its details, the captured region and size, the monitor.

    ``frame_time_source`` (the backend's ``stamp_source``) is set when the source stamped its
    frames with the OS's own time: the chunks then hold ``os_timestamps`` and ``repeated``, and
    ``repeated_frames`` / ``frames_without_os_time`` count their rows (docs/format.md, "OS frame
    times"). All three are absent from meta.json otherwise.

    ``choice`` is what ``auto`` did on Windows (docs/format.md, "capture.choice"): ``asked``,
    ``tried`` (each refused backend and its one-line reason) and ``switches`` (``frame``,
    ``from``, ``to``, ``reason``: the recording failed over to another backend); absent when a
    backend was named or chosen without a chain. ``backend`` is then the one recording at the
    end. Old sessions name ``dxcam`` or ``mss`` (today's ``dxgi`` and, on Windows, ``gdi``).
    """

    backend: str
    details: dict[str, Any] = field(default_factory=dict)
    region: tuple[int, int, int, int] | None = None
    size: tuple[int, int] | None = None
    monitor: int | None = None
    frame_time_source: str | None = None
    repeated_frames: int = 0
    frames_without_os_time: int = 0
    choice: dict[str, Any] | None = None

    @property
    def switches(self) -> list[dict[str, Any]]:
        """The failovers of the recording (``choice.switches``; empty without any)."""
        found = (self.choice or {}).get("switches")
        return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []

    def to_json(self) -> dict[str, Any]:
        """The ``capture`` object of meta.json."""
        out = {"backend": self.backend, "details": dict(self.details),
               "region": list(self.region) if self.region else None,
               "size": list(self.size) if self.size else None, "monitor": self.monitor}
        if self.frame_time_source is not None:
            out.update(frame_time_source=self.frame_time_source,
                       repeated_frames=self.repeated_frames,
                       frames_without_os_time=self.frames_without_os_time)
        if self.choice is not None:
            out["choice"] = dict(self.choice)
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> CaptureInfo:
        """Parse and check."""
        details, choice = o.raw("details", {}), o.raw("choice", None)
        return cls(o.text("backend", "unknown"), details if isinstance(details, dict) else {},
                   o.ints("region", None, length=4, nullable=True),
                   o.ints("size", None, length=2, nullable=True),
                   o.integer("monitor", None, lo=0, nullable=True),
                   o.text("frame_time_source", None, nullable=True),
                   o.integer("repeated_frames", 0, lo=0),
                   o.integer("frames_without_os_time", 0, lo=0),
                   choice if isinstance(choice, dict) else None)


@dataclass(frozen=True)
class InputInfo:
    """The input sources that ran; ``raw_motion`` when one delivered raw mouse counts."""

    backends: tuple[str, ...] = ()
    raw_motion: bool = False
    warnings: tuple[str, ...] = ()
    #: What the sources lost, ``"<source>.<what>" -> count`` (non-zero only; written only
    #: when there is any, so older sessions read the same).
    losses: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``input`` object of meta.json."""
        out: dict[str, Any] = {"backends": list(self.backends), "raw_motion": self.raw_motion,
                               "warnings": list(self.warnings)}
        if self.losses:
            out["losses"] = dict(self.losses)
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> InputInfo:
        """Parse and check (each loss a whole count >= 0)."""
        found = o.obj("losses", None)
        losses = {str(k): found.integer(k, lo=0) for k in found.data} if found else {}
        return cls(o.strs("backends", ()), o.flag("raw_motion", False), o.strs("warnings", ()),
                   losses)


@dataclass(frozen=True)
class ClockPair:
    """The two clocks read at one instant: ``mono_ns`` (monotonic) and ``wall_ns`` (Unix ns)."""

    at: str  # "start" or "end"
    mono_ns: int
    wall_ns: int

    def to_json(self) -> dict[str, Any]:
        """One entry of meta.json ``clock.pairs``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, o: JsonObject) -> ClockPair:
        """Parse and check."""
        return cls(o.text("at"), o.integer("mono_ns"), o.integer("wall_ns", lo=0))


@dataclass(frozen=True)
class ClockInfo:
    """The session clock (docs/format.md, "clock").

    ``t0_ns``: the monotonic ns every session time counts from (tick 0's deadline);
    ``t0_wall``: the wall-clock time of that same instant (ISO 8601, ms), computed from a pair of
    clock reads taken as the pacer started, so ``wall(t) = t0_wall + t`` for any session time
    ``t``; ``pairs``: both clocks read together at the start and at the end of the recording,
    whose difference shows how far the wall clock drifted (or was stepped) from the monotonic
    one during the session. Sessions written before this field have no ``pairs``.
    """

    source: str = "monotonic"
    t0_ns: int | None = None
    t0_wall: str | None = None
    pairs: tuple[ClockPair, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``clock`` object of meta.json."""
        out: dict[str, Any] = {"source": self.source, "t0_ns": self.t0_ns,
                               "t0_wall": self.t0_wall}
        if self.pairs:
            out["pairs"] = [p.to_json() for p in self.pairs]
        return out

    @property
    def drift_ns(self) -> int | None:
        """Wall time minus monotonic time elapsed from the start pair to the end pair.

        None when the session lacks either pair.
        """
        start = next((p for p in self.pairs if p.at == "start"), None)
        end = next((p for p in reversed(self.pairs) if p.at == "end"), None)
        if start is None or end is None:
            return None
        return (end.wall_ns - start.wall_ns) - (end.mono_ns - start.mono_ns)

    @classmethod
    def from_json(cls, o: JsonObject) -> ClockInfo:
        """Parse and check."""
        return cls(o.text("source", "monotonic"), o.integer("t0_ns", None, nullable=True),
                   o.text("t0_wall", None, nullable=True),
                   tuple(ClockPair.from_json(p) for p in o.objects("pairs")))


def wall_iso(wall_ns: int) -> str:
    """A Unix time in ns as ISO 8601 UTC with milliseconds (``t0_wall``'s form)."""
    seconds, ns = divmod(wall_ns, 1_000_000_000)
    when = _dt.datetime.fromtimestamp(seconds, _dt.UTC).replace(microsecond=ns // 1000)
    return when.isoformat(timespec="milliseconds")
