"""``demo``: record the bundled demo game for real (private Xvfb, XTEST player) and check it."""

from __future__ import annotations

import argparse
import sys
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


def _check_record_flags(options: Any) -> None:
    """Check the record command line the demo will run, as record checks it, before Xvfb.

    The flags the demo passes on (``--chunk-size``, ``--record-arg`` ...) are record's: a bad
    one is a usage error now, not a failed recording after the game started.
    """
    from .cli import build_parser, subcommand_parser
    from .cli_record import _config
    from .demo.runner import record_argv

    record = subcommand_parser(build_parser(), "record")
    record.prog = "nitrogen-capture demo (the flags it passes to record)"
    _config(record.parse_args(record_argv(options, pid=1)[1:]))


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary; 0 when every check passed.

    SIGINT or SIGTERM stops the game, the recorder and Xvfb, prints one line and returns
    128 + the signal number.
    """
    from .demo.runner import (
        DemoInterrupted,
        format_summary,
        options_from_args,
        run_demo,
        stop_on_signals,
    )

    options = options_from_args(args)
    _check_record_flags(options)
    try:
        with stop_on_signals():
            result = run_demo(options)
    except DemoInterrupted as exc:
        print(f"nitrogen-capture demo: stopped by {exc.signal_name}: the game, the recorder "
              f"and Xvfb are stopped; the unchecked session is in {options.out}",
              file=sys.stderr)
        return 128 + exc.signum
    print(format_summary(result))
    return 0 if result.ok else 1
