"""The batch manifest's document as typed, frozen values, each field checked where it is read.

The manifest is data from disk like ``meta.json`` (:mod:`nitrogen_capture.session.meta`): a
crash, a hand edit, another tool or a hostile file may have changed it. :meth:`ManifestDoc.load`
checks every field's type and range before any other code sees it (states from :data:`STATES`,
counts non-negative integers with an upper bound, task ids plain names of their own session,
output names relative paths that stay inside the output folder) and raises
:class:`~nitrogen_capture.errors.ManifestError` naming the manifest, the field and the value in
one line. :meth:`ManifestDoc.to_json` writes the same shape back. What a batch does with an
error (rebuild from the parts, or refuse) is :mod:`.manifest`'s decision (docs/export.md,
"Many sessions").

Keys this version does not know are kept (``extra``) and written back unchanged.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ManifestError, SessionFormatError
from ...session._check import JsonObject, safe_relative
from .plan import path_hash

__all__ = ["FORMAT_VERSION", "MANIFEST_FORMAT", "STATES", "ManifestDoc", "OutputRecord",
           "SessionRecord", "TaskRecord", "Totals", "plain_task_id"]

MANIFEST_FORMAT = "nitrogen-capture.batch-manifest"
# 1: outputs as path strings; 2: outputs as names inside the output folder with their stamp.
FORMAT_VERSION = 2
STATES: tuple[str, ...] = ("pending", "done", "failed", "skipped")
# Bounds: far beyond any real batch, small enough that a number is never mistaken for damage.
MAX_COUNT = 10**12          # frames, windows of one task or of the whole batch
MAX_BYTES = 2**62           # bytes of one output
MAX_ATTEMPTS = 10**6        # runs of a batch, attempts of a task
MAX_SECONDS = 10**9
MAX_TEXT = 4000             # a reason, a time stamp
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_STAMP = re.compile(r"[0-9a-f]{64}")
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_SEGMENT = re.compile(r"[0-9]{4,9}")
_TASK_KEYS = frozenset({"state", "reason", "segment", "windows", "frames", "seconds", "finished",
                        "attempts", "action_names", "video_id"})
_SESSION_KEYS = frozenset({"state", "reason", "frames", "tasks"})
_DOC_KEYS = frozenset({"format", "format_version", "fingerprint", "settings", "complete", "runs",
                       "sessions", "outputs", "totals", "finished"})


def plain_task_id(value: str) -> bool:
    """Whether ``value`` has the shape of :func:`.plan.task_id`: a plain name, never a path."""
    parts = value.rsplit("-", 2)
    return (len(parts) == 3 and 0 < len(parts[0]) <= 40
            and all(c.isalnum() or c in "-_" for c in parts[0])
            and re.fullmatch(r"[0-9a-f]{12}", parts[1]) is not None
            and _SEGMENT.fullmatch(parts[2]) is not None)


def _count(o: JsonObject, key: str, hi: int = MAX_COUNT, *, required: bool = False,
           default: int | None = None) -> Any:
    """A non-negative integer at most ``hi``.

    Absent: an error when ``required``, else ``default`` (null is allowed when that is None).
    """
    if required:
        value = o.integer(key, lo=0)
    else:
        value = o.integer(key, default, lo=0, nullable=default is None)
    if value is not None and value > hi:
        o.fail(o.path(key), f"must be an integer in [0, {hi}]", value)
    return value


def _text(o: JsonObject, key: str, *, nullable: bool = True) -> Any:
    value = o.text(key, None, nullable=nullable)
    if value is not None and len(value) > MAX_TEXT:
        o.fail(o.path(key), f"must be at most {MAX_TEXT} characters", value)
    return value


def _time(o: JsonObject, key: str) -> str | None:
    value: str | None = _text(o, key)
    if value is not None:
        try:
            _dt.datetime.fromisoformat(value)
        except ValueError:
            o.fail(o.path(key), "must be an ISO 8601 time", value)
    return value


def _mapping(o: JsonObject, key: str) -> dict[str, Any]:
    """A JSON object as a plain dict (required)."""
    if key not in o.data:
        o.fail(o.path(key), "is missing", None)
    value = o.data[key]
    if not isinstance(value, dict):
        o.fail(o.path(key), "must be an object", value)
    return value


def _extra(o: JsonObject, known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in o.data.items() if k not in known}


@dataclass(frozen=True)
class TaskRecord:
    """One task's state and report (what its part holds; the part itself is the truth)."""

    state: str = "pending"
    reason: str | None = None
    segment: int | None = None
    windows: int | None = None
    frames: int | None = None
    seconds: float | None = None
    finished: str | None = None
    attempts: int = 0
    action_names: tuple[str, ...] | None = None
    video_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, o: JsonObject) -> TaskRecord:
        """Parse and check one task record."""
        vid = o.text("video_id", None, nullable=True)
        if vid is not None and _VIDEO_ID.fullmatch(vid) is None:
            o.fail(o.path("video_id"), "must be a plain name (letters, digits, - and _)", vid)
        names = o.strs("action_names", None) if o.data.get("action_names") is not None else None
        return cls(state=o.text("state", choices=STATES), reason=_text(o, "reason"),
                   segment=_count(o, "segment", 10**9), windows=_count(o, "windows"),
                   frames=_count(o, "frames"),
                   seconds=o.number("seconds", None, lo=0, hi=MAX_SECONDS, nullable=True),
                   finished=_time(o, "finished"),
                   attempts=_count(o, "attempts", MAX_ATTEMPTS, default=0),
                   action_names=names, video_id=vid, extra=_extra(o, _TASK_KEYS))

    def to_json(self) -> dict[str, Any]:
        """The record as written (fields that are None are left out, ``state`` always there)."""
        out: dict[str, Any] = {"state": self.state}
        for key in ("reason", "segment", "windows", "frames", "seconds", "finished"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.action_names is not None:
            out["action_names"] = list(self.action_names)
        if self.video_id is not None:
            out["video_id"] = self.video_id
        if self.attempts:
            out["attempts"] = self.attempts
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class SessionRecord:
    """One session: its state (and why), its rows, and its tasks by id."""

    state: str = "pending"
    reason: str | None = None
    frames: int | None = None
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, o: JsonObject, session: str) -> SessionRecord:
        """Parse and check; every task id must be a plain name of this session's tasks."""
        tasks: dict[str, TaskRecord] = {}
        own = path_hash(Path(session))
        for tid, rec in _mapping(o, "tasks").items():
            where = f"{o.path('tasks')}[{tid}]"
            if not plain_task_id(tid) or tid.rsplit("-", 2)[1] != own:
                o.fail(where, "must be a task id of this session (a plain name)", tid)
            tasks[tid] = TaskRecord.from_json(JsonObject(rec, where, o.source))
        return cls(state=o.text("state", choices=STATES), reason=_text(o, "reason"),
                   frames=_count(o, "frames"), tasks=tasks, extra=_extra(o, _SESSION_KEYS))

    def to_json(self) -> dict[str, Any]:
        """The record as written."""
        return {"state": self.state, "reason": self.reason, "frames": self.frames,
                "tasks": {k: t.to_json() for k, t in self.tasks.items()}, **self.extra}


