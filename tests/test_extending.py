"""docs/extending.md's recipes, done: a toy frame store and a toy cue backend, each registered
from here in the real registry and used through the real factory and the code that calls it.

What the recipes promise, checked: a frame store is one class and one line in ``FRAME_STORES``,
after which the reader, validate, merge and ``convert`` handle its sessions with nothing else
changed (the toy session exports the same ``.pt`` as the PNG session it was made from); a cue
backend is one class and one line in ``CUE_FACTORIES``, after which ``get_cue_backend`` returns
it and the recorder's cues reach its ``_emit`` on the base class's worker thread.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from nitrogen_capture import cues
from nitrogen_capture.cli import main
from nitrogen_capture.cues import CUE_BACKENDS, CUE_FACTORIES, get_cue_backend
from nitrogen_capture.cues.base import CueBackend
from nitrogen_capture.errors import ConfigError, SessionFormatError
from nitrogen_capture.events import KEY
from nitrogen_capture.session import SessionReader, merge_session, validate_session
from nitrogen_capture.session.frames import FRAME_STORES, open_frame_store
from nitrogen_capture.session.frames.base import ERROR, WARNING, Finding, Frame, FrameStore, Size
from nitrogen_capture.session.meta_parts import FrameFormat
from recording import synthetic_recorder
from session_factory import make_session

MS = 1_000_000

if TYPE_CHECKING:
    from nitrogen_capture.codecs.jobs import EncoderSpec
    from nitrogen_capture.session.frames.base import EncodeSettings


# -- "## A frame store" ---------------------------------------------------------------------------
class NpyChunkStore(FrameStore):
    """A toy store: chunk ``n`` is ``frames/chunk_NNN.npy``, its frames as one (rows, h, w, 3)
    uint8 array. It reads, checks and trims; it records nothing (no encoder worker)."""

    kind: ClassVar[str] = "npy-toy"
    default_ext: ClassVar[str] = "npy"
    single_file: ClassVar[bool] = True

    @classmethod
    def new_format(cls, settings: EncodeSettings) -> FrameFormat:
        return FrameFormat(cls.kind, "numpy", cls.default_ext)

    def frame_target(self, n: int, row: int) -> Path:
        return self.location(n)

    def encoder_spec(self, *, workers: int, fps: float) -> EncoderSpec:
        raise ConfigError("the npy-toy frame store cannot record (it has no encoder worker)")

    def location(self, n: int) -> Path:
        return self.paths.frames_dir / f"chunk_{n:03d}.{self.ext}"

    def orphans_dir(self, n: int) -> Path:
        return self.paths.frames_dir / "orphans"

    def _array(self, n: int) -> npt.NDArray[np.uint8] | None:
        try:
            arr = np.load(self.location(n), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        ok = arr.dtype == np.uint8 and arr.ndim == 4 and arr.shape[3] == 3
        return arr if ok else None

    def count_on_disk(self, n: int) -> int:
        arr = self._array(n)
        return 0 if arr is None else len(arr)

    def frames_present(self, n: int, num_frames: int) -> npt.NDArray[np.bool_]:
        return np.arange(num_frames) < self.count_on_disk(n)

    def iter_frames(self, n: int, num_frames: int, size: Size,
                    ) -> Generator[Frame, None, None]:
        self.require_safe(n)
        arr = self._array(n)
        if arr is None or len(arr) < num_frames:
            raise SessionFormatError(f"{self.location(n)}: missing, or fewer than {num_frames} "
                                     f"frames", chunk=n, path=self.location(n))
        for row in range(num_frames):
            frame = np.array(arr[row])
            yield frame if size is None else frame[:size[1], :size[0]]

    def check(self, n: int, num_frames: int, size: Size, check_frames: bool) -> list[Finding]:
        have = self.count_on_disk(n)
        if have < num_frames:
            return [(ERROR, f"{self.location(n)}: {have} of {num_frames} frames")]
        if have > num_frames:
            return [(WARNING, f"{self.location(n)}: {have - num_frames} extra frames")]
        return []

    def trim(self, n: int, kept: int) -> tuple[str, ...]:
        arr = self._array(n)
        if arr is None or len(arr) <= kept:
            return ()
        rows = np.array(arr[:kept])
        del arr
        self.orphans_dir(n).mkdir(parents=True, exist_ok=True)
        aside = self.orphans_dir(n) / self.location(n).name
        k = 0
        while aside.exists():  # never overwrite what an earlier repair set aside
            k += 1
            aside = self.orphans_dir(n) / f"chunk_{n:03d}.{k}.{self.ext}"
        os.replace(self.location(n), aside)
        np.save(self.location(n), rows)
        return (aside.name,)


def _as_toy_session(src: Path, dst: Path) -> None:
    """Copy the PNG session ``src`` to ``dst`` with every chunk's frames in the toy store."""
    shutil.copytree(src, dst)
    meta = json.loads((dst / "meta.json").read_text())
    png = open_frame_store(src, meta["frame_format"])
    meta["frame_format"] = FrameFormat(NpyChunkStore.kind, "numpy", "npy").to_json()
    toy = open_frame_store(dst, meta["frame_format"])
    for c in meta["chunks"]:
        n = c["index"]
        frames = list(png.iter_frames(n, c["num_frames"], None))
        np.save(toy.location(n), np.stack(frames))
        shutil.rmtree(dst / png.relative_location(n))
        c["files"]["frames"] = toy.relative_location(n)
    (dst / "meta.json").write_text(json.dumps(meta, indent=2))


