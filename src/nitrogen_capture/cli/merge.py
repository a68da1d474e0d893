"""``merge``: rebuild the merged outputs of a session (recover, concatenate, write)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``merge``."""
    from .args import add_common, session_dir

    merge: argparse.ArgumentParser = sub.add_parser(
        "merge", help="recover an interrupted chunk, concatenate chunks, write dataset.npz/.pt",
        description="Recover any chunk left open by a crash (from its journal), concatenate "
                    "all chunks into the merged arrays, write dataset.npz and dataset.pt "
                    "(when torch is installed) and refresh meta.json.")
    merge.add_argument("--root", required=True, type=session_dir, help="session directory")
    merge.add_argument("--skip-bad", action="store_true",
                       help="leave damaged chunks out (listed in meta.json) instead of failing")
    merge.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common(merge)
    return merge


def run(args: argparse.Namespace) -> int:
    """Merge a session."""
    from ..session.merge import merge_session
    from .progress import progress_callback

    # Progress goes to stderr so stdout keeps only the summary.
    with progress_callback("merging chunks", enabled=not args.no_progress) as progress:
        report = merge_session(args.root, progress=progress, skip_bad=args.skip_bad)
    print(report.summary())
    return 0