@dataclass(frozen=True)
class OutputRecord:
    """One file or folder of the merged output: its name in the output folder and its stamp.

    ``stamp`` is a hash of every file's relative path, size and modification time (None: a
    format-1 manifest, which recorded the path only), so a rerun tells a missing or changed
    output from the one this batch wrote without reading its bytes.
    """

    name: str
    files: int = 0
    bytes: int = 0
    stamp: str | None = None

    @classmethod
    def from_json(cls, value: object, where: str, source: str, base: Path,
                  version: int) -> OutputRecord:
        """Parse one entry (format 1: a path string inside ``base``; 2: an object)."""
        if version == 1 and isinstance(value, str):  # the path as the merge returned it
            try:
                name = Path(value).resolve().relative_to(base.resolve()).as_posix()
            except (OSError, ValueError):
                JsonObject({}, where, source).fail(where, f"must be a path inside {base}",
                                                   value)
            return cls(name)
        o = JsonObject(value, where, source)
        name = o.text("name")
        if not safe_relative(name) or ":" in name:
            o.fail(o.path("name"), "must be a relative path inside the output folder", name)
        stamp = o.text("stamp")
        if _STAMP.fullmatch(stamp) is None:
            o.fail(o.path("stamp"), "must be 64 hex digits", stamp)
        return cls(name, _count(o, "files", required=True),
                   _count(o, "bytes", MAX_BYTES, required=True), stamp)

    def to_json(self) -> dict[str, Any]:
        """The entry as written (always the format-2 object)."""
        return {"name": self.name, "files": self.files, "bytes": self.bytes, "stamp": self.stamp}


@dataclass(frozen=True)
class Totals:
    """What the merge wrote: windows (chunks, episodes) and frames."""

    windows: int
    frames: int


