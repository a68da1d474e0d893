"""Stream NitroGen training windows from a session (or a dataset tree), decoding on demand.

:class:`StreamingDataset` gives the windows ``convert --format pt`` would write with the same
:class:`~.settings.ConvertSettings`, one by one, without the ``.pt``: the window plan, the
``--max-repeat-frames`` cut and the actions are the exporter's own (:func:`~.nitrogen.plan_pt`,
:func:`~.nitrogen.iter_window_actions`, through :class:`~.source.ExportSource`), and each
observation is decoded from the session's frame store and resized by the exporter's transform
(:func:`~.nitrogen.obs_transform`) when it is first asked for, then kept in a bounded cache
(:mod:`.framecache`). Window ``i`` equals window ``i`` of the ``.pt`` (``stride`` k: window
``k * i``), bit for bit for PNG and video sessions (tests/export/test_stream_loader.py). Given a
``--format nitrogen-dataset`` folder it reads that instead (:mod:`.treeload`). docs/loading.md
has the cache and worker advice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ExportError
from ..session.lock import check_not_locked
from ..session.paths import SessionPaths
from .decode import FrameTransform
from .frameaccess import SessionFrames
from .framecache import DEFAULT_CACHE_BYTES
from .nitrogen import iter_window_actions, plan_pt
from .settings import ConvertSettings
from .source import ExportSource
from .windowset import WindowSet, check_stride, loader_settings, torch_class

__all__ = ["StreamingDataset", "loader_settings"]

log = logging.getLogger(__name__)


class _SessionWindows(WindowSet):
    """Windows of one merged session, decoded on demand from its PNG or video frames."""

    _core = True

    def __init__(self, settings: ConvertSettings, *, stride: int = 1,
                 cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__(settings.img_size, settings.seq_len, settings.obs_dtype, cache_bytes)
        stride = check_stride(stride)
        self.settings = settings
        self.root = settings.root
        # A session being recorded or merged is refused, as convert refuses it.
        check_not_locked(SessionPaths(settings.root), "load")
        src = ExportSource(settings)
        pt = plan_pt(src, settings)
        plan = pt.windows
        if len(plan) == 0:
            raise ExportError(f"session {settings.root} has no window of {settings.seq_len} "
                              f"steps (shift {settings.action_shift}) inside one contiguous "
                              "segment (or --max-repeat-frames left none)")
        keep = slice(None, None, stride)
        rows = plan.starts[keep]
        self.rows = rows
        self.keys = np.stack([src.row_chunk[rows], src.chunk_row[rows]], axis=1).astype(np.int64)
        if plan.action_hz is None:  # per frame: the session's rows, each window a slice
            self.actions = np.ascontiguousarray(src.frame_rows(), dtype=np.float32)
            self.act_start = (rows + plan.shift).astype(np.int64)
        else:  # resampled: the exporter's chunks, computed once (T x D floats a window)
            chunks = list(iter_window_actions(src, plan))[keep]
            self.actions = np.concatenate(chunks).astype(np.float32, copy=False)
            self.act_start = np.arange(len(chunks), dtype=np.int64) * plan.seq_len
        self.repeats = pt.repeats.counts[keep].astype(np.int64)
        self.wanted = {}
        for c in src.chunks:
            mask = np.zeros(c.num_frames, dtype=bool)
            mask[self.keys[self.keys[:, 0] == c.index, 1]] = True
            self.wanted[c.index] = mask
        self.meta = {"source": src.source_meta(), "params": settings.params(),
                     "action_space": settings.action_space,
                     "action_names": list(src.action_names), "stride": stride,
                     "total_windows": len(plan), "frame_store": src.reader.frame_kind,
                     "segments": [list(s) for s in plan.segments], "repeat_cut": pt.cut}
        log.info("%s: %d windows (stride %d) streamed from %s frames", settings.root,
                 len(rows), stride, src.reader.frame_kind)

    def _open(self) -> SessionFrames:
        return SessionFrames(self.root)

    def _decode(self, files: SessionFrames, chunk: int, row: int,
                transform: FrameTransform[Any],
                keep: Callable[[int, Callable[[], Any]], None]) -> npt.NDArray[np.uint8]:
        return files.get(chunk, row, transform, keep)  # type: ignore[no-any-return]


def _is_tree(path: Path) -> bool:
    return (path / "actions").is_dir() and not (path / "meta.json").exists()


class StreamingDataset:
    """NitroGen windows streamed from a session or a dataset tree, as ``(obs, actions)``.

    Args:
        source: a merged session folder, or the ``--out`` folder of ``convert --format
            nitrogen-dataset`` (then :class:`~.treeload.DatasetTreeDataset` is built).
        settings: a :class:`ConvertSettings` whose ``.pt`` this equals (its ``root`` is
            replaced by ``source``, its ``out`` never written); None: the defaults.
        stride: keep every ``stride``-th window of the plan (1: all, as the ``.pt``).
        cache_bytes: bound of each process's cache of decoded observations (0: none).
        **fields: ConvertSettings fields to set (``img_size=128, seq_len=16, ...``).

    Items: ``obs`` (3, H, W) float32 in [0, 1], ``actions`` (T, D) float32, equal to
    :class:`~.loader.NitrogenDataset`'s items of the same ``.pt``. :meth:`window` gives them as
    numpy in the ``.pt``'s dtype, :meth:`repeated_frames` and :attr:`meta` as the ``.pt``'s.
    The object is a ``torch.utils.data.Dataset`` made at run time (like NitrogenDataset); it
    pickles without its files or cache, and each DataLoader worker opens its own.
    """

    def __new__(cls, source: str | Path, settings: ConvertSettings | None = None, *,
                stride: int = 1, cache_bytes: int = DEFAULT_CACHE_BYTES,
                **fields: Any) -> Any:
        """Build the loader (a session's, or a tree's when ``source`` is a dataset tree)."""
        path = Path(source)
        if _is_tree(path):
            from .treeload import DatasetTreeDataset

            return DatasetTreeDataset(path, settings, stride=stride, cache_bytes=cache_bytes,
                                      **fields)
        s = loader_settings(path, settings, fields)
        return torch_class(_SessionWindows)(s, stride=stride, cache_bytes=cache_bytes)
