"""Hostile flag values: every number is finite and in its documented bounds, or one line and exit 2.

A table of real command lines runs ``main()`` in-process (nothing is recorded or converted: each
fails before that) and asserts one stderr line, the exit code and no traceback. Property tests
(hypothesis) feed any int/float text to the numeric flags of ``record``, ``convert`` and
``preview`` through the parser and the settings layer: the value either builds settings inside
the bounds of ``nitrogen_capture.bounds`` and the settings modules, or fails with one line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_run import run_cli
from hostile_fs import needs_dev_zero, needs_fifo, run_cli_bounded
from markers import needs_torch
from nitrogen_capture import cli
from nitrogen_capture.calibrate.profile import MAX_PROFILE_BYTES
from nitrogen_capture.capture.base import MAX_REGION_SIDE, Region
from nitrogen_capture.cli.convert import settings_from_args
from nitrogen_capture.cli.record import _config as record_config
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.export.batch.plan import MAX_LIST_BYTES
from nitrogen_capture.keylayout import MAX_TOML_BYTES, load_layout
from nitrogen_capture.preview import check_preview_options
from session_factory import make_session

BIG = str(10**30)
SYNTH = ["record", "--source", "synthetic", "--status-interval", "0"]
# A file name that is not UTF-8 (PEP 383: its bytes as lone surrogates) exists on POSIX only.
needs_posix_names = pytest.mark.skipif(sys.platform == "win32",
                                       reason="file names are UTF-16 on Windows")


# ---- the table: real main() runs ---------------------------------------------------------------

@pytest.mark.parametrize(("args", "needle"), [
    (["--fps", "1e-300"], "--fps must be >= 0.001"),
    (["--fps", "nan"], "--fps must be in (0, 240], got nan"),
    (["--fps", "inf"], "--fps must be in (0, 240], got inf"),
    (["--seed", "-1"], "--seed must be in 0..4294967295, got -1"),
    (["--queue-frames", "1000000000"], "--queue-frames must be <= 1024"),
    (["--region", "0", "0", "9223372036854775808", "240"], "int32"),
    (["--region", "0", "0", "100000", "100000"], "each side must be at most 16384"),
    (["--region", "-5", "0", "5", "0"], "empty or inverted"),
    (["--status-interval", "inf"], "--status-interval must be 0 (off) or in [0.1, 3600]"),
    (["--status-interval", "1e-300"], "--status-interval"),
    (["--seconds", "nan"], "--seconds must be in [0, 604800]"),
    (["--seconds", "-0.5"], "--seconds must be >= 0"),
    (["--wait", "nan"], "--wait must be in [0, 604800]"),
    (["--wait", "inf"], "--wait"),
    (["--chunk-size", BIG], "--chunk-size must be <= 100000"),
    (["--encoder-workers", BIG], "--encoder-workers must be in 1..32"),
    (["--frame-format", "video", "--video-crf", BIG], "--video-crf must be in 0..51"),
    (["--frame-format", "video", "--video-crf", "-1"], "--video-crf must be in 0..51"),
    (["--max-frames", BIG], "--max-frames must be <= 1000000000"),
    (["--monitor", BIG], "--monitor must be <= 63"),
    (["--out", ""], "argument --out: must not be empty"),
    (["--fps", "1e5x"], "invalid float value"),
    (["--chunk-size", "1e3"], "invalid int value"),
    # Found by tests/cli/test_cli_fuzz.py: a word that is not UTF-8 (here the byte 0xff) was stored
    # in meta.json and crashed whatever printed the label later. (--max-frames: a regression
    # records one frame, not until the test's timeout.)
    (["--max-frames", "1", "--game", "\udcff"],
     "--game must be UTF-8 text, got '\\udcff' at character 1"),
    (["--max-frames", "1", "--notes", "ok \udcff"],
     "--notes must be UTF-8 text, got '\\udcff' at character 4"),
])
def test_record_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any,
                        args: list[str], needle: str) -> None:
    monkeypatch.chdir(tmp_path)  # --out "" would be the current directory
    out = ["--out", str(tmp_path / "s")] if "--out" not in args else []
    run_cli(capsys, *SYNTH, *out, *args).one_line_error(2, needle)
    assert not (tmp_path / "s").exists()
    assert list(tmp_path.iterdir()) == [], "something was recorded"


def test_record_pid_bounds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "record", "--pid", BIG, "--out", str(tmp_path / "s")).one_line_error(
        2, "--pid must be in 1..4294967295")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["--seq-len", BIG], "--seq-len must be <= 4096"),
    (["--action-shift", BIG], "--action-shift must be <= 4096"),
    (["--action-hz", "1e-12"], "--action-hz must be in [1, 1000] Hz, got 1e-12"),
    (["--action-hz", "nan"], "--action-hz"),
    (["--img-size", BIG], "--img-size must be in 8..4096"),
    (["--mouse-scale", "inf"], "--mouse-scale must be in (0, 1000000]"),
    (["--mouse-scale", "-0"], "--mouse-scale"),
    (["--mouse-clip", "nan"], "--mouse-clip must be in (0, 1]"),
    (["--shard-frames", BIG], "--shard-frames must be <= 1000000"),
    (["--workers", BIG], "--workers must be in 1..32"),
    (["--workers", "0"], "--workers must be in 1..32"),
    (["--max-repeat-frames", "-1"], "--max-repeat-frames must be >= 0, got -1"),
    (["--max-repeat-frames", BIG], "--max-repeat-frames must be <= 100000"),
    (["--max-repeat-frames", "1.5"], "invalid int value"),
    (["--out", "x.npz"], "--format pt writes a .pt file"),
    (["--out", "x"], "give --out a name ending in .pt"),
    (["--format", "nitrogen-dataset", "--out", "x.pt"], "nitrogen-dataset writes a directory"),
    (["--out", ""], "argument --out: must not be empty"),
    (["--root", ""], "argument --root: must not be empty"),
    # Found by tests/cli/test_cli_fuzz.py: pyarrow failed on it with a traceback.
    (["--format", "lerobot", "--task", "\udcff"], "--task must be UTF-8 text"),
    (["--format", "lerobot", "--repo-id", "a/\udcff"], "--repo-id must be UTF-8 text"),
    (["--format", "nitrogen-dataset", "--game", "\udcff"], "--game must be UTF-8 text"),
])
def test_convert_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         args: list[str], needle: str) -> None:
    # The root does not exist: the flags are checked first, so nothing is read or written.
    base = {"--root": str(tmp_path / "nope"), "--out": str(tmp_path / "o.pt")}
    for flag in ("--root", "--out"):
        if flag in args:
            del base[flag]
    argv = [x for kv in base.items() for x in kv]
    run_cli(capsys, "convert", *argv, *args, "--no-progress").one_line_error(2, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "needle"), [
    (["--every", BIG], "--every must be <= 1000"),
    (["--every", "0"], "--every must be >= 1"),
    (["--start", "inf"], "--start must be in [0, 604800] seconds, got inf"),
    (["--start", "-1"], "--start must be >= 0"),
    (["--seconds", "nan"], "--seconds must be in (0, 604800]"),
    (["--seconds", "1e300"], "--seconds must be <= 604800"),
    (["--width", BIG], "--width must be in 64..7680"),
    (["--root", ""], "argument --root: must not be empty"),
])
def test_preview_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         args: list[str], needle: str) -> None:
    root = [] if "--root" in args else ["--root", str(tmp_path / "nope")]
    run_cli(capsys, "preview", *root, *args, "--out", str(tmp_path / "o"),
            "--no-progress").one_line_error(2, needle)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["--seconds", "nan"], "--seconds must be in [3, 3600]"),
    (["--seconds", "inf"], "--seconds"),
    (["--fps", "nan"], "--fps must be in [1, 240]"),
    (["--fps", "1e-300"], "--fps"),
    (["--size", "100000x100000"], "--size must be within 64x64..7680x4320"),
    # Found by tests/cli/test_cli_fuzz.py, each refused only after Xvfb and the game had started
    # (or, for --out "", a traceback after the checks passed on the current directory).
    (["--out", ""], "argument --out: must not be empty"),
    (["--out", " "], "argument --out: must not be empty"),
    (["--layout", "no-such-layout.toml"], "layout file not found: no-such-layout.toml"),
    (["--seed", BIG], "--seed must be in 0..4294967295"),
    (["--chunk-size", "0"], "--chunk-size must be >= 1, got 0"),
    (["--encoder-workers", "x"], "argument --encoder-workers: invalid int value: 'x'"),
    (["--record-arg=--region=1"], "argument --region: expected 4 arguments"),
    (["--record-arg=a\nb"], "(the flags it passes to record): error: unrecognized arguments: "
                             "a\\nb"),
])
def test_demo_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch, args: list[str], needle: str) -> None:
    monkeypatch.chdir(tmp_path)  # --out "" would be the current directory

    def xvfb(*args: Any) -> None:
        raise AssertionError("the demo started its display")

    monkeypatch.setattr("nitrogen_capture.demo.runner._display", xvfb)
    run_cli(capsys, "demo", "--out", str(tmp_path / "d"), *args).one_line_error(2, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["merge", "validate"])
def test_empty_root_is_refused(capsys: pytest.CaptureFixture[str], command: str) -> None:
    run_cli(capsys, command, "--root", "").one_line_error(2, "argument --root: must not be empty")


# ---- more found by the fuzz pass (tests/cli/test_cli_fuzz.py) -----------------------------------

def test_no_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """It printed the whole help (24 lines) on stderr."""
    run_cli(capsys).one_line_error(2, "give a command: record, windows, merge, validate")


@pytest.mark.parametrize("command", ["merge", "validate", "convert", "label"])
def test_a_newline_in_a_value_stays_on_the_error_line(capsys: pytest.CaptureFixture[str],
                                                      command: str) -> None:
    """The quoted path broke the one error line in two."""
    out = ["--out", "o.pt"] if command == "convert" else []
    run_cli(capsys, command, "--root", "no\nsuch", *out).one_line_error(1, "--root no\\nsuch")


def test_a_label_that_is_not_utf8_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """label stored it in meta.json, then crashed printing it (UnicodeEncodeError)."""
    root = make_session(tmp_path / "s", (3,)).root
    before = (root / "meta.json").read_bytes()
    run_cli(capsys, "label", "--root", str(root), "--game", "\udcff").one_line_error(
        2, "--game must be UTF-8 text")
    assert (root / "meta.json").read_bytes() == before


def _terminal_main(*args: str) -> tuple[int, bytes]:
    """main() with a terminal's strict UTF-8 stdout (capsys decodes what it captured)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    with contextlib.redirect_stdout(out):
        code = cli.main(list(args))
    return code, raw.getvalue()


