"""``validate``: check a session and print a report (exit 1 on errors)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``validate``."""
    from .args import add_common, session_dir

    val: argparse.ArgumentParser = sub.add_parser(
        "validate", help="check a session and print a report (exit 1 on errors)",
        description="Collect every problem of a session (missing or extra frames, length "
                    "mismatches, non-monotonic timestamps, gaps, undecodable frames, schema) "
                    "and print statistics.")
    val.add_argument("--root", required=True, type=session_dir, help="session directory")
    val.add_argument("--no-frames", action="store_true",
                     help="skip decoding frame files (faster)")
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    add_common(val)
    return val


def run(args: argparse.Namespace) -> int:
    """Validate a session."""
    import json

    from ..session.validate import validate_session

    report = validate_session(args.root, check_frames=not args.no_frames)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format())
    return 0 if report.ok else 1
