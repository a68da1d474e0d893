"""Run the CLI in-process, the way the tests that only check flags and messages want it.

``nitrogen_capture.cli.main(argv)`` is the whole CLI (``python -m nitrogen_capture`` only calls
it), so a test gets the exit code, stdout and stderr without paying for a new interpreter. Tests
whose point is the process boundary (signals, kill -9, the import-blocking checks, the repo-root
shim scripts) still start a process.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nitrogen_capture.cli import main


@dataclass(frozen=True)
class CliRun:
    """Exit code and captured output of one ``main(argv)`` call."""

    code: int
    out: str
    err: str

    def one_line_error(self, code: int, *needles: str) -> str:
        """Assert exit ``code``, exactly one stderr line, no traceback, each needle in it."""
        assert self.code == code, (self.code, self.out, self.err)
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        for needle in needles:
            assert needle in lines[0], lines[0]
        return lines[0]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    """``nitrogen-capture ARGS`` in this process; argparse's usage exits become codes."""
    capsys.readouterr()  # drop whatever the test printed before
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse: bad flags exit 2, --help/--version 0
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return CliRun(code, out, err)
