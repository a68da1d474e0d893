"""The one output-path rule (outputs.py) and the one writer (atomic.py), command by command.

Each case was a way to destroy data with exit status 0: a report over a session's meta.json, a
contact sheet over a chunk's actions, a page into another session, a device node replaced by a
file, a write through a link planted at a temporary name or a session's sub-folder. Each now
gets one line, a non-zero exit, and leaves every byte where it was.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from cli_run import run_cli
from markers import make_symlink, needs_torch, wine_lacks_symlinks
from nitrogen_capture.atomic import (
    atomic_file,
    atomic_write,
    make_dirs,
    open_new,
    partial_path,
)
from nitrogen_capture.errors import OutputError
from nitrogen_capture.outputs import OutputKind, check_output, is_session_format, store_at
from session_factory import make_session
from trees import tree


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    make_session(tmp_path / "S", (6, 6))
    make_session(tmp_path / "T", (6,))
    return tmp_path / "S", tmp_path / "T"


# --- the writer ---------------------------------------------------------------------------------

def test_atomic_file_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


@wine_lacks_symlinks
def test_a_link_at_the_temporary_name_is_removed_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    target = tmp_path / "out.html"
    make_symlink(partial_path(target), victim)
    atomic_write(target, b"page")
    assert victim.read_bytes() == b"precious"
    assert target.read_bytes() == b"page" and not target.is_symlink()
    make_symlink(tmp_path / ".x.partial", victim)
    with open_new(tmp_path / ".x.partial") as f:
        f.write(b"mine")
    assert victim.read_bytes() == b"precious"


@wine_lacks_symlinks
def test_make_dirs_refuses_a_link_below_the_trusted_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    top = tmp_path / "top"
    top.mkdir()
    make_symlink(top / "data", elsewhere)
    with pytest.raises(OutputError, match="symbolic link"):
        make_dirs(top / "data" / "chunk-000", below=top)
    assert list(elsewhere.iterdir()) == []
    assert make_dirs(top / "meta" / "episodes", below=top).is_dir()


# --- the rule -----------------------------------------------------------------------------------

def test_session_format_names() -> None:
    from pathlib import PurePath

    for rel in ("meta.json", "actions_chunk_001.npy", "frames/chunk_001/000001.png", "orphans",
                "dataset.npz", "dataset.pt", "journal_chunk_002.jsonl", "session.lock",
                ".meta.json.partial", "events.npy"):
        assert is_session_format(PurePath(rel)), rel
    for rel in ("report.html", "preview.mp4", "timing.png", "demo/preview.mp4", "sheet.png"):
        assert not is_session_format(PurePath(rel)), rel


def test_stores_are_recognised(tmp_path: Path, two: tuple[Path, Path]) -> None:
    s, _ = two
    (tmp_path / "L" / "meta").mkdir(parents=True)
    (tmp_path / "L" / "meta" / "info.json").write_text("{}")
    (tmp_path / "D" / "actions" / "SHARD_0000").mkdir(parents=True)
    assert store_at(s) == "session"
    assert store_at(tmp_path / "L") == "LeRobot dataset"
    assert store_at(tmp_path / "D") == "NitroGen dataset tree"
    assert store_at(tmp_path) is None
    kind = OutputKind("thing", lambda p: True)
    for inside in (s / "x.bin", tmp_path / "L" / "data" / "x.bin",
                   tmp_path / "D" / "actions" / "x.bin"):
        with pytest.raises(OutputError, match="is inside the"):
            check_output(inside, kind)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX device nodes and FIFOs")
def test_special_files_are_refused(tmp_path: Path) -> None:
    kind = OutputKind("thing", lambda p: True)
    with pytest.raises(OutputError, match="character device"):
        check_output(device_node(tmp_path / "zero"), kind)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="FIFO"):
        check_output(fifo, kind)


# --- report -------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, rel, needle", [
    ("--out", "S/meta.json", "part of the session"),
    ("--contact-sheet", "S/actions_chunk_001.npy", "part of the session"),
    ("--out", "T/meta.json", "inside the session"),
    ("--out", "T/report.html", "inside the session"),
    ("--out", "S/frames/x.html", "part of the session"),
])
def test_report_never_writes_into_a_session(capsys, tmp_path: Path, two: tuple[Path, Path],
                                            flag: str, rel: str, needle: str) -> None:
    before = tree(tmp_path)
    run = run_cli(capsys, "report", "--root", str(two[0]), flag, str(tmp_path / rel),
                  "--no-progress")
    run.one_line_error(1, needle, "nothing was changed")
    assert tree(tmp_path) == before


def device_node(path: Path) -> Path:
    """A character device like /dev/zero at ``path`` (a copy: a regression must not replace the
    machine's own /dev/zero, as the bug this guards against did)."""
    if sys.platform == "win32" or not hasattr(os, "mknod"):
        pytest.skip("POSIX device nodes")
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


def test_report_refuses_a_device(capsys, tmp_path: Path, two: tuple[Path, Path]) -> None:
    zero = device_node(tmp_path / "zero")
    run = run_cli(capsys, "report", "--root", str(two[0]), "--out", str(zero), "--no-progress")
    run.one_line_error(1, "zero is a character device")
    assert zero.is_char_device()


def test_report_replaces_only_its_own_page(capsys, tmp_path: Path,
                                           two: tuple[Path, Path]) -> None:
    s, _ = two
    notes = tmp_path / "notes.html"
    notes.write_bytes(b"<p>my notes</p>")
    run_cli(capsys, "report", "--root", str(s), "--out", str(notes),
            "--no-progress").one_line_error(1, "not a report page written by nitrogen-capture")
    assert notes.read_bytes() == b"<p>my notes</p>"
    pytest.importorskip("matplotlib", reason="the report page needs the report extra")
    page = tmp_path / "page.html"
    for _ in range(2):  # a page of ours is replaced when the report runs again
        assert run_cli(capsys, "report", "--root", str(s), "--out", str(page),
                       "--no-progress").code == 0
    sheet = tmp_path / "sheet.png"
    for _ in range(2):
        assert run_cli(capsys, "report", "--root", str(s), "--contact-sheet", str(sheet),
                       "--no-progress").code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S", "T", "notes.html", "page.html",
                                                          "sheet.png"]


