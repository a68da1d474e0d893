"""What the streaming loaders share: windows by index, a decoded cache, workers, torch items.

A loader here (:mod:`.stream` for a session, :mod:`.treeload` for a dataset tree) is built in
the main process from small arrays only (where each window's frame is stored, its actions, its
repeated frames); frames are decoded on demand, in the process that asks, and kept in a
:class:`~.framecache.FrameCache`. Files and caches are per process: a copy made by pickling or
by a DataLoader worker's fork opens its own on first use (the loader notices the new process),
and pickling leaves them out, so sending a loader to a worker costs its index arrays only
(~100 bytes a frame).

Items are what :class:`~.loader.NitrogenDataset` gives for the same ``.pt``: ``obs`` (3, H, W)
float32 in [0, 1], scaled exactly as it scales (a uint8 ``.pt``: ``float() / 255``; a float32
one: the stored ``uint8 / 255``), and ``actions`` (T, D) float32. torch is imported when an item
is made, or when a loader is built (it is a ``torch.utils.data.Dataset``), never on import.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .decode import FrameTransform
from .framecache import FrameCache
from .loader import _torch
from .nitrogen import obs_transform
from .settings import ConvertSettings, pt_beside

__all__ = ["WindowSet", "check_stride", "loader_settings", "torch_class"]


class WindowSet:
    """Windows ``0 .. len - 1``; a subclass fills the arrays and :meth:`_decode`.

    Attributes (set by the subclass): ``keys`` (M, 2) int64, where window ``i``'s observation
    frame is stored (``(chunk, row)``); ``act_start`` (M,) int64, its first action row in
    ``actions`` (D columns, T = ``seq_len`` rows from there); ``repeats`` (M,) int64;
    ``wanted``: per chunk, a bool array of the rows some window's observation is on.
    """

    keys: npt.NDArray[np.int64]
    act_start: npt.NDArray[np.int64]
    actions: npt.NDArray[np.float32]
    repeats: npt.NDArray[np.int64]
    wanted: dict[int, npt.NDArray[np.bool_]]
    meta: dict[str, Any]

    def __init__(self, img_size: int, seq_len: int, obs_dtype: str, cache_bytes: int) -> None:
        if cache_bytes < 0:
            from ..errors import ConfigError

            raise ConfigError(f"cache_bytes must be >= 0, got {cache_bytes}",
                              setting="cache_bytes")
        self.img_size, self.seq_len, self.obs_dtype = img_size, seq_len, obs_dtype
        self.cache_bytes = int(cache_bytes)
        self._reset()

    # Per-process state ---------------------------------------------------------------------
    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cache = FrameCache(self.cache_bytes)
        self._files: Any = None
        self._transform: FrameTransform[npt.NDArray[np.uint8]] | None = None

    def _open(self) -> Any:
        """Open the files of this process (a subclass's reader), on first use."""
        raise NotImplementedError

    def _decode(self, files: Any, chunk: int, row: int, transform: FrameTransform[Any],
                keep: Callable[[int, Callable[[], Any]], None]) -> npt.NDArray[np.uint8]:
        """The (3, S, S) uint8 observation of the frame at ``(chunk, row)``."""
        raise NotImplementedError

    def _here(self) -> Any:
        if self._pid != os.getpid():  # a forked copy: the parent's files are not ours
            self._reset()
        if self._files is None:
            self._files = self._open()
            self._transform = obs_transform(self.img_size, "uint8")
        return self._files

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_cache", "_files", "_transform", "_pid"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def __reduce__(self) -> tuple[Any, ...]:
        core = next(c for c in type(self).__mro__ if "_core" in c.__dict__)
        return (_rebuild, (core, self.__getstate__()))

    # Windows -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.keys)

    def _index(self, i: int) -> int:
        n = len(self)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"window {i} out of range 0..{n - 1}")
        return j

    def observation(self, i: int) -> npt.NDArray[np.uint8]:
        """Window ``i``'s observation, (3, S, S) uint8 RGB: from the cache, else decoded."""
        files = self._here()
        chunk, row = (int(x) for x in self.keys[self._index(i)])
        key: Hashable = (chunk, row)
        hit = self._cache.get(key)
        if hit is not None:
            return hit  # type: ignore[return-value]
        wanted = self.wanted.get(chunk)
        cache = self._cache

        def keep(r: int, make: Callable[[], Any]) -> None:  # frames decoded on the way
            if wanted is not None and r < len(wanted) and wanted[r] and (chunk, r) not in cache:
                cache.put((chunk, r), make())

        assert self._transform is not None
        obs = self._decode(files, chunk, row, self._transform, keep)
        cache.put(key, obs)
        return obs

    def window(self, i: int) -> tuple[npt.NDArray[Any], npt.NDArray[np.float32]]:
        """Window ``i`` as the ``.pt`` stores it: ``(obs, actions)`` in ``obs_dtype``, numpy."""
        j = self._index(i)
        obs = self.observation(j)
        if self.obs_dtype == "float32":
            obs = np.divide(obs, 255.0, dtype=np.float32)  # what the .pt writer stores
        a = int(self.act_start[j])
        return obs, self.actions[a:a + self.seq_len]

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        torch = _torch()
        obs, acts = self.window(i)
        t = torch.from_numpy(np.array(obs))  # a copy: the cache keeps its own
        # NitrogenDataset's scaling, so the items are the same floats.
        t = t.float().div_(255.0) if t.dtype != torch.float32 else t
        return t, torch.from_numpy(np.array(acts, dtype=np.float32))

    def repeated_frames(self, i: int) -> int:
        """Window ``i``'s repeated frames (docs/export.md, "Repeated frames")."""
        return int(self.repeats[self._index(i)])

    def cache_stats(self) -> dict[str, int]:
        """The cache of this process: entries, bytes, bound, hits, misses."""
        self._here()
        return self._cache.stats()

    def close(self) -> None:
        """Close this process's open files and drop its cache (reopened on next use)."""
        files = self._files
        if files is not None and self._pid == os.getpid():
            files.close()
        self._reset()


