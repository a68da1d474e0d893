"""The command line: ``nitrogen-capture record|merge|validate|convert|demo|windows``.

The CLI is thin: each subcommand parses flags into a config and calls a library function.
Exit codes: 0 ok, 1 failure (including a validation with errors), 2 usage (bad flags or values).
Errors of this package become one line on stderr (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__
from .errors import ConfigError, NitrogenCaptureError

__all__ = ["main"]

log = logging.getLogger("nitrogen_capture")

# Subcommands that live in their own modules: (name, module). Each module exposes
# add_parser(subparsers) and run(args) -> int.
_SUBCOMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("record", "nitrogen_capture.cli_record"),
    ("merge", "nitrogen_capture.cli_session"),
    ("convert", "nitrogen_capture.cli_convert"),
    ("demo", "nitrogen_capture.cli_demo"),
    ("preview", "nitrogen_capture.cli_preview"),
)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every subcommand."""
    parser = _Parser(prog="nitrogen-capture",
                     description="Record games and export NitroGen training data.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    seen: set[str] = set()
    for _name, module in _SUBCOMMAND_MODULES:
        if module in seen:
            continue
        seen.add(module)
        importlib.import_module(module).add_parser(sub)
    return parser


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags every subcommand takes."""
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")


def _setup_logging(debug: bool, verbose: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    debug = bool(getattr(args, "debug", False))
    _setup_logging(debug, bool(getattr(args, "verbose", False)))
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        if debug:
            raise
        print(f"nitrogen-capture {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except NitrogenCaptureError as exc:
        if debug:
            raise
        print(f"nitrogen-capture {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nitrogen-capture {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"nitrogen-capture {args.command}: error: {exc.strerror or exc}{where}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
