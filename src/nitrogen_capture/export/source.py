"""Convert settings and the session side of every export: arrays, segments, actions, frames.

:class:`ConvertSettings` holds every flag of ``nitrogen-capture convert`` (checked when built).
:class:`ExportSource` opens the session once (through :class:`~nitrogen_capture.session.reader.
SessionReader`) and hands the writers what they need: contiguous segments, mapped action rows
(per frame or re-binned on a grid) and observation frames decoded ahead by a small thread pool.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..session.reader import SessionReader
from .keymap import ACTION_SPACES, Keymap, action_names, default_keymap, load_keymap, map_rows
from .resample import GridResampler, iter_event_arrays

__all__ = ["FORMATS", "INPUT_SOURCES", "OBS_DTYPES", "ConvertSettings", "ExportSource",
           "FreeBytes", "disk_free"]

FORMATS: tuple[str, ...] = ("pt", "nitrogen-dataset")
OBS_DTYPES: tuple[str, ...] = ("float32", "uint8")
INPUT_SOURCES: tuple[str, ...] = ("auto", "keyboard", "gamepad")
FreeBytes = Callable[[Path], int]


def disk_free(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (the nearest existing parent)."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return int(shutil.disk_usage(p).free)


@dataclass(frozen=True)
class ConvertSettings:
    """Every parameter of a conversion (the flags of ``nitrogen-capture convert``).

    ``action_hz`` None keeps the session's own per-frame rows; a rate re-bins the raw events onto
    an exact grid starting at each observation's capture time. ``shard_frames`` 0 writes one file.
    """

    root: Path
    out: Path
    img_size: int = 256
    seq_len: int = 16
    mouse_scale: float = 300.0
    mouse_clip: float = 1.0
    action_space: str = "nitrogen"
    action_shift: int = 0
    action_hz: float | None = None
    obs_dtype: str = "float32"
    shard_frames: int = 0
    keymap: Path | None = None
    input_source: str = "auto"
    format: str = "pt"
    overwrite: bool = False
    workers: int = 2
    video: bool = True
    game: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "out", Path(self.out))
        checks = [
            (8 <= self.img_size <= 4096, f"--img-size must be in 8..4096, got {self.img_size}"),
            (self.seq_len >= 1, f"--seq-len must be >= 1, got {self.seq_len}"),
            (self.mouse_scale > 0, f"--mouse-scale must be > 0, got {self.mouse_scale:g}"),
            (0 < self.mouse_clip <= 1,
             f"--mouse-clip must be in (0, 1] (sticks live in [-1, 1]), got {self.mouse_clip:g}"),
            (self.action_shift >= 0, f"--action-shift must be >= 0, got {self.action_shift}"),
            (self.action_hz is None or 0 < self.action_hz <= 1000,
             f"--action-hz must be in (0, 1000], got {self.action_hz}"),
            (self.shard_frames >= 0, f"--shard-frames must be >= 0 (0 = one file), "
                                     f"got {self.shard_frames}"),
            (1 <= self.workers <= 32, f"--workers must be in 1..32, got {self.workers}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        for value, allowed, flag in ((self.action_space, ACTION_SPACES, "--action-space"),
                                     (self.obs_dtype, OBS_DTYPES, "--obs-dtype"),
                                     (self.input_source, INPUT_SOURCES, "--input-source"),
                                     (self.format, FORMATS, "--format")):
            if value not in allowed:
                raise ConfigError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")

    def params(self) -> dict[str, Any]:
        """The parameters as plain data, for the export's meta."""
        return {"img_size": self.img_size, "seq_len": self.seq_len,
                "mouse_scale": self.mouse_scale, "mouse_clip": self.mouse_clip,
                "action_space": self.action_space, "action_shift": self.action_shift,
                "action_hz": self.action_hz, "obs_dtype": self.obs_dtype,
                "shard_frames": self.shard_frames, "input_source": self.input_source,
                "format": self.format}


class ExportSource:
    """One session opened for export (per-frame arrays in memory: ~60 bytes per frame)."""

    def __init__(self, settings: ConvertSettings) -> None:
        self.settings = settings
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
        self.action_names = action_names(settings.action_space, self.layout)
        offsets = self.reader.row_offsets()
        self.row_chunk = np.zeros(len(self.timestamps), dtype=np.int64)
        self.chunk_row = np.zeros(len(self.timestamps), dtype=np.int64)
        for c in self.chunks:
            off, n = offsets[c.index], c.num_frames
            self.row_chunk[off:off + n] = c.index
            self.chunk_row[off:off + n] = np.arange(n)

    def segments(self) -> list[tuple[int, int]]:
        """Contiguous row runs: no pause, no dropped ticks, every frame on disk."""
        return self.reader.segments()

    def map(self, actions: npt.NDArray[Any], mouse: npt.NDArray[Any],
            gamepad: npt.NDArray[Any] | None) -> npt.NDArray[np.float32]:
        """Map binned rows to the configured action space."""
        s = self.settings
        return map_rows(actions, mouse, gamepad if self.use_pad else None, self.layout,
                        space=s.action_space, keymap=self.keymap, mouse_scale=s.mouse_scale,
                        mouse_clip=s.mouse_clip)

    def frame_rows(self) -> npt.NDArray[np.float32]:
        """Every per-frame row mapped to the action space, ``(N, D)``."""
        a = self.arrays
        return self.map(a["actions"], a["mouse_deltas"], a.get("gamepad"))

    def resampler(self) -> GridResampler:
        """A resampler over the session's events, read lazily chunk by chunk."""
        return GridResampler(iter_event_arrays(self.reader.chunk_events(c) for c in self.chunks),
                             self.layout)

    def source_meta(self) -> dict[str, Any]:
        """Where the export came from, for its meta."""
        m = self.reader.meta
        return {"root": str(self.settings.root.resolve()), "session": self.settings.root.name,
                "t0_wall": m.clock.t0_wall,
                "fps": {"target": m.fps_target, "achieved": m.fps_achieved},
                "size": list(self.frame_size) if self.frame_size else None,
                "layout": self.layout.to_dict(),
                "input": "gamepad" if self.use_pad else "keyboard_mouse",
                "frames": len(self.timestamps), "target": dict(m.target)}

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """The captured frame size (width, height), when meta.json records it."""
        capture = self.reader.meta.capture
        return capture.size if capture else None

    def iter_frames(self, rows: Iterable[int],
                    transform: Callable[[npt.NDArray[np.uint8]], Any]) -> Iterator[Any]:
        """``transform(BGR frame)`` of each merged row in ``rows`` (increasing), in order.

        Chunk by chunk through the session's frame store: PNG frames are decoded and
        transformed by ``workers`` threads (cv2 releases the GIL) with a bounded number in
        flight, so memory stays flat; video chunks decode sequentially.
        """
        by_index = {c.index: c for c in self.chunks}
        for idx, group in groupby((int(r) for r in rows), key=lambda r: int(self.row_chunk[r])):
            yield from self.reader.map_chunk_frames(
                by_index[idx], (int(self.chunk_row[r]) for r in group), transform,
                workers=self.settings.workers)
