"""The manifest against the disk: staged parts, leftovers of a stopped run, and the outputs.

Before a batch runs, every task the manifest calls settled (done or skipped) must have a
complete part in the staging folder, written with these settings: ``part.json`` naming the same
task, session and settings' fingerprint, and the format's files whole (:func:`check_part`). A
task whose part is missing or incomplete is converted again; a part the manifest does not list
as settled is removed, never merged; a rebuilt manifest takes every valid part as the truth.
What a stopped run left (unfinished task folders, half-written output files) is removed. A
complete batch is complete only while its outputs are there as written (:func:`check_outputs`).
Each finding is one line for the user (docs/export.md, "Many sessions").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ...session.io import temp_path
from .. import formats
from ..settings import ConvertSettings
from .job import PART_META
from .manifest import Manifest
from .plan import Planned, few
from .schema import OutputRecord, TaskRecord, plain_task_id

__all__ = ["check_outputs", "check_part", "output_base", "outputs_of", "reconcile",
           "remove_leftovers"]



def output_base(cs: ConvertSettings) -> Path:
    """The folder the outputs' names are relative to (a ``.pt``'s folder, or the tree)."""
    return formats.get(cs.format).output_base(cs.out)


def _bookkeeping(cs: ConvertSettings, manifest_path: Path) -> set[str]:
    """Names in the output folder that are the batch's own, not output."""
    return {manifest_path.name, temp_path(manifest_path).name, ".parts"}


