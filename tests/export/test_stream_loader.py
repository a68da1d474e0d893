"""The streaming loaders: window for window equal to what ``convert`` writes, cache, workers.

Sessions are recorded by the real recorder (``record --source synthetic``, PNG and video, 60 fps,
chunks of 50 frames so windows cross chunk files) and converted by the real ``convert``; the
``.pt`` is read back with :class:`NitrogenDataset` and compared with the streaming loader in a
shuffled order (so the video decoder seeks). The dataset tree is compared with ``convert
--action-hz 60`` of a session whose captures sit exactly on the 60 Hz grid (the tree's rows).
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from markers import needs_torch
from nitrogen_capture.cli import main
from nitrogen_capture.errors import ConfigError, ExportError
from nitrogen_capture.export import (
    ConvertSettings,
    DatasetTreeDataset,
    NitrogenDataset,
    StreamingDataset,
    convert,
    load,
)
from nitrogen_capture.export.framecache import FrameCache
from session_factory import make_session

pytestmark = needs_torch
torch = pytest.importorskip("torch")

# H.264 (crf 18) of the tree's video.mp4 against the session's PNGs (two grey halves), after
# the resize: the largest difference of one value, measured 1/255 (docs/loading.md).
TREE_OBS_ATOL = 2 / 255


def _record(out: Path, frame_format: str) -> Path:
    code = main(["record", "--source", "synthetic", "--out", str(out), "--region", "0", "0",
                 "96", "64", "--fps", "60", "--chunk-size", "50", "--max-frames", "130",
                 "--frame-format", frame_format, "--start-immediately", "--status-interval", "0"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("stream")
    return {fmt: _record(base / fmt, fmt) for fmt in ("png", "video")}


def _convert(root: Path, out: Path, *flags: str) -> NitrogenDataset:
    assert main(["convert", "--root", str(root), "--out", str(out), *flags]) == 0
    return NitrogenDataset(out)


def _same(ref: object, ds: object, order: list[int]) -> None:
    for i in order:
        a_obs, a_act = ref[i]  # type: ignore[index]
        b_obs, b_act = ds[i]  # type: ignore[index]
        assert b_obs.dtype == torch.float32 and b_obs.shape == a_obs.shape
        assert torch.equal(a_obs, b_obs), f"window {i}: obs differ"
        assert torch.equal(a_act, b_act), f"window {i}: actions differ"


def _shuffled(n: int, seed: int = 0) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


@pytest.mark.parametrize("fmt", ["png", "video"])
def test_equals_the_pt_window_for_window(sessions: dict[str, Path], tmp_path: Path,
                                         fmt: str) -> None:
    flags = ("--img-size", "32", "--seq-len", "4", "--action-shift", "1",
             "--latency-offset-ms", "4", "--drop-idle-seconds", "1")
    ref = _convert(sessions[fmt], tmp_path / "s.pt", *flags)
    ds = StreamingDataset(sessions[fmt], img_size=32, seq_len=4, action_shift=1,
                          latency_offset_ms=4, drop_idle_seconds=1.0)
    assert len(ds) == len(ref) > 60  # fewer when a busy machine drops ticks
    _same(ref, ds, _shuffled(len(ds)))
    raw = load(tmp_path / "s.pt")  # the stored uint8 too, and the meta's window rows
    for i in (0, 49, len(ds) - 1):
        obs, _ = ds.window(i)
        assert obs.dtype == np.uint8 and np.array_equal(obs, raw["obs"][i].numpy())
        assert ds.repeated_frames(i) == ref.repeated_frames(i)
    assert ds.rows.tolist() == raw["meta"]["windows"]["row"]
    assert ds.meta["action_names"] == raw["meta"]["action_names"]
    stats = ds.cache_stats()  # every observation decoded once, kept, within the bound
    assert stats["entries"] == len(ds) and stats["bytes"] <= stats["max_bytes"]
    _same(ref, ds, range(len(ds)))  # warm: no decode
    assert ds.cache_stats()["misses"] == stats["misses"]


def test_video_seeks_resampled_float_cut_and_stride(sessions: dict[str, Path],
                                                    tmp_path: Path) -> None:
    """No cache, shuffled: every window is decoded by a seek; the exporter's other settings."""
    ref = _convert(sessions["video"], tmp_path / "hz.pt", "--img-size", "24", "--seq-len", "3",
                   "--action-hz", "30", "--obs-dtype", "float32", "--max-repeat-frames", "0")
    settings = ConvertSettings(root=Path("ignored"), out=tmp_path / "unused.pt", img_size=24,
                               seq_len=3, action_hz=30, obs_dtype="float32",
                               max_repeat_frames=0)
    ds = StreamingDataset(sessions["video"], settings, cache_bytes=0, stride=3)
    assert len(ds) == -(-len(ref) // 3)
    order = _shuffled(len(ds), 1)
    for i in order:
        a, b = ref[3 * i], ds[i]
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]), i
        assert ds.window(i)[0].dtype == np.float32
    seeks = sum(v.seeks for v in ds._files._videos.values())
    assert seeks > len(ds) // 2 and ds.cache_stats()["entries"] == 0
    assert not (tmp_path / "unused.pt").exists()


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_and_pickling(sessions: dict[str, Path], tmp_path: Path,
                                         context: str) -> None:
    ref = _convert(sessions["video"], tmp_path / "w.pt", "--img-size", "16", "--seq-len", "2")
    gone = StreamingDataset(sessions["video"], img_size=16, seq_len=2)
    gone[9]
    del gone  # its decoder waits for the garbage collector: it must not be freed in a child
    ds = StreamingDataset(sessions["video"], img_size=16, seq_len=2)
    ds[5]  # the parent has opened a decoder and cached one frame: neither is pickled
    blob = pickle.dumps(ds)
    assert len(blob) < 200 * len(ds) + 20_000
    copy = pickle.loads(blob)
    assert copy._files is None and copy.cache_stats()["entries"] == 0
    loader = torch.utils.data.DataLoader(ds, batch_size=16, num_workers=2,
                                         multiprocessing_context=context)
    obs = torch.cat([b[0] for b in loader])
    acts = torch.cat([b[1] for b in loader])
    assert torch.equal(obs, torch.stack([ref[i][0] for i in range(len(ref))]))
    assert torch.equal(acts, torch.stack([ref[i][1] for i in range(len(ref))]))


