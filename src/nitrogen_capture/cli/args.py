"""Argument helpers shared by the commands: path types, settings defaults, common flags.

A flag that fills a settings dataclass takes the field's name as ``dest`` and
:func:`field_default` as its default, so the settings are the one place a default is written;
:func:`setting_flag` goes the other way, from a setting named by a
:class:`~nitrogen_capture.errors.ConfigError` to the flag that fills it.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["add_common", "check_session_dirs", "field_default", "path_arg", "session_dir",
           "setting_flag"]


def path_arg(text: str) -> Path:
    """The ``type`` of a path flag: an empty string (``--out ""``) is refused, not read as ".".

    ``Path("")`` is the current directory, so ``record --out ""`` would record into it.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty: give a path")
    return Path(text)


def session_dir(text: str) -> Path:
    """The ``type`` of a flag naming an existing directory to read (``merge --root``).

    Parsed as :func:`path_arg`; whether it is a directory is checked once for every such flag
    by :func:`check_session_dirs`, just before the command runs (a missing folder is a failure,
    exit 1, not a usage error).
    """
    return path_arg(text)


def check_session_dirs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a :func:`session_dir` value of ``parser`` that is not a directory.

    The message names the flag (``--root S is not a directory``); a positional is named by its
    value alone (``S is not a directory``).
    """
    from ..errors import SessionError

    for action in parser._actions:  # argparse has no public list; _actions is stable since 3.2
        if action.type is not session_dir:
            continue
        value = getattr(args, action.dest, None)
        if value is not None and not Path(value).is_dir():
            flag = f"{action.option_strings[0]} " if action.option_strings else ""
            raise SessionError(f"{flag}{value} is not a directory")


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


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags every subcommand takes."""
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