def check_part(cs: ConvertSettings, staging: Path, task_id: str, session: str, fingerprint: str,
               *, strict: bool) -> tuple[str | None, dict[str, Any]]:
    """``(why the task's part is not complete, or None; its part.json)``.

    ``strict``: the part must name the settings' fingerprint (a rebuilt manifest has no other
    proof); otherwise a part without one (written by an older version) is taken on the
    manifest's word.
    """
    folder = staging / task_id
    if folder.is_symlink() or not folder.is_dir():
        return "its part folder is missing", {}
    try:
        doc = json.loads((folder / PART_META).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return f"its {PART_META} is missing or not JSON", {}
    if not isinstance(doc, dict):
        return f"its {PART_META} is not an object", {}
    fp = doc.get("fingerprint")
    if doc.get("task_id") != task_id or doc.get("session") != session:
        return f"its {PART_META} names another task", doc
    if fp != fingerprint and (fp is not None or strict):
        return "its part was written with other settings", doc
    if doc.get("state") not in ("done", "skipped") or not all(
            type(doc.get(k)) is int and 0 <= doc[k] <= 10**12 for k in ("windows", "frames")):
        return f"its {PART_META} has no valid state, windows and frames", doc
    if doc["state"] == "skipped":
        return None, doc
    return formats.get(cs.format).part_problem(cs, folder, doc), doc


def _from_part(doc: dict[str, Any], old: TaskRecord) -> TaskRecord:
    names, raw = doc.get("action_names"), doc.get("seconds")
    seconds = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if seconds is not None and not 0 <= seconds <= 10**9:  # also NaN
        seconds = None
    return TaskRecord(
        state=doc["state"], reason=doc.get("reason") if isinstance(doc.get("reason"), str)
        else None, segment=old.segment, windows=doc["windows"], frames=doc["frames"],
        seconds=seconds,
        finished=old.finished, attempts=old.attempts,
        action_names=tuple(names) if isinstance(names, list) else None,
        video_id=doc.get("video_id") if isinstance(doc.get("video_id"), str) else None)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def reconcile(manifest: Manifest, planned: Planned, staging: Path,
              cs: ConvertSettings) -> list[str]:
    """Check each settled task's part, drop what is not settled; the lines to tell the user."""
    fp, strict = manifest.doc.fingerprint, manifest.rebuilt is not None
    fmt = formats.get(cs.format)
    redo, corrected, reused, in_output = [], 0, 0, 0
    for t in planned.tasks:
        session = str(t.session)
        old = manifest.task(session, t.task_id)
        if not strict and old.state not in ("done", "skipped"):
            continue
        problem, doc = check_part(cs, staging, t.task_id, session, fp, strict=strict)
        if problem is None:
            new = _from_part(doc, old)
            if not strict and (new.state, new.windows, new.frames) != (
                    old.state, old.windows, old.frames):
                corrected += 1
            manifest.set_task(session, t.task_id, new)
            reused += 1
            in_output += fmt.part_in_output(cs, staging / t.task_id, doc)
        elif not strict:
            redo.append(f"{t.task_id}: {problem}")
            manifest.set_task(session, t.task_id,
                              TaskRecord(segment=t.segment, attempts=old.attempts))
    settled = {t.task_id for t in planned.tasks
               if manifest.task(str(t.session), t.task_id).state in ("done", "skipped")}
    stray = sorted(p.name for p in (staging.iterdir() if staging.is_dir() else ())
                   if not p.name.startswith(".tmp-") and p.name not in settled)
    for name in stray:
        _remove(staging / name)
    redone = {r.split(":", 1)[0] for r in redo}  # already said
    stray = [n for n in stray if n not in redone]
    manifest.save()
    lines = []
    if strict:
        lines.append(f"{manifest.rebuilt}: the manifest is rebuilt from the parts in {staging} "
                     f"({reused} of {len(planned.tasks)} tasks reused, the rest converted)")
    if redo:
        lines.append(f"{manifest.path}: {len(redo)} task(s) marked done or skipped have no "
                     f"complete part ({few(redo)}): converting them again")
    if corrected:
        lines.append(f"{manifest.path}: {corrected} task record(s) disagreed with their parts "
                     f"in {staging}: taken from the parts")
    if stray:
        lines.append(f"{staging}: removed {len(stray)} part(s) the manifest does not list as "
                     f"done ({few([n for n in stray if plain_task_id(n)] or stray)}): never "
                     "merged, converted again when planned")
    if in_output:
        lines.append(f"{cs.out}: {in_output} session(s) an interrupted merge already moved "
                     "into the tree are reused")
    return lines


def remove_leftovers(cs: ConvertSettings, staging: Path, manifest_path: Path, *,
                     merge_stopped: bool) -> str | None:
    """Remove what a stopped run left; the line that says so (None: nothing was left).

    Unfinished task folders (``.tmp-*`` in the staging folder), half-written output files
    (``.NAME.partial``), the manifest's temporary file, and (``merge_stopped``: the manifest is
    ours and not complete) a LeRobot merge's half-built ``meta``/``data``/``videos``.
    """
    found: list[Path] = []
    if staging.is_dir():  # (and a LeRobot part's ".<part>.new-PID" build folder)
        found += sorted([*staging.glob(".tmp-*"), *staging.glob("..tmp-*")])
    fmt = formats.get(cs.format)
    found += fmt.leftovers(cs)  # the output's half-written files
    if temp_path(manifest_path).exists():
        found.append(temp_path(manifest_path))
    if merge_stopped:  # the manifest is ours and not complete: a merge's half-built output
        found += fmt.merge_leftovers(cs)
    if not found:
        return None
    for p in found:
        _remove(p)
    return f"removed what a stopped run left: {few([str(p) for p in found])}"


def _stamp(base: Path, name: str) -> OutputRecord | None:
    """The stamp of the file or folder ``base/name`` (None: missing)."""
    path = base / name
    if path.is_symlink() or not path.exists():
        return None
    items: list[tuple[str, int, int]] = []
    if path.is_dir():
        for top, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                p = Path(top, f)
                st = p.lstat()
                items.append((p.relative_to(base).as_posix(), st.st_size, st.st_mtime_ns))
    else:
        st = path.lstat()
        items.append((name, st.st_size, st.st_mtime_ns))
    digest = hashlib.sha256("".join(f"{n}\0{s}\0{m}\n" for n, s, m in items).encode("utf-8"))
    return OutputRecord(name, len(items), sum(s for _, s, _ in items), digest.hexdigest())


def outputs_of(cs: ConvertSettings, paths: list[Path], manifest_path: Path
               ) -> tuple[OutputRecord, ...]:
    """The stamps of what a merge wrote (a tree given as a whole: its entries, not ours)."""
    base, names = output_base(cs), []
    skip = _bookkeeping(cs, manifest_path)
    for p in paths:
        if Path(p) == base:
            names += sorted(c.name for c in base.iterdir() if c.name not in skip)
        else:
            names.append(Path(p).relative_to(base).as_posix())
    return tuple(r for r in (_stamp(base, n) for n in names) if r is not None)


def check_outputs(cs: ConvertSettings, outputs: tuple[OutputRecord, ...]
                  ) -> tuple[list[str], list[str]]:
    """``(missing, changed)``: outputs of a complete batch that are gone, or not as written."""
    missing, changed = [], []
    base = output_base(cs)
    for rec in outputs:
        now = _stamp(base, rec.name)
        if now is None:
            missing.append(str(base / rec.name))
        elif rec.stamp is not None and now != rec:
            changed.append(f"{base / rec.name} ({rec.files} file(s) of {rec.bytes} bytes "
                           f"written, now {now.files} of {now.bytes} bytes or touched since)")
    return missing, changed
