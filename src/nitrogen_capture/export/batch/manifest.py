"""The manifest of a batch conversion: each session's state, rewritten atomically on every change.

It lives beside the output (``<stem>.manifest.json`` next to a ``.pt``, ``manifest.json`` in a
dataset tree) and makes a batch resumable: a rerun after a crash, a kill or Ctrl+C skips every
task the manifest records as done or skipped whose part is still staged (:mod:`.reconcile`
checks each one) and redoes the rest. The settings' fingerprint is kept too: a rerun with other
settings is refused with one line rather than mixing two conversions in one output
(``--overwrite`` starts over).

The document is :class:`~.schema.ManifestDoc`, checked field by field when read. A manifest that
cannot be trusted (not JSON, a wrong type, an unknown state) is rebuilt from the parts on disk
while nothing has been merged yet, and refused in one line once an output exists (it would be
written over on the word of a damaged file); a file that is not a batch manifest at all, or one
from a newer version, is always refused (docs/export.md, "Many sessions").

Per session: ``state`` is ``pending``, ``done``, ``failed`` (with ``reason``) or ``skipped``
(``reason``: idle, too short); ``tasks`` holds each task's report (windows, frames, seconds,
``finished`` time, ``attempts``: how many runs started it).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

from ...errors import DiskSpaceError, ExportError, ManifestError
from ...session.io import atomic_write_json
from .. import formats
from ..settings import ConvertSettings
from .job import PartReport
from .plan import Planned
from .schema import MANIFEST_FORMAT, ManifestDoc, OutputRecord, SessionRecord, TaskRecord, Totals
from .space import disk_full_error, is_disk_full

__all__ = ["MANIFEST_FORMAT", "Manifest", "fingerprint_of"]


def _settings_doc(settings: ConvertSettings, task_frames: int) -> dict[str, Any]:
    keymap = None
    if settings.keymap is not None:
        keymap = hashlib.sha256(settings.keymap.read_bytes()).hexdigest()
    doc = {**settings.params(), "keymap_sha256": keymap, "video": settings.video,
           "game": settings.game, "task_frames": task_frames}
    if settings.include_discarded:  # only when set: older manifests keep their fingerprint
        doc["include_discarded"] = True
    if settings.action_source != "all":  # likewise: only when a source is left out
        doc["action_source"] = settings.action_source
    doc.update(formats.get(settings.format).fingerprint(settings))  # e.g. LeRobot's fps
    return doc


def fingerprint_of(doc: dict[str, Any]) -> str:
    """A short hash of the settings that change the output's bytes."""
    raw = json.dumps(doc, sort_keys=True).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:16]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Manifest:
    """The checked manifest document and the file it is saved to (every change is saved).

    ``rebuilt`` says why the file on disk was not used (None: it was, or there was none).
    """

    def __init__(self, path: Path, doc: ManifestDoc, rebuilt: str | None = None) -> None:
        self.path, self.doc, self.rebuilt = path, doc, rebuilt

    @classmethod
    def open(cls, path: Path, settings: ConvertSettings, task_frames: int, *, overwrite: bool,
             base: Path, output_exists: bool, parts_exist: bool) -> Manifest:
        """Load the manifest at ``path`` (checked, and its settings compared), or start one.

        ``base`` is the output folder; ``output_exists`` whether ``--out`` holds an output,
        ``parts_exist`` whether the staging folder holds parts (a lost manifest is rebuilt
        from them).
        """
        wanted = _settings_doc(settings, task_frames)
        fresh = ManifestDoc(fingerprint=fingerprint_of(wanted), settings=wanted)
        if overwrite:
            return cls(path, fresh)
        if not path.exists():
            return cls(path, fresh, rebuilt=f"{path} is missing" if parts_exist else None)
        if path.is_symlink() or not path.is_file():  # never written through or replaced
            raise ManifestError(f"{path} is not a file (a folder, a link or a special file): "
                                "move it away, or choose another --out", path=path)
        try:
            doc = ManifestDoc.load(path, base)
        except ManifestError as exc:
            if exc.field == "format":  # another tool's file, or a newer version's
                raise ManifestError(f"{exc}: pass --overwrite to start over, or choose "
                                    "another --out", path=path, field=exc.field) from None
            if output_exists:
                raise ManifestError(
                    f"{exc}; {settings.out} holds an output this manifest no longer vouches "
                    "for: pass --overwrite to convert again", path=path,
                    field=exc.field) from None
            return cls(path, fresh, rebuilt=str(exc))
        if doc.fingerprint != fresh.fingerprint:
            old = doc.settings
            diff = [f"{k} {_shown(old.get(k))} -> {_shown(v)}" for k, v in wanted.items()
                    if old.get(k) != v]
            # The same values under other keys: a version that records other settings (e.g.
            # before --max-repeat-frames existed); its parts lack what this one writes.
            diff = diff or ["the same flags, written by another version of nitrogen-capture"]
            raise ExportError(
                f"{path} belongs to a conversion with other settings ({'; '.join(diff)}): "
                "rerun with the same flags to resume, or pass --overwrite to start over")
        return cls(path, doc)

    # -- queries ---------------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """Whether the manifest says the batch is merged."""
        return self.doc.complete

    def sessions_json(self) -> dict[str, dict[str, Any]]:
        """Session path -> its record as plain data (the summary's input)."""
        return {s: r.to_json() for s, r in self.doc.sessions.items()}

    def state(self, session: str) -> str:
        """The state of ``session``."""
        return self.doc.sessions[session].state

    def task(self, session: str, task_id: str) -> TaskRecord:
        """The record of a task (a pending one when there is none)."""
        return self.doc.sessions[session].tasks.get(task_id, TaskRecord())

    # -- changes ---------------------------------------------------------------------------------
    def _put(self, session: str, rec: SessionRecord) -> None:
        self.doc = dataclasses.replace(self.doc, sessions={**self.doc.sessions, session: rec})

    def set_task(self, session: str, task_id: str, rec: TaskRecord, *, save: bool = False) -> None:
        """Replace a task's record and settle its session's state."""
        srec = self.doc.sessions[session]
        self._put(session, _settle(dataclasses.replace(srec, tasks={**srec.tasks,
                                                                    task_id: rec})))
        if save:
            self.save()

    def restart(self) -> None:
        """Forget a merge whose output is gone: not complete, every task to be done again."""
        sessions = {s: dataclasses.replace(r, state="pending", reason=None, tasks={
            k: TaskRecord(segment=t.segment, attempts=t.attempts) for k, t in r.tasks.items()})
            for s, r in self.doc.sessions.items()}
        self.doc = dataclasses.replace(self.doc, complete=False, outputs=(), totals=None,
                                       finished=None, sessions=sessions)

    def start_run(self, planned: Planned) -> list[str]:
        """Record the planned sessions (keeping what earlier runs did); the sessions dropped.

        A session an earlier run listed that this run does not plan is dropped (it is not part
        of this output); a task id its session no longer has is dropped too.
        """
        wanted = {str(s) for s in planned.sessions}
        dropped = sorted(s for s in self.doc.sessions if s not in wanted)
        ids: dict[str, set[str]] = {str(s): set() for s in planned.sessions}
        for t in planned.tasks:
            ids[str(t.session)].add(t.task_id)
        sessions: dict[str, SessionRecord] = {}
        for s in planned.sessions:
            key = str(s)
            rec = self.doc.sessions.get(key, SessionRecord())
            # A task that failed is tried again on a rerun (so is its session).
            tasks = {k: dataclasses.replace(v, state="pending", reason=None)
                     if v.state == "failed" else v
                     for k, v in rec.tasks.items() if k in ids[key]}
            for t in planned.tasks:
                if str(t.session) == key:
                    tasks.setdefault(t.task_id, TaskRecord(segment=t.segment))
            rec = dataclasses.replace(rec, frames=planned.frames.get(s), tasks=tasks)
            if s in planned.failed:
                rec = dataclasses.replace(rec, state="failed", reason=planned.failed[s])
            else:
                rec = _settle(rec)
            sessions[key] = rec
        self.doc = dataclasses.replace(self.doc, runs=self.doc.runs + 1, complete=False,
                                       sessions=sessions)
        self.save()
        return dropped

    def started(self, task_id: str, session: Path) -> None:
        """Count an attempt (not saved on its own: the result's save carries it)."""
        rec = self.task(str(session), task_id)
        self.set_task(str(session), task_id,
                      dataclasses.replace(rec, attempts=rec.attempts + 1))

    def record(self, report: PartReport) -> None:
        """Store a task's report, update its session's state, and save."""
        old = self.task(report.session, report.task_id)
        names = report.info.get("action_names")
        rec = TaskRecord(state=report.state, reason=report.reason, segment=report.segment,
                         windows=report.windows, frames=report.frames, seconds=report.seconds,
                         finished=_now(), attempts=old.attempts,
                         action_names=tuple(names) if names is not None else None,
                         video_id=report.info.get("video_id"))
        self.set_task(report.session, report.task_id, rec, save=True)

    def fail(self, session: str, reason: str) -> None:
        """Mark a whole session failed (e.g. its parts cannot be merged) and save."""
        self._put(session, dataclasses.replace(self.doc.sessions[session], state="failed",
                                               reason=reason))
        self.save()

    def finish(self, outputs: tuple[OutputRecord, ...], totals: Totals) -> None:
        """Record the merged output and save: the batch is complete."""
        self.doc = dataclasses.replace(self.doc, complete=True, outputs=outputs, totals=totals,
                                       finished=_now())
        self.save()

    def save(self) -> None:
        """Write the manifest atomically (temp file, then rename); a full disk in one line."""
        doc = self.doc.to_json()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, doc)
        except OSError as exc:
            if not is_disk_full(exc) or isinstance(exc, DiskSpaceError):
                raise
            need = len(json.dumps(doc, indent=2)) + 1
            raise disk_full_error(self.path, need, "the batch manifest",
                                  "free some space and rerun the same command to resume"
                                  ) from None


def _settle(srec: SessionRecord) -> SessionRecord:
    """The session's state from its tasks: failed or skipped if one is, done if all are."""
    tasks = srec.tasks.values()
    for verdict in ("failed", "skipped"):
        hit = next((t for t in tasks if t.state == verdict), None)
        if hit is not None:
            return dataclasses.replace(srec, state=verdict, reason=hit.reason)
    done = bool(tasks) and all(t.state == "done" for t in tasks)
    return dataclasses.replace(srec, state="done" if done else "pending", reason=None)