def test_cache_is_bounded_and_least_recently_used() -> None:
    cache = FrameCache(300)
    a, b, c = (np.zeros(100, np.uint8) for _ in range(3))
    for k, v in zip("abc", (a, b, c), strict=True):
        cache.put(k, v)
    assert cache.get("a") is a  # now the most recent
    cache.put("d", np.zeros(100, np.uint8))
    assert "b" not in cache and {"a", "c", "d"} <= {k for k in "abcd" if k in cache}
    assert cache.bytes == 300
    cache.put("big", np.zeros(301, np.uint8))  # larger than the bound: never kept
    assert "big" not in cache and cache.bytes == 300
    assert FrameCache(0).max_bytes == 0
    with pytest.raises(ValueError):
        FrameCache(-1)


def test_a_small_cache_stays_within_its_bound(sessions: dict[str, Path]) -> None:
    one = 3 * 16 * 16
    ds = StreamingDataset(sessions["png"], img_size=16, seq_len=2, cache_bytes=5 * one)
    for i in _shuffled(len(ds), 3):
        ds[i]
        assert ds.cache_stats()["bytes"] <= 5 * one
    assert ds.cache_stats()["entries"] == 5


def _two_greys(row: int) -> np.ndarray:
    """A 16x12 frame of two grey halves whose levels jump from row to row (a wrong frame shows)."""
    img = np.zeros((12, 16, 3), np.uint8)
    img[:, :8] = (row * 37) % 256
    img[:, 8:] = (row * 91 + 50) % 256
    return img