def _pt(capsys: pytest.CaptureFixture[str], root: Path, out: Path) -> dict[str, object]:
    torch = pytest.importorskip("torch")
    capsys.readouterr()
    argv = ["convert", "--root", str(root), "--out", str(out), "--seq-len", "4"]
    assert main(argv) == 0, capsys.readouterr()
    data = torch.load(out, weights_only=True)
    assert isinstance(data, dict)
    return data


def test_recipe_frame_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(FRAME_STORES, NpyChunkStore.kind, NpyChunkStore)  # the registry line
    built = make_session(tmp_path / "png", (5, 4, 3), seed=7)
    toy_root = tmp_path / "toy"
    _as_toy_session(built.root, toy_root)
    assert not (toy_root / "frames" / "chunk_001").exists()

    # The reader and validate go through the registry to the toy store.
    reader = SessionReader(toy_root)
    assert isinstance(reader.frame_store, NpyChunkStore)
    png_frames = [img for _, img in SessionReader(built.root).iter_frames()]
    toy_frames = [img for _, img in reader.iter_frames()]
    assert len(toy_frames) == 12 and png_frames[0].shape == toy_frames[0].shape
    assert all(np.array_equal(a, b) for a, b in zip(png_frames, toy_frames, strict=True))
    report = validate_session(toy_root)
    assert report.ok, report.problems

    # merge and convert know nothing of the kind: the .pt equals the PNG session's.
    merge_session(toy_root)
    merge_session(built.root)
    want = _pt(capsys, built.root, tmp_path / "png.pt")
    got = _pt(capsys, toy_root, tmp_path / "toy.pt")
    assert set(got) == set(want)
    for key in ("obs", "actions"):
        assert got[key].equal(want[key]), key  # type: ignore[attr-defined]

    # Damage is found by the store's own check, through validate.
    store = open_frame_store(toy_root, reader.meta.frame_format)
    np.save(store.location(2), np.stack(toy_frames[5:8]))  # chunk 2 lost its last frame
    assert [p.message for p in validate_session(toy_root).problems if p.level == ERROR] \
        and not validate_session(built.root).errors

    # Crash repair's side of the store: count what is whole, trim, never overwrite.
    assert store.count_on_disk(1) == 5
    assert store.trim(1, 3) == ("chunk_001.npy",)
    assert store.count_on_disk(1) == 3
    assert store.trim(1, 2) == ("chunk_001.1.npy",)
    assert np.array_equal(np.load(store.orphans_dir(1) / "chunk_001.npy")[4], png_frames[4])


def test_recipe_frame_store_unregistered_kind_is_one_clear_error(tmp_path: Path) -> None:
    """Without the registry line the same session is refused with its kind named."""
    built = make_session(tmp_path / "png", (3,), seed=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(FRAME_STORES, NpyChunkStore.kind, NpyChunkStore)
        _as_toy_session(built.root, tmp_path / "toy")
    with pytest.raises(SessionFormatError, match="'npy-toy' is not one this tool reads"):
        SessionReader(tmp_path / "toy").frame_store  # noqa: B018 - the property raises


# -- "## A cue backend" ---------------------------------------------------------------------------
class ListCue(CueBackend):
    """A toy cue backend: each cue is appended to :attr:`heard` on the worker thread."""

    name = "list"

    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []
        self.changed = threading.Condition()
        super().__init__()

    def _emit(self, event: str) -> None:
        with self.changed:
            self.heard.append((event, threading.current_thread().name))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[str]:
        """The events heard once ``count`` have arrived (fails after ``timeout_s``)."""
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.heard) >= count, timeout_s), self.heard
            return [event for event, _ in self.heard]


def test_recipe_cue_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(CUE_BACKENDS) <= set(CUE_FACTORIES)  # every choice has a factory
    made: list[bool] = []

    def factory(say_missing: bool) -> CueBackend:
        made.append(say_missing)
        return ListCue()

    with pytest.raises(ConfigError, match="got list"):
        get_cue_backend("list")
    monkeypatch.setitem(cues.CUE_FACTORIES, "list", factory)  # the registry line
    toy = get_cue_backend("list", say_missing=False)
    assert isinstance(toy, ListCue) and made == [False]

    # play() returns at once from the caller's thread; _emit runs on the backend's worker.
    t0 = time.perf_counter()
    toy.play("start")
    assert time.perf_counter() - t0 < 0.5
    assert toy.wait_for(1) == ["start"]
    assert toy.heard[0][1] == "cue-list" != threading.current_thread().name

    # The recorder's calls reach it: a real synthetic recording, paused and resumed by hotkeys.
    timeline = [(100 * MS, KEY, "f7", 1.0), (110 * MS, KEY, "f7", 0.0),
                (250 * MS, KEY, "f6", 1.0), (260 * MS, KEY, "f6", 0.0)]
    rec = synthetic_recorder(tmp_path / "s", timeline=timeline, max_frames=24)
    toy = rec.cue = get_cue_backend("list")
    assert isinstance(toy, ListCue)
    rec.run()
    assert toy.wait_for(4) == ["start", "pause", "resume", "stop"]
