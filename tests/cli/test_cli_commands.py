"""The cli/ package's contracts: one list of commands, one ``session_dir`` check, no drawing in
the library (it reports progress through a callback)."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from cli_run import run_cli
from nitrogen_capture import cli
from nitrogen_capture.cli.args import session_dir
from nitrogen_capture.cli.commands import COMMANDS
from nitrogen_capture.session import merge_session
from session_factory import make_session


def test_every_command_is_listed_once_with_add_parser_and_run() -> None:
    parser = cli.build_parser()
    names = [name for name, _ in COMMANDS]
    assert len(set(names)) == len(names)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert list(action.choices) == names  # windows and validate included, in order
    for name, module_name in COMMANDS:
        module = importlib.import_module(f"nitrogen_capture.cli.{module_name}")
        sub = cli.subcommand_parser(parser, name)
        assert sub.get_default("handler") is module.run, name


@pytest.mark.parametrize(("argv", "line"), [
    (["merge", "--root", "{missing}"], "nitrogen-capture merge: error: --root {missing} is not a "
                                       "directory"),
    (["validate", "--root", "{missing}"], "nitrogen-capture validate: error: --root {missing} is "
                                          "not a directory"),
    (["sessions", "{missing}"], "nitrogen-capture sessions: error: {missing} is not a directory"),
])
def test_a_session_dir_that_is_no_directory_is_one_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], line: str) -> None:
    missing = str(tmp_path / "nope")
    r = run_cli(capsys, *(a.format(missing=missing) for a in argv))
    assert r.code == 1
    assert r.err.strip() == line.format(missing=missing)
    assert not (tmp_path / "nope").exists()


def test_session_dir_refuses_an_empty_path_as_a_usage_error() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        session_dir(" ")


def test_merge_reports_progress_through_the_callback(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (5, 4, 3))
    seen: list[tuple[int, int]] = []
    report = merge_session(b.root, progress=lambda done, total: seen.append((done, total)))
    assert report.frames == 12
    assert seen == [(1, 3), (2, 3), (3, 3)]
