"""Frame stores (session/frames): both stores through the registry, the real encoder pool, the
one H.264 odd-size rule in every writer, crash-repair counting and trimming, validate's checks."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import session_factory
from nitrogen_capture.codecs.h264 import crop_to, even_size, pad_to_even
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.encoderpool.pool import EncodeResult, EncoderPool
from nitrogen_capture.errors import SessionFormatError
from nitrogen_capture.session import SessionReader, merge_session, validate_session
from nitrogen_capture.session.frames import (
    FRAME_STORES,
    EncodeSettings,
    MkvStore,
    PngFolderStore,
    frame_store_class,
    open_frame_store,
)
from nitrogen_capture.session.frames.base import FrameStore
from session_factory import make_session
from waiting import wait_until

av = pytest.importorskip("av")

ODD = (321, 241)


def _texture(row: int, w: int, h: int) -> np.ndarray:
    """A smooth frame (H.264 keeps it within a few levels) with a bright last column and row,
    so a crop that is off by one pixel shows."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (x * 200 // w + row * 3) % 256
    img[..., 1] = y * 200 // h
    img[..., 2] = 60 + (row * 5) % 100
    img[:, -1] = (250, 250, 250)
    img[-1, :] = (250, 250, 250)
    return img


def _write(store: FrameStore, frames: list[np.ndarray], chunk: int = 1,
           ) -> list[EncodeResult]:
    """Encode ``frames`` as chunk ``chunk`` through the real EncoderPool, as the recorder does."""
    results: list[EncodeResult] = []
    store.prepare_chunk(chunk)
    with EncoderPool(store.encoder_spec(workers=2, fps=30.0), 8, results.append) as pool:
        assert pool.wait_ready()
        for row, img in enumerate(frames):
            # every slot busy: wait, a test must not drop frames
            wait_until(lambda img=img, row=row: pool.submit(img, store.frame_target(chunk, row),
                                                            tag=chunk),
                       "a free slot", interval=0.005)
        assert pool.flush()
    assert not [r.error for r in results if r.error]
    return results


def _mkv_store(root: Path) -> FrameStore:
    # A store reads only EncodeSettings (the record settings build one: RecordConfig.encoding).
    settings = RecordConfig(out=root, frame_format="video", fps=30.0).encoding
    return open_frame_store(root, frame_store_class("video").new_format(settings))


def _decode(path: Path) -> tuple[tuple[int, int], list[np.ndarray]]:
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        return (ctx.width, ctx.height), [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def _close(a: np.ndarray, b: np.ndarray, tol: float = 3.0) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(int) - b.astype(int)).mean()) < tol


# -- registry -------------------------------------------------------------------------------------
def test_registry_names_both_stores_and_rejects_an_unknown_kind(tmp_path: Path) -> None:
    assert dict(FRAME_STORES) == {"png": PngFolderStore, "video": MkvStore}
    assert isinstance(open_frame_store(tmp_path, {}), PngFolderStore)  # older sessions: PNG
    with pytest.raises(SessionFormatError, match="frame_format kind 'av1'"):
        open_frame_store(tmp_path, {"kind": "av1"})

    b = make_session(tmp_path / "s", (2,))
    meta = json.loads(b.paths.meta.read_text())
    meta["frame_format"] = {"kind": "av1", "ext": "mkv"}
    b.paths.meta.write_text(json.dumps(meta))
    with pytest.raises(SessionFormatError, match="'av1'"):
        list(SessionReader(b.root).iter_frames())
    errors = [(p.where, p.message) for p in validate_session(b.root).errors]
    assert len(errors) == 1 and errors[0][0] == "meta.json" and "'av1'" in errors[0][1]


def test_extension_rule_reads_ext_then_container(tmp_path: Path) -> None:
    assert open_frame_store(tmp_path, {"kind": "video", "ext": "mkv"}).relative_location(2) \
        == "frames/chunk_002.mkv"
    old = open_frame_store(tmp_path, {"kind": "video", "container": "webm"})
    assert old.location(3) == tmp_path / "frames" / "chunk_003.webm"
    assert open_frame_store(tmp_path, {"kind": "video"}).location(1).suffix == ".mkv"


