"""The command line: ``nitrogen-capture <command>``.

Commands: record, windows, merge, validate, convert, demo, preview, label, sessions, report,
calibrate, listed in :mod:`.commands`, one module each (``add_parser`` and ``run``). The CLI is
thin: each subcommand parses flags into a config and calls a library function; :mod:`.args`
holds the shared argument helpers, :mod:`.output` the stdout handling, :mod:`.progress` the one
progress-bar factory (the library reports progress through callbacks and never draws).
Exit codes: 0 ok, 1 failure (including a validation with errors), 2 usage (bad flags or values).
Errors of this package become one line on stderr (``--debug`` shows the traceback). A bad value
of a flag is a usage error (2), a number out of its bounds or a bad file given to a flag
(``--layout``, ``--keymap``) included. A reader that closes stdout early (``validate | head -1``)
is not an error: the command stops quietly with 0 (:mod:`.output`; a progress bar goes quiet the
same way and the command finishes).

Flags that fill a settings dataclass (``RecordConfig``, ``TargetSpec``, ``ConvertSettings``) use
the field's name as ``dest`` and :func:`field_default` as their default, so the settings are the
one place a default is written. A :class:`~nitrogen_capture.errors.ConfigError` naming a
``setting`` is printed with that setting's flag (the flag whose ``dest`` it is).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import __version__, pipes
from ..errors import ConfigError, NitrogenCaptureError
from .args import add_common, check_session_dirs, field_default, path_arg, session_dir, setting_flag
from .commands import COMMANDS
from .output import guard_stdout, one_line, stdout_gone

__all__ = ["add_common", "build_parser", "field_default", "main", "one_line", "path_arg",
           "session_dir", "setting_flag", "subcommand_parser"]

log = logging.getLogger("nitrogen_capture")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every subcommand."""
    parser = _Parser(prog="nitrogen-capture",
                     description="Record games and export NitroGen training data.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{module_name}")
        command: argparse.ArgumentParser = module.add_parser(sub)
        if command.prog.split()[-1] != name:
            raise AssertionError(f"cli.{module_name} registered {command.prog}, not {name}")
        command.set_defaults(handler=module.run)
    return parser


def subcommand_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``command`` inside the full parser from :func:`build_parser`."""
    # argparse has no public way to list a parser's actions; _actions is stable since 3.2.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[command]
            return sub
    raise KeyError(command)


def _command_names(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _config_message(parser: argparse.ArgumentParser, command: str, exc: ConfigError) -> str:
    """The error's message, naming the flag of its setting.

    The settings' own messages already name the flag; one that does not gets it as a prefix.
    """
    message = str(exc)
    flag = setting_flag(subcommand_parser(parser, command), exc.setting) if exc.setting else None
    return message if flag is None or flag in message else f"{flag}: {message}"


def _setup_logging(debug: bool, verbose: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    from .. import winecompat

    winecompat.prepare()
    return guard_stdout(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):  # one line, as for any other usage error
        parser.error("give a command: " + ", ".join(_command_names(parser)))
    debug = bool(getattr(args, "debug", False))
    _setup_logging(debug, bool(getattr(args, "verbose", False)))
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        check_session_dirs(subcommand_parser(parser, args.command), args)
        return handler(args)
    except ConfigError as exc:
        if debug:
            raise
        print(f"nitrogen-capture {args.command}: error: "
              f"{one_line(_config_message(parser, args.command, exc))}", file=sys.stderr)
        return 2
    except NitrogenCaptureError as exc:
        if debug:
            raise
        print(f"nitrogen-capture {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nitrogen-capture {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if pipes.broken_pipe(exc) and stdout_gone():
            raise  # the reader of stdout went away: main() stops quietly
        if debug:
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        what = one_line(f"{exc.strerror or exc}{where}")
        print(f"nitrogen-capture {args.command}: error: {what}", file=sys.stderr)
        return 1