@needs_posix_names
def test_a_file_name_that_is_not_utf8_is_printed_back(tmp_path: Path) -> None:
    """Printing such a name (after the work was done) failed with UnicodeEncodeError."""
    (tmp_path / "lib").mkdir()  # made under another name: OpenCV cannot write to this one
    os.rename(make_session(tmp_path / "s", (3,)).root, tmp_path / "lib" / os.fsdecode(b"\xff"))
    code, out = _terminal_main("sessions", str(tmp_path / "lib"))
    assert code == 0 and b"\xff" in out


@needs_posix_names
@needs_torch
def test_convert_to_a_pt_whose_name_is_not_utf8(tmp_path: Path) -> None:
    """The .pt's inner folder took the file name, which a ZIP cannot hold: a traceback."""
    root = make_session(tmp_path / "s", (12, 8)).root
    pt = tmp_path / (os.fsdecode(b"\xff") + ".pt")
    code, out = _terminal_main("convert", "--root", str(root), "--out", str(pt), "--no-progress")
    assert code == 0 and os.fsencode(pt) in out
    with zipfile.ZipFile(pt) as z:
        assert all(n.startswith("\\udcff.pt/") for n in z.namelist()), z.namelist()


@needs_posix_names
@needs_torch
def test_a_session_whose_folder_name_is_not_utf8(tmp_path: Path) -> None:
    """validate decoded its PNGs with cv2.imread, which crashes the process (SIGSEGV) on such a
    path; a batch convert hashed the path as strict UTF-8 (UnicodeEncodeError). In a child
    process: a regression kills it, not the test run."""
    (tmp_path / "lib").mkdir()
    root = tmp_path / "lib" / os.fsdecode(b"\xff")
    os.rename(make_session(tmp_path / "s", (12, 8)).root, root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for args in (["validate", "--root", root],
                 ["convert", "--recursive", "--root", tmp_path / "lib", "--jobs", "1", "--out",
                  tmp_path / "o.pt", "--no-progress"]):
        proc = subprocess.run([sys.executable, "-m", "nitrogen_capture", *map(str, args)],
                              capture_output=True, env=env, timeout=300, check=False)
        assert proc.returncode == 0, (args[0], proc.returncode, proc.stderr[-500:])
    assert (tmp_path / "o.pt").is_file()


def test_synthetic_region_narrower_than_the_barcode(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The synthetic source drew its 54 px barcode into a 32 px frame: ValueError."""
    run = run_cli(capsys, *SYNTH, "--region", "0", "0", "32", "24", "--max-frames", "2",
                  "--cue", "none", "--no-merge", "--out", str(tmp_path / "s"))
    assert run.code == 0 and "Traceback" not in run.err, run.err
    assert len(list((tmp_path / "s" / "frames" / "chunk_001").iterdir())) == 2


def test_record_out_dot_suggests_the_export_beside_it(tmp_path: Path, monkeypatch: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``record --out .`` recorded and merged, then its last lines failed (ValueError)."""
    (tmp_path / "s").mkdir()
    monkeypatch.chdir(tmp_path / "s")
    run = run_cli(capsys, *SYNTH, "--region", "0", "0", "64", "48", "--max-frames", "2",
                  "--cue", "none", "--out", ".")
    assert run.code == 0 and "Traceback" not in run.err, run.err
    assert f"--out {tmp_path / 's.pt'}" in run.out


def test_calibrate_checks_keep_session_before_its_window(
        tmp_path: Path, monkeypatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """An unusable --keep-session was refused only after the calibration window had run."""
    def calibration(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the calibration started")

    monkeypatch.setattr("nitrogen_capture.calibrate.run_calibration", calibration)
    session = make_session(tmp_path / "s", (3,)).root
    (tmp_path / "f").write_text("x")
    run_cli(capsys, "calibrate", "--keep-session", str(session)).one_line_error(
        1, f"--keep-session {session} already holds a session")
    run_cli(capsys, "calibrate", "--keep-session", str(tmp_path / "f")).one_line_error(
        1, "is a file of 1 byte, not a directory")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11's DISPLAY")
def test_live_input_without_a_display_is_one_line(tmp_path: Path, monkeypatch: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Two lines (a warning, then "needs the 'pynput' package", which is installed) and an
    empty --out folder left behind."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    run_cli(capsys, *SYNTH, "--input-backend", "pynput", "--max-frames", "2", "--cue", "none",
            "--out", str(tmp_path / "s")).one_line_error(1, "no X display: set DISPLAY")
    assert not (tmp_path / "s").exists()


# ---- files given to flags: usage errors, each naming the file and the entry ---------------------

@pytest.mark.parametrize(("text", "needle"), [
    ("[buttons]\nw = 5\n", "[buttons] w must be a slot name"),
    ('[buttons]\nw = ["SOUTH", 3]\n', "[buttons] w must be a slot name"),
    ('[buttons]\nw = "FOO"\n', "[buttons] w names unknown button slot 'FOO'"),
    ('[buttons]\nw = "RIGHT_UP"\n', "slot RIGHT_UP is never used"),
    ("buttons = 3\n", "[buttons] must be a table"),
    ('[left_stick]\nupp = "w"\n', "[left_stick] upp is not a direction"),
    ("[left_stick]\nup = 1.5\n", "[left_stick] up must be a key name"),
    ("[mouse]\nstick = 1\n", "[mouse] stick must be"),
    ('[mouse]\nstick = "middle"\n', "mouse.stick must be left, right or none"),
    ('[mouse]\nspeed = 2\n', "[mouse] must be a table with only stick"),
    ("name = 7\n", "name must be a string"),
    ("extra = 1\n", "extra is not a keymap setting"),
    ("[buttons\n", "is not valid TOML"),
])
def test_bad_keymap_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                         needle: str) -> None:
    keymap = tmp_path / "km.toml"
    keymap.write_text(text)
    line = run_cli(capsys, "convert", "--root", str(tmp_path / "nope"), "--out",
                   str(tmp_path / "o.pt"), "--keymap", str(keymap)).one_line_error(2, needle)
    assert str(keymap) in line


def test_keymap_directory_is_a_usage_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "convert", "--root", str(tmp_path), "--out", str(tmp_path / "o.pt"),
            "--keymap", str(tmp_path)).one_line_error(2, "is a directory")


@pytest.mark.parametrize(("text", "needle"), [
    ('keys = ["w", 5]\n', "keys must all be key names (strings), got 5"),
    ("keys = 5\n", "needs a 'keys' list"),
    ('keys = ["w"]\nname = 3\n', "name must be a string"),
    ('keys = ["w"]\ncolumns = 3\n', "columns is not a layout setting"),
    ('keys = ["w", "W"]\n', "lists keys twice: w"),
])
def test_bad_layout_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                         needle: str) -> None:
    layout = tmp_path / "lay.toml"
    layout.write_text(text)
    line = run_cli(capsys, *SYNTH, "--out", str(tmp_path / "s"), "--layout",
                   str(layout)).one_line_error(2, needle)
    assert str(layout) in line
    assert not (tmp_path / "s").exists()


def test_layout_directory_is_a_usage_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir").mkdir()
    run_cli(capsys, *SYNTH, "--out", str(tmp_path / "s"), "--layout",
            str(tmp_path / "dir")).one_line_error(2, "is a directory")
    assert not (tmp_path / "s").exists()


# ---- files given to flags that are no files: FIFOs, devices, huge files --------------------------

def _file_flag_runs(tmp_path: Path, path: Path) -> list[tuple[list[str], str]]:
    """Each flag that reads a file, given ``path``: (command line, how the message names it)."""
    session = make_session(tmp_path / "sess", (3,)).root
    rec = [*SYNTH, "--region", "0", "0", "64", "48", "--max-frames", "2", "--cue", "none",
           "--out", str(tmp_path / "s")]
    conv = ["convert", "--root", str(session), "--out", str(tmp_path / "o.pt"), "--no-progress"]
    return [([*rec, "--layout", str(path)], f"layout file {path}"),
            ([*rec, "--latency-profile", str(path)], f"latency profile {path}"),
            ([*conv, "--keymap", str(path)], f"keymap file {path}"),
            (["convert", "--sessions", str(path), "--out", str(tmp_path / "o.pt"),
              "--no-progress"], f"--sessions list {path}")]


@needs_fifo
@pytest.mark.timeout(600)
def test_a_fifo_given_to_a_file_flag_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args, name in _file_flag_runs(tmp_path, fifo):
        # A child with a timeout: a regression waits for a writer that never comes.
        run = run_cli_bounded(*args, timeout=120)
        assert run.code == 2, (args, run.err)
        run.one_line_error(2, f"{name} is a FIFO (named pipe), not a regular file")
    assert not (tmp_path / "s").exists() and not (tmp_path / "o.pt").exists()


@needs_dev_zero
@pytest.mark.timeout(600)
def test_dev_zero_given_to_a_file_flag_is_refused_unread(tmp_path: Path) -> None:
    for args, name in _file_flag_runs(tmp_path, Path("/dev/zero")):
        # The child's memory is capped: a regression reading /dev/zero to its (no) end fails
        # with a MemoryError there, not by exhausting this machine.
        run = run_cli_bounded(*args, timeout=120)
        run.one_line_error(2, f"{name} is a character device, not a regular file")


def test_a_file_flag_over_its_bound_is_refused_unread(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:  # over every bound; sparse where the file system allows
        f.truncate(2 * max(MAX_TOML_BYTES, MAX_PROFILE_BYTES, MAX_LIST_BYTES))
    for args, name in _file_flag_runs(tmp_path, big):
        run_cli(capsys, *args).one_line_error(2, f"{name} is too large: 32.0 MB > ",
                                              " MB allowed")
    with pytest.raises(ConfigError, match=r"big\.toml is too large: 32\.0 MB > 1\.0 MB allowed"):
        load_layout(big)


def test_a_directory_given_to_a_file_flag_is_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir").mkdir()
    for args, name in _file_flag_runs(tmp_path, tmp_path / "dir"):
        run_cli(capsys, *args).one_line_error(2, f"{name} is a directory")


# ---- a closed stdout --------------------------------------------------------------------------

def test_closed_stdout_exits_quietly(tmp_path: Path) -> None:
    """``validate | head -1`` when head is gone before the first write: exit 0, no stderr."""
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "nitrogen_capture", "validate", "--root",
                             str(tmp_path / "empty"), "--no-frames"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the command prints anything
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def test_other_broken_pipe_is_an_error(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken pipe that is not stdout's (a worker, a child) is a failure, not a quiet 0."""
    def broken(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("nitrogen_capture.cli.validate.run", broken)
    run_cli(capsys, "validate", "--root", ".").one_line_error(1, "Broken pipe")


# ---- property tests: any number text through the parser and the settings ------------------------

NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=-3, max_value=5000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e4, max_value=1e4).map(repr),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "Infinity", "-0", "-0.0", "0", "1e-300",
                     "5e-324", "1e308", "1e400", "9" * 40, "1_000", " 7 ", "0x10", "1e3", ""]),
)
PROPERTY = settings(max_examples=150, deadline=None)