# -- round trips through the encoder pool ---------------------------------------------------------
def test_png_store_round_trip_is_bit_exact(tmp_path: Path) -> None:
    fmt = frame_store_class("png").new_format(EncodeSettings("png", 30.0, png_encoder="opencv"))
    assert fmt.to_json() == {"kind": "png", "encoder": "opencv", "ext": "png"}
    store = open_frame_store(tmp_path, fmt)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (ODD[1], ODD[0], 3), dtype=np.uint8) for _ in range(6)]
    results = _write(store, frames)
    assert sum(r.nbytes for r in results) == sum(
        p.stat().st_size for p in store.location(1).glob("*.png"))
    assert store.relative_location(1) == "frames/chunk_001"
    assert store.frames_present(1, 7).tolist() == [True] * 6 + [False]
    assert store.count_on_disk(1) == 6
    for got, want in zip(store.iter_frames(1, 6, ODD), frames, strict=True):
        np.testing.assert_array_equal(got, want)
    sums = list(store.map_frames(1, 6, ODD, [0, 3, 5], lambda f: int(f.sum()), workers=2))
    assert sums == [int(frames[r].sum()) for r in (0, 3, 5)]
    assert store.check(1, 6, ODD, True) == []


def test_bgra_frames_are_stored_as_their_bgr(tmp_path: Path) -> None:
    # The recorder hands the pool mss's BGRA (FrameSource.grab_raw); the slot converts it.
    store = open_frame_store(tmp_path, frame_store_class("png").new_format(
        RecordConfig(out=tmp_path, png_encoder="opencv").encoding))
    rng = np.random.default_rng(1)
    bgra = [rng.integers(0, 256, (ODD[1], ODD[0], 4), dtype=np.uint8) for _ in range(3)]
    mixed = [bgra[0], np.ascontiguousarray(bgra[1][:, :, :3]), bgra[2]]
    _write(store, mixed)
    for got, want in zip(store.iter_frames(1, 3, ODD), bgra, strict=True):
        np.testing.assert_array_equal(got, want[:, :, :3])


def test_mkv_store_round_trip_at_an_odd_size(tmp_path: Path) -> None:
    store = _mkv_store(tmp_path)
    assert store.single_file and store.ext == "mkv"
    frames = [_texture(r, *ODD) for r in range(12)]
    results = _write(store, frames)
    path = store.location(1)
    assert store.relative_location(1) == "frames/chunk_001.mkv"
    # Frame results carry the packets muxed so far, the closing result the rest of the file.
    assert [r.kind for r in results].count("closed") == 1
    assert sum(r.nbytes for r in results) == path.stat().st_size
    coded, _ = _decode(path)
    assert coded == even_size(*ODD) == (322, 242)
    got = list(store.iter_frames(1, 12, ODD))
    assert [g.shape for g in got] == [(241, 321, 3)] * 12
    assert all(_close(g, f) for g, f in zip(got, frames, strict=True))
    # The real last column survives the crop (a crop off by one would lose the bright edge).
    assert got[0][:, -1].mean() > 230 and got[0][-1, :].mean() > 230
    picked = list(store.map_frames(1, 12, ODD, [1, 4, 11], lambda f: f))
    assert all(_close(g, frames[r]) for g, r in zip(picked, (1, 4, 11), strict=True))
    with pytest.raises(SessionFormatError, match=r"has 12 frames, meta\.json says 13"):
        list(store.iter_frames(1, 13, ODD))
    assert store.frames_present(1, 3).all() and store.count_on_disk(1) == 12
    assert store.check(1, 12, ODD, True) == []


