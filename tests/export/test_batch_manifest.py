"""The batch manifest is checked, not trusted (docs/export.md, "Many sessions", "Manifest").

A manifest is read through a typed schema: a wrong type, an unknown state, a missing key, a
path that leaves its folder is one line naming the manifest, the field and the value, then the
manifest is rebuilt from the parts on disk (nothing merged yet) or refused (an output exists).
It is reconciled with the disk: a part that is missing or cut short is converted again, a part
the manifest does not list is removed, never merged, an output that is gone means the batch is
not complete. A full disk during a batch is one line with the path and the space needed. The
fuzz test mutates real manifests every way and checks: no traceback, exit 0 or 1, and the output
either equal to a clean run's or absent.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import io
import json
import shutil
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_library import pt_outputs
from cli_run import CliRun, run_cli
from full_disk import mounted
from nitrogen_capture.cli import main
from nitrogen_capture.export import ConvertSettings, formats
from nitrogen_capture.export.batch import BatchSettings, run_batch
from nitrogen_capture.export.batch.plan import task_id
from nitrogen_capture.export.batch.tasks import PartReport, TaskJob, run_task
from session_factory import make_session


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``a`` (two chunks), ``b`` (3 frames: skipped, too short), ``c``."""
    top = tmp_path_factory.mktemp("mlib") / "lib"
    make_session(top / "a", (30, 25), seed=1)
    make_session(top / "b", (3,), seed=2)
    make_session(top / "c", (40,), seed=3)
    return top


