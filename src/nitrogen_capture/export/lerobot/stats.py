"""Feature statistics of a LeRobot dataset: per episode, then merged into ``meta/stats.json``.

Each statistic is what LeRobot's ``compute_stats`` gives (docs/export.md, "LeRobot"): ``min``,
``max``, ``mean``, ``std``, ``count`` and the quantiles ``q01 q10 q50 q90 q99``.

* Numeric features (``observation.state``, ``action``, ``gamepad``, ``frame_is_repeat`` as
  0/1, the bookkeeping columns): per dimension over the episode's rows, shape ``(D,)``
  (``(1,)`` for a scalar column); the rows of one episode are in memory anyway (~200 bytes a
  row).
* The video: per channel (R, G, B) in [0, 1], shape ``(3, 1, 1)``, over a subsample of the
  episode's frames chosen as LeRobot chooses it (:func:`sample_rows`), each frame strided down to
  about 150 px as LeRobot does; ``count`` is the number of frames sampled. Pixels are counted in
  a 256-bin histogram per channel, so memory stays flat and the quantiles are exact.

The dataset's stats merge the episodes' with LeRobot's own rule (:func:`aggregate`): min of mins,
max of maxes, count-weighted means, the parallel-variance formula for std and count-weighted
quantiles. Appending merges the new episodes into the existing stats.json the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["QUANTILES", "ImageStats", "Stats", "aggregate", "check_stats", "episode_columns",
           "numeric_stats", "sample_rows", "stats_from_json", "stats_to_json"]

QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)
Q_KEYS: tuple[str, ...] = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
Stats = dict[str, npt.NDArray[np.float64]]


def sample_rows(n: int) -> npt.NDArray[np.int64]:
    """The rows of an ``n``-frame episode whose frames feed the image stats.

    LeRobot's choice: ``n ** 0.75`` of them, at least 100 (or all), at most 10,000, evenly spread.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    k = max(min(100, n), min(int(n ** 0.75), 10_000))
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))


def numeric_stats(values: npt.ArrayLike) -> Stats:
    """Stats of an ``(N,)`` or ``(N, D)`` array over its rows (``(1,)`` or ``(D,)`` each)."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    out: Stats = {"min": a.min(axis=0), "max": a.max(axis=0), "mean": a.mean(axis=0),
                  "std": a.std(axis=0), "count": np.array([len(a)], dtype=np.float64)}
    qs = np.quantile(a, QUANTILES, axis=0)
    for key, q in zip(Q_KEYS, qs, strict=True):
        out[key] = q
    return out


def _downsample(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    # LeRobot's auto_downsample_height_width: frames 300 px or larger are strided to ~150 px.
    h, w = img.shape[:2]
    if max(w, h) < 300:
        return img
    step = int(max(w, h) / 150)
    return img[::step, ::step]


class ImageStats:
    """Per-channel pixel histograms of the sampled frames of one episode."""

    def __init__(self) -> None:
        self.hist = np.zeros((3, 256), dtype=np.int64)
        self.frames = 0

    def add_bgr(self, img: npt.NDArray[np.uint8]) -> None:
        """Count one BGR frame's pixels (stored as R, G, B: the order LeRobot decodes)."""
        small = _downsample(img)
        for c in range(3):
            self.hist[2 - c] += np.bincount(small[..., c].ravel(), minlength=256)
        self.frames += 1

    def stats(self) -> Stats:
        """The episode's image stats, each ``(3, 1, 1)`` in [0, 1] (``count`` ``(1,)``)."""
        levels = np.arange(256, dtype=np.float64) / 255.0
        total = self.hist.sum(axis=1).astype(np.float64)
        mean = (self.hist * levels).sum(axis=1) / total
        var = (self.hist * (levels[None, :] - mean[:, None]) ** 2).sum(axis=1) / total
        nz = self.hist > 0
        lo = levels[np.argmax(nz, axis=1)]
        hi = levels[255 - np.argmax(nz[:, ::-1], axis=1)]
        cum = np.cumsum(self.hist, axis=1)
        out: Stats = {"min": lo, "max": hi, "mean": mean, "std": np.sqrt(var)}
        for key, q in zip(Q_KEYS, QUANTILES, strict=True):
            # The level where the cumulative count first reaches q of the pixels.
            idx = np.array([np.searchsorted(cum[c], q * total[c]) for c in range(3)])
            out[key] = levels[np.minimum(idx, 255)]
        out = {k: v.reshape(3, 1, 1) for k, v in out.items()}
        out["count"] = np.array([self.frames], dtype=np.float64)
        return out


