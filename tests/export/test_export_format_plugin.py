"""A new export format is one class and one registry line (docs/extending.md, "An export format").

The toy format below writes a CSV of each frame's actions. It is registered from this test only,
and goes through everything the built-in formats go through: ``convert`` of one session and a
batch (``--recursive --engine local --jobs 2``: the format object travels to spawned worker
processes in the task's job), the manifest, the reconciler and the merge. No file of the package
changes for it: the registry, the CLI's ``--format`` choices and help, the settings check, the
planner and the merger ask the format object.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cli_run import run_cli
from nitrogen_capture.atomic import atomic_write
from nitrogen_capture.export import ConvertSettings, formats
from nitrogen_capture.export.batch.job import Skip, TaskJob, idle_check
from nitrogen_capture.export.batch.merged import Merged, parts_of
from nitrogen_capture.export.common import ConvertResult, Progress, SizeNote
from nitrogen_capture.export.settings import FORMATS
from nitrogen_capture.export.source import ExportSource, FreeBytes
from session_factory import make_session

PART = "actions.csv"


def _csv(src: ExportSource) -> tuple[str, list[str]]:
    """The header and the rows of a session's CSV: capture time, then every action column."""
    rows = src.frame_rows()
    lines = [",".join([str(int(t)), *(f"{v:.6g}" for v in row)])
             for t, row in zip(src.timestamps.tolist(), rows, strict=True)]
    return ",".join(["t_ns", *src.action_names]), lines


class CsvFormat(formats.ExportFormat):
    """``--format toy-csv``: one CSV file of per-frame actions (a batch: all sessions in it)."""

    name = "toy-csv"
    help = "toy-csv (a CSV of actions, a test's toy)"
    suffix: ClassVar[str | None] = ".csv"

    def convert(self, settings: ConvertSettings, *, progress: Progress | None,
                free_bytes: FreeBytes, size_note: SizeNote | None) -> ConvertResult:
        header, lines = _csv(ExportSource(settings))
        atomic_write(settings.out, "\n".join([header, *lines, ""]).encode("utf-8"))
        return ConvertResult(files=[settings.out], windows=len(lines), frames=len(lines))

    def part_out(self, folder: Path) -> Path:
        return folder / "part.csv"  # the settings want a .csv; the part writes its own file

    def part(self, job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        src = ExportSource(settings)
        idle_check(src, job.keep_idle)
        header, lines = _csv(src)
        if not lines:
            raise Skip("too short: no frame")
        (folder / PART).write_text("\n".join([header, *lines, ""]), encoding="utf-8")
        return {"windows": len(lines), "frames": len(lines), "header": header}

    def merge(self, settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
        merged, header, body = Merged(), None, []
        for p in parts_of(staging, task_ids):
            header = header or p["header"]
            if p["header"] != header:
                merged.failed[p["session"]] = "its action columns differ from the first's"
                continue
            body += (p["dir"] / PART).read_text(encoding="utf-8").splitlines()[1:]
            merged.windows += p["windows"]
            merged.frames += p["frames"]
        atomic_write(settings.out, "\n".join([header or "", *body, ""]).encode("utf-8"))
        merged.outputs.append(settings.out)
        return merged

    def output_base(self, out: Path) -> Path:
        return out.parent

    def batch_paths(self, out: Path) -> tuple[Path, Path]:
        return out.with_name(f"{out.stem}.manifest.json"), out.with_name(f"{out.stem}.parts")

    def output_exists(self, settings: ConvertSettings) -> bool:
        return settings.out.exists()


@pytest.fixture
def toy() -> Iterator[formats.ExportFormat]:
    fmt = formats.register(CsvFormat())
    yield fmt
    formats.unregister(fmt.name)


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("toylib") / "lib"
    make_session(top / "a", (30, 25), seed=1)
    make_session(top / "b", (20,), seed=2)
    return top


def _files(top: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``top``: its size and modification time."""
    out = {}
    for folder, _, names in os.walk(top):
        for n in names:
            st = os.stat(os.path.join(folder, n))
            out[os.path.relpath(os.path.join(folder, n), top)] = (st.st_size, st.st_mtime_ns)
    return out


def test_a_toy_format_converts_one_session_and_a_batch(
        toy: formats.ExportFormat, lib: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert formats.names()[-1] == "toy-csv" and formats.get("toy-csv") is toy
    r = run_cli(capsys, "convert", "--help")
    assert "toy-csv (a CSV of actions, a test's toy)" in " ".join(r.out.split())
    before = _files(lib)

    singles = {}
    for s, n in (("a", 55), ("b", 20)):
        csv = tmp_path / f"{s}.csv"
        r = run_cli(capsys, "convert", "--root", str(lib / s), "--out", str(csv),
                    "--format", "toy-csv", "--no-progress")
        assert r.code == 0, r.err
        assert r.out.startswith(f"wrote {n} windows ({n} frames) to {csv} in "), r.out
        singles[s] = csv.read_text(encoding="utf-8").splitlines()
    assert len(singles["a"]) == 1 + 55 and len(singles["b"]) == 1 + 20
    assert singles["a"][0] == singles["b"][0] and singles["a"][0].startswith("t_ns,")

    out = tmp_path / "all.csv"
    r = run_cli(capsys, "convert", "--root", str(lib), "--recursive", "--out", str(out),
                "--format", "toy-csv", "--engine", "local", "--jobs", "2", "--no-progress")
    assert r.code == 0, (r.out, r.err)
    assert "converted 2 of 2 sessions (0 skipped, 0 failed)" in r.out
    # The batch's CSV is the sessions' CSVs one after the other, in sorted order.
    assert out.read_text(encoding="utf-8").splitlines() == [
        singles["a"][0], *singles["a"][1:], *singles["b"][1:]]
    # A rerun finds the batch complete in its manifest and writes nothing.
    r = run_cli(capsys, "convert", "--root", str(lib), "--recursive", "--out", str(out),
                "--format", "toy-csv", "--jobs", "2", "--no-progress")
    assert r.code == 0 and "nothing to do" in r.out, (r.out, r.err)

    # What it wrote: its outputs and the manifest beside them (the staging folder is gone);
    # the sessions are untouched.
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "all.csv", "all.manifest.json", "b.csv"]
    assert _files(lib) == before


def test_a_toy_format_is_gone_once_unregistered(toy: formats.ExportFormat,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    formats.unregister(toy.name)
    assert "toy-csv" not in formats.names()
    assert formats.names() is FORMATS  # the built-ins' own tuple again (test_settings.py)
    r = run_cli(capsys, "convert", "--root", "x", "--out", "x.csv", "--format", "toy-csv")
    assert r.code == 2 and "invalid choice: 'toy-csv'" in r.err
