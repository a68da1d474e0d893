"""Load a ``.pt`` export (or its shards) back, and a torch ``Dataset`` over it.

``load(path)`` returns the ``{"obs", "actions", "meta"}`` dict of a single file, or, for a shard
index (``<stem>.index.json``, also found from ``<stem>.pt`` when that file does not exist), the
index document with ``"shards"`` resolved to paths. Files are read with
``torch.load(weights_only=True)`` (never unpickling code) and memory-mapped by default, so a
large export is paged in on demand rather than read whole.

:class:`NitrogenDataset` indexes windows across every shard; items are ``(obs, actions)`` with
``obs`` float32 in [0, 1] whatever the stored dtype; ``repeated_frames(i)`` is window ``i``'s
count of repeated frames (:mod:`.repeats`). torch is imported only when a function here
runs, so ``import nitrogen_capture.export`` stays light.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ExportError, missing_dependency

if TYPE_CHECKING:
    import torch

__all__ = ["NitrogenDataset", "load", "resolve"]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise missing_dependency("torch", "torch", "loading .pt exports") from exc
    return torch


def resolve(path: str | Path) -> tuple[str, Path]:
    """(``"file"``: one ``.pt``, or ``"index"``: a shard index; the file to read) for a path."""
    p = Path(path)
    if p.suffix == ".json" or p.name.endswith(".index.json"):
        kind = "index"
    elif p.is_file():
        kind = "file"
    else:
        idx = p.with_name(f"{p.stem}.index.json")
        if not idx.is_file():
            raise ExportError(f"{p}: no such export (neither the file nor {idx.name} exists)")
        p, kind = idx, "index"
    if not p.is_file():
        raise ExportError(f"{p}: no such export file")
    return kind, p


def _read_index(p: Path) -> dict[str, Any]:
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        shards = [{**s, "path": p.parent / s["file"]} for s in doc["shards"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ExportError(f"{p} is not a shard index ({exc})") from exc
    doc["shards"] = shards
    return dict(doc)


def load(path: str | Path, *, mmap: bool = True) -> dict[str, Any]:
    """Read an export: the tensors dict of a ``.pt``, or the parsed shard index.

    Args:
        path: a ``.pt`` file, a ``.index.json`` shard index, or the ``--out`` of a sharded run.
        mmap: map tensor data instead of reading it (ignored for an index).
    """
    kind, p = resolve(path)
    if kind == "index":
        return _read_index(p)
    torch = _torch()
    try:
        data = torch.load(p, weights_only=True, mmap=mmap, map_location="cpu")
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ExportError(f"{p} cannot be loaded ({exc})") from exc
    if not isinstance(data, dict) or not {"obs", "actions", "meta"} <= set(data):
        raise ExportError(f"{p} is not a nitrogen-capture export (keys obs, actions, meta)")
    return dict(data)


def _dataset_base() -> type:
    return _torch().utils.data.Dataset  # type: ignore[no-any-return]


class NitrogenDataset:
    """Windows of a ``.pt`` export or of all its shards, as ``(obs, actions)`` tensors.

    ``obs`` is (3, H, W) float32 in [0, 1] (uint8 exports are scaled on access), ``actions``
    (T, D) float32. Shards are opened lazily (memory-mapped) and kept open. The class is a
    ``torch.utils.data.Dataset`` subclass at run time (:meth:`__new__` builds it on first use so
    that importing this module does not import torch).
    """

    _impl: type | None = None

    def __new__(cls, path: str | Path, *, mmap: bool = True) -> Any:  # noqa: D102
        if cls is NitrogenDataset:
            if NitrogenDataset._impl is None:
                NitrogenDataset._impl = type("NitrogenDataset", (_DatasetImpl, _dataset_base()),
                                             {"__doc__": NitrogenDataset.__doc__})
            return NitrogenDataset._impl(path, mmap=mmap)
        return super().__new__(cls)


class _DatasetImpl:
    def __init__(self, path: str | Path, *, mmap: bool = True) -> None:
        kind, p = resolve(path)
        self._mmap = mmap
        if kind == "file":
            one = load(p, mmap=mmap)
            self.files = [p]
            self._open: dict[int, dict[str, Any]] = {0: one}
            self.counts = [int(one["obs"].shape[0])]
            self.meta: dict[str, Any] = one["meta"]
        else:
            index = _read_index(p)
            self.files = [s["path"] for s in index["shards"]]
            self._open = {}
            self.counts = [int(s["num_windows"]) for s in index["shards"]]
            self.meta = index
        self.starts = [0]
        for c in self.counts:
            self.starts.append(self.starts[-1] + c)

    def __len__(self) -> int:
        return self.starts[-1]

    def _shard(self, k: int) -> dict[str, Any]:
        if k not in self._open:
            self._open[k] = load(self.files[k], mmap=self._mmap)
        return self._open[k]

    def _locate(self, i: int) -> tuple[int, int]:
        """(shard, window within it) of window ``i`` (negative counts from the end)."""
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} out of range 0..{len(self) - 1}")
        k = bisect.bisect_right(self.starts, i) - 1
        return k, i - self.starts[k]

    def repeated_frames(self, i: int) -> int | None:
        """Window ``i``'s repeated frames (docs/export.md, "Repeated frames").

        None for an export written before they were counted.
        """
        k, j = self._locate(i)
        counts = self._shard(k)["meta"]["windows"].get("repeated_frames")
        return None if counts is None else int(counts[j])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        k, j = self._locate(i)
        data = self._shard(k)
        obs = data["obs"][j]
        obs = obs.float().div_(255.0) if obs.dtype != _torch().float32 else obs.clone()
        return obs, data["actions"][j].clone()
