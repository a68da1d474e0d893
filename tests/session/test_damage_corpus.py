"""A corpus of damaged sessions run through every reader of the CLI (tier 0, no display).

Each case builds a small session with ``session_factory`` (the format's test oracle), damages it
in one way an adversarial pass found (docs/format.md says what a reader must do with it) and
runs ``merge``, ``validate``, ``convert`` and ``preview`` through ``nitrogen_capture.cli.main``
in-process. Every run must:

* end with the expected exit code and no traceback;
* on failure print exactly one line on stderr (``validate`` prints its report on stdout instead
  and names the problem there);
* leave the session tree as it was (every path and every file's bytes), except that ``merge``
  may add its documented outputs and, for an open chunk it can repair, the documented repair
  results (chunk arrays, a removed journal, files moved into ``orphans/``);
* leave the "canary" directory outside the session, which symlinks point into, unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hostile_fs import BIG_SPARSE, needs_fifo, needs_sparse
from markers import make_symlink, needs_torch, wine_lacks_symlinks
from nitrogen_capture.cli import main
from session_factory import chunk_to_video, frame_image, make_session
from trees import tree

MERGE_OUTPUTS = {"actions.npy", "mouse_deltas.npy", "frame_indices.npy", "timestamps.npy",
                 "events.npy", "gamepad.npy", "dataset.npz", "dataset.pt", "meta.json"}
COMMANDS = ("merge", "validate", "convert", "preview")
Build = Callable[[Path, Path], None]


@dataclass(frozen=True)
class Case:
    """One damaged session: how to build it and the exit code of each command."""

    name: str
    build: Build
    codes: dict[str, int]
    sizes: tuple[int, ...] = (5, 4, 3)
    open_last: bool = False
    video: bool = False
    gamepad: bool = False
    merge_args: tuple[str, ...] = ()
    # What the failing commands must name (stderr line, or validate's report).
    says: str = ""
    repairs: bool = False  # merge may rebuild the open chunk
    extra: dict[str, str] = field(default_factory=dict)


def codes(merge: int = 1, validate: int = 1, convert: int = 1, preview: int = 1) -> dict[str, int]:
    return {"merge": merge, "validate": validate, "convert": convert, "preview": preview}


ALL_FAIL = codes()


# -- helpers that damage a session ---------------------------------------------------------------
def edit_meta(fn: Callable[[dict], None]) -> Build:
    def build(root: Path, outside: Path) -> None:
        meta = json.loads((root / "meta.json").read_text())
        fn(meta)
        (root / "meta.json").write_text(json.dumps(meta))
    return build


def set_chunk(i: int, key: str, value: object) -> Build:
    def fn(meta: dict) -> None:
        meta["chunks"][i][key] = value
    return edit_meta(fn)


def set_file(i: int, stem: str, value: str) -> Build:
    def fn(meta: dict) -> None:
        meta["chunks"][i]["files"][stem] = value
    return edit_meta(fn)


def set_top(key: str, value: object) -> Build:
    def fn(meta: dict) -> None:
        meta[key] = value
    return edit_meta(fn)


def write_meta_text(text: str) -> Build:
    def build(root: Path, outside: Path) -> None:
        (root / "meta.json").write_text(text)
    return build


def save(name: str, arr: np.ndarray) -> Build:
    def build(root: Path, outside: Path) -> None:
        np.save(root / name, arr, allow_pickle=True)
    return build


def transform(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Build:
    def build(root: Path, outside: Path) -> None:
        arr = np.load(root / name, allow_pickle=False)
        np.save(root / name, fn(arr))
    return build


def raw_bytes(name: str, fn: Callable[[bytes], bytes]) -> Build:
    def build(root: Path, outside: Path) -> None:
        p = root / name
        p.write_bytes(fn(p.read_bytes()))
    return build


def huge_header(name: str) -> Build:
    """A valid .npy header claiming 10**12 rows in front of a few bytes of data."""
    def build(root: Path, outside: Path) -> None:
        head = {"descr": "<i8", "fortran_order": False, "shape": (10**12,)}
        with open(root / name, "wb") as f:
            np.lib.format.write_array_header_1_0(f, head)
            f.write(b"\0" * 64)
    return build


def swap_rows(name: str, a: int, b: int) -> Build:
    def fn(arr: np.ndarray) -> np.ndarray:
        arr = arr.copy()
        arr[[a, b]] = arr[[b, a]]
        return arr
    return transform(name, fn)


def unlink(rel: str) -> Build:
    def build(root: Path, outside: Path) -> None:
        (root / rel).unlink()
    return build


def write(rel: str, data: bytes) -> Build:
    def build(root: Path, outside: Path) -> None:
        (root / rel).write_bytes(data)
    return build


def link_out(rel: str) -> Build:
    """Move ``rel`` (a file or folder) outside the session and leave a symlink to it."""
    def build(root: Path, outside: Path) -> None:
        src = root / rel
        dest = outside / ("linked_" + rel.replace("/", "_"))
        shutil.move(src, dest)
        if dest.is_dir():
            (dest / "unrelated.txt").write_text("not a frame: must never move\n")
        make_symlink(src, dest)
    return build


def sparse(rel: str, size: int) -> Build:
    """Grow ``rel`` to ``size`` bytes without writing them (a sparse file where possible)."""
    def build(root: Path, outside: Path) -> None:
        with open(root / rel, "r+b") as f:
            f.truncate(size)
    return build


def fifo(rel: str) -> Build:
    """Put a FIFO where ``rel`` is: opening it for reading waits for a writer forever."""
    def build(root: Path, outside: Path) -> None:
        (root / rel).unlink(missing_ok=True)
        os.mkfifo(root / rel)
    return build


def replace_by_dir(rel: str) -> Build:
    def build(root: Path, outside: Path) -> None:
        p = root / rel
        p.unlink()
        p.mkdir()
    return build


def journal_lines(*lines: str, chunk: int = 3, at: int = 3) -> Build:
    """Insert raw ``lines`` into the open chunk's journal before line ``at``."""
    def build(root: Path, outside: Path) -> None:
        p = root / f"journal_chunk_{chunk:03d}.jsonl"
        old = p.read_text().splitlines(keepends=True)
        p.write_text("".join(old[:at] + [ln + "\n" for ln in lines] + old[at:]))
    return build


