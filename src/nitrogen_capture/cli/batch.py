"""``convert`` of many sessions: its progress line and summary (docs/export.md, "Many sessions").

``cli.convert`` dispatches here when ``--recursive``, several ``--root``, ``--sessions`` or
``--engine ray`` is given; the work is :func:`nitrogen_capture.export.batch.run_batch`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["is_batch", "run_batch_cli"]


def is_batch(args: argparse.Namespace) -> bool:
    """Whether the flags ask for a batch (anything but one ``--root`` and the local engine).

    ``--format lerobot`` with several ``--root`` is not one: its own writer makes each session
    an episode of one dataset (docs/export.md, "--format lerobot").
    """
    from ..export import formats

    several = len(args.root or []) > 1 and not formats.get(args.format).many_roots
    return bool(args.recursive or several or args.session_list
                or args.engine != "local" or args.ray_address)


def _shown(session: str, roots: list[Path]) -> str:
    p = Path(session)
    for r in roots:
        rr = r.resolve()
        if p != rr and p.is_relative_to(rr):
            return p.relative_to(rr).as_posix()
    return session


def _rate(frames: int, seconds: float) -> float:
    return frames / max(seconds, 1e-9)


def summary_lines(result: Any, roots: list[Path], unit: str = "windows") -> list[str]:
    """The table of every session (state, windows or episodes, reason) for the end of a run."""
    rows = []
    for session, rec in sorted(result.sessions.items()):
        windows = sum(int(t.get("windows") or 0) for t in rec["tasks"].values()
                      if t.get("state") == "done")
        rows.append((_shown(session, roots), rec["state"],
                     str(windows) if rec["state"] == "done" else "-", rec.get("reason") or ""))
    width, n = max([len("session"), *(len(r[0]) for r in rows)]), max(7, len(unit))
    out = [f"{'session':<{width}}  {'state':<7}  {unit:>{n}}  reason"]
    out += [f"{a:<{width}}  {b:<7}  {c:>{n}}  {d}".rstrip() for a, b, c, d in rows]
    return out


def _note(line: str) -> None:
    """A finding about the manifest or the disk (rebuilt, redone, leftovers removed): one line."""
    print(f"note: {line}", flush=True)


def run_batch_cli(args: argparse.Namespace, settings: Any) -> int:
    """Run a batch from parsed flags; print the summary; 1 when a session failed."""
    from ..export import formats
    from ..export.batch import BatchProgress, BatchSettings, run_batch

    roots = list(args.root or [])
    bs = BatchSettings(settings, tuple(roots), args.recursive, args.session_list, args.engine,
                       args.jobs, args.ray_address, args.task_frames, args.keep_idle)
    if args.no_progress:
        result = run_batch(bs, notice=_note)
    else:
        from rich.progress import BarColumn, TextColumn

        from .progress import progress_bar

        with progress_bar(TextColumn("convert"), BarColumn(),
                          TextColumn("{task.fields[line]}")) as bar:
            task = bar.add_task("convert", total=None, line="planning")

            def progress(p: BatchProgress) -> None:
                rate = _rate(p.frames_this_run, p.elapsed)
                left = p.frames_total - p.frames_done
                eta = f"{left / rate:.0f} s" if rate > 0 else "?"
                bar.update(task, completed=p.frames_done, total=max(p.frames_total, 1),
                           line=f"{p.sessions_done}/{p.sessions_total} sessions, "
                                f"{rate:.1f} frames/s, ETA {eta}")

            result = run_batch(bs, progress=progress, notice=_note)
    fmt = formats.get(settings.format)
    for line in summary_lines(result, roots, fmt.column):
        print(line)
    for line in fmt.batch_lines(settings):
        print(line)
    failed, skipped, done = result.count("failed"), result.count("skipped"), result.count("done")
    total = len(result.sessions)
    engine = f"{bs.engine} x{bs.jobs}" + (f" at {bs.ray_address}" if bs.ray_address else "")
    if result.note and not result.outputs:
        from .output import one_line

        print(f"nitrogen-capture convert: error: {one_line(result.note)}", file=sys.stderr)
        return 1
    if result.note:
        print(result.note)
    else:
        where = fmt.batch_where(result.outputs, settings)
        print(f"converted {done} of {total} sessions ({skipped} skipped, {failed} failed) on "
              f"{engine}: {result.windows} {fmt.unit}"
              f" to {where} in {result.seconds:.1f} s "
              f"({_rate(result.frames_this_run, result.seconds):.1f} frames/s)")
        if result.repeated_frames is not None:
            print(f"repeated frames: {result.repeated_frames} (marked in the output: "
                  "docs/export.md, \"Repeated frames\")")
    print(f"manifest: {result.manifest}")
    if failed:
        print(f"nitrogen-capture convert: error: {failed} of {total} sessions failed (listed "
              "above); the others were converted", file=sys.stderr)
        return 1
    return 0