_CLASSES: dict[type, type] = {}


def torch_class(core: type) -> type:
    """``core`` as a ``torch.utils.data.Dataset`` subclass (made once, on first use)."""
    cls = _CLASSES.get(core)
    if cls is None:
        base = _torch().utils.data.Dataset
        cls = type(core.__name__.lstrip("_"), (core, base),
                   {"__doc__": core.__doc__, "__module__": core.__module__})
        _CLASSES[core] = cls
    return cls


def _rebuild(core: type, state: dict[str, Any]) -> Any:
    """Unpickle a loader: its class made again, its state set, no file opened."""
    cls = torch_class(core)
    obj: Any = object.__new__(cls)
    obj.__setstate__(state)
    return obj


def loader_settings(source: str | Path, settings: ConvertSettings | None,
                    fields: dict[str, Any]) -> ConvertSettings:
    """The conversion settings a loader of ``source`` uses.

    ``settings`` (or the defaults) with ``source`` as the root and ``fields`` (ConvertSettings
    field names) replaced. ``out`` is never written; without ``settings`` it is
    ``<source>.pt`` beside the folder.
    """
    root = Path(source)
    names = {f.name for f in dataclasses.fields(ConvertSettings)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}: a loader takes the fields "
                          "of ConvertSettings (img_size, seq_len, action_shift, ...)")
    if settings is None:
        return ConvertSettings(**{"root": root, "out": pt_beside(root), **fields})
    return dataclasses.replace(settings, root=root, **fields)


def check_stride(stride: int) -> int:
    """``stride`` as an int >= 1 (every ``stride``-th window of the plan is kept)."""
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ConfigError(f"stride must be a whole number >= 1, got {stride!r}", setting="stride")
    return stride