def test_odd_size_helpers_pad_by_replication_and_crop_back() -> None:
    img = _texture(0, 5, 3)
    padded = pad_to_even(img)
    assert padded.shape == (4, 6, 3)
    np.testing.assert_array_equal(padded[:3, 5], img[:, 4])
    np.testing.assert_array_equal(padded[3, :5], img[2])
    np.testing.assert_array_equal(crop_to(padded, (5, 3)), img)
    assert pad_to_even(padded) is padded and crop_to(padded, None) is padded


# -- the other H.264 writers follow the same rule --------------------------------------------------
@pytest.fixture
def odd_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A merged 321x241 PNG session of 20 textured frames (30 fps)."""
    monkeypatch.setattr(session_factory, "W", ODD[0])
    monkeypatch.setattr(session_factory, "H", ODD[1])
    b = make_session(tmp_path / "odd", (20,), seed=3)
    for row in range(20):
        cv2.imwrite(str(b.paths.frame_png(1, row + 1)), _texture(row, *ODD))
    merge_session(b.root)
    return b.root


def test_dataset_video_is_padded_and_crops_back_to_the_real_size(odd_session: Path,
                                                                  tmp_path: Path) -> None:
    from nitrogen_capture.export import ConvertSettings, convert

    out = tmp_path / "ds"
    convert(ConvertSettings(root=odd_session, out=out, format="nitrogen-dataset"))
    (folder,) = (out / "actions" / "SHARD_0000" / "odd").iterdir()
    meta = json.loads((folder / "metadata.json").read_text())
    h, w = meta["original_video"]["resolution"]
    assert (w, h) == ODD
    coded, frames = _decode(folder / "video.mp4")
    assert coded == (322, 242) and len(frames) == meta["chunk_size"]
    first = crop_to(frames[0], (w, h))
    assert _close(first, _texture(meta["source_rows"][0], *ODD))
    np.testing.assert_allclose(frames[0][:h, w].astype(int), frames[0][:h, w - 1], atol=12)


def test_preview_video_is_padded_and_crops_back_to_the_overlay_size(odd_session: Path,
                                                                     tmp_path: Path) -> None:
    from nitrogen_capture.preview import load_series, select_span
    from nitrogen_capture.preview.video import write_video

    reader = SessionReader(odd_session)
    series = load_series(reader)
    span = select_span(series, 0.0, 10.0, 1)
    hud = write_video(reader, series, span, tmp_path / "p.mp4", width=ODD[0])
    assert (hud.width, hud.frame_h) == ODD and hud.height % 2 == 1  # an odd overlay size
    coded, frames = _decode(tmp_path / "p.mp4")
    assert coded == even_size(hud.width, hud.height) and len(frames) == 20
    real = crop_to(frames[5], (hud.width, hud.height))
    assert real.shape == (hud.height, hud.width, 3)
    # The session frame at the top is unscaled at this width; compare away from the row label.
    assert _close(real[60:ODD[1], 60:], _texture(5, *ODD)[60:, 60:], tol=4.0)


# -- crash repair: counting and trimming ----------------------------------------------------------
def test_mkv_count_on_disk_after_truncation_and_trim_to_orphans(tmp_path: Path) -> None:
    store = _mkv_store(tmp_path)
    _write(store, [_texture(r, 64, 48) for r in range(90)])
    path = store.location(1)
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) * 6 // 10])  # a kill -9 mid-file: no index, torn tail
    kept = store.count_on_disk(1)
    assert 0 < kept < 90
    torn = path.read_bytes()
    assert store.trim(1, kept) == ("chunk_001.mkv",)
    assert (store.orphans_dir(1) / "chunk_001.mkv").read_bytes() == torn  # the original, kept
    assert store.count_on_disk(1) == kept and store.check(1, kept, (64, 48), True) == [
        ("info", "orphans/ holds the original file set aside by crash recovery")]
    assert len(list(store.iter_frames(1, kept, (64, 48)))) == kept
    # A second crash of the same chunk: the first original is never overwritten.
    store.trim(1, kept - 5)
    assert (store.orphans_dir(1) / "chunk_001.mkv").read_bytes() == torn
    assert (store.orphans_dir(1) / "chunk_001.1.mkv").is_file()
    assert store.count_on_disk(1) == kept - 5
    assert store.count_on_disk(2) == 0  # no file at all


def test_png_trim_moves_the_rest_to_orphans_without_overwriting(tmp_path: Path) -> None:
    store = open_frame_store(tmp_path, {"kind": "png"})
    store.prepare_chunk(1)
    for row in range(5):
        cv2.imwrite(str(store.frame_target(1, row)), _texture(row, 8, 6))
    (store.location(1) / ".000006.png.tmp").write_bytes(b"half")  # a torn temporary
    assert store.count_on_disk(1) == 5
    assert store.trim(1, 3) == (".000006.png.tmp", "000004.png", "000005.png")
    assert store.count_on_disk(1) == 3
    first = (store.orphans_dir(1) / "000004.png").read_bytes()
    cv2.imwrite(str(store.frame_target(1, 3)), _texture(9, 8, 6))  # crashed again at row 3
    assert store.trim(1, 3) == ("000004.png",)
    assert (store.orphans_dir(1) / "000004.png").read_bytes() == first
    assert (store.orphans_dir(1) / "000004.1.png").is_file()
    assert store.trim(2, 0) == ()  # no folder: nothing to do


# -- validate's checks ----------------------------------------------------------------------------
def test_png_check_names_missing_extra_and_truncated_frames(tmp_path: Path) -> None:
    store = open_frame_store(tmp_path, {"kind": "png"})
    folder = store.location(1)
    assert store.check(1, 4, (8, 6), True) == [("error", f"frame folder {folder} is missing")]
    store.prepare_chunk(1)
    for row in range(4):
        cv2.imwrite(str(store.frame_target(1, row)), _texture(row, 8, 6))
    store.frame_target(1, 1).unlink()                                    # missing
    (folder / "000009.png").write_bytes(store.frame_target(1, 0).read_bytes())  # extra
    (folder / "notes.txt").write_text("x")                               # extra, not a frame
    data = store.frame_target(1, 2).read_bytes()
    store.frame_target(1, 2).write_bytes(data[:len(data) // 2])          # truncated
    found = store.check(1, 4, (9, 6), True)
    assert found[:2] == [
        ("error", f"1 frames missing: 000002.png in {folder}"),
        ("error", f"2 extra files without rows: 000009.png, notes.txt in {folder}")]
    assert found[2][0] == "error" and "undecodable frames" in found[2][1]
    assert "000003.png truncated (no IEND trailer)" in found[2][1]
    assert found[3:] == [("warning", "frames are 8x6, meta.json says 9x6")]
    assert store.check(1, 4, (9, 6), False) == found[:2]  # headers only read on request
    (folder / "notes.txt").unlink()
    assert store.check(1, 4, None, False)[1] == (
        "error", f"1 extra files without rows: 000009.png in {folder}")


def test_mkv_check_names_missing_short_and_undecodable_files(tmp_path: Path) -> None:
    store = _mkv_store(tmp_path)
    path = store.location(1)
    assert store.check(1, 3, (64, 48), True) == [("error", f"video {path} is missing")]
    _write(store, [_texture(r, 64, 48) for r in range(3)])
    assert store.check(1, 3, (64, 48), True) == []
    assert store.check(1, 4, (64, 48), True) == [
        ("error", "chunk_001.mkv has 3 frames, meta.json says 4")]
    assert store.check(1, 3, (80, 48), True) == [
        ("warning", "frames are 64x48, meta.json says 80x48")]
    path.write_bytes(b"not a video" * 100)
    ((level, message),) = store.check(1, 3, (64, 48), True)
    assert level == "error" and message.startswith("chunk_001.mkv fails to decode after 0 frames")
    assert store.check(1, 3, (64, 48), False) == []  # existence only