def argv(lib: Path, out: Path) -> list[str]:
    return ["convert", "--root", str(lib), "--recursive", "--out", str(out), "--jobs", "1",
            "--img-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def ref(lib: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Digests of a clean run's output."""
    out = tmp_path_factory.mktemp("ref") / "all.pt"
    assert main(argv(lib, out)) == 0
    return pt_outputs(out)


def interrupted(lib: Path, out: Path) -> None:
    """A batch stopped by Ctrl+C in session c: a done (part staged), b skipped, c pending."""
    def stop(job: TaskJob) -> PartReport:
        if job.task.session.name == "c":
            raise KeyboardInterrupt
        return run_task(job)

    conv = ConvertSettings(root=lib, out=out, img_size=16)
    with pytest.raises(KeyboardInterrupt):
        run_batch(BatchSettings(conv, (lib,), recursive=True, jobs=1), task_fn=stop)


def complete(lib: Path, out: Path) -> None:
    assert main(argv(lib, out)) == 0


def edit(out: Path, fn: Callable[[dict[str, Any]], Any]) -> None:
    man = out.with_name(f"{out.stem}.manifest.json")
    doc = json.loads(man.read_text(encoding="utf-8"))
    fn(doc)
    man.write_text(json.dumps(doc), encoding="utf-8")


def session_key(doc: dict[str, Any], name: str) -> str:
    return next(k for k in doc["sessions"] if Path(k).name == name)


def notes(r: CliRun) -> list[str]:
    return [ln for ln in r.out.splitlines() if ln.startswith("note: ")]


# ---- the cases of the issue, one by one ----------------------------------------------------------

def test_unknown_state_is_one_line_and_the_manifest_is_rebuilt(
        lib: Path, ref: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    edit(out, lambda d: d["sessions"][session_key(d, "a")].update(state="bogus"))
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0 and r.err == "", r.err
    [note] = notes(r)
    assert "all.manifest.json" in note and ".state' must be one of" in note and "'bogus'" in note
    assert "rebuilt from the parts" in note and "(2 of 3 tasks reused" in note, note
    assert pt_outputs(out) == ref  # a is in the output (it used to be dropped, exit 0)
    doc = json.loads(out.with_name("all.manifest.json").read_text())
    assert sorted(r["state"] for r in doc["sessions"].values()) == ["done", "done", "skipped"]


def test_a_deleted_output_means_not_complete(lib: Path, ref: dict[str, str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    complete(lib, out)
    out.unlink()
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0, r.err
    assert notes(r) == [f"note: {out.with_name('all.manifest.json')} says the batch is complete "
                        f"but {out} is missing: converting again"]
    assert pt_outputs(out) == ref
    again = run_cli(capsys, *argv(lib, out))
    assert "nothing to do" in again.out and not notes(again)


def test_a_changed_output_is_refused(lib: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    complete(lib, out)
    # Another export of this tool in its place: the manifest's stamp tells it is not the batch's.
    other = tmp_path / "other.pt"
    assert main(["convert", "--root", str(lib / "a"), "--out", str(other), "--img-size", "16",
                 "--no-progress"]) == 0
    shutil.copyfile(other, out)
    size = out.stat().st_size
    run_cli(capsys, *argv(lib, out)).one_line_error(1, f"{out} is not what this batch wrote",
                                                    f"now 1 of {size} bytes", "--overwrite")
    assert out.read_bytes() == other.read_bytes()  # nothing is written over on a manifest's word
    # Junk there is not this tool's output at all: the output rule refuses it first.
    out.write_bytes(b"junk")
    run_cli(capsys, *argv(lib, out)).one_line_error(1, "holds a file of 4 bytes, not a NitroGen")
    assert out.read_bytes() == b"junk"


# The wrong types that gave tracebacks (a fuzz of the old code found 40 kinds; these are the
# fields): an incomplete batch rebuilds its manifest from the parts, a complete one refuses.
WRONG_TYPES: list[tuple[str, Callable[[dict[str, Any]], Any] | bytes, str]] = [
    ("top-level list", b"[]", "is not a batch manifest (a JSON object), got []"),
    ("runs 'x'", lambda d: d.update(runs="x"), "field 'runs' must be an integer >= 0, got 'x'"),
    ("tasks 1", lambda d: d["sessions"][session_key(d, "a")].update(tasks=1),
     "].tasks' must be an object, got 1"),
    ("state missing", lambda d: d["sessions"][session_key(d, "a")].pop("state"),
     "].state' is missing"),
    ("task windows []", lambda d: next(iter(d["sessions"][session_key(d, "a")]["tasks"]
                                            .values())).update(windows=[]),
     "].windows' must be an integer >= 0 or null, got []"),
]


@pytest.mark.parametrize(("mutate", "says"), [c[1:] for c in WRONG_TYPES],
                         ids=[c[0] for c in WRONG_TYPES])
def test_wrong_types_of_an_incomplete_batch_are_rebuilt(
        lib: Path, ref: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        mutate: Callable[[dict[str, Any]], Any] | bytes, says: str) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    if isinstance(mutate, bytes):
        out.with_name("all.manifest.json").write_bytes(mutate)
    else:
        edit(out, mutate)
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0 and r.err == "", r.err
    [note] = notes(r)
    assert says in note and "rebuilt from the parts" in note, note
    assert pt_outputs(out) == ref


def test_another_tools_manifest_is_refused(lib: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    edit(out, lambda d: d.update(format="someone-else"))
    run_cli(capsys, *argv(lib, out)).one_line_error(
        1, "field 'format' must be 'nitrogen-capture.batch-manifest'", "got 'someone-else'",
        "--overwrite")
    assert not out.exists() and any(out.with_name("all.parts").iterdir())  # nothing touched


@pytest.mark.parametrize(("field", "value", "says"), [
    ("totals", None, "field 'totals' must be there in a complete batch"),
    ("outputs", 1, "field 'outputs' must be a list, got 1"),
    ("totals", {"windows": 7, "frames": 0}, "field 'totals.windows' must be the sum"),
])
def test_a_complete_batch_with_a_bad_field_is_refused(
        lib: Path, ref: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        field: str, value: object, says: str) -> None:
    out = tmp_path / "all.pt"
    complete(lib, out)
    edit(out, lambda d: d.update({field: value}))
    run_cli(capsys, *argv(lib, out)).one_line_error(1, "all.manifest.json", says,
                                                    "pass --overwrite to convert again")
    assert pt_outputs(out) == ref
    assert run_cli(capsys, *argv(lib, out), "--overwrite").code == 0  # what the line says
    assert pt_outputs(out) == ref


def test_a_manifest_that_is_a_folder_is_refused(lib: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    out.with_name("all.manifest.json").mkdir()
    run_cli(capsys, *argv(lib, out)).one_line_error(
        1, "all.manifest.json is not a file (a folder, a link or a special file)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.manifest.json"]


def test_a_part_cut_short_is_converted_again(lib: Path, ref: dict[str, str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    obs = next(out.with_name("all.parts").glob("a-*/obs.npy"))
    obs.write_bytes(obs.read_bytes()[:-100])
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0 and r.err == "", r.err
    [note] = notes(r)
    assert "1 task(s) marked done or skipped have no complete part" in note
    assert "its obs.npy is missing, cut short or of another shape" in note, note
    assert pt_outputs(out) == ref
    doc = json.loads(out.with_name("all.manifest.json").read_text())
    a = doc["sessions"][session_key(doc, "a")]
    assert next(iter(a["tasks"].values()))["attempts"] == 2


def test_a_part_without_its_repeat_counts_is_converted_again(
        lib: Path, ref: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A part.json whose windows lack repeated_frames (docs/export.md, "Repeated frames") would
    # merge a .pt whose counts are wrong: it is no complete part.
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    part = next(out.with_name("all.parts").glob("a-*/part.json"))
    doc = json.loads(part.read_text(encoding="utf-8"))
    del doc["rows"]["repeated_frames"]
    part.write_text(json.dumps(doc), encoding="utf-8")
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0 and r.err == "", r.err
    [note] = notes(r)
    assert "its part.json lacks the source or the rows of its windows" in note, note
    assert pt_outputs(out) == ref


def test_a_batch_started_by_an_earlier_version_is_refused_in_one_line(
        lib: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Its settings lack max_repeat_frames (docs/export.md, "Repeated frames"): its parts carry
    # no repeat counts, so it is not resumed, and the line says why rather than "()".
    from nitrogen_capture.export.batch.manifest import fingerprint_of

    out = tmp_path / "all.pt"
    interrupted(lib, out)

    def older(doc: dict[str, Any]) -> None:
        del doc["settings"]["max_repeat_frames"]
        doc["fingerprint"] = fingerprint_of(doc["settings"])

    edit(out, older)
    run_cli(capsys, *argv(lib, out)).one_line_error(
        1, "other settings (the same flags, written by another version", "--overwrite")


def test_a_part_the_manifest_does_not_list_is_never_merged(
        lib: Path, ref: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    parts = out.with_name("all.parts")
    c_id = task_id((lib / "c").resolve(), 0)
    shutil.copytree(next(parts.glob("a-*")), parts / c_id)  # a's windows under c's name
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0, r.err
    assert notes(r) == [f"note: {parts}: removed 1 part(s) the manifest does not list as done "
                        f"({c_id}): never merged, converted again when planned"]
    assert pt_outputs(out) == ref


def test_a_stopped_runs_leftovers_are_removed_and_said(
        lib: Path, ref: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    tmp_task = out.with_name("all.parts") / ".tmp-c-000000000000-0000-4242"
    tmp_task.mkdir()
    (tmp_task / "obs.npy").write_bytes(b"half")
    partial = out.with_name("all.pt.partial")
    partial.write_bytes(b"half a shard")
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0, r.err
    assert notes(r) == [f"note: removed what a stopped run left: {tmp_task}, {partial}"]
    assert not partial.exists() and pt_outputs(out) == ref


def test_a_lost_manifest_is_rebuilt_from_its_parts(lib: Path, ref: dict[str, str],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "all.pt"
    interrupted(lib, out)
    out.with_name("all.manifest.json").unlink()
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0, r.err
    [note] = notes(r)
    assert "all.manifest.json is missing: the manifest is rebuilt from the parts" in note
    assert "(2 of 3 tasks reused" in note and pt_outputs(out) == ref


def test_a_format_1_manifest_is_still_read(lib: Path, ref: dict[str, str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Format 1 listed the outputs as paths: a rerun checks they are there, nothing more."""
    out = tmp_path / "all.pt"
    complete(lib, out)
    edit(out, lambda d: d.update(format_version=1, outputs=[str(out)]))
    assert "nothing to do" in run_cli(capsys, *argv(lib, out)).out
    out.unlink()
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0 and "is missing: converting again" in notes(r)[0]
    assert pt_outputs(out) == ref


# ---- a full disk ---------------------------------------------------------------------------------

def _full_disk_at(session: str) -> Callable[..., dict[str, Any]]:
    real = formats.get("pt").part

    def writer(job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        if job.task.session.name == session:
            (folder / "obs.npy").write_bytes(b"x" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(job, settings, folder)

    return writer


def test_a_full_disk_in_a_task_is_one_line_and_the_parts_are_kept(
        lib: Path, ref: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "all.pt"
    monkeypatch.setattr(formats.get("pt"), "part", _full_disk_at("c"))
    parts = out.with_name("all.parts")
    run_cli(capsys, *argv(lib, out)).one_line_error(
        1, f"{out}: the disk is full writing the part of c: it needs ", " free there: ",
        f"the 2 finished part(s) in {parts} are kept and reused")
    assert sorted(p.name[0] for p in parts.iterdir()) == ["a", "b"]  # no .tmp- left behind
    monkeypatch.undo()
    r = run_cli(capsys, *argv(lib, out))
    assert r.code == 0 and not notes(r), (r.out, r.err)
    assert pt_outputs(out) == ref
    doc = json.loads(out.with_name("all.manifest.json").read_text())
    assert doc["runs"] == 2
    a = doc["sessions"][session_key(doc, "a")]
    assert next(iter(a["tasks"].values()))["attempts"] == 1  # not converted again


def test_a_full_disk_in_the_first_task_leaves_nothing(lib: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "new" / "all.pt"
    monkeypatch.setattr(formats.get("pt"), "part", _full_disk_at("a"))
    run_cli(capsys, *argv(lib, out)).one_line_error(
        1, "the disk is full writing the part of a", "(nothing was kept)")
    assert not out.parent.exists()


def test_a_full_disk_in_the_merge_keeps_the_parts(lib: Path, ref: dict[str, str],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.export.batch import aggregate

    out = tmp_path / "all.pt"

    class Usage:
        free = 1000

    monkeypatch.setattr(aggregate.shutil, "disk_usage", lambda p: Usage)
    r = run_cli(capsys, *argv(lib, out))
    r.one_line_error(1, "only 1.0 KB (1000 bytes) is free",
                     f"the converted parts are kept in {out.with_name('all.parts')}: rerun the "
                     "same command to merge them")
    monkeypatch.undo()
    assert run_cli(capsys, *argv(lib, out)).code == 0
    assert pt_outputs(out) == ref


def test_a_full_disk_writing_the_manifest_is_one_line(lib: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.export.batch import manifest

    def full(path: Path, obj: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manifest, "atomic_write_json", full)
    out = tmp_path / "all.pt"
    run_cli(capsys, *argv(lib, out)).one_line_error(
        1, f"{out.with_name('all.manifest.json')}: the disk is full writing the batch manifest")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 200 KB file system (needs root to mount; skipped where that is not allowed)."""
    with mounted(tmp_path / "small", "200k") as mnt:
        yield mnt


def test_a_really_full_disk(lib: Path, small_disk: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = small_disk / "all.pt"
    args = argv(lib, out)
    args[args.index("16")] = "64"  # 12 KB a window: a's part alone does not fit
    run_cli(capsys, *args).one_line_error(
        1, f"{out}: the disk is full writing the part of a: it needs about ",
        "free some space and run the command again (nothing was kept)")
    assert list(small_disk.iterdir()) == []


# ---- the fuzz ------------------------------------------------------------------------------------

WRONG: list[object] = [None, True, "x", 1.5, -1, 10**30, 1e308, float("inf"), [], {}]
RAW = {"empty": b"", "blank": b"  \n", "invalid": b"{", "list": b"[]", "int": b"1",
       "string": b'"s"', "null": b"null", "deep": b"[" * 100_000, "not utf-8": b"\xff\xfe{}"}


def _paths(doc: object, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if at:
        yield at
    if isinstance(doc, dict) and at[:1] != ("settings",):
        for k, v in doc.items():
            yield from _paths(v, (*at, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*at, i))


def _set(doc: Any, at: tuple[Any, ...], value: object) -> None:
    for k in at[:-1]:
        doc = doc[k]
    if value is KeyError:
        del doc[at[-1]]
    else:
        doc[at[-1]] = value


def _rename_task(bad: str) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        ts = d["sessions"][session_key(d, "a")]["tasks"]
        ts[bad] = ts.pop(next(iter(ts)))
    return fn


def mutations(doc: dict[str, Any], outside: str) -> Iterator[tuple[str, Any]]:
    """(name, a function of the document or the raw bytes of the file) for every mutation."""
    for at in _paths(doc):
        name = "/".join(Path(str(k)).name for k in at)
        for value in WRONG:
            yield f"{name}={value!r:.20}", lambda d, at=at, v=value: _set(d, at, v)
        if isinstance(at[-1], str):
            yield f"del {name}", lambda d, at=at: _set(d, at, KeyError)
            yield f"{name}.extra", lambda d, at=at: _set(d, (*at[:-1], "zz_extra"), 1)
        if at[-1] == "state":
            yield f"{name}=bogus", lambda d, at=at: _set(d, at, "bogus")
            for state in ("pending", "done", "failed", "skipped"):
                yield f"{name}={state}", lambda d, at=at, s=state: _set(d, at, s)
    for bad in ("../x", outside, "a/../../b", "a-000000000000-0000", ""):
        yield f"task id {bad!r}", _rename_task(bad)
        yield f"session {bad!r}", lambda d, b=bad: d["sessions"].update(
            {b: d["sessions"].pop(session_key(d, "a"))})
        yield f"output {bad!r}", lambda d, b=bad: d.update(
            outputs=[{"name": b, "files": 1, "bytes": 1, "stamp": "0" * 64}])
    for name, raw in RAW.items():
        yield f"raw {name}", raw


def _run(args: list[str]) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: object = main(args)
        except SystemExit as exc:
            code = exc.code
        except BaseException:  # a traceback is what the fuzz looks for
            code = "traceback: " + traceback.format_exc().strip().splitlines()[-1]
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow  # ~1500 reruns, about a minute on two busy cores
@pytest.mark.parametrize("base", ["interrupted", "complete"])
def test_fuzz_manifest_mutations(lib: Path, ref: dict[str, str], tmp_path: Path,
                                 base: str) -> None:
    out = tmp_path / "o" / "all.pt"
    (interrupted if base == "interrupted" else complete)(lib, out)
    snap = tmp_path / "snap"
    shutil.copytree(out.parent, snap)
    man = out.with_name("all.manifest.json")
    doc = json.loads(man.read_text(encoding="utf-8"))
    outside = str(tmp_path.anchor) + "abs"
    bad, seen = [], Counter[str]()
    for name, change in mutations(doc, outside):
        shutil.rmtree(out.parent)
        shutil.copytree(snap, out.parent)
        if isinstance(change, bytes):
            man.write_bytes(change)
        else:
            mutated = copy.deepcopy(doc)
            change(mutated)
            man.write_text(json.dumps(mutated), encoding="utf-8")
        code, _, stderr = _run(argv(lib, out))
        got = pt_outputs(out)
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        verdict = "correct" if got == ref else "absent" if not got else "WRONG"
        seen[f"exit {code}, output {verdict}"] += 1
        if (code not in (0, 1) or verdict == "WRONG" or (code == 0 and verdict != "correct")
                or len(lines) != (code == 1) or "Traceback" in stderr):
            bad.append(f"{name}: exit {code}, output {verdict}, stderr {lines}")
    assert not bad, (f"{len(bad)} of {sum(seen.values())} bad ({dict(seen)}):\n"
                     + "\n".join(bad[:20]))
    assert sum(seen.values()) > 500, seen
    print(f"{base}: {dict(seen)}")  # the counts, for -s
