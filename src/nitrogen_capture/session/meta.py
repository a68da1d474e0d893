"""``meta.json`` as typed dataclasses (docs/format.md, "meta.json").

:class:`SessionMeta` is the whole document; its parts (:class:`ChunkEntry`, :class:`Pause`,
:class:`FrameFormat`, :class:`Counters`, ...) are frozen values from :mod:`.meta_parts`.
:meth:`SessionMeta.from_json` checks every field's type and range where it enters, so a damaged or
hostile file is refused with one line naming the field before any other code sees it, and
:meth:`SessionMeta.to_json` writes the same JSON shape back. Every writer of ``meta.json`` (the
recorder, the session writer, repair, merge) goes through :meth:`SessionMeta.save`, an atomic
replace.

The document itself is mutable (the recorder appends chunks as they finish); its parts are not,
so a change is always a whole new part (``dataclasses.replace``). Keys this version does not know
are kept in :attr:`SessionMeta.extra` and written back unchanged, so an older tool that repairs or
merges a session never drops what a newer one recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SchemaVersionError, SessionFormatError
from ..inputfiles import read_input_bytes
from ..keylayout import KeyLayout
from ._check import JsonObject
from .io import atomic_write_json
from .meta_audio import AudioInfo
from .meta_episode import EpisodeInfo
from .meta_latency import LatencyInfo
from .meta_parts import (
    CaptureInfo,
    ChunkEntry,
    ClockInfo,
    Counters,
    EncoderInfo,
    FrameFormat,
    InputInfo,
    Labels,
    MergedInfo,
    Pause,
    default_controller,
    default_game,
)
from .meta_play import PlayInfo
from .meta_preflight import PreflightInfo
from .paths import META_NAME, SCHEMA_VERSION

__all__ = ["MAX_META_BYTES", "STATUSES", "CaptureInfo", "ChunkEntry", "ClockInfo", "Counters",
           "EncoderInfo", "FrameFormat", "InputInfo", "Labels", "MergedInfo", "Pause",
           "SessionMeta", "rewrite_meta"]

# The largest meta.json read (docs/format.md, "meta.json"): a 10-hour recording at 60 fps lists
# about 4,300 chunks (~1 KB each as written) and a pause is ~0.2 KB, so a real one is a few MB;
# 64 MB still holds ~60,000 chunks or ~300,000 pauses, and parses in well under a GB of memory.
MAX_META_BYTES = 64_000_000
STATUSES: tuple[str, ...] = ("recording", "complete", "recovered", "interrupted")
# Top-level keys this version reads; anything else is kept in ``extra``.
_KNOWN = frozenset({
    "schema_version", "tool", "platform", "status", "capture", "target", "input", "fps",
    "skip_late", "chunk_size", "layout", "frame_format", "gamepad", "clock", "chunks", "pauses",
    "counters", "encoder", "stop_reason", "command", "latency_offset_ns", "merged",
    "labels", "latency", "preflight", "episode", "play", "audio"})
# |latency_offset_ns| beyond this (1 s, bounds.MAX_LATENCY_MS) is damage, not a latency.
_MAX_OFFSET_NS = 1_000_000_000


@dataclass
class SessionMeta:
    """The whole ``meta.json`` of one session (see docs/format.md for every field)."""

    layout: KeyLayout
    schema_version: int = SCHEMA_VERSION
    status: str = "recording"
    tool: dict[str, str] = field(default_factory=dict)
    platform: dict[str, str] = field(default_factory=dict)
    capture: CaptureInfo | None = None
    target: dict[str, Any] = field(default_factory=dict)
    input: InputInfo = field(default_factory=InputInfo)
    fps_target: float | None = None
    fps_achieved: float | None = None
    skip_late: bool = False
    chunk_size: int | None = None
    frame_format: FrameFormat = field(default_factory=FrameFormat)
    gamepad: bool = False
    clock: ClockInfo = field(default_factory=ClockInfo)
    chunks: list[ChunkEntry] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    encoder: EncoderInfo | None = None
    stop_reason: str | None = None
    command: tuple[str, ...] = ()
    latency_offset_ns: int | None = None
    merged: MergedInfo | None = None
    labels: Labels | None = None
    latency: LatencyInfo | None = None
    preflight: PreflightInfo | None = None  # record --adapt: the measured check, the rate chosen
    episode: EpisodeInfo | None = None  # record --episodes: this session's place in its run
    play: PlayInfo | None = None  # a `play` rollout: its policy, output and figures
    audio: AudioInfo | None = None  # --audio: the game sound's source, clock fit and figures
    extra: dict[str, Any] = field(default_factory=dict)

    # -- queries ---------------------------------------------------------------------------------
    def chunk(self, index: int) -> ChunkEntry | None:
        """The entry of chunk ``index``, or None."""
        return next((c for c in self.chunks if c.index == index), None)

    def included_chunks(self) -> list[ChunkEntry]:
        """The chunks that make up the merged rows, in order.

        After a merge: the chunks it took (``--skip-bad`` may leave some out); before: every
        complete chunk.
        """
        if self.merged is not None:
            wanted = set(self.merged.chunks)
            return [c for c in self.chunks if c.index in wanted]
        return [c for c in self.chunks if c.complete]

    @property
    def frames_listed(self) -> int:
        """Rows in every listed chunk."""
        return sum(c.num_frames for c in self.chunks)

    @property
    def effective_labels(self) -> Labels:
        """The labels; for a session recorded before labels existed, the recording defaults.

        Those are the window's executable name and ``xbox`` with a gamepad, else ``keyboard``.
        """
        if self.labels is not None:
            return self.labels
        return Labels(default_game(self.target), "", default_controller(self.gamepad))

    def put_chunk(self, entry: ChunkEntry) -> None:
        """Add ``entry``, replacing a listed chunk of the same index; keep index order."""
        self.chunks = sorted([c for c in self.chunks if c.index != entry.index] + [entry],
                             key=lambda c: c.index)

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON object written as meta.json (same shape as docs/format.md shows)."""
        out: dict[str, Any] = {
            "schema_version": self.schema_version, "tool": dict(self.tool),
            "platform": dict(self.platform), "status": self.status,
            "capture": self.capture.to_json() if self.capture else None,
            "target": dict(self.target), "input": self.input.to_json(),
            "fps": {"target": self.fps_target, "achieved": self.fps_achieved},
            "skip_late": self.skip_late, "chunk_size": self.chunk_size,
            "layout": self.layout.to_dict(), "frame_format": self.frame_format.to_json(),
            "gamepad": self.gamepad, "clock": self.clock.to_json(),
            "chunks": [c.to_json() for c in self.chunks],
            "pauses": [p.to_json() for p in self.pauses],
            "counters": self.counters.to_json(),
            "encoder": self.encoder.to_json() if self.encoder else None,
            "stop_reason": self.stop_reason, "command": list(self.command),
            "latency_offset_ns": self.latency_offset_ns}
        if self.merged is not None:
            out["merged"] = self.merged.to_json()
        if self.labels is not None:  # sessions recorded before labels existed have none
            out["labels"] = self.labels.to_json()
        if self.latency is not None:  # how latency_offset_ns was obtained (calibration)
            out["latency"] = self.latency.to_json()
        if self.preflight is not None:  # record --adapt only
            out["preflight"] = self.preflight.to_json()
        if self.episode is not None:  # record --episodes only
            out["episode"] = self.episode.to_json()
        if self.play is not None:  # play only
            out["play"] = self.play.to_json()
        if self.audio is not None:  # --audio only
            out["audio"] = self.audio.to_json()
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: object, source: str = META_NAME) -> SessionMeta:
        """Parse and check a meta.json object; raise one line naming the first bad field.

        Raises:
            SchemaVersionError: written by a newer format version than this tool reads.
            SessionFormatError: a field is missing, of the wrong type or out of range.
        """
        o = JsonObject(data, "", source)
        version = o.integer("schema_version", lo=1)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(f"{source} is format v{version}, this tool reads "
                                     f"v{SCHEMA_VERSION}: upgrade nitrogen-capture")
        try:
            layout = KeyLayout.from_meta(o.data["layout"]) if "layout" in o.data else None
        except (ConfigError, TypeError) as exc:
            raise SessionFormatError(f"{source}: field 'layout' is invalid ({exc})",
                                     field="layout") from exc
        if layout is None:
            o.fail("layout", "is missing", None)
        fps = o.obj("fps", None)
        capture, encoder, merged, labels, latency, preflight, episode, play, audio = (
            o.obj(k, None) for k in ("capture", "encoder", "merged", "labels", "latency",
                                     "preflight", "episode", "play", "audio"))
        offset = o.integer("latency_offset_ns", None, lo=-_MAX_OFFSET_NS, nullable=True)
        if offset is not None and offset > _MAX_OFFSET_NS:
            o.fail("latency_offset_ns", f"must be within +-{_MAX_OFFSET_NS} ns (1 s)", offset)
        chunks: list[ChunkEntry] = []
        rows = 0  # the rows before each chunk (its default first_row), kept as a running total
        for c in o.objects("chunks"):
            chunks.append(ChunkEntry.from_json(c, rows))
            rows += chunks[-1].num_frames
        if len({c.index for c in chunks}) != len(chunks):
            o.fail("chunks", "must not list a chunk index twice", [c.index for c in chunks])
        target = o.raw("target", {})
        return cls(
            layout=layout, schema_version=version,
            status=o.text("status", "complete", choices=STATUSES),
            tool=o.labels("tool"), platform=o.labels("platform"),
            capture=CaptureInfo.from_json(capture) if capture else None,
            target=target if isinstance(target, dict) else {"description": str(target)},
            input=InputInfo.from_json(o.obj("input", None) or JsonObject({}, "input", source)),
            fps_target=fps.number("target", None, lo=1e-3, hi=1000, nullable=True) if fps
            else None,
            fps_achieved=fps.number("achieved", None, lo=0, nullable=True) if fps else None,
            skip_late=o.flag("skip_late", False),
            chunk_size=o.integer("chunk_size", None, lo=1, nullable=True),
            frame_format=FrameFormat.from_json(o.obj("frame_format", None)
                                               or JsonObject({}, "frame_format", source)),
            gamepad=o.flag("gamepad", False),
            clock=ClockInfo.from_json(o.obj("clock", None) or JsonObject({}, "clock", source)),
            chunks=sorted(chunks, key=lambda c: c.index),
            pauses=[Pause.from_json(p) for p in o.objects("pauses")],
            counters=Counters.from_json(o.obj("counters", None)
                                        or JsonObject({}, "counters", source)),
            encoder=EncoderInfo.from_json(encoder) if encoder else None,
            stop_reason=o.text("stop_reason", None, nullable=True),
            command=o.strs("command", ()),
            latency_offset_ns=offset,
            merged=MergedInfo.from_json(merged) if merged else None,
            labels=Labels.from_json(labels) if labels else None,
            latency=LatencyInfo.from_json(latency) if latency else None,
            preflight=PreflightInfo.from_json(preflight) if preflight else None,
            episode=EpisodeInfo.from_json(episode) if episode else None,
            play=PlayInfo.from_json(play) if play else None,
            audio=AudioInfo.from_json(audio) if audio else None,
            extra={k: v for k, v in o.data.items() if k not in _KNOWN})

    # -- files -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> SessionMeta:
        """Read and check ``path`` (a session's meta.json)."""
        missing = f"{path.parent} has no meta.json: not a session directory"
        if not path.is_file():  # a folder left by a recording killed before it began?
            from .unbegun import never_began, never_began_message

            if never_began(path.parent, own_lock=True):
                missing = never_began_message(path.parent)
        # A FIFO, a device or a file over MAX_META_BYTES is refused before it is read.
        raw = read_input_bytes(path, what="", max_bytes=MAX_META_BYTES,
                               error=partial(SessionFormatError, path=path),
                               missing=missing)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SessionFormatError(f"{path} is not valid JSON ({exc})", path=path) from exc
        except RecursionError:  # e.g. 100k "[": the parser gives up, in one line
            raise SessionFormatError(f"{path} is not a valid meta.json (nested too deeply)",
                                     path=path) from None
        return cls.from_json(data, str(path))

    def save(self, path: Path) -> None:
        """Replace ``path`` with this document atomically (temporary file, fsync, rename)."""
        atomic_write_json(path, self.to_json())


def rewrite_meta(root: Path, change: Callable[[SessionMeta], None], *,
                 action: str = "label") -> SessionMeta:
    """Edit a finished session's ``meta.json`` under its lock: load, ``change``, save atomically.

    The one locked rewrite of a session's meta (``label``, and a collection run marking an
    episode it already closed): a recording, merge or repair holding the lock is refused with
    one line, and two edits never interleave. Returns the meta as saved.
    """
    from .lock import SessionLock
    from .paths import SessionPaths

    paths = SessionPaths(root)
    with SessionLock.acquire(paths, action):
        meta = SessionMeta.load(paths.meta)
        change(meta)
        meta.save(paths.meta)
    return meta