@wine_lacks_symlinks
def test_report_default_outputs_never_follow_planted_links(capsys, tmp_path: Path,
                                                           two: tuple[Path, Path]) -> None:
    s, _ = two
    bashrc = tmp_path / "bashrc"
    bashrc.write_bytes(b"export PATH=...")
    make_symlink(s / ".report.html.partial", bashrc)
    assert run_cli(capsys, "report", "--root", str(s), "--no-progress").code == 0
    assert bashrc.read_bytes() == b"export PATH=..."
    assert (s / "report.html").is_file() and not (s / "report.html").is_symlink()
    # A link at the page itself is refused, not replaced and not followed.
    (s / "report.html").unlink()
    make_symlink(s / "report.html", bashrc)
    run_cli(capsys, "report", "--root", str(s), "--no-progress").one_line_error(
        1, "symbolic link")
    assert bashrc.read_bytes() == b"export PATH=..."


@wine_lacks_symlinks
def test_report_of_a_library_refuses_a_linked_reports_folder(capsys, tmp_path: Path,
                                                             two: tuple[Path, Path]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lib = tmp_path / "lib"
    lib.mkdir()
    for s in two:
        s.rename(lib / s.name)
    make_symlink(lib / "reports", elsewhere)
    run_cli(capsys, "report", "--root", str(lib), "--no-progress").one_line_error(
        1, "symbolic link")
    assert list(elsewhere.iterdir()) == []


# --- preview ------------------------------------------------------------------------------------

def test_preview_never_writes_into_another_session(capsys, tmp_path: Path,
                                                   two: tuple[Path, Path]) -> None:
    s, t = two
    before = tree(t)
    run = run_cli(capsys, "preview", "--root", str(s), "--out", str(t), "--no-video")
    run.one_line_error(1, "inside the session")
    assert tree(t) == before


@wine_lacks_symlinks
def test_preview_default_outputs_never_follow_planted_links(capsys, tmp_path: Path,
                                                            two: tuple[Path, Path]) -> None:
    s, _ = two
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    make_symlink(s / ".timing.png.partial", victim)
    assert run_cli(capsys, "preview", "--root", str(s), "--no-video").code == 0
    assert victim.read_bytes() == b"keep"
    assert (s / "timing.png").read_bytes().startswith(b"\x89PNG")
    # A session sub-folder that is a link is not written through.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    make_symlink(s / "demo", elsewhere)
    run_cli(capsys, "preview", "--root", str(s), "--out", str(s / "demo"),
            "--no-video").one_line_error(1, "symbolic link")
    assert list(elsewhere.iterdir()) == []


def test_preview_replaces_only_its_own_plot(capsys, tmp_path: Path,
                                            two: tuple[Path, Path]) -> None:
    s, _ = two
    out = tmp_path / "pv"
    out.mkdir()
    (out / "timing.png").write_bytes(b"somebody's picture")
    run_cli(capsys, "preview", "--root", str(s), "--out", str(out), "--no-video").one_line_error(
        1, "not a timing plot written by nitrogen-capture")
    assert (out / "timing.png").read_bytes() == b"somebody's picture"
    (out / "timing.png").unlink()
    for _ in range(2):
        assert run_cli(capsys, "preview", "--root", str(s), "--out", str(out),
                       "--no-video").code == 0


# --- convert ------------------------------------------------------------------------------------

@needs_torch
@wine_lacks_symlinks
def test_convert_pt_never_follows_its_temporary(capsys, tmp_path: Path,
                                                two: tuple[Path, Path]) -> None:
    s, _ = two
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    out = tmp_path / "o.pt"
    make_symlink(partial_path(out), victim)
    assert run_cli(capsys, "convert", "--root", str(s), "--out", str(out), "--seq-len", "2",
                   "--img-size", "8", "--no-progress").code == 0
    assert victim.read_bytes() == b"keep"
    assert not partial_path(out).exists()


@pytest.mark.parametrize("fmt", ["pt", "nitrogen-dataset"])
def test_convert_never_writes_into_another_session(capsys, tmp_path: Path,
                                                   two: tuple[Path, Path], fmt: str) -> None:
    s, t = two
    before = tree(t)
    out = t / "frames" if fmt == "nitrogen-dataset" else t / "x.pt"
    run = run_cli(capsys, "convert", "--root", str(s), "--out", str(out), "--format", fmt,
                  "--overwrite", "--no-progress")
    run.one_line_error(1, "inside the session")
    assert tree(t) == before


def test_dataset_tree_overwrite_replaces_only_its_own_chunks(capsys, tmp_path: Path,
                                                             two: tuple[Path, Path]) -> None:
    s, _ = two
    out = tmp_path / "tree"
    args = ["convert", "--root", str(s), "--out", str(out), "--format", "nitrogen-dataset",
            "--no-video", "--no-progress"]
    assert run_cli(capsys, *args).code == 0
    assert run_cli(capsys, *args, "--overwrite").code == 0
    base = out / "actions" / "SHARD_0000" / "S"
    (base / "my_notes").mkdir()
    (base / "my_notes" / "keep.txt").write_bytes(b"keep")
    run_cli(capsys, *args, "--overwrite").one_line_error(1, "not a dataset chunk written by")
    assert (base / "my_notes" / "keep.txt").read_bytes() == b"keep"
    # A folder that is not a dataset tree is not one to write a tree into.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_bytes(b"# docs")
    run_cli(capsys, "convert", "--root", str(s), "--out", str(docs), "--format",
            "nitrogen-dataset", "--no-progress").one_line_error(1, "not a NitroGen dataset tree")
    assert sorted(p.name for p in docs.iterdir()) == ["index.md"]


@wine_lacks_symlinks
def test_dataset_tree_never_writes_through_a_linked_chunk_folder(capsys, tmp_path: Path,
                                                                 two: tuple[Path, Path]) -> None:
    s, _ = two
    out = tmp_path / "tree"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "actions" / "SHARD_0000" / "S").mkdir(parents=True)
    make_symlink(out / "actions" / "SHARD_0000" / "S" / "S_chunk_0000", elsewhere)
    run = run_cli(capsys, "convert", "--root", str(s), "--out", str(out), "--format",
                  "nitrogen-dataset", "--no-video", "--overwrite", "--no-progress")
    run.one_line_error(1)
    assert list(elsewhere.iterdir()) == []