def aggregate(parts: list[dict[str, Stats]]) -> dict[str, Stats]:
    """Merge per-episode (or per-dataset) stats into one, feature by feature (LeRobot's rule)."""
    out: dict[str, Stats] = {}
    for key in dict.fromkeys(k for p in parts for k in p):
        items = [p[key] for p in parts if key in p]
        counts = np.stack([s["count"] for s in items]).astype(np.float64)
        means = np.stack([s["mean"] for s in items])
        w = counts.reshape(counts.shape[0], *([1] * (means.ndim - 1)))
        total = counts.sum(axis=0)  # (1,)
        tw = float(total[0])
        mean = (means * w).sum(axis=0) / tw
        var = ((np.stack([s["std"] for s in items]) ** 2 + (means - mean) ** 2) * w).sum(
            axis=0) / tw
        merged: Stats = {"min": np.min(np.stack([s["min"] for s in items]), axis=0),
                         "max": np.max(np.stack([s["max"] for s in items]), axis=0),
                         "mean": mean, "std": np.sqrt(var), "count": total}
        for q in Q_KEYS:
            if all(q in s for s in items):
                merged[q] = (np.stack([s[q] for s in items]) * w).sum(axis=0) / tw
        out[key] = merged
    return out


def _plain(v: npt.NDArray[Any], key: str) -> Any:
    return [int(x) for x in v.tolist()] if key == "count" else v.tolist()


def stats_to_json(stats: dict[str, Stats]) -> dict[str, dict[str, Any]]:
    """stats.json's form: nested lists (``count`` as integers)."""
    return {f: {k: _plain(v, k) for k, v in s.items()} for f, s in stats.items()}


def stats_from_json(data: dict[str, dict[str, Any]]) -> dict[str, Stats]:
    """Parse stats.json back into arrays."""
    return {f: {k: np.asarray(v, dtype=np.float64) for k, v in s.items()}
            for f, s in data.items()}


_REQUIRED = ("min", "max", "mean", "std", "count")
_MAX_VALUE = 1e18  # row indices reach 2**53; merging larger numbers could overflow to inf


def check_stats(path: Path, features: dict[str, dict[str, Any]]) -> dict[str, Stats]:
    """An existing stats.json, parsed and checked against the dataset's ``features``.

    Every feature has ``min max mean std count`` (quantiles optional, other keys ignored): finite
    numbers of the feature's shape (``(3, 1, 1)`` for a video, ``(D,)`` for a ``(D,)`` feature),
    ``std`` >= 0 and ``count`` one whole number >= 1. Raises ValueError saying what is wrong.
    """
    from .jsonfile import load_json

    try:
        data = load_json(path)
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise ValueError("is not a JSON object")
    out: dict[str, Stats] = {}
    for name, ft in features.items():
        got = data.get(name)
        if not isinstance(got, dict) or any(k not in got for k in _REQUIRED):
            raise ValueError(f"{name} has no {', '.join(_REQUIRED)}")
        want = (3, 1, 1) if ft["dtype"] in ("video", "image") else tuple(ft["shape"])
        stats: Stats = {}
        for key in (*_REQUIRED, *Q_KEYS):
            if key not in got:
                continue
            try:
                arr = np.asarray(got[key], dtype=np.float64)
            except (ValueError, TypeError, OverflowError):
                raise ValueError(f"{name}.{key} is not an array of numbers") from None
            shape = (1,) if key == "count" else want
            if (arr.shape != shape or not np.isfinite(arr).all()
                    or (np.abs(arr) > _MAX_VALUE).any()):
                raise ValueError(f"{name}.{key} is not {len(shape)}-D {list(shape)} finite "
                                 f"numbers within 1e18: {str(got[key])[:80]}")
            if key == "count" and not (1 <= arr[0] <= 2**53 and arr[0] == np.floor(arr[0])):
                raise ValueError(f"{name}.count must be a whole number >= 1, got {got[key]}")
            if key == "std" and (arr < 0).any():
                raise ValueError(f"{name}.std is negative")
            stats[key] = arr
        out[name] = stats
    return out


def episode_columns(stats: dict[str, Stats]) -> dict[str, Any]:
    """An episode's stats as episodes-table columns ``stats/<feature>/<stat>``."""
    return {f"stats/{f}/{k}": _plain(v, k) for f, s in stats.items() for k, v in s.items()}
