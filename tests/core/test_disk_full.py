"""A full disk: one clear line naming the path and the space, every file whole or absent.

Recording stops cleanly with every finished chunk intact; crash repair, merge, report, preview
and convert each say it in one line (path, space needed and free: diskspace.py), exit 1, leave
no temporary and no empty folder they made, and change nothing a later run with room needs
(a repair keeps the chunk's journal and writes its arrays together or not at all).

Uses a real, tiny tmpfs (needs root to mount; CI runs as root). Where mounting is not allowed
the recording test is skipped and the others run on a simulated disk (tests/full_disk.py) whose
free-space checks see a full disk; the cases of a write that fails half-way need the real one.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from batch_library import tree_digest
from cli_run import CliRun, run_cli
from full_disk import Disk, mounted, small_fs
from session_factory import make_session


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted(tmp_path / "small", "6M") as mnt:
        yield mnt


@pytest.mark.slow  # records until a 6 MB disk is full
def test_disk_full_stops_cleanly_and_keeps_finished_chunks(small_disk: Path,
                                                           tmp_path: Path) -> None:
    out = small_disk / "s"
    proc = subprocess.run(
        [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
         "--region", "0", "0", "320", "240", "--fps", "60", "--chunk-size", "10",
         "--out", str(out), "--status-interval", "0"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "the disk is full" in lines[0] and "finished chunk(s) are intact" in lines[0]
    meta = json.loads((out / "meta.json").read_text())
    # How many chunks are sealed when the disk fills depends on how far the PNG workers ran
    # ahead (frames of up to five chunks are in flight), so only "at least one" is certain;
    # the rest is journaled, and the merge below shows none of it is lost.
    assert len(meta["chunks"]) >= 1
    for c in meta["chunks"]:
        n = c["num_frames"]
        for stem in ("actions", "mouse_deltas", "frame_indices", "timestamps"):
            assert len(np.load(out / c["files"][stem], allow_pickle=False)) == n
        assert len(list((out / c["files"]["frames"]).glob("*.png"))) == n
    assert not list(out.rglob("*.partial")), "no half-written temporaries are left behind"

    # Off the full disk, merge recovers the journaled chunks too: the 6 MB held about 40
    # frames of ~140 KB, so well over two chunks' worth come back.
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    merged = subprocess.run(
        [sys.executable, "-m", "nitrogen_capture", "merge", "--root", str(copy)],
        capture_output=True, text=True, timeout=120)
    assert merged.returncode == 0, merged.stderr
    rows = sum(c["num_frames"] for c in json.loads((copy / "meta.json").read_text())["chunks"])
    assert rows >= 20 and len(np.load(copy / "actions.npy")) == rows


# ---- every command that writes: one line, nothing half-written, nothing left empty ---------------

BLOCK = 4096
ARRAYS = ("actions", "mouse_deltas", "frame_indices", "timestamps", "events")


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    with small_fs(tmp_path, monkeypatch) as d:
        yield d


def full_line(run: CliRun, path: Path, what: str, *needles: str) -> str:
    """The one line of a full disk (diskspace.py): the path, what, the space needed and free.

    The tests capture the process's descriptors (capfd), so a codec library's own complaint
    on stderr (libpng, SVT-AV1) counts as a second line.
    """
    return run.one_line_error(1, f"{path}: the disk is full writing {what}: it needs ",
                              " free there: ", *needles)


def no_partial(root: Path) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith(".partial")], "a temporary is left"


def open_session(disk: Disk) -> Path:
    """A session on ``disk`` killed in its third chunk: a journal and 30 PNGs, no arrays."""
    root = disk.path / "s"
    make_session(root, (5, 4, 30), open_last=True)
    return root


def recovers_with_room(disk: Disk, root: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """After the space is back, merge recovers the open chunk: nothing was lost."""
    disk.free_up()
    r = run_cli(capfd, "merge", "--root", str(root), "--no-progress")
    assert r.code == 0, r.err
    assert "chunk 3: recovered 30 rows" in r.out
    assert len(np.load(root / "actions.npy")) == 39
    assert not (root / "journal_chunk_003.jsonl").exists()


@pytest.mark.parametrize("leave", [0, 2 * BLOCK], ids=["nothing free", "room for the lock"])
def test_crash_repair_on_a_full_disk_says_so_and_keeps_the_journal(
        disk: Disk, leave: int, capfd: pytest.CaptureFixture[str]) -> None:
    if leave == 0:
        disk.require_real()  # (only a real disk refuses the lock file)
    root = open_session(disk)
    meta = (root / "meta.json").read_bytes()
    disk.fill(leave)
    run = run_cli(capfd, "merge", "--root", str(root), "--no-progress")
    if leave == 0:
        full_line(run, root, "the session lock session.lock", "run merge again")
    else:
        full_line(run, root, "chunk 3's arrays rebuilt from journal_chunk_003.jsonl",
                  "run merge again (journal_chunk_003.jsonl is kept")
    assert not [s for s in ARRAYS if (root / f"{s}_chunk_003.npy").exists()]
    assert (root / "journal_chunk_003.jsonl").is_file()
    assert (root / "meta.json").read_bytes() == meta
    no_partial(root)
    recovers_with_room(disk, root, capfd)


def test_crash_repair_whose_writes_fail_half_way_writes_no_array(
        disk: Disk, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for the lock and two of the chunk's five arrays: "N requested and M written"."""
    disk.require_real()
    from nitrogen_capture.session import repair

    # The free-space check would refuse first; without it the writes really run out of space.
    monkeypatch.setattr(repair, "check_free", lambda *a, **k: None, raising=False)
    root = open_session(disk)
    disk.fill(3 * BLOCK)
    full_line(run_cli(capfd, "merge", "--root", str(root), "--no-progress"), root,
              "chunk 3's arrays rebuilt from journal_chunk_003.jsonl", "run merge again")
    assert not [s for s in ARRAYS if (root / f"{s}_chunk_003.npy").exists()], "all or none"
    assert (root / "journal_chunk_003.jsonl").is_file()
    no_partial(root)
    recovers_with_room(disk, root, capfd)