def frame_line(**values: str) -> str:
    rec = {"kind": '"frame"', "row": "2", "index": "2", "t": "66666666", **values}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in rec.items()) + "}"


def both(*builds: Build) -> Build:
    def build(root: Path, outside: Path) -> None:
        for b in builds:
            b(root, outside)
    return build


def _nan_rows(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a[::2] = np.nan
    a[1::2] = np.inf
    return a


def _nan_values(ev: np.ndarray) -> np.ndarray:
    ev = ev.copy()
    ev["value"][::2] = np.nan
    ev["value"][1::2] = np.inf
    return ev


def _strange_devices(ev: np.ndarray) -> np.ndarray:
    ev = ev.copy()
    ev["device"] = "zzz"
    ev["code"] = "?"
    return ev


def _float_times(ev: np.ndarray) -> np.ndarray:
    dtype = [(n, np.float64 if n == "t_ns" else ev.dtype[n]) for n in ev.dtype.names]
    out = np.zeros(len(ev), dtype=dtype)
    for n in ev.dtype.names:
        out[n] = ev[n]
    return out


CASES: list[Case] = [
    # -- meta.json: wrong types and values anywhere ---------------------------------------------
    Case("meta-not-json", write_meta_text("{not json"), ALL_FAIL, says="meta.json"),
    Case("meta-array", write_meta_text("[]"), ALL_FAIL, says="meta.json"),
    Case("meta-nesting", write_meta_text("[" * 100_000), ALL_FAIL, says="meta.json"),
    # Read whole, a 3 GB meta.json is a MemoryError; it is refused by its size, unread.
    Case("meta-huge", sparse("meta.json", BIG_SPARSE), ALL_FAIL, says="meta.json is too large"),
    Case("meta-fifo", fifo("meta.json"), ALL_FAIL, says="is a FIFO (named pipe)"),
    Case("meta-dir", replace_by_dir("meta.json"), ALL_FAIL, says="meta.json is a directory"),
    # An unreadable lock may be a recorder still writing it: merge and convert refuse.
    Case("lock-fifo", fifo("session.lock"), codes(validate=0, preview=0), says="lock"),
    Case("num-frames-string", set_chunk(1, "num_frames", "4"), ALL_FAIL, says="num_frames"),
    Case("num-frames-negative", set_chunk(1, "num_frames", -5), ALL_FAIL, says="num_frames"),
    Case("num-frames-float", set_chunk(0, "num_frames", 5.0), ALL_FAIL, says="num_frames"),
    Case("num-frames-huge", set_chunk(1, "num_frames", 10**12), ALL_FAIL, says="chunk 2"),
    Case("num-frames-too-few", set_chunk(1, "num_frames", 2), ALL_FAIL, says="chunk 2"),
    Case("chunks-not-list", set_top("chunks", {"1": 2}), ALL_FAIL, says="chunks"),
    Case("layout-keys-number", set_top("layout", {"name": "x", "keys": 5}), ALL_FAIL,
         says="layout"),
    Case("fps-nan", set_top("fps", {"target": "NaN"}), ALL_FAIL, says="fps"),
    Case("pauses-bad", set_top("pauses", [{"start_tick": "a"}]), ALL_FAIL, says="pauses"),
    Case("schema-newer", set_top("schema_version", 99), ALL_FAIL, says="upgrade"),
    Case("frame-format-unknown", set_top("frame_format", {"kind": "zzz"}), ALL_FAIL,
         says="zzz"),
    Case("frame-format-ext-traversal",
         set_top("frame_format", {"kind": "video", "ext": "../../x"}), ALL_FAIL,
         says="frame_format"),
    Case("files-dotdot", set_file(1, "actions", "../outside/actions.npy"), ALL_FAIL,
         says="files.actions"),
    Case("files-absolute", set_file(1, "timestamps", "/etc/passwd"), ALL_FAIL,
         says="files.timestamps"),
    Case("files-backslash", set_file(0, "events", "..\\events.npy"), ALL_FAIL,
         says="files.events"),
    # -- chunk arrays: truncated, corrupt, wrong dtype/shape/length ------------------------------
    Case("npy-truncated", raw_bytes("actions_chunk_002.npy", lambda d: d[: len(d) * 2 // 3]),
         ALL_FAIL, says="actions_chunk_002.npy"),
    Case("npy-empty-file", write("timestamps_chunk_001.npy", b""), ALL_FAIL,
         says="timestamps_chunk_001.npy"),
    Case("npy-garbage", write("mouse_deltas_chunk_003.npy", b"\x93NUMPY\x01\x00garbage" * 9),
         ALL_FAIL, says="mouse_deltas_chunk_003.npy"),
    Case("npy-huge-shape", huge_header("frame_indices_chunk_002.npy"), ALL_FAIL,
         says="frame_indices_chunk_002.npy"),
    Case("npy-object", save("actions_chunk_001.npy", np.array([{"a": 1}], dtype=object)),
         ALL_FAIL, says="actions_chunk_001.npy"),
    Case("timestamps-int32", transform("timestamps_chunk_002.npy", lambda a: a.astype(np.int32)),
         ALL_FAIL, says="timestamps_chunk_002.npy"),
    Case("actions-float64", transform("actions_chunk_001.npy", lambda a: a.astype(np.float64)),
         ALL_FAIL, says="actions_chunk_001.npy"),
    Case("actions-wrong-k", transform("actions_chunk_003.npy", lambda a: a[:, :2].copy()),
         ALL_FAIL, says="actions_chunk_003.npy"),
    Case("timestamps-2d", transform("timestamps_chunk_001.npy", lambda a: a[:, None].copy()),
         ALL_FAIL, says="timestamps_chunk_001.npy"),
    Case("timestamps-scalar", save("timestamps_chunk_001.npy", np.int64(5)), ALL_FAIL,
         says="timestamps_chunk_001.npy"),
    Case("actions-short", transform("actions_chunk_002.npy", lambda a: a[:-1].copy()),
         ALL_FAIL, says="actions_chunk_002.npy"),
    Case("events-plain", save("events_chunk_002.npy", np.zeros(3)), ALL_FAIL,
         says="events_chunk_002.npy"),
    Case("events-missing", unlink("events_chunk_001.npy"), ALL_FAIL,
         says="events_chunk_001.npy"),
    Case("array-missing", unlink("mouse_deltas_chunk_002.npy"), ALL_FAIL,
         says="mouse_deltas_chunk_002.npy"),
    Case("mouse-deltas-nan", transform("mouse_deltas_chunk_001.npy", _nan_rows), ALL_FAIL,
         says="mouse_deltas_chunk_001.npy"),
    Case("gamepad-wrong-width", transform("gamepad_chunk_002.npy", lambda a: a[:, :5].copy()),
         ALL_FAIL, gamepad=True, says="gamepad_chunk_002.npy"),
    Case("gamepad-nan", transform("gamepad_chunk_001.npy", _nan_rows), ALL_FAIL,
         gamepad=True, says="gamepad_chunk_001.npy"),
    Case("gamepad-missing", unlink("gamepad_chunk_003.npy"), ALL_FAIL, gamepad=True,
         says="gamepad_chunk_003.npy"),
    Case("events-unsorted", transform("events_chunk_001.npy", lambda a: a[::-1].copy()),
         codes(merge=0, validate=0, convert=0, preview=0)),
    Case("events-nan-value", transform("events_chunk_002.npy", _nan_values), ALL_FAIL,
         says="events_chunk_002.npy"),
    Case("events-strange-device", transform("events_chunk_001.npy", _strange_devices),
         codes(merge=0, validate=0, convert=0, preview=0)),
    Case("events-float-times", transform("events_chunk_001.npy", _float_times), ALL_FAIL,
         says="events_chunk_001.npy"),
    # -- time order ------------------------------------------------------------------------------
    Case("timestamps-unsorted", swap_rows("timestamps_chunk_001.npy", 1, 3),
         codes(merge=0), says="timestamps"),
    Case("frame-indices-unsorted", swap_rows("frame_indices_chunk_002.npy", 0, 2),
         codes(merge=0), says="frame_indices"),
    Case("chunks-out-of-order",
         transform("timestamps_chunk_003.npy", lambda a: a - 10**10), codes(merge=0),
         says="timestamps"),
    # -- frames ----------------------------------------------------------------------------------
    Case("png-missing", unlink("frames/chunk_002/000003.png"),
         codes(convert=0), says="000003.png"),
    Case("png-corrupt", write("frames/chunk_001/000002.png", b"\x89PNG\r\n\x1a\nnot really"),
         codes(merge=0), says="000002.png"),
    Case("png-extra", write("frames/chunk_003/000009.png", b"\x89PNG"),
         codes(merge=0, convert=0, preview=0), says="000009.png"),
    Case("file-extra", write("frames/chunk_003/notes.txt", b"hello"),
         codes(merge=0, validate=0, convert=0, preview=0)),
    Case("frames-folder-missing",
         lambda root, out: shutil.rmtree(root / "frames" / "chunk_002"),
         codes(convert=0), says="chunk_002"),
    # -- symbolic links out of the session -------------------------------------------------------
    Case("link-frames-folder", link_out("frames/chunk_002"), ALL_FAIL, says="symbolic link"),
    Case("link-frames-folder-skip-bad", link_out("frames/chunk_002"), codes(merge=0),
         merge_args=("--skip-bad",), says="symbolic link"),
    Case("link-frames-root", link_out("frames"), ALL_FAIL, says="symbolic link"),
    Case("link-png", link_out("frames/chunk_001/000002.png"), ALL_FAIL, says="symbolic link"),
    Case("link-array", link_out("actions_chunk_002.npy"), ALL_FAIL, says="outside the session"),
    Case("link-meta", link_out("meta.json"), ALL_FAIL, says="meta.json"),
    Case("link-open-chunk-frames", link_out("frames/chunk_003"), codes(convert=0, preview=0),
         open_last=True, says="symbolic link"),
    Case("link-open-chunk-png", link_out("frames/chunk_003/000002.png"),
         codes(convert=0, preview=0), open_last=True, says="symbolic link"),
    Case("link-orphans", lambda root, out: make_symlink(root / "frames/chunk_003/orphans", out),
         codes(convert=0, preview=0), open_last=True, says="symbolic link"),
    # A complete chunk is read without its orphans folder: a link there blocks only repair.
    Case("link-orphans-complete", lambda root, out: make_symlink(
        root / "frames/chunk_001/orphans", out), codes(merge=0, validate=0, convert=0, preview=0)),
    Case("link-orphans-video", lambda root, out: make_symlink(root / "frames/orphans", out),
         codes(merge=0, validate=1, convert=0, preview=0), open_last=True, video=True,
         merge_args=("--skip-bad",), says="symbolic link"),
    Case("link-journal", link_out("journal_chunk_003.jsonl"), codes(convert=0, preview=0),
         open_last=True, says="journal_chunk_003.jsonl"),
    # -- journals (the open chunk) ---------------------------------------------------------------
    Case("journal-infinity", journal_lines(frame_line(t="Infinity")),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-nan-value", journal_lines(
        '{"kind": "event", "t": 5, "device": "key", "code": "w", "value": NaN}'),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-1e30", journal_lines(frame_line(t="1e30")),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-t-int-overflow", journal_lines(frame_line(t=str(10**30))),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-nested", journal_lines("[" * 100_000),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-huge-row", journal_lines(frame_line(row=str(10**30))),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-string-value", journal_lines(
        '{"kind": "event", "t": "x", "device": "key", "code": "w", "value": "abc"}',
        '{"kind": "pause", "start_tick": [1], "start_t": 2}',
        '{"kind": "state", "held": [1, 2]}', '"frame"', '{"kind": []}'),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    # Synthetic HELD presses (value 2) journaled before the chunk's first frame, one of them
    # older than the previous chunk, one of a key outside the layout with an absurd value.
    Case("journal-held-events", journal_lines(
        '{"kind": "event", "t": -5, "device": "key", "code": "w", "value": 2.0}',
        '{"kind": "event", "t": 5, "device": "pad_btn", "code": "south", "value": 2.0}',
        '{"kind": "event", "t": 5, "device": "key", "code": "zz", "value": 1e300}', at=2),
         codes(merge=0, convert=0, preview=0), open_last=True, repairs=True, says="journal"),
    Case("journal-only-no-frames",  # kill -9 before the first frame reached the disk
         lambda root, out: shutil.rmtree(root / "frames" / "chunk_001"),
         codes(merge=0, convert=1, preview=2), sizes=(5,), open_last=True, repairs=True,
         says="journal"),
    Case("journal-directory", both(unlink("journal_chunk_003.jsonl"),
                                   lambda root, out: (root / "journal_chunk_003.jsonl").mkdir()),
         codes(convert=0, preview=0), open_last=True, says="journal_chunk_003.jsonl"),
]


# -- video chunks (PyAV) -------------------------------------------------------------------------
def _make_video(root: Path, sizes: tuple[int, ...]) -> None:
    row = 0
    for i, n in enumerate(sizes, start=1):
        chunk_to_video(root, i, row, n)
        row += n
    meta = json.loads((root / "meta.json").read_text())
    meta["frame_format"] = {"kind": "video", "codec": "ffv1", "ext": "mkv"}
    for c in meta["chunks"]:
        c["files"]["frames"] = f"frames/chunk_{c['index']:03d}.mkv"
    (root / "meta.json").write_text(json.dumps(meta))


def _png_as_mkv(root: Path, outside: Path) -> None:
    import cv2

    _, png = cv2.imencode(".png", frame_image(0))
    (root / "frames" / "chunk_002.mkv").write_bytes(png.tobytes())


VIDEO_CASES: list[Case] = [
    Case("video-ok", lambda root, out: None, codes(0, 0, 0, 0), video=True),
    Case("video-short", lambda root, out: chunk_to_video(root, 2, 5, 2),
         codes(merge=0), video=True, says="chunk_002.mkv"),
    Case("video-png-inside", _png_as_mkv, codes(merge=0), video=True, says="chunk_002.mkv"),
    Case("video-link", link_out("frames/chunk_002.mkv"), ALL_FAIL, video=True,
         says="symbolic link"),
    Case("video-dir", both(unlink("frames/chunk_002.mkv"),
                           lambda root, out: (root / "frames/chunk_002.mkv").mkdir()),
         ALL_FAIL, video=True, says="chunk_002.mkv"),
    Case("video-open-link", link_out("frames/chunk_003.mkv"), codes(convert=0, preview=0),
         video=True, open_last=True, says="symbolic link"),
    Case("video-open-dir", both(unlink("frames/chunk_003.mkv"),
                                lambda root, out: (root / "frames/chunk_003.mkv").mkdir()),
         codes(convert=0, preview=0), video=True, open_last=True, says="chunk_003.mkv"),
]
try:
    import av  # noqa: F401

    CASES += VIDEO_CASES
except ImportError:  # pragma: no cover - the video extra is optional
    pass


# -- running -------------------------------------------------------------------------------------
def build_case(case: Case, tmp: Path) -> tuple[Path, Path]:
    root, outside = tmp / "s", tmp / "canary"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside the session: never touched\n")
    make_session(root, case.sizes, open_last=case.open_last, gamepad=case.gamepad)
    if case.video:
        _make_video(root, case.sizes)
    case.build(root, outside)
    return root, outside


def argv(cmd: str, case: Case, root: Path, tmp: Path) -> list[str]:
    if cmd == "merge":
        return ["merge", "--root", str(root), "--no-progress", *case.merge_args]
    if cmd == "validate":
        return ["validate", "--root", str(root)]
    if cmd == "convert":
        return ["convert", "--root", str(root), "--out", str(tmp / "out" / "x.pt"),
                "--seq-len", "2", "--img-size", "16", "--workers", "1", "--no-progress"]
    return ["preview", "--root", str(root), "--out", str(tmp / "preview"), "--width", "64",
            "--no-progress"]


_REPAIR = re.compile(r"(\w+_chunk_\d{3}\.npy|frames/chunk_\d{3}(\.\w+)?|frames/(chunk_\d{3}/)?"
                     r"orphans(/.*)?)$")


def check_tree(cmd: str, case: Case, before: dict[str, str], after: dict[str, str]) -> None:
    if cmd != "merge":
        assert after == before
        return
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    added, removed = after.keys() - before.keys(), before.keys() - after.keys()
    allowed = MERGE_OUTPUTS
    bad = {k for k in changed | added if k not in allowed}
    if case.repairs:
        bad = {k for k in bad if not _REPAIR.fullmatch(k)}
        moved = {after[k] for k in added if "orphans/" in k}
        lost = {k for k in removed if not k.startswith("journal_") and before[k] not in moved}
        assert not lost, f"merge removed {sorted(lost)}"
    else:
        assert not removed, f"merge removed {sorted(removed)}"
    assert not bad, f"merge changed {sorted(bad)}"


# convert writes a .pt: without torch (the Windows tier) it refuses every session alike.
@pytest.mark.parametrize("cmd", [pytest.param(c, marks=needs_torch) if c == "convert" else c
                                 for c in COMMANDS])
@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name, marks=[*([wine_lacks_symlinks] if "link" in c.name.split("-")
                                        else []),
                                      *([needs_fifo] if "fifo" in c.name.split("-") else []),
                                      *([needs_sparse] if c.name == "meta-huge" else [])])
    for c in CASES])
