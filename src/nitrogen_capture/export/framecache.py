"""A least-recently-used cache of decoded observations, bounded in bytes.

The streaming loaders (:mod:`.stream`) keep each observation they decode and resize, keyed by
where its frame is stored, so a window asked for again (the next epoch, or a shuffled
neighbour decoded on the way) costs a dictionary look-up instead of a decode. The bound is on
the bytes of the arrays held (``nbytes``: 3 x 256 x 256 = 192 KiB an observation at the default
size, so 512 MiB holds ~2,700 of them); the least recently used entries are dropped first. An
entry larger than the whole bound is never kept. Each process has its own cache: with
``DataLoader(num_workers=N)`` the memory is up to N times the bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_CACHE_BYTES", "FrameCache"]

DEFAULT_CACHE_BYTES = 512 << 20  # per process


class FrameCache:
    """LRU map ``key -> array`` holding at most ``max_bytes`` of array data (0: no cache)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.bytes = 0
        self.hits = self.misses = 0
        self._items: OrderedDict[Hashable, npt.NDArray[np.generic]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> npt.NDArray[np.generic] | None:
        """The array stored under ``key`` (now the most recently used), or None; counted."""
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item

    def put(self, key: Hashable, value: npt.NDArray[np.generic]) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used entries to fit."""
        size = int(value.nbytes)
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= int(old.nbytes)
        if size > self.max_bytes:
            return
        while self._items and self.bytes + size > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= int(dropped.nbytes)
        self._items[key] = value
        self.bytes += size

    def clear(self) -> None:
        """Drop every entry (the counters stay)."""
        self._items.clear()
        self.bytes = 0

    def stats(self) -> dict[str, int]:
        """Entries, bytes held, the bound, hits and misses (for logs and benchmarks)."""
        return {"entries": len(self._items), "bytes": self.bytes, "max_bytes": self.max_bytes,
                "hits": self.hits, "misses": self.misses}