# --- record and calibrate -----------------------------------------------------------------------

def test_record_never_starts_inside_a_session(capsys, tmp_path: Path,
                                              two: tuple[Path, Path]) -> None:
    s, _ = two
    before = tree(s)
    run = run_cli(capsys, "record", "--out", str(s / "frames" / "new"), "--capture-backend",
                  "synthetic", "--input-backend", "scripted", "--max-frames", "3",
                  "--start-immediately")
    run.one_line_error(1, "inside the session")
    assert tree(s) == before


@wine_lacks_symlinks
def test_record_refuses_a_linked_out(capsys, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    make_symlink(tmp_path / "new", elsewhere)
    run = run_cli(capsys, "record", "--out", str(tmp_path / "new"), "--capture-backend",
                  "synthetic", "--input-backend", "scripted", "--max-frames", "3",
                  "--start-immediately")
    run.one_line_error(1, "symbolic link")
    assert list(elsewhere.iterdir()) == []


def test_calibrate_save_replaces_only_a_profile(tmp_path: Path) -> None:
    from nitrogen_capture.calibrate.profile import check_save_path

    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    with pytest.raises(OutputError, match="not a latency profile written by"):
        check_save_path(notes)
    ours = tmp_path / "latency.json"
    ours.write_text('{"format": "nitrogen-capture.latency-profile", "format_version": 1}')
    assert check_save_path(ours) == ours
    assert check_save_path(tmp_path / "new.json") == tmp_path / "new.json"
