"""The session side of every export: arrays, segments, actions, frames.

:class:`ExportSource` opens the session once (through
:class:`~nitrogen_capture.session.reader.SessionReader`) and hands the writers what they need:
contiguous segments, mapped action rows (per frame or re-binned on a grid) and observation frames
decoded ahead by a small thread pool. :class:`ConvertSettings` and its choice tuples live in
:mod:`.settings` and are re-exported here for older imports.

Every action an exporter gets from here (:meth:`ExportSource.frame_rows`,
:meth:`ExportSource.resampler`) has the input-to-frame latency offset applied
(:mod:`.latency`: the session's ``latency_offset_ns`` or ``--latency-offset-ms``), and
:meth:`ExportSource.source_meta` says which offset that was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from itertools import groupby
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..binning import bin_events
from ..diskspace import disk_free
from ..errors import ConfigError, ExportError
from ..session.reader import SessionReader
from .action_source import check_kept, left_out, row_sources, source_summary
from .decode import FrameTransform, iter_session_frames
from .keymap import Keymap, action_names, default_keymap, load_keymap, map_rows
from .latency import applied_offset, shift_events
from .repeats import GridPart, capture_period_ns, grid_parts
from .resample import GridResampler, iter_event_arrays
from .settings import FORMATS, INPUT_SOURCES, OBS_DTYPES, ConvertSettings

__all__ = ["FORMATS", "INPUT_SOURCES", "OBS_DTYPES", "ConvertSettings", "ExportSource",
           "FreeBytes", "check_apart", "disk_free"]

FreeBytes = Callable[[Path], int]
T = TypeVar("T")


def check_apart(root: Path, out: Path) -> None:
    """Refuse an output that is, or is inside, the session; or a session inside the output.

    Both are resolved first (symlinks, ``..``), so ``--out S/meta.json`` and ``--out S`` cannot
    overwrite the input, nor ``--overwrite`` of a folder delete a session inside it.
    """
    r, o = root.resolve(), out.resolve()
    if o == r or o.is_relative_to(r):
        raise ExportError(f"--out {out} is inside the session {root}: choose an output outside "
                          "the session folder")
    if r.is_relative_to(o):
        raise ExportError(f"the session {root} is inside --out {out}: choose another output")


class ExportSource:
    """One session opened for export (per-frame arrays in memory: ~60 bytes per frame)."""

    def __init__(self, settings: ConvertSettings) -> None:
        self.settings = settings
        check_apart(settings.root, settings.out)
        self.reader = SessionReader(settings.root)
        self.layout = self.reader.layout
        self.chunks = self.reader.included_chunks()
        self.arrays = self.reader.concat_arrays(self.chunks)
        self.arrays.pop("events", None)  # re-read lazily, chunk by chunk, when resampling
        self.timestamps = np.asarray(self.arrays["timestamps"], dtype=np.int64)
        self.keymap: Keymap = (load_keymap(settings.keymap) if settings.keymap
                               else default_keymap())
        src = settings.input_source
        if src == "gamepad" and not self.reader.has_gamepad:
            raise ConfigError(f"--input-source gamepad: session {settings.root} recorded no "
                              "gamepad (no gamepad_chunk_NNN.npy); use keyboard or auto")
        self.use_pad = self.reader.has_gamepad if src == "auto" else src == "gamepad"
        # --action-source (export/action_source.py): each row's source, the rows left out.
        check_kept(settings.action_source, self.reader.is_rollout, settings.root)
        self.row_source = row_sources(self.arrays, len(self.timestamps))
        self.source_dropped = left_out(settings.action_source, self.row_source, settings.root)
        self.action_names = action_names(settings.action_space, self.layout)
        self.latency_offset_ns, self.latency_source = applied_offset(
            settings.latency_offset_ms, self.reader.meta)
        # The recorder's period: which grid rows show a new capture (export/repeats.py).
        self.period_ns = capture_period_ns(self.reader.meta.fps_target,
                                           self.reader.meta.fps_achieved)
        offsets = self.reader.row_offsets()
        self.row_chunk = np.zeros(len(self.timestamps), dtype=np.int64)
        self.chunk_row = np.zeros(len(self.timestamps), dtype=np.int64)
        for c in self.chunks:
            off, n = offsets[c.index], c.num_frames
            self.row_chunk[off:off + n] = c.index
            self.chunk_row[off:off + n] = np.arange(n)

    def segments(self) -> list[tuple[int, int]]:
        """Contiguous row runs: no pause, no dropped ticks, every frame on disk.

        With ``--drop-idle-seconds`` the idle rows are taken out too (:attr:`idle`), with
        ``--action-source human|policy`` the other source's rows (:mod:`.action_source`).
        """
        segs = self.reader.segments(frame_indices=self.arrays["frame_indices"])
        summary, drop = self._idle_cut
        if summary is None and not self.source_dropped.any():
            return segs
        from ..session.idle import cut_segments

        return cut_segments(segs, drop | self.source_dropped)

    def grid_parts(self, step: int) -> tuple[list[GridPart], dict[str, Any] | None]:
        """Each segment's grid at ``step`` ns with the rows it shows and their repeat flags.

        Cut at runs of more than ``--max-repeat-frames`` repeats (:func:`.repeats.grid_parts`);
        the second value says what was cut (None without the flag).
        """
        return grid_parts(self.timestamps, self.segments(), step, self.period_ns,
                          self.settings.max_repeat_frames)

    @property
    def idle(self) -> dict[str, Any] | None:
        """What ``--drop-idle-seconds`` cuts (:func:`~..session.idle.idle_summary`), or None."""
        return self._idle_cut[0]

    @cached_property
    def _idle_cut(self) -> tuple[dict[str, Any] | None, npt.NDArray[np.bool_]]:
        """The idle summary and the rows it drops (computed once; none without the flag)."""
        ts = self.timestamps
        n = self.settings.drop_idle_seconds
        if n is None:
            return None, np.zeros(len(ts), dtype=bool)
        from ..session.idle import idle_rows, idle_stretches, idle_summary

        stretches = (idle_stretches((self.reader.chunk_events(c) for c in self.chunks),
                                    int(ts[0]), int(ts[-1]), n) if len(ts) else [])
        drop = idle_rows(ts, stretches)
        return idle_summary(stretches, drop, n), drop

    def map(self, actions: npt.NDArray[Any], mouse: npt.NDArray[Any],
            gamepad: npt.NDArray[Any] | None) -> npt.NDArray[np.float32]:
        """Map binned rows to the configured action space."""
        s = self.settings
        return map_rows(actions, mouse, gamepad if self.use_pad else None, self.layout,
                        space=s.action_space, keymap=self.keymap, mouse_scale=s.mouse_scale,
                        mouse_clip=s.mouse_clip)

    def frame_rows(self) -> npt.NDArray[np.float32]:
        """Every per-frame row mapped to the action space, ``(N, D)``.

        Without a latency offset these are the recorder's rows; with one, the rows re-binned
        from the shifted events onto the frames' capture times (the recorder's own rule).
        Computed once: a batch task asks for them for its idle check and for its windows.
        """
        return self._frame_rows

    @cached_property
    def _frame_rows(self) -> npt.NDArray[np.float32]:
        a = self.arrays
        if self.latency_offset_ns == 0:
            return self.map(a["actions"], a["mouse_deltas"], a.get("gamepad"))
        b = bin_events(iter_event_arrays(self._events()), self.timestamps, self.layout)
        return self.map(b.actions, b.mouse_deltas, b.gamepad if "gamepad" in a else None)

    def _events(self) -> Iterator[npt.NDArray[Any]]:
        """The included chunks' events, read one chunk at a time, latency offset applied."""
        for c in self.chunks:
            yield shift_events(self.reader.chunk_events(c), self.latency_offset_ns)

    def resampler(self) -> GridResampler:
        """A resampler over the session's events (offset applied), read lazily chunk by chunk."""
        return GridResampler(iter_event_arrays(self._events()), self.layout)

    def source_meta(self) -> dict[str, Any]:
        """Where the export came from, for its meta."""
        m = self.reader.meta
        return {"root": str(self.settings.root.resolve()), "session": self.settings.root.name,
                "t0_wall": m.clock.t0_wall,
                "fps": {"target": m.fps_target, "achieved": m.fps_achieved},
                "size": list(self.frame_size) if self.frame_size else None,
                "layout": self.layout.to_dict(),
                "input": "gamepad" if self.use_pad else "keyboard_mouse",
                "frames": len(self.timestamps), "target": dict(m.target),
                "latency_offset_ns": self.latency_offset_ns,
                "latency_offset_source": self.latency_source,
                "action_source": self.action_source,
                **({"idle": self.idle} if self.idle is not None else {})}

    @property
    def action_source(self) -> dict[str, Any]:
        """What ``--action-source`` kept, for the export's meta (:func:`source_summary`)."""
        return source_summary(self.settings.action_source, self.reader.is_rollout,
                              self.row_source, self.source_dropped)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """The captured frame size (width, height), when meta.json records it."""
        capture = self.reader.meta.capture
        return capture.size if capture else None

    def iter_frames(self, rows: Iterable[int],
                    transform: Callable[[npt.NDArray[np.uint8]], T] | FrameTransform[T],
                    ) -> Iterator[T]:
        """``transform(BGR frame)`` of each merged row in ``rows`` (increasing), in order.

        Frames are decoded and transformed on ``workers`` threads with a bounded number in
        flight, so memory stays flat (:mod:`.decode`).
        """
        t = transform if isinstance(transform, FrameTransform) else FrameTransform(transform)
        pairs = ((int(self.row_chunk[r]), int(self.chunk_row[r])) for r in rows)
        return iter_session_frames(self.reader, self.chunks, pairs, t,
                                   workers=self.settings.workers)

    def iter_frames_store(self, rows: Iterable[int],
                          transform: Callable[[npt.NDArray[np.uint8]], Any]) -> Iterator[Any]:
        """:meth:`iter_frames` through each frame store's own ``map_frames``.

        PNG on ``workers`` threads, video sequentially: the converter before :mod:`.decode`,
        kept as the reference that the tests and ``bench/convert.py`` compare with.
        """
        by_index = {c.index: c for c in self.chunks}
        for idx, group in groupby((int(r) for r in rows), key=lambda r: int(self.row_chunk[r])):
            yield from self.reader.map_chunk_frames(
                by_index[idx], (int(self.chunk_row[r]) for r in group), transform,
                workers=self.settings.workers)
