"""--format lerobot never destroys data (docs/export.md, "LeRobot"; writer.py's order of work).

* ``--overwrite`` replaces only a LeRobot dataset this tool wrote: a session, a docs folder, a
  folder of other files, a file, another session's frames, a link, our dataset with a foreign
  file in it are refused in one line and left byte for byte as they were.
* An append is all or nothing: an injected failure (OSError or Ctrl+C) at every file-system
  step of the append (each folder made, file created, link and rename) leaves the whole tree
  byte-identical, leftovers included.
* No write follows a planted link: symlinked ``chunk-000/``, ``meta/`` or ``data/`` are refused,
  links at the tool's temporary names are removed; what they point to never changes.
* What ``kill -9`` leaves (a half-built ``.ds.new-PID``; an old dataset parked as
  ``.ds.old-PID`` between the two renames of the swap) is cleaned up, or put back, by the next
  run, which says so in one line.

The damaged-dataset corpus (hostile ``info.json``, ``stats.json``, tables) is in
tests/session/test_damage_corpus.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli_run import run_cli
from markers import make_symlink, wine_lacks_symlinks
from nitrogen_capture.export import ConvertSettings, convert
from session_factory import make_session
from trees import tree
from waiting import wait_until

KEY = "observation.images.game"


def setup(tmp: Path) -> tuple[Path, Path, Path]:
    """Two sessions and a one-episode dataset of the first: ``(a, b, ds)``."""
    a = make_session(tmp / "a", (12,), seed=7).root
    b = make_session(tmp / "b", (15,), seed=8).root
    ds = tmp / "ds"
    convert(ConvertSettings(root=a, out=ds, format="lerobot"))
    return a, b, ds


def info(ds: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ds / "meta/info.json").read_text())
    return doc


def lerobot(capsys: pytest.CaptureFixture[str], root: Path, out: Path, *extra: str) -> Any:
    return run_cli(capsys, "convert", "--format", "lerobot", "--root", str(root), "--out",
                   str(out), "--no-progress", *extra)


# -- --overwrite replaces only our own dataset ---------------------------------------------------
def _session(tmp: Path) -> Path:
    return make_session(tmp / "other", (5,), seed=3).root


def _docs(tmp: Path) -> Path:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "index.md").write_text("# my notes\n")
    return tmp / "docs"


def _lookalike(tmp: Path) -> Path:  # layout folders, but a file of its own in them
    (tmp / "f" / "data" / "chunk-000").mkdir(parents=True)
    (tmp / "f" / "data" / "chunk-000" / "notes.txt").write_text("mine")
    return tmp / "f"


def _file(tmp: Path) -> Path:
    (tmp / "report.pdf").write_bytes(b"%PDF-1.4 not a dataset")
    return tmp / "report.pdf"


def _frames(tmp: Path) -> Path:
    return _session(tmp) / "frames"


def _link(tmp: Path) -> Path:
    target = _docs(tmp)
    make_symlink(tmp / "lnk", target)
    return tmp / "lnk"


def _dataset_with_readme(tmp: Path) -> Path:
    (tmp / "ds" / "README.md").write_text("my dataset card\n")
    return tmp / "ds"


def _other_lerobot(tmp: Path) -> Path:  # a LeRobot dataset of someone else's features
    ds = tmp / "ds"
    (ds / "meta/nitrogen-capture.json").unlink()
    doc = info(ds)
    doc["features"]["observation.images.top"] = doc["features"].pop(KEY)
    (ds / "meta/info.json").write_text(json.dumps(doc))
    return ds


REFUSED = {"another session": (_session, "is a session"),
           "a docs folder": (_docs, "index.md"),
           "a folder of the layout's names holding another file": (_lookalike, "notes.txt"),
           "a file": (_file, "a file of"),
           "another session's frames": (_frames, "inside the session"),
           "a symbolic link": (_link, "symbolic link"),
           "our dataset with a README": (_dataset_with_readme, "README.md"),
           "another tool's LeRobot dataset": (_other_lerobot, "features are not this tool's")}


@pytest.mark.parametrize("what", [
    pytest.param(k, marks=[wine_lacks_symlinks] if "link" in k else []) for k in REFUSED])
def test_overwrite_refuses_what_is_not_ours(what: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    build, says = REFUSED[what]
    a, _, _ = setup(tmp_path)
    out = build(tmp_path)
    before = tree(tmp_path)
    lerobot(capsys, a, out, "--overwrite").one_line_error(1, f"--out {out}", says)
    assert tree(tmp_path) == before  # every file everywhere, and no leftover beside --out


@wine_lacks_symlinks
def test_overwrite_replaces_our_dataset_old_and_new(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a, b, ds = setup(tmp_path)
    assert (ds / "meta/nitrogen-capture.json").is_file()
    # As an earlier version wrote it: no observation.state (export/lerobot/state.py).
    assert lerobot(capsys, b, ds, "--overwrite", "--state", "none").code == 0
    assert info(ds)["total_frames"] == 14 and info(ds)["total_episodes"] == 1
    # A dataset of an earlier version (no mark) is recognised by its features; a link planted
    # in it goes with it, what it points to stays.
    (ds / "meta/nitrogen-capture.json").unlink()
    outside = tmp_path / "outside"
    shutil.move(ds / "data" / "chunk-000", outside)
    make_symlink(ds / "data" / "chunk-000", outside)
    canary = tree(outside)
    assert lerobot(capsys, a, ds, "--overwrite").code == 0
    assert info(ds)["total_frames"] == 11 and (ds / "meta/nitrogen-capture.json").is_file()
    assert tree(outside) == canary and not (ds / "data" / "chunk-000").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds", "outside"]


def test_append_to_an_earlier_versions_dataset_marks_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, ds = setup(tmp_path)
    # As an earlier version wrote it: no observation.state (export/lerobot/state.py) ...
    convert(ConvertSettings(root=a, out=ds, format="lerobot", state="none", overwrite=True))
    mark = ds / "meta/nitrogen-capture.json"
    mark.unlink()  # ... and no mark: recognised by its features
    before = {rel: h for rel, h in tree(ds).items() if h != "dir"}
    lerobot(capsys, b, ds).one_line_error(1, "it has no observation.state", "--state none")
    assert lerobot(capsys, b, ds, "--state", "none").code == 0
    assert json.loads(mark.read_text())["format"] == "nitrogen-capture.lerobot-dataset"
    after = tree(ds)
    assert all(after[rel] == h for rel, h in before.items() if rel.startswith(("data", "videos")))
    assert info(ds)["total_episodes"] == 2


# -- no write through a planted link -------------------------------------------------------------
LINKED_FOLDERS = ["data/chunk-000", f"videos/{KEY}/chunk-000", "meta/episodes/chunk-000", "meta",
                  "data"]


@wine_lacks_symlinks
@pytest.mark.parametrize("rel", LINKED_FOLDERS)
def test_append_refuses_a_linked_folder(rel: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _, b, ds = setup(tmp_path)
    outside = tmp_path / "outside"
    shutil.move(ds / rel, outside)
    make_symlink(ds / rel, outside)
    before = tree(tmp_path)
    canary = tree(outside)
    lerobot(capsys, b, ds).one_line_error(1, "cannot append", rel, "symbolic link")
    assert tree(tmp_path) == before and tree(outside) == canary


TEMPORARIES = ["data/chunk-000/.file-001.parquet.partial",
               f"videos/{KEY}/chunk-000/.file-001.partial.mp4",
               "meta/episodes/chunk-000/.file-001.parquet.partial", "meta/.info.json.partial",
               "meta/.stats.json.partial", "meta/.tasks.parquet.partial"]


@wine_lacks_symlinks
def test_links_at_temporary_names_are_never_written_through(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, b, ds = setup(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    for i, rel in enumerate(TEMPORARIES):  # the six names earlier versions wrote through
        (outside / f"victim{i}").write_text("not yours")
        make_symlink(ds / rel, outside / f"victim{i}")
    # ... and the staging and old-dataset names beside the dataset (this process's PID: the
    # in-process run is this process).
    for tag in ("new", "old"):
        (outside / tag).mkdir()
        make_symlink(tmp_path / f".ds.{tag}-{os.getpid()}", outside / tag)
    canary = tree(outside)
    res = lerobot(capsys, b, ds)
    assert res.code == 0, res.err
    assert tree(outside) == canary
    assert info(ds)["total_episodes"] == 2
    assert not [p for p in ds.rglob("*") if p.is_symlink()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds", "outside"]


# -- all or nothing: a failure at every step -----------------------------------------------------
_STEPS = ("mkdir", "open", "link", "rename", "replace")


def _inject(monkeypatch: pytest.MonkeyPatch, fail_at: int, exc: type[BaseException],
            steps: list[str]) -> None:
    """Make the ``fail_at``-th file-system step (counting from 1) raise ``exc``."""
    for name in _STEPS:
        real = getattr(os, name)

        def step(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            if _name == "open" and not (args[1] & os.O_CREAT):
                return _real(*args, **kw)  # reading is no step
            steps.append(f"{_name} {Path(args[0]).name}")
            if len(steps) == fail_at:
                raise exc(f"injected at step {fail_at}")
            return _real(*args, **kw)

        monkeypatch.setattr(os, name, step)


def _fail_every_step(tmp: Path, settings: ConvertSettings, exc: type[BaseException],
                     monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run ``settings`` once per file-system step, failing that step; the tree must not change.

    A step whose failure the writer gets around (a hard link refused: it copies) ends in a
    complete dataset: it is checked and put back for the next step. Returns the steps of the
    run that went through.
    """
    ds = settings.out
    pristine = tmp.with_name(tmp.name + "-pristine")
    shutil.copytree(ds, pristine)
    before = tree(tmp)
    k = 0
    while True:
        k += 1
        steps: list[str] = []
        with monkeypatch.context() as m:
            _inject(m, k, exc, steps)
            try:
                convert(settings)
            except exc:
                assert tree(tmp) == before, f"step {k} ({steps[-1]}) changed the tree"
                continue
        if len(steps) < k:
            return steps  # no step failed: the run went through
        assert steps[k - 1].startswith("link"), steps[k - 1]  # copied instead
        assert info(ds)["total_frames"] == (14 if settings.overwrite else 11 + 14)
        shutil.rmtree(ds)
        shutil.copytree(pristine, ds)
        assert tree(tmp) == before