def _tree_session(root: Path, sizes: tuple[int, ...], seed: int) -> Path:
    # Captures exactly on the 60 Hz grid: the tree's rows are the captures.
    return make_session(root, sizes, fps=60, jitter_ns=0, seed=seed, image=_two_greys).root


def test_dataset_tree_equals_the_pt_at_60_hz(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 40 rows: windows cross chunk folders inside a run.
    monkeypatch.setattr("nitrogen_capture.export.dataset_tree.CHUNK_ROWS", 40)
    one = _tree_session(tmp_path / "one", (60, 60), seed=4)
    two = _tree_session(tmp_path / "two", (80,), seed=9)
    tree = tmp_path / "tree"
    for root in (one, two):
        convert(ConvertSettings(root=root, out=tree, format="nitrogen-dataset"))
    kw = {"img_size": 8, "seq_len": 5, "action_shift": 2}
    want_obs, want_acts = [], []
    for root in (one, two):
        ref = _convert(root, tmp_path / f"{root.name}.pt", "--img-size", "8", "--seq-len", "5",
                       "--action-shift", "2", "--action-hz", "60")
        want_obs += [ref[i][0] for i in range(len(ref))]
        want_acts += [ref[i][1] for i in range(len(ref))]
    ds = DatasetTreeDataset(tree, **kw)
    assert ds.meta["sessions"] == ["one", "two"] and ds.meta["chunks"] == 5
    assert len(ds) == len(want_acts) == (120 - 6) + (80 - 6)
    worst = 0.0
    for i in _shuffled(len(ds), 5):
        obs, acts = ds[i]
        assert torch.equal(acts, want_acts[i]), f"window {i}: actions differ"
        worst = max(worst, float((obs - want_obs[i]).abs().max()))
        near = [j for j in range(max(0, i - 3), min(len(ds), i + 4)) if j != i]
        assert all(float((obs - want_obs[j]).abs().max()) > TREE_OBS_ATOL for j in near)
    assert worst <= TREE_OBS_ATOL
    same = StreamingDataset(tree, cache_bytes=0, **kw)  # a tree given to the streaming loader
    assert len(same) == len(ds) and torch.equal(same[7][1], ds[7][1])
    with pytest.raises(ConfigError, match="nitrogen action space"):
        DatasetTreeDataset(tree, action_space="raw")
    with pytest.raises(ConfigError, match="60 Hz"):
        DatasetTreeDataset(tree, action_hz=30)


def test_bad_input_is_one_clear_error(sessions: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        StreamingDataset(sessions["png"], img_sise=32)
    with pytest.raises(ConfigError, match="stride"):
        StreamingDataset(sessions["png"], stride=0)
    with pytest.raises(ConfigError, match="--seq-len"):
        StreamingDataset(sessions["png"], seq_len=0)
    with pytest.raises(ExportError, match="no window"):
        StreamingDataset(sessions["png"], seq_len=200)
    (tmp_path / "empty" / "actions").mkdir(parents=True)
    with pytest.raises(ExportError, match="no complete chunk"):
        DatasetTreeDataset(tmp_path / "empty")


def test_a_torn_video_chunk_is_one_clear_error(sessions: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from nitrogen_capture.errors import SessionFormatError

    root = tmp_path / "torn"
    shutil.copytree(sessions["video"], root)
    ref = _convert(root, tmp_path / "t.pt", "--img-size", "16", "--seq-len", "2")
    ds = StreamingDataset(root, img_size=16, seq_len=2, cache_bytes=0)
    mkv = root / "frames" / "chunk_002.mkv"
    mkv.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 3])  # cut after the convert
    in_two = [i for i in range(len(ds)) if ds.keys[i, 0] == 2]
    with pytest.raises(SessionFormatError, match=r"chunk_002\.mkv"):
        for i in reversed(in_two):
            ds[i]
    first = [i for i in range(len(ds)) if ds.keys[i, 0] == 1]
    _same(ref, ds, first[::7])  # the other chunks still read, and right