def _parse(argv: list[str]) -> tuple[argparse.Namespace | None, str]:
    """Parse ``argv``; (None, stderr) when argparse refuses it (it must say so in one line)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return cli.build_parser().parse_args(argv), ""
        except SystemExit as exc:
            assert exc.code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], err.getvalue()
    return None, lines[0]


def _finite_in(value: float, lo: float, hi: float) -> bool:
    return (not isinstance(value, float) or math.isfinite(value)) and lo <= value <= hi


# flag -> (dest, documented bounds as a predicate)
RECORD_BOUNDS: dict[str, tuple[str, Any]] = {
    "--fps": ("fps", lambda v: _finite_in(v, 0.001, 240)),
    "--chunk-size": ("chunk_size", lambda v: _finite_in(v, 1, 100_000)),
    "--max-frames": ("max_frames", lambda v: _finite_in(v, 0, 10**9)),
    "--seconds": ("max_seconds", lambda v: _finite_in(v, 0, 604_800)),
    "--status-interval": ("status_interval", lambda v: v == 0 or _finite_in(v, 0.1, 3600)),
    "--seed": ("seed", lambda v: _finite_in(v, 0, 2**32 - 1)),
    "--encoder-workers": ("encoder_workers", lambda v: _finite_in(v, 1, 32)),
    "--queue-frames": ("queue_frames", lambda v: _finite_in(v, 1, 1024)),
    "--latency-offset-ms": ("latency_offset_ms", lambda v: _finite_in(v, -1000, 1000)),
    "--max-repeat-frames": ("max_repeat_frames", lambda v: _finite_in(v, 0, 100_000)),
}
TARGET_BOUNDS: dict[str, tuple[str, Any]] = {
    "--wait": ("wait_s", lambda v: _finite_in(v, 0, 604_800)),
    "--pid": ("pid", lambda v: _finite_in(v, 1, 2**32 - 1)),
    "--monitor": ("monitor", lambda v: _finite_in(v, 0, 63)),
}
CONVERT_BOUNDS: dict[str, tuple[str, Any]] = {
    "--img-size": ("img_size", lambda v: _finite_in(v, 8, 4096)),
    "--seq-len": ("seq_len", lambda v: _finite_in(v, 1, 4096)),
    "--mouse-scale": ("mouse_scale", lambda v: _finite_in(v, 0, 1e6) and v > 0),
    "--mouse-clip": ("mouse_clip", lambda v: _finite_in(v, 0, 1) and v > 0),
    "--action-shift": ("action_shift", lambda v: _finite_in(v, 0, 4096)),
    "--action-hz": ("action_hz", lambda v: _finite_in(v, 1, 1000)),
    "--shard-frames": ("shard_frames", lambda v: _finite_in(v, 0, 10**6)),
    "--workers": ("workers", lambda v: _finite_in(v, 1, 32)),
    "--fps": ("fps", lambda v: _finite_in(v, 1, 1000)),
    "--latency-offset-ms": ("latency_offset_ms", lambda v: _finite_in(v, -1000, 1000)),
    "--max-repeat-frames": ("max_repeat_frames", lambda v: _finite_in(v, 0, 100_000)),
}
PREVIEW_BOUNDS: dict[str, tuple[str, Any]] = {
    "--width": ("width", lambda v: _finite_in(v, 64, 7680)),
    "--start": ("start", lambda v: _finite_in(v, 0, 604_800)),
    "--seconds": ("seconds", lambda v: _finite_in(v, 0, 604_800) and v > 0),
    "--every": ("every", lambda v: _finite_in(v, 1, 1000)),
}


def _one_line_config_error(exc: ConfigError, flag: str) -> None:
    message = str(exc)
    assert "\n" not in message and flag in message, message


@PROPERTY
@given(flag=st.sampled_from(sorted({*RECORD_BOUNDS, *TARGET_BOUNDS})), text=NUMBER_TEXT)
def test_record_numbers_are_in_bounds_or_refused(flag: str, text: str) -> None:
    args, _ = _parse(["record", "--out", "never-created", flag, text])
    if args is None:
        return
    try:
        config = record_config(args)
    except ConfigError as exc:
        _one_line_config_error(exc, flag)
        return
    dest, ok = {**RECORD_BOUNDS, **TARGET_BOUNDS}[flag]
    owner = config.target if flag in TARGET_BOUNDS else config
    assert ok(getattr(owner, dest)), (flag, text, getattr(owner, dest))


@PROPERTY
@given(flag=st.sampled_from(sorted(CONVERT_BOUNDS)), text=NUMBER_TEXT)
def test_convert_numbers_are_in_bounds_or_refused(flag: str, text: str) -> None:
    args, _ = _parse(["convert", "--root", "never", "--out", "never.pt", flag, text])
    if args is None:
        return
    try:
        conv = settings_from_args(args)
    except ConfigError as exc:
        _one_line_config_error(exc, flag)
        return
    dest, ok = CONVERT_BOUNDS[flag]
    assert ok(getattr(conv, dest)), (flag, text, getattr(conv, dest))


@PROPERTY
@given(flag=st.sampled_from(sorted(PREVIEW_BOUNDS)), text=NUMBER_TEXT)
def test_preview_numbers_are_in_bounds_or_refused(flag: str, text: str) -> None:
    args, _ = _parse(["preview", "--root", "never", flag, text])
    if args is None:
        return
    try:
        check_preview_options(args.width, args.start, args.seconds, args.every)
    except ConfigError as exc:
        _one_line_config_error(exc, flag)
        return
    dest, ok = PREVIEW_BOUNDS[flag]
    assert ok(getattr(args, dest)), (flag, text, getattr(args, dest))


COORD = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                  st.integers(min_value=-40_000, max_value=40_000))


@PROPERTY
@given(corners=st.tuples(COORD, COORD, COORD, COORD))
def test_region_is_in_bounds_or_refused(corners: tuple[int, int, int, int]) -> None:
    args, _ = _parse(["record", "--out", "never-created", "--region", *map(str, corners)])
    assert args is not None
    try:
        spec = record_config(args).target
    except ConfigError as exc:
        assert "\n" not in str(exc) and "region" in str(exc)
        return
    region = spec.region
    assert isinstance(region, Region)
    assert all(-(2**31) <= c < 2**31 for c in region.to_list())
    assert 1 <= region.width <= MAX_REGION_SIDE and 1 <= region.height <= MAX_REGION_SIDE


def test_library_callers_get_the_same_checks() -> None:
    with pytest.raises(ConfigError, match="--wait"):
        TargetSpec(wait_s=float("nan"))
    with pytest.raises(ConfigError, match="int32"):
        Region(0, 0, 2**40, 8)
    with pytest.raises(ConfigError, match="--width"):
        check_preview_options(10**30, 0.0, 30.0, 1)
    with pytest.raises(ConfigError, match="--every"):
        check_preview_options(640, 0.0, 30.0, 0)
