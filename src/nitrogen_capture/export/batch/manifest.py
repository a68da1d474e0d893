"""The manifest of a batch conversion: each session's state, rewritten atomically on every change.

It lives beside the output (``<stem>.manifest.json`` next to a ``.pt``, ``manifest.json`` in a
dataset tree) and makes a batch resumable: a rerun after a crash, a kill or Ctrl+C skips every
task the manifest records as done (its part is in the staging folder) and redoes the rest. The
settings' fingerprint is kept too: a rerun with other settings is refused with one line rather
than mixing two conversions in one output (``--overwrite`` starts over).

Per session: ``state`` is ``pending``, ``done``, ``failed`` (with ``reason``) or ``skipped``
(``reason``: idle, too short); ``tasks`` holds each task's report (windows, frames, seconds,
``finished`` time, ``attempts``: how many runs started it).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

from ...errors import ExportError
from ...session.io import atomic_write_json
from ..settings import ConvertSettings
from .plan import Planned

__all__ = ["MANIFEST_FORMAT", "Manifest", "fingerprint_of"]

MANIFEST_FORMAT = "nitrogen-capture.batch-manifest"


def _settings_doc(settings: ConvertSettings, task_frames: int) -> dict[str, Any]:
    keymap = None
    if settings.keymap is not None:
        keymap = hashlib.sha256(settings.keymap.read_bytes()).hexdigest()
    doc = {**settings.params(), "keymap_sha256": keymap, "video": settings.video,
           "game": settings.game, "task_frames": task_frames}
    if settings.format == "lerobot":  # the dataset's rate, size and episodes
        size = settings.frame_size
        doc.update(fps=settings.fps, frame_size=list(size) if size else None,
                   episode_per=settings.episode_per, task=settings.task)
    return doc


def fingerprint_of(doc: dict[str, Any]) -> str:
    """A short hash of the settings that change the output's bytes."""
    raw = json.dumps(doc, sort_keys=True).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:16]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


class Manifest:
    """The manifest document and the file it is saved to (every change is saved at once)."""

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path, self.doc = path, doc

    @classmethod
    def open(cls, path: Path, settings: ConvertSettings, task_frames: int, *,
             overwrite: bool) -> Manifest:
        """Load the manifest at ``path`` (checking its settings), or start a new one."""
        wanted = _settings_doc(settings, task_frames)
        fp = fingerprint_of(wanted)
        if path.is_file() and not overwrite:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                if doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("sessions"),
                                                                          dict):
                    raise ValueError("not a batch manifest")
            except (OSError, ValueError) as exc:
                raise ExportError(f"{path} cannot be read ({exc}): pass --overwrite to start "
                                  "over") from None
            if doc.get("fingerprint") != fp:
                old = doc.get("settings", {})
                diff = [f"{k} {old.get(k)!r} -> {v!r}" for k, v in wanted.items()
                        if old.get(k) != v]
                raise ExportError(
                    f"{path} belongs to a conversion with other settings ({'; '.join(diff)}): "
                    "rerun with the same flags to resume, or pass --overwrite to start over")
            return cls(path, doc)
        doc = {"format": MANIFEST_FORMAT, "format_version": 1, "fingerprint": fp,
               "settings": wanted, "complete": False, "runs": 0, "sessions": {}}
        return cls(path, doc)

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        """Session path -> its record."""
        out: dict[str, dict[str, Any]] = self.doc["sessions"]
        return out

    def start_run(self, planned: Planned) -> None:
        """Record the planned sessions (keeping what earlier runs did) and save."""
        self.doc["runs"] = int(self.doc.get("runs", 0)) + 1
        self.doc["complete"] = False
        for s in planned.sessions:
            rec = self.sessions.setdefault(str(s), {"state": "pending", "reason": None,
                                                    "frames": None, "tasks": {}})
            rec["frames"] = planned.frames.get(s)
            if s in planned.failed:
                rec.update(state="failed", reason=planned.failed[s])
            elif rec["state"] == "failed":  # a failed session is tried again on a rerun
                rec.update(state="pending", reason=None)
        for t in planned.tasks:
            tasks = self.sessions[str(t.session)]["tasks"]
            tasks.setdefault(t.task_id, {"state": "pending"})
        self.save()

    def settled(self, task_id: str, session: Path, staging: Path) -> bool:
        """Whether a task needs no new run: skipped, or done with its part still staged."""
        rec = self.sessions[str(session)]["tasks"].get(task_id, {})
        state = rec.get("state")
        return state == "skipped" or (state == "done" and (staging / task_id).is_dir())

    def started(self, task_id: str, session: Path) -> None:
        """Count an attempt (not saved on its own: the result's save carries it)."""
        rec = self.sessions[str(session)]["tasks"].setdefault(task_id, {"state": "pending"})
        rec["attempts"] = int(rec.get("attempts", 0)) + 1

    def record(self, report: dict[str, Any]) -> None:
        """Store a task's report, update its session's state, and save."""
        srec = self.sessions[report["session"]]
        srec["tasks"][report["task_id"]] = {
            **srec["tasks"].get(report["task_id"], {}),
            **{k: v for k, v in report.items() if k not in ("session", "task_id")},
            "finished": _now()}
        self._settle(srec)
        self.save()

    def fail(self, session: str, reason: str) -> None:
        """Mark a whole session failed (e.g. its parts cannot be merged) and save."""
        self.sessions[session].update(state="failed", reason=reason)
        self.save()

    @staticmethod
    def _settle(srec: dict[str, Any]) -> None:
        states = [t.get("state") for t in srec["tasks"].values()]
        for verdict in ("failed", "skipped"):
            hit = next((t for t in srec["tasks"].values() if t.get("state") == verdict), None)
            if hit is not None:
                srec.update(state=verdict, reason=hit.get("reason"))
                return
        srec.update(state="done" if states and all(s == "done" for s in states) else "pending",
                    reason=None)

    def finish(self, outputs: list[str], totals: dict[str, int]) -> None:
        """Record the merged output and save: the batch is complete."""
        self.doc.update(complete=True, outputs=outputs, totals=totals, finished=_now())
        self.save()

    def save(self) -> None:
        """Write the manifest atomically (temp file, then rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, self.doc)