def test_a_repair_whose_meta_json_does_not_fit_takes_its_arrays_back(
        tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The arrays are written, then meta.json (last) fails: the chunk is as before the repair."""
    from nitrogen_capture.session.meta import SessionMeta

    root = tmp_path / "s"
    make_session(root, (5, 4, 30), open_last=True)
    meta = (root / "meta.json").read_bytes()

    def full(self: SessionMeta, path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SessionMeta, "save", full)
    full_line(run_cli(capfd, "merge", "--root", str(root), "--no-progress"), root,
              "chunk 3's arrays rebuilt from journal_chunk_003.jsonl (meta.json)")
    assert not [s for s in ARRAYS if (root / f"{s}_chunk_003.npy").exists()]
    assert (root / "journal_chunk_003.jsonl").is_file()
    assert (root / "meta.json").read_bytes() == meta
    no_partial(root)


@pytest.mark.parametrize("leave", [0, BLOCK], ids=["nothing free", "room for the lock"])
def test_merge_on_a_full_disk_replaces_nothing(disk: Disk, leave: int,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    if leave == 0:
        disk.require_real()
    root = disk.path / "s"
    make_session(root, (5, 4), merge=True)
    before = tree_digest(root, skip=())
    disk.fill(leave)
    run = run_cli(capfd, "merge", "--root", str(root), "--no-progress")
    full_line(run, root, "the session lock session.lock" if leave == 0 else "the merged files",
              "run merge again")
    assert tree_digest(root, skip=()) == before
    no_partial(root)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two merged sessions (a, b) on an ordinary disk, the input of report and preview."""
    top = tmp_path_factory.mktemp("lib")
    for name in ("a", "b"):
        make_session(top / name, (12, 12), merge=True)
    return top


def test_report_page_on_a_full_disk(disk: Disk, sessions: Path,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    out = disk.path / "new" / "report.html"
    disk.fill(0)
    full_line(run_cli(capfd, "report", "--root", str(sessions / "a"), "--out", str(out),
                      "--no-progress"), out, "the report page", "run report again")
    assert disk.entries() == [], "the folder made for the page is removed again"


@pytest.mark.parametrize("pages", [0, 1], ids=["no page fits", "one page fits"])
def test_report_index_on_a_full_disk(disk: Disk, sessions: Path, pages: int, tmp_path: Path,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    out = disk.path / "reports"
    room = 0
    if pages:
        ref = tmp_path / "ref"  # how big a.html is, written where there is room
        assert run_cli(capfd, "report", "--root", str(sessions), "--out", str(ref),
                       "--no-progress").code == 0
        room = -(-(ref / "a.html").stat().st_size // BLOCK) * BLOCK + BLOCK
    disk.fill(room)
    run = run_cli(capfd, "report", "--root", str(sessions), "--out", str(out), "--no-progress")
    full_line(run, out / ("b.html" if pages else "a.html"), "the report page",
              "run report again")
    if pages:  # the page written before the disk filled is whole; no index without all pages
        assert disk.entries() == ["reports", "reports/a.html"]
        assert (out / "a.html").stat().st_size == (ref / "a.html").stat().st_size
    else:
        assert disk.entries() == []


@pytest.mark.parametrize("fits", ["nothing", "timing.png"])
def test_preview_on_a_full_disk(disk: Disk, sessions: Path, fits: str, tmp_path: Path,
                                capfd: pytest.CaptureFixture[str]) -> None:
    out = disk.path / "pv"
    room = 0
    if fits == "timing.png":
        disk.require_real()  # the video's write itself must fail
        ref = tmp_path / "ref"
        assert run_cli(capfd, "preview", "--root", str(sessions / "a"), "--out", str(ref),
                       "--no-video", "--no-progress").code == 0
        room = -(-(ref / "timing.png").stat().st_size // BLOCK) * BLOCK + BLOCK
    disk.fill(room)
    run = run_cli(capfd, "preview", "--root", str(sessions / "a"), "--out", str(out),
                  "--no-progress")  # (one line: no libpng complaint beside it)
    if fits == "nothing":
        full_line(run, out / "timing.png", "the timing plot", "run preview again")
        assert disk.entries() == []
    else:
        full_line(run, out / "preview.mp4", "the preview video", "run preview again")
        assert disk.entries() == ["pv", "pv/timing.png"]
        assert (out / "timing.png").read_bytes() == (ref / "timing.png").read_bytes()


@pytest.mark.parametrize(("fmt", "out", "what"), [
    ("pt", "new/o.pt", "the export"),
    ("nitrogen-dataset", "ds", "the dataset tree"),
    ("lerobot", "lr", "the LeRobot dataset"),
])
def test_convert_on_a_full_disk(disk: Disk, sessions: Path, fmt: str, out: str, what: str,
                                capfd: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The estimate said it fits (the check is skipped here); the disk fills while writing."""
    disk.require_real()
    from nitrogen_capture.export import dataset_tree, nitrogen
    from nitrogen_capture.export.lerobot import writer

    for module in (nitrogen, dataset_tree, writer):
        monkeypatch.setattr(module, "check_space", lambda *a, **k: None)
    disk.fill(2 * BLOCK)
    run = run_cli(capfd, "convert", "--root", str(sessions / "a"), "--out",
                  str(disk.path / out), "--format", fmt, "--seq-len", "2", "--no-progress")
    full_line(run, disk.path / out, what, "run convert again")
    assert disk.entries() == [], "nothing half-written, no folder made for it left behind"


def test_what_counts_as_a_full_disk() -> None:
    from nitrogen_capture.diskspace import is_disk_full
    from nitrogen_capture.errors import DiskSpaceError

    assert is_disk_full(OSError("747 requested and 290 written"))  # numpy's short write
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(getattr(errno, "EDQUOT", errno.ENOSPC), "Disk quota exceeded"))
    assert is_disk_full(DiskSpaceError("said already"))
    assert not is_disk_full(OSError(errno.EIO, "Input/output error"))
    assert not is_disk_full(OSError("1 requested and 2 written, and more"))
    assert not is_disk_full(ValueError("747 requested and 290 written"))
