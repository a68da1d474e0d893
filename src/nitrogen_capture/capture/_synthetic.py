"""A synthetic frame source: a moving, textured test pattern with a frame-number barcode.

It needs no display, so the whole pipeline (pacing, encoding, chunking, merge, export) runs
headless on it. Each grab returns the next frame: a smooth colour texture that scrolls one step
per grab (PNG sizes and encode times then resemble a real game more than a flat fill would),
with :mod:`nitrogen_capture.barcode` of the grab counter in the top-left corner, so the stored
frames can be checked against their rows.

It stamps its frames as an OS capture API does (``stamp_source`` ``synthetic``,
docs/format.md "OS frame times"): the OS time is when it rendered the frame, the sequence
number its frame number. With ``repeat_every`` N (``record --synthetic-repeat N``) every Nth grab
returns the frame before again, with its time and number, as a compositor with nothing new does,
so the repeated-frame path is testable without Wayland or Windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..barcode import barcode_width, draw
from ..clock import now_ns
from .base import (
    BackendConfig,
    CaptureSettings,
    CaptureTarget,
    Frame,
    FrameSource,
    FrameStamp,
    Region,
)

__all__ = ["SyntheticConfig", "SyntheticSource", "read_frame_number"]

_STEP_PX = 4  # horizontal scroll per frame


def _cell_for(width: int) -> int:
    """Largest barcode cell (<= 16 px) that fits the frame width (2 when none fits)."""
    cell = 16
    while cell > 2 and barcode_width(cell) > width:
        cell //= 2
    return cell


@dataclass(frozen=True)
class SyntheticConfig(BackendConfig):
    """The synthetic source's options.

    ``seed`` varies the texture (``--seed``); ``repeat_every`` N > 0 makes every Nth grab a
    repeat of the frame before (``--synthetic-repeat``; 0: never).
    """

    seed: int = 0
    repeat_every: int = 0

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> SyntheticConfig:
        """The recording's ``--seed`` and ``--synthetic-repeat``."""
        return cls(seed=int(settings.seed), repeat_every=int(settings.synthetic_repeat))


class SyntheticSource(FrameSource):
    """A test pattern of the region's size; ``seed`` varies the texture."""

    name = "synthetic"
    config_type = SyntheticConfig
    stamp_source = "synthetic"

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> SyntheticSource:
        """A pattern of the target region's size, seeded by ``config``."""
        if isinstance(config, SyntheticConfig):
            return cls(target.region, seed=config.seed, repeat_every=config.repeat_every)
        return cls(target.region)

    def __init__(self, region: Region, seed: int = 0, repeat_every: int = 0) -> None:
        super().__init__(region)
        self.seed = seed
        self.repeat_every = max(int(repeat_every), 0)
        self.frame_number = 0
        self._grabs = 0
        self._stamp: FrameStamp | None = None
        self._texture: Frame | None = None
        self.details = {"seed": seed, "barcode_cell": _cell_for(region.width)}
        if self.repeat_every:
            self.details["repeat_every"] = self.repeat_every

    def _open(self) -> None:
        self._build()

    def _build(self) -> None:
        w, h = self.region.size
        rng = np.random.default_rng(self.seed)
        # Low-frequency noise scaled up: textured but compressible, like game scenery.
        small = rng.integers(0, 256, size=(max(h // 16, 2), max(2 * w // 16, 4), 3),
                             dtype=np.uint8)
        texture = cv2.resize(small, (2 * w, h), interpolation=cv2.INTER_CUBIC)
        # Duplicate the first half at the end so a scrolling window wraps seamlessly.
        texture[:, w:] = texture[:, :w]
        self._texture = np.ascontiguousarray(texture)

    def set_region(self, region: Region) -> None:
        """Follow a size change by rebuilding the texture."""
        resized = region.size != self.region.size
        super().set_region(region)
        if resized and self._texture is not None:
            self.details["barcode_cell"] = _cell_for(region.width)
            self._build()

    def warm_up(self) -> None:
        """Grab once, then restart the frame numbers so the first stored frame is number 0."""
        super().warm_up()
        self.frame_number = 0
        self._grabs = 0
        self._stamp = None

    def last_stamp(self) -> FrameStamp | None:
        """When the last grab's frame was rendered (monotonic ns) and its frame number."""
        return self._stamp

    def _grab(self) -> Frame:
        self._grabs += 1
        if (self.repeat_every and self._stamp is not None
                and self._grabs % self.repeat_every == 0):
            # Nothing new: the frame before again, same number and time (drawn anew, since the
            # caller may keep, even change, the array it got).
            assert self._stamp.seq is not None
            return self._render(self._stamp.seq)
        self._stamp = FrameStamp(now_ns(), self.frame_number)
        frame = self._render(self.frame_number)
        self.frame_number += 1
        return frame

    def _render(self, number: int) -> Frame:
        assert self._texture is not None
        w, h = self.region.size
        offset = (number * _STEP_PX) % w
        frame = self._texture[:, offset:offset + w].copy()
        cell = int(self.details["barcode_cell"])
        if h >= cell and barcode_width(cell) <= w:  # a region too small gets no barcode
            draw(frame, number % (1 << 24), 0, 0, cell)
        return frame


def read_frame_number(frame: Frame) -> int | None:
    """Read back the frame number a :class:`SyntheticSource` drew into ``frame``."""
    from ..barcode import decode

    return decode(frame, 0, 0, _cell_for(frame.shape[1]))
