"""Load a ``convert --format lerobot`` export with LeRobot itself (``make test-lerobot``).

Runs in the isolated environment built by ``scripts/lerobot_env.sh`` (LeRobot and its own torch;
not this package), so it imports nothing from ``nitrogen_capture``. Our side wrote
``expected.npz`` (``scripts/lerobot_expect.py``) from the export's parquet and its videos decoded
with PyAV; here ``LeRobotDataset(repo_id, root=DIR, video_backend="pyav")`` must give back:

* every episode and every frame (``len``, ``num_episodes``, the episode bounds);
* each frame decoded by LeRobot's own decoder at its ``timestamp``, within its ``tolerance_s``
  (a miss raises ``FrameTimestampError``), and the same picture (per-channel means within 2/255);
* ``action``, ``observation.state`` (and ``gamepad``) equal to our arrays, ``frame_is_repeat`` a
  bool equal to ours;
* ``delta_timestamps`` windows with ``*_is_pad`` at both episode edges, padded with the edge row.

Prints one line per check and ``lerobot check: N passed, M failed``; exits 1 on a failure.
Usage: ``python lerobot_check.py DATASET_DIR REPO_ID EXPECTED_NPZ``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

VIDEO_KEY = "observation.images.game"


def main(root: Path, repo_id: str, expected: Path) -> int:
    """Run the checks; return the exit code."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    exp = dict(np.load(expected))
    print(f"lerobot {metadata.version('lerobot')}, torch {metadata.version('torch')}")
    t0 = time.perf_counter()
    ds = LeRobotDataset(repo_id, root=root, video_backend="pyav")
    fps = ds.fps
    results: list[tuple[str, bool, str]] = []

    def check(name: str, fn: Callable[[], str]) -> None:
        try:
            results.append((name, True, fn()))
        except Exception as exc:  # a failed check is reported, the others still run
            results.append((name, False, f"{type(exc).__name__}: {exc}"))

    bounds = exp["episode_bounds"]

    def totals() -> str:
        assert ds.num_episodes == len(bounds), (ds.num_episodes, len(bounds))
        assert len(ds) == int(bounds[-1, 1]), (len(ds), bounds[-1, 1])
        for e, (a, b) in enumerate(bounds):
            ep = ds.meta.episodes[e]
            assert (ep["dataset_from_index"], ep["dataset_to_index"]) == (a, b), (e, ep)
        return f"{ds.num_episodes} episodes, {len(ds)} frames at {fps} fps"

    def frames() -> str:
        worst = 0.0
        for i in range(len(ds)):
            item = ds[i]
            img = item[VIDEO_KEY].numpy()
            assert img.shape == tuple(exp["frame_shape"]), (img.shape, exp["frame_shape"])
            assert img.min() >= 0.0 and img.max() <= 1.0
            means = img.reshape(3, -1).mean(axis=1)
            worst = max(worst, float(np.abs(means - exp["frame_means"][i]).max()))
            assert worst <= 2 / 255, (i, means, exp["frame_means"][i])
            assert abs(float(item["timestamp"]) - exp["timestamps"][i]) < 1e-6
            np.testing.assert_array_equal(item["action"].numpy(), exp["action"][i])
            if "gamepad" in exp:
                np.testing.assert_array_equal(item["gamepad"].numpy(), exp["gamepad"][i])
            if "state" in exp:  # observation.state, the row before's action by default
                np.testing.assert_array_equal(item["observation.state"].numpy(), exp["state"][i])
            if "frame_is_repeat" in exp:  # a bool feature, returned as a bool tensor
                flag = item["frame_is_repeat"]
                assert str(flag.dtype) == "torch.bool", flag.dtype
                assert bool(flag) == bool(exp["frame_is_repeat"][i]), (i, flag)
        return (f"{len(ds)} frames decoded by LeRobot (pyav) within tolerance_s="
                f"{ds.tolerance_s}; actions and states equal; picture means within "
                f"{worst * 255:.2f}/255")

    deltas = [-2, -1, 0, 1, 2]

    def windows() -> str:
        wds = LeRobotDataset(repo_id, root=root, video_backend="pyav", delta_timestamps={
            "action": [d / fps for d in deltas], VIDEO_KEY: [-1 / fps, 0.0]})
        checked = 0
        for a, b in bounds:
            for i in sorted({int(a), int(a) + 1, int(b) - 1}):
                item = wds[i]
                want_pad = [not (a <= i + d < b) for d in deltas]
                got_pad = item["action_is_pad"].tolist()
                assert got_pad == want_pad, (i, got_pad, want_pad)
                rows = [min(max(i + d, int(a)), int(b) - 1) for d in deltas]
                np.testing.assert_array_equal(item["action"].numpy(), exp["action"][rows])
                assert item[VIDEO_KEY].shape[0] == 2
                assert item[f"{VIDEO_KEY}_is_pad"].tolist() == [i - 1 < a, False]
                checked += 1
        return f"{checked} windows at the episode edges, padding as expected"

    check("totals", totals)
    check("frames", frames)
    check("delta_timestamps", windows)
    for name, ok, note in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {note}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"checked in {time.perf_counter() - t0:.1f} s")
    print(f"lerobot check: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: lerobot_check.py DATASET_DIR REPO_ID EXPECTED_NPZ")
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
