"""The command line: ``nitrogen-capture <command>``.

Commands: record, merge, validate, convert, preview, label, sessions, report, calibrate, demo,
windows. The CLI is thin: each subcommand parses flags into a config and calls a library
function.
Exit codes: 0 ok, 1 failure (including a validation with errors), 2 usage (bad flags or values).
Errors of this package become one line on stderr (``--debug`` shows the traceback). A bad value
of a flag is a usage error (2), a number out of its bounds or a bad file given to a flag
(``--layout``, ``--keymap``) included. A reader that closes stdout early (``validate | head -1``)
is not an error: the command stops quietly with 0 (pipes.py; a progress bar goes quiet the same
way and the command finishes).

Flags that fill a settings dataclass (``RecordConfig``, ``TargetSpec``, ``ConvertSettings``) use
the field's name as ``dest`` and :func:`field_default` as their default, so the settings are the
one place a default is written. A :class:`~nitrogen_capture.errors.ConfigError` naming a
``setting`` is printed with that setting's flag (the flag whose ``dest`` it is).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, pipes
from .errors import ConfigError, NitrogenCaptureError

__all__ = ["build_parser", "field_default", "main", "one_line", "path_arg", "setting_flag",
           "subcommand_parser"]

log = logging.getLogger("nitrogen_capture")

# Subcommands that live in their own modules: (name, module). Each module exposes
# add_parser(subparsers) and run(args) -> int.
_SUBCOMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("record", "nitrogen_capture.cli_record"),
    ("merge", "nitrogen_capture.cli_session"),
    ("convert", "nitrogen_capture.cli_convert"),
    ("demo", "nitrogen_capture.cli_demo"),
    ("preview", "nitrogen_capture.cli_preview"),
    ("label", "nitrogen_capture.cli_library"),
    ("sessions", "nitrogen_capture.cli_library"),
    ("report", "nitrogen_capture.cli_report"),
    ("calibrate", "nitrogen_capture.cli_calibrate"),
)


def one_line(message: str) -> str:
    """``message`` on one line: a newline, tab or other unprintable character is escaped.

    Error messages quote what the user gave (a path, an argument), which may hold any
    character; printed as is, a newline in it would make the one error line two.
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in message)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {one_line(message)} (see --help)\n")
        raise SystemExit(2)


def path_arg(text: str) -> Path:
    """The ``type`` of a path flag: an empty string (``--out ""``) is refused, not read as ".".

    ``Path("")`` is the current directory, so ``record --out ""`` would record into it.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty: give a path")
    return Path(text)


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


def field_default(cls: type[Any], name: str) -> Any:
    """The default of field ``name`` of the settings dataclass ``cls``: its flag's default."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            break
    raise TypeError(f"{cls.__name__} has no field {name!r} with a default")


def setting_flag(parser: argparse.ArgumentParser, setting: str) -> str | None:
    """The flag of ``parser`` that fills settings field ``setting`` (its ``dest``), if any."""
    for action in parser._actions:
        if action.dest == setting and action.option_strings:
            return action.option_strings[0]
    return None


def _config_message(parser: argparse.ArgumentParser, command: str, exc: ConfigError) -> str:
    """The error's message, naming the flag of its setting.

    The settings' own messages already name the flag; one that does not gets it as a prefix.
    """
    message = str(exc)
    flag = setting_flag(subcommand_parser(parser, command), exc.setting) if exc.setting else None
    return message if flag is None or flag in message else f"{flag}: {message}"


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
    from . import winecompat

    winecompat.prepare()
    _stdout_takes_file_names()
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's final flush
        return code
    except OSError as exc:  # stdout's reader went away (_main lets only that one through)
        if not isinstance(exc, BrokenPipeError) and not (pipes.broken_pipe(exc)
                                                         and _stdout_gone()):
            raise
        pipes.drop(pipes.fileno(sys.stdout))
        return 0


def _stdout_takes_file_names() -> None:
    """Let stdout print any path a user gave, as Python's UTF-8 mode does.

    A file name that is not valid UTF-8 reaches Python with lone surrogates (PEP 383); a strict
    stdout refuses to print it, after the work is done ("wrote ... to NAME"). With
    ``surrogateescape`` the name's own bytes are printed back.
    """
    if getattr(sys.stdout, "errors", None) == "strict":
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def _stdout_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it (``| head -1``)."""
    return pipes.reader_gone(pipes.fileno(sys.stdout))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):  # one line, as for any other usage error
        parser.error("give a command: " + ", ".join(_command_names(parser)))
    debug = bool(getattr(args, "debug", False))
    _setup_logging(debug, bool(getattr(args, "verbose", False)))
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
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
        if pipes.broken_pipe(exc) and _stdout_gone():
            raise  # the reader of stdout went away: main() stops quietly
        if debug:
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        what = one_line(f"{exc.strerror or exc}{where}")
        print(f"nitrogen-capture {args.command}: error: {what}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