@pytest.mark.parametrize("exc", [OSError, KeyboardInterrupt])
def test_append_fails_at_every_step_and_leaves_all_as_it_was(
        exc: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, b, ds = setup(tmp_path)
    steps = _fail_every_step(tmp_path, ConvertSettings(root=b, out=ds, format="lerobot"), exc,
                             monkeypatch)
    # folders, the mark, the mirror's links, the new files, the two renames of the swap
    assert len(steps) > 10 and sum(s.startswith("link") for s in steps) >= 6, steps
    assert [s.split()[0] for s in steps[-2:]] == ["rename", "rename"], steps
    assert info(ds)["total_episodes"] == 2 and info(ds)["total_frames"] == 11 + 14
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds"]


def test_overwrite_fails_at_every_step_and_leaves_all_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, b, ds = setup(tmp_path)
    _fail_every_step(tmp_path, ConvertSettings(root=b, out=ds, format="lerobot",
                                               overwrite=True), OSError, monkeypatch)
    assert info(ds)["total_episodes"] == 1 and info(ds)["total_frames"] == 14


# -- what kill -9 leaves is cleaned up by the next run -------------------------------------------
_CHILD = """
import os, sys, time
from pathlib import Path
from nitrogen_capture.export import ConvertSettings, convert
from nitrogen_capture.export.lerobot import writer
where, marker, root, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])

def stop():
    marker.write_text(str(os.getpid()))
    time.sleep(600)  # until the test kills this process with SIGKILL

if where == "encode":
    real_episode = writer._Run.episode
    def episode(self, ep):
        real_episode(self, ep)
        stop()
    writer._Run.episode = episode
else:
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if ".old-" in str(dst):
            stop()
    os.rename = rename
convert(ConvertSettings(root=root, out=out, format="lerobot", overwrite=where == "encode"))
"""


def _kill_when_there(tmp: Path, where: str, root: Path, ds: Path) -> int:
    marker = tmp / "marker"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, where, str(marker), str(root),
                             str(ds)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        def there() -> bool:
            assert proc.poll() is None, proc.communicate()[1]
            return marker.exists()

        wait_until(there, "the child reached the point to be killed at", 300)
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind runs
        proc.communicate()
    marker.unlink()
    return proc.pid


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_during_an_overwrite_leaves_a_folder_the_next_run_removes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    _, b, ds = setup(tmp_path)
    before = tree(ds)
    pid = _kill_when_there(tmp_path, "encode", b, ds)
    assert (tmp_path / f".ds.new-{pid}").is_dir() and tree(ds) == before
    res = lerobot(capsys, b, ds)  # the same dataset, this time appended to
    assert res.code == 0, res.err
    said = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    assert len(said) == 1 and f".ds.new-{pid}, left by an interrupted run" in said[0], said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds"]
    assert info(ds)["total_episodes"] == 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_between_the_two_renames_puts_the_old_dataset_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    _, b, ds = setup(tmp_path)
    before = tree(ds)
    pid = _kill_when_there(tmp_path, "swap", b, ds)
    assert not ds.exists() and tree(tmp_path / f".ds.old-{pid}") == before
    res = lerobot(capsys, b, ds)
    assert res.code == 0, res.err
    said = [r.getMessage() for r in caplog.records]
    assert f"restored {ds} from .ds.old-{pid}" in said[0], said
    assert f".ds.new-{pid}, left by an interrupted run" in said[1], said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds"]
    assert info(ds)["total_episodes"] == 2 and info(ds)["total_frames"] == 11 + 14


def test_a_leftover_of_a_running_convert_is_not_touched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, b, ds = setup(tmp_path)
    busy = tmp_path / f".ds.new-{os.getppid()}"  # a live process: another run at work
    shutil.copytree(ds / "meta", busy / "meta")
    before = tree(tmp_path)
    lerobot(capsys, b, ds).one_line_error(1, str(busy), "wait for it to finish")
    assert tree(tmp_path) == before


# -- a batch checks its --out too ----------------------------------------------------------------
def test_batch_refuses_a_session_and_a_docs_folder(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    make_session(lib / "s1", (12,), seed=1)
    for out, says in ((_session(tmp_path), "is a session"), (_docs(tmp_path), "index.md")):
        before = tree(tmp_path)
        run_cli(capsys, "convert", "--format", "lerobot", "--root", str(lib), "--recursive",
                "--out", str(out), "--overwrite", "--no-progress").one_line_error(1, says)
        assert tree(tmp_path) == before