@dataclass(frozen=True)
class ManifestDoc:
    """The whole manifest (docs/export.md, "Many sessions")."""

    fingerprint: str
    settings: dict[str, Any]
    complete: bool = False
    runs: int = 0
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    outputs: tuple[OutputRecord, ...] = ()
    totals: Totals | None = None
    finished: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object, source: str, base: Path) -> ManifestDoc:
        """Parse and check a manifest object; raise one line naming the first bad field.

        ``base`` is the output folder (the outputs' names are inside it).

        Raises:
            ManifestError: not this tool's manifest, newer than this tool, or a bad field.
        """
        if not isinstance(data, dict):
            raise ManifestError(f"{source} is not a batch manifest (a JSON object), got "
                                f"{_short(data)}")
        try:
            return cls._parse(JsonObject(data, "", source), base)
        except SessionFormatError as exc:
            raise ManifestError(str(exc), field=exc.field) from None

    @classmethod
    def _parse(cls, o: JsonObject, base: Path) -> ManifestDoc:
        if o.data.get("format") != MANIFEST_FORMAT:
            o.fail("format", f"must be {MANIFEST_FORMAT!r} (this is not a batch manifest)",
                   o.data.get("format"))
        version = _count(o, "format_version", 10**6, required=True)
        if version > FORMAT_VERSION:
            raise ManifestError(f"{o.source} is format v{version}, this tool reads "
                                f"v{FORMAT_VERSION}: upgrade nitrogen-capture", field="format")
        if version < 1:
            o.fail("format_version", "must be 1 or 2", version)
        fingerprint = o.text("fingerprint")
        if _FINGERPRINT.fullmatch(fingerprint) is None:
            o.fail("fingerprint", "must be 16 hex digits", fingerprint)
        sessions: dict[str, SessionRecord] = {}
        for key, rec in _mapping(o, "sessions").items():
            where = f"sessions[{key}]"
            if not (0 < len(key) <= MAX_TEXT and "\0" not in key and Path(key).is_absolute()):
                o.fail(where, "must be a session's absolute path", key)
            sessions[key] = SessionRecord.from_json(JsonObject(rec, where, o.source), key)
        raw_outputs = o.data.get("outputs", [])
        if not isinstance(raw_outputs, list):
            o.fail("outputs", "must be a list", raw_outputs)
        outputs = tuple(OutputRecord.from_json(v, f"outputs[{i}]", o.source, base, version)
                        for i, v in enumerate(raw_outputs))
        totals_o = o.obj("totals", None)
        totals = Totals(_count(totals_o, "windows", required=True),
                        _count(totals_o, "frames", required=True)) if totals_o else None
        doc = cls(fingerprint=fingerprint, settings=_mapping(o, "settings"),
                  complete=o.flag("complete"),
                  runs=_count(o, "runs", MAX_ATTEMPTS, required=True), sessions=sessions,
                  outputs=outputs, totals=totals, finished=_time(o, "finished"),
                  extra=_extra(o, _DOC_KEYS))
        doc._check_complete(o)
        return doc

    def _check_complete(self, o: JsonObject) -> None:
        """A complete manifest names its outputs, has no pending session, adds up."""
        if not self.complete:
            return
        if not self.outputs:
            o.fail("outputs", "must list the output of a complete batch", [])
        if self.totals is None:
            o.fail("totals", "must be there in a complete batch", None)
        pending = next((s for s, r in self.sessions.items() if r.state == "pending"), None)
        if pending is not None:
            o.fail(f"sessions[{pending}].state", "must not be pending in a complete batch",
                   "pending")
        windows = sum(t.windows or 0 for r in self.sessions.values() if r.state == "done"
                      for t in r.tasks.values())
        if windows != self.totals.windows:
            o.fail("totals.windows", f"must be the sum of the done tasks' windows ({windows})",
                   self.totals.windows)

    def to_json(self) -> dict[str, Any]:
        """The document as written (always the current format version)."""
        out: dict[str, Any] = {
            "format": MANIFEST_FORMAT, "format_version": FORMAT_VERSION,
            "fingerprint": self.fingerprint, "settings": self.settings,
            "complete": self.complete, "runs": self.runs,
            "sessions": {k: r.to_json() for k, r in self.sessions.items()}}
        if self.outputs:
            out["outputs"] = [r.to_json() for r in self.outputs]
        if self.totals is not None:
            out["totals"] = {"windows": self.totals.windows, "frames": self.totals.frames}
        if self.finished is not None:
            out["finished"] = self.finished
        out.update(self.extra)
        return out

    @classmethod
    def load(cls, path: Path, base: Path) -> ManifestDoc:
        """Read and check the manifest at ``path`` (raises :class:`ManifestError`)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ManifestError(f"{path} cannot be read ({exc.strerror or exc})",
                                path=path) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            what = "it is empty" if not raw.strip() else f"not valid JSON: {exc}"
            raise ManifestError(f"{path} cannot be read ({what})", path=path) from None
        except RecursionError:  # e.g. 100k "[": the parser gives up, in one line
            raise ManifestError(f"{path} cannot be read (not valid JSON: nested too deeply)",
                                path=path) from None
        try:
            return cls.from_json(data, str(path), base)
        except ManifestError as exc:
            exc.path = path
            raise


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
