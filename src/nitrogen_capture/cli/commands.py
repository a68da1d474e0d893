"""The list of commands: every ``nitrogen-capture`` subcommand and the module that holds it.

Each module has ``add_parser(subparsers) -> argparse.ArgumentParser`` (it registers its one
command and returns the command's parser) and ``run(args) -> int`` (the exit code); the parser
built from this list calls ``run``. The order is the order of ``--help``.
"""

from __future__ import annotations

__all__ = ["COMMANDS"]

# (command, module under nitrogen_capture.cli)
COMMANDS: tuple[tuple[str, str], ...] = (
    ("record", "record"),
    ("windows", "windows"),
    ("merge", "merge"),
    ("validate", "validate"),
    ("convert", "convert"),
    ("demo", "demo"),
    ("preview", "preview"),
    ("label", "label"),
    ("sessions", "sessions"),
    ("report", "report"),
    ("calibrate", "calibrate"),
    ("play", "play"),
    ("audio-sources", "audio_sources"),
)
