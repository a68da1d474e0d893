"""Scratch folders (src/nitrogen_capture/scratch.py): the next run removes a killed owner's.

- a folder whose owner was killed is removed by the next ``scratch_dir`` (its ``.owner`` lock is
  free), one log line each; a live owner's is not;
- a folder without ``.owner`` (another tool's, an older version's) and a symbolic link with our
  prefix are left alone;
- a folder is removed at the end of its block, and an unknown prefix is refused.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from markers import make_symlink, wine_lacks_symlinks
from nitrogen_capture.scratch import OWNER, scratch_dir, sweep

REPO = Path(__file__).resolve().parents[2]

_OWNER_SCRIPT = """
import sys, time
from pathlib import Path
from nitrogen_capture.scratch import scratch_dir
with scratch_dir("nitrogen-demo-", Path(sys.argv[1])) as folder:
    (folder / "work.txt").write_text("x")
    print(folder, flush=True)
    time.sleep(120)
"""


def _owner(root: Path) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _OWNER_SCRIPT, str(root)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_a_killed_owners_folder_is_removed_by_the_next_run_a_live_ones_kept(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dead, dead_folder = _owner(tmp_path)
    live, live_folder = _owner(tmp_path)
    try:
        assert (dead_folder / OWNER).is_file() and (live_folder / "work.txt").is_file()
        dead.kill()  # kill -9 (TerminateProcess on Windows): no clean-up code runs
        dead.wait(timeout=10)
        assert dead_folder.is_dir()
        with caplog.at_level(logging.INFO, logger="nitrogen_capture.scratch"), \
                scratch_dir("ngray-", tmp_path) as mine:
            assert not dead_folder.exists()
            assert live_folder.is_dir() and (live_folder / "work.txt").is_file()
            assert mine.is_dir() and mine.name.startswith("ngray-")
            assert sweep(tmp_path) == []  # its own folder is live too
        assert not mine.exists()
        assert [r.getMessage() for r in caplog.records] == [
            f"removed {dead_folder}, left by a run that was killed"]
    finally:
        for proc in (dead, live):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            assert proc.stdout is not None
            proc.stdout.close()
    assert live_folder in sweep(tmp_path)  # its owner is gone now


def test_folders_without_a_record_are_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "nitrogen-demo-older"
    other.mkdir()
    (other / "game.log").write_text("x")
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / OWNER).write_text("")
    assert sweep(tmp_path) == []
    assert (other / "game.log").is_file() and unrelated.is_dir()


@wine_lacks_symlinks
def test_a_link_with_our_prefix_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / OWNER).write_text("")  # lockable: it would count as a dead owner's
    make_symlink(tmp_path / "nitrogen-demo-link", target)
    assert sweep(tmp_path) == []
    assert (target / OWNER).is_file()


def test_an_unknown_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scratch prefix"), \
            scratch_dir("mine-", tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []
