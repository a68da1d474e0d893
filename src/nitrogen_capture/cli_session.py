"""``merge`` and ``validate``: rebuild the merged outputs of a session and check it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``merge`` and ``validate``."""
    from .cli import add_common, path_arg

    merge = sub.add_parser(
        "merge", help="recover an interrupted chunk, concatenate chunks, write dataset.npz/.pt",
        description="Recover any chunk left open by a crash (from its journal), concatenate "
                    "all chunks into the merged arrays, write dataset.npz and dataset.pt "
                    "(when torch is installed) and refresh meta.json.")
    merge.add_argument("--root", required=True, type=path_arg, help="session directory")
    merge.add_argument("--skip-bad", action="store_true",
                       help="leave damaged chunks out (listed in meta.json) instead of failing")
    merge.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common(merge)
    merge.set_defaults(handler=run_merge)

    val = sub.add_parser("validate", help="check a session and print a report (exit 1 on errors)",
                         description="Collect every problem of a session (missing or extra "
                                     "frames, length mismatches, non-monotonic timestamps, gaps, "
                                     "undecodable frames, schema) and print statistics.")
    val.add_argument("--root", required=True, type=path_arg, help="session directory")
    val.add_argument("--no-frames", action="store_true",
                     help="skip decoding frame files (faster)")
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    add_common(val)
    val.set_defaults(handler=run_validate)


def _check_root(root: Path) -> None:
    from .errors import SessionError

    if not root.is_dir():
        raise SessionError(f"--root {root} is not a directory")


def run_merge(args: argparse.Namespace) -> int:
    """Merge a session."""
    from .session.merge import merge_session

    _check_root(args.root)
    report = merge_session(args.root, progress=not args.no_progress, skip_bad=args.skip_bad)
    print(report.summary())
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """Validate a session."""
    import json

    from .session.validate import validate_session

    _check_root(args.root)
    report = validate_session(args.root, check_frames=not args.no_frames)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format())
    return 0 if report.ok else 1
