"""The parallel frame decoding of ``convert`` (export/decode.py): exact pixels, order, bounds."""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from pathlib import Path
from unittest import mock

import cv2
import fpng
import numpy as np
import pytest

from markers import needs_torch
from nitrogen_capture.errors import SessionFormatError
from nitrogen_capture.export import ConvertSettings, convert
from nitrogen_capture.export import decode as dec
from nitrogen_capture.export.nitrogen import obs_transform
from nitrogen_capture.export.source import ExportSource
from session_factory import H, W, chunk_to_video, make_session


def _picture(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(h // 4, 1), max(w // 4, 1), 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img[: h // 3, : w // 3] = rng.integers(0, 256, (h // 3, w // 3, 3), dtype=np.uint8)
    return np.ascontiguousarray(img)


def _fpng(bgr: np.ndarray) -> bytes:
    return bytes(fpng.from_ndarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))


@pytest.fixture(params=["default", "zlib"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with the installed inflater (ISA-L when there) and with stdlib zlib."""
    if request.param == "zlib":
        monkeypatch.setattr(dec, "_CODEC", [(zlib.decompress, zlib.crc32)])
    return str(request.param)


@pytest.mark.parametrize(("w", "h"), [(1, 1), (7, 5), (16, 12), (333, 101), (1280, 720)])
def test_fast_png_path_decodes_fpng_exactly(inflater: str, w: int, h: int) -> None:
    bgr = _picture(w, h, w * h)
    rgb = dec.decode_png_rgb(_fpng(bgr))
    assert rgb is not None and rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def test_other_pngs_fall_back_to_opencv_with_the_same_pixels(tmp_path: Path) -> None:
    bgr = _picture(64, 48, 1)
    t = dec.FrameTransform(lambda img: img.copy())
    for name, params in [("l1", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
                         ("l9", [cv2.IMWRITE_PNG_COMPRESSION, 9])]:
        ok, buf = cv2.imencode(".png", bgr, params)
        assert ok
        path = tmp_path / f"{name}.png"
        path.write_bytes(buf.tobytes())
        np.testing.assert_array_equal(dec.read_png_rgb(path, t), bgr)
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), bgr[:, :, 0])  # colour type 0: not the fast path
    assert dec.decode_png_rgb(gray.read_bytes()) is None
    np.testing.assert_array_equal(dec.read_png_rgb(gray, t), cv2.imread(str(gray)))


def test_damaged_png_is_refused_not_misread(tmp_path: Path) -> None:
    data = bytearray(_fpng(_picture(32, 24, 2)))
    assert dec.decode_png_rgb(bytes(data[:-20])) is None  # truncated
    flipped = bytearray(data)
    flipped[60] ^= 0xFF  # inside IDAT: its CRC no longer matches
    assert dec.decode_png_rgb(bytes(flipped)) is None
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data[:40]))
    with pytest.raises(SessionFormatError, match="cannot be decoded"):
        dec.read_png_rgb(path, dec.FrameTransform(lambda img: img))
    with pytest.raises(SessionFormatError, match="missing"):
        dec.read_png_rgb(tmp_path / "none.png", dec.FrameTransform(lambda img: img))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize(("w", "h", "size"), [(1280, 720, 256), (333, 101, 64), (16, 12, 8)])
def test_rgb_side_of_the_obs_transform_is_byte_identical(w: int, h: int, size: int,
                                                         dtype: str) -> None:
    t = obs_transform(size, dtype)
    bgr = _picture(w, h, 3)
    a, b = t.bgr(bgr), t.rgb(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert a.dtype == b.dtype and a.shape == (3, size, size) and a.tobytes() == b.tobytes()


def test_pool_keeps_order_and_never_exceeds_its_window() -> None:
    pool = dec.OrderedPool(3, window=5)
    live, most = [0], [0]
    lock = threading.Lock()
    pulled = [0]

    def job(i: int):  # type: ignore[no-untyped-def]
        def run() -> int:
            with lock:
                live[0] += 1
                most[0] = max(most[0], live[0])
            time.sleep(random.random() / 500)
            with lock:
                live[0] -= 1
            return i
        return run

    def jobs():  # type: ignore[no-untyped-def]
        for i in range(200):
            pulled[0] += 1
            yield job(i)

    out = []
    for k, r in enumerate(pool.map(jobs())):
        out.append(r)
        # Lazily pulled: never more than the window ahead of the consumer.
        assert pulled[0] <= k + 1 + pool.window
        assert pool.in_flight <= pool.window
        if k % 17 == 0:
            time.sleep(0.005)  # a slow consumer: workers must wait, not run ahead
    assert out == list(range(200))
    assert pool.peak == pool.window and most[0] <= 3
    assert pool.in_flight == 0


def test_pool_single_worker_and_errors() -> None:
    pool = dec.OrderedPool(1)
    assert list(pool.map(lambda i=i: i * 2 for i in range(5))) == [0, 2, 4, 6, 8]
    assert pool.peak == 1

    def boom() -> int:
        raise ValueError("bad frame")

    pool = dec.OrderedPool(2, window=3)
    got = []
    with pytest.raises(ValueError, match="bad frame"):
        for r in pool.map([lambda: 1, lambda: 2, boom, lambda: 4]):
            got.append(r)
    assert got == [1, 2] and pool.in_flight == 0


def _fpng_session(tmp_path: Path, sizes: tuple[int, ...]) -> Path:
    """A session whose PNGs are fpng's (the recorder's default), 16x12 as meta.json says."""
    b = make_session(tmp_path / "s", sizes, seed=5)
    row = 0
    for idx, n in enumerate(sizes, start=1):
        for r in range(n):
            b.paths.frame_png(idx, r + 1).write_bytes(_fpng(_picture(W, H, 100 + row)))
            row += 1
    return b.root


def _video_session(tmp_path: Path) -> Path:
    pytest.importorskip("av")
    b = make_session(tmp_path / "v", (9, 8), seed=6)
    chunk_to_video(b.root, 1, 0, 9)
    chunk_to_video(b.root, 2, 9, 8)
    meta = json.loads(b.paths.meta.read_text())
    meta["frame_format"] = {"kind": "video", "codec": "ffv1", "ext": "mkv"}
    for c in meta["chunks"]:
        c["files"]["frames"] = f"frames/chunk_{c['index']:03d}.mkv"
    b.paths.meta.write_text(json.dumps(meta))
    return b.root


def _both(root: Path, tmp: Path, **kw: object) -> tuple[bytes, bytes]:
    """The .pt of the parallel converter and of the store path (today's), same file name."""
    out = []
    for legacy in (True, False):
        st = ConvertSettings(root=root, out=tmp / ("legacy" if legacy else "new") / "x.pt",
                             seq_len=3, **kw)  # type: ignore[arg-type]
        if legacy:
            with mock.patch.object(ExportSource, "iter_frames", ExportSource.iter_frames_store):
                convert(st)
        else:
            convert(st)
        out.append(st.out.read_bytes())
    return out[0], out[1]


@needs_torch
@pytest.mark.parametrize("kw", [{"img_size": 8, "workers": 3},
                                {"img_size": 12, "obs_dtype": "float32", "workers": 1},
                                {"img_size": 8, "action_hz": 60.0, "shard_frames": 0,
                                 "workers": 2}])
def test_convert_is_byte_identical_to_the_store_path_png(tmp_path: Path,
                                                         kw: dict[str, object]) -> None:
    root = _fpng_session(tmp_path, (7, 6, 5))
    old, new = _both(root, tmp_path, **kw)
    assert old == new


@needs_torch
def test_convert_is_byte_identical_to_the_store_path_video(tmp_path: Path) -> None:
    root = _video_session(tmp_path)
    old, new = _both(root, tmp_path, img_size=8, workers=2)
    assert old == new


def test_session_frames_stay_within_the_window(tmp_path: Path) -> None:
    root = _fpng_session(tmp_path, (20, 20))
    src = ExportSource(ConvertSettings(root=root, out=tmp_path / "o.pt", workers=2))
    pool = dec.OrderedPool(2, window=4)
    rows = [(int(src.row_chunk[r]), int(src.chunk_row[r])) for r in range(40)]
    got = []
    for img in dec.iter_session_frames(src.reader, src.chunks, rows, dec.FrameTransform(
            lambda img: img), workers=2, pool=pool):
        got.append(img)
        assert pool.in_flight <= 4
    assert len(got) == 40 and pool.peak == 4
    for k, img in enumerate(got):
        np.testing.assert_array_equal(img, _picture(W, H, 100 + k))


def test_missing_video_frames_are_named(tmp_path: Path) -> None:
    root = _video_session(tmp_path)
    chunk_to_video(root, 2, 9, 5)  # 5 of 8 frames
    src = ExportSource(ConvertSettings(root=root, out=tmp_path / "o.pt", workers=2))
    with pytest.raises(SessionFormatError, match=r"has 5 frames, meta\.json says 8"):
        list(src.iter_frames(range(17), lambda img: img))


def test_opencv_threads_are_off_while_converting_and_restored(tmp_path: Path) -> None:
    root = _fpng_session(tmp_path, (6,))
    before = cv2.getNumThreads()
    src = ExportSource(ConvertSettings(root=root, out=tmp_path / "o.pt", workers=2))
    seen = []
    for _ in src.iter_frames(range(6), lambda img: img):
        seen.append(cv2.getNumThreads())
    assert seen == [1] * 6 and cv2.getNumThreads() == before


def test_absurd_png_header_is_left_to_opencv() -> None:
    data = bytearray(_fpng(_picture(8, 8, 4)))
    data[16:24] = (1 << 30).to_bytes(4, "big") + (1 << 30).to_bytes(4, "big")  # w, h
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # a valid IHDR CRC
    assert dec.decode_png_rgb(bytes(data)) is None
