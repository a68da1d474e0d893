"""The scripted player of the demo game's chase task: it reads the frame's pixels and steers.

A local policy for ``nitrogen-capture play --policy nitrogen_capture.demo.expert:chase_expert``
(docs/play.md, "Local policies"): a callable that gets the whole window squashed to an
``(S, S, 3)`` uint8 RGB frame and answers with one row of the layout's K keys as 0/1. It finds the
avatar and the target by their colours (:data:`~nitrogen_capture.demo.task.AVATAR_RGB`,
:data:`~nitrogen_capture.demo.task.TARGET_RGB`: the edges INTER_AREA blends count less) and holds
the movement keys that point from one to the other; within a dead zone of an axis it holds
neither key of that axis, so it does not jitter across the target. No avatar or no target in
sight: nothing held.

It is the demonstrator of the loop demo (``examples/loop_demo.py``): what it records is what the
behaviour-cloning example learns, and its score is the ceiling the trained policy is held to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import PolicyError
from ..keylayout import DEFAULT_LAYOUT, KeyLayout
from .task import AVATAR_RGB, TARGET_RGB

__all__ = ["ChaseExpert", "chase_expert", "find_colour"]

_TOLERANCE = 60  # per channel: INTER_AREA mixes a square's edge with the background


def find_colour(frame: npt.NDArray[np.uint8],
                rgb: Sequence[int]) -> tuple[float, float] | None:
    """Centre (x, y) in pixels of the pixels within the tolerance of ``rgb``; None if none."""
    diff = np.abs(frame.astype(np.int16) - np.asarray(rgb, np.int16)).max(axis=2)
    ys, xs = np.nonzero(diff <= _TOLERANCE)
    if len(xs) == 0:
        return None
    return float(xs.mean()), float(ys.mean())


@dataclass(frozen=True)
class ChaseExpert:
    """Steer the avatar at the target: ``expert(frame) -> row`` of ``len(layout)`` 0/1 values.

    Attributes:
        layout: the session's key layout; it must hold ``w a s d`` (the keys pressed).
        dead_zone: fraction of the frame's side within which an axis counts as reached.
    """

    layout: KeyLayout = DEFAULT_LAYOUT
    dead_zone: float = 0.03

    def __post_init__(self) -> None:
        missing = [k for k in "wasd" if k not in self.layout]
        if missing:
            raise PolicyError(f"the chase expert presses w a s d; the layout lacks "
                              f"{' '.join(missing)}")

    def keys(self, frame: npt.NDArray[np.uint8]) -> frozenset[str]:
        """The movement keys to hold for this frame."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise PolicyError(f"the chase expert needs an (H, W, 3) uint8 RGB frame, got "
                              f"{frame.shape} {frame.dtype}")
        avatar, target = find_colour(frame, AVATAR_RGB), find_colour(frame, TARGET_RGB)
        if avatar is None or target is None:
            return frozenset()
        held = set()
        dx, dy = target[0] - avatar[0], target[1] - avatar[1]
        if abs(dx) > self.dead_zone * frame.shape[1]:
            held.add("d" if dx > 0 else "a")
        if abs(dy) > self.dead_zone * frame.shape[0]:
            held.add("s" if dy > 0 else "w")
        return frozenset(held)

    def __call__(self, frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """One row of the layout's keys, 1.0 for each key to hold."""
        held = self.keys(frame)
        return np.array([1.0 if k in held else 0.0 for k in self.layout.keys], np.float32)


_DEFAULT = ChaseExpert()


def chase_expert(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The default layout's chase expert, as a plain function (``module:callable``)."""
    return _DEFAULT(frame)