def test_damaged_session(case: Case, cmd: str, tmp_path: Path, capsys) -> None:
    root, outside = build_case(case, tmp_path)
    before, canary = tree(root), tree(outside)
    capsys.readouterr()
    rc = main(argv(cmd, case, root, tmp_path))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert rc == case.codes[cmd], (out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if cmd == "validate":
        if rc:
            assert case.says in out, out
    elif rc:
        assert len(lines) == 1, err
        assert lines[0].startswith(f"nitrogen-capture {cmd}: error: ")
        if cmd == "merge" or case.says in ("symbolic link", "outside the session"):
            assert case.says in lines[0] or "meta.json" in lines[0], lines[0]
    check_tree(cmd, case, before, tree(root))
    assert tree(outside) == canary, "the canary outside the session changed"
    assert not list((tmp_path / "out").glob("*.partial")) if (tmp_path / "out").exists() else True


# -- damaged batch manifests ---------------------------------------------------------------------
# A batch convert (docs/export.md, "Many sessions") reads its manifest as convert reads meta.json:
# damage is one line, the sessions are never touched, and the output is the clean run's or none.
# An incomplete batch rebuilds its manifest from the staged parts (exit 0, one "note:" line); a
# complete one refuses (exit 1), its output left as it was. tests/export/test_batch_manifest.py
# fuzzes it.
def _sessions_of(doc: dict) -> dict:
    return doc["sessions"]


MANIFEST_CASES: dict[str, tuple[bytes | Callable[[dict], None], str]] = {
    "empty": (b"", "it is empty"),
    "not JSON": (b'{"format": ', "not valid JSON"),
    "a list": (b"[]", "is not a batch manifest (a JSON object), got []"),
    "nested 100k deep": (b"[" * 100_000, "nested too deeply"),
    "unknown state": (lambda d: next(iter(_sessions_of(d).values())).update(state="bogus"),
                      "must be one of pending, done, failed, skipped, got 'bogus'"),
    "runs a string": (lambda d: d.update(runs="2"), "field 'runs' must be an integer >= 0"),
    "huge count": (lambda d: d.update(runs=10**30), "field 'runs' must be an integer in [0, "),
    "negative frames": (lambda d: next(iter(_sessions_of(d).values())).update(frames=-1),
                        ".frames' must be an integer >= 0"),
    "task id with ..": (lambda d: next(iter(_sessions_of(d).values())).update(
        tasks={"../../x": {"state": "done"}}), "must be a task id of this session"),
    "session not absolute": (lambda d: _sessions_of(d).update(s={"state": "done", "tasks": {}}),
                             "field 'sessions[s]' must be a session's absolute path"),
}


def _batch_argv(lib: Path, out: Path) -> list[str]:
    return ["convert", "--root", str(lib), "--recursive", "--out", str(out), "--format",
            "nitrogen-dataset", "--no-video", "--jobs", "1", "--no-progress"]


def _stop_at(name: str) -> Callable[[Any], Any]:
    from nitrogen_capture.export.batch.tasks import run_task

    def fn(job: Any) -> Any:
        if job.task.session.name == name:
            raise KeyboardInterrupt
        return run_task(job)
    return fn


@pytest.mark.parametrize("complete", [False, True], ids=["incomplete", "complete"])
@pytest.mark.parametrize("name", list(MANIFEST_CASES))
def test_damaged_batch_manifest(name: str, complete: bool, tmp_path: Path, capsys) -> None:
    from nitrogen_capture.export import ConvertSettings
    from nitrogen_capture.export.batch import BatchSettings, run_batch

    lib = tmp_path / "lib"
    make_session(lib / "s1", (30,), seed=1)
    make_session(lib / "s2", (30,), seed=2)
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert main(_batch_argv(lib, clean)) == 0
    if complete:
        assert main(_batch_argv(lib, out)) == 0
    else:  # Ctrl+C in s2: s1's part is staged
        conv = ConvertSettings(root=lib, out=out, format="nitrogen-dataset", video=False)
        with pytest.raises(KeyboardInterrupt):
            run_batch(BatchSettings(conv, (lib,), recursive=True, jobs=1), task_fn=_stop_at("s2"))
    damage, says = MANIFEST_CASES[name]
    man = out / "manifest.json"
    if isinstance(damage, bytes):
        man.write_bytes(damage)
    else:
        doc = json.loads(man.read_text(encoding="utf-8"))
        damage(doc)
        man.write_text(json.dumps(doc), encoding="utf-8")
    sessions, before = tree(lib), tree(out / "actions") if complete else {}
    capsys.readouterr()
    rc = main(_batch_argv(lib, out))
    stdout, err = capsys.readouterr()
    assert "Traceback" not in stdout + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if complete:
        assert rc == 1 and len(lines) == 1, (stdout, err)
        assert str(man) in lines[0] and says in lines[0] and "--overwrite" in lines[0], lines[0]
        assert tree(out / "actions") == before
    else:
        assert rc == 0 and not lines, (stdout, err)
        note = [ln for ln in stdout.splitlines() if ln.startswith("note: ")]
        assert len(note) == 1 and says in note[0] and "rebuilt from the parts" in note[0], note
        assert tree(out / "actions") == tree(clean / "actions")
    assert tree(lib) == sessions
