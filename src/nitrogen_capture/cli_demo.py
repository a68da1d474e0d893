"""``demo``: record the bundled demo game for real (private Xvfb, XTEST player) and check it."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``demo``."""
    from .cli import add_common
    from .demo.runner import add_demo_arguments

    p = sub.add_parser(
        "demo", help="record the bundled demo game and check the result against the truth",
        description="Start a private Xvfb (or use --visible), launch the demo game, record it "
                    "with the real recorder while a scripted player drives it through XTEST, "
                    "then merge, validate, convert and compare with the game's own truth.")
    add_demo_arguments(p)
    add_common(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary; 0 when every check passed."""
    from .demo.runner import format_summary, options_from_args, run_demo

    result = run_demo(options_from_args(args))
    print(format_summary(result))
    return 0 if result.ok else 1
