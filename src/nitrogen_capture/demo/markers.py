"""The truth overlay the demo game draws into every frame, and its decoder.

The layout is defined here once; the game draws with :func:`draw_overlay` and the tests and the
``demo`` command read captured frames back with :func:`read_overlay`::

    y = 0    frame-number barcode            (nitrogen_capture.barcode, 16 px cells)
    y = 16   total key-press counter barcode (same)
    y = 32   one 16x16 cell per layout key, left to right in layout order:
             white = held (or pressed within the game's latch time), black = not held

Every cell is pure black or white and read at its centre (the mean of its inner half), so the
overlay survives PNG exactly and H.264 at crf ~20. A key row wider than the frame is cut off;
:func:`overlay_width` tells the minimum frame width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import barcode

__all__ = [
    "CELL",
    "FRAME_Y",
    "MARKER_Y",
    "PRESSES_Y",
    "Overlay",
    "draw_overlay",
    "mask_to_keys",
    "overlay_height",
    "overlay_width",
    "read_overlay",
]

CELL = 16
FRAME_Y = 0
PRESSES_Y = CELL
MARKER_Y = 2 * CELL


@dataclass(frozen=True)
class Overlay:
    """What one frame's overlay says; a field is ``None`` when its barcode misread."""

    frame: int | None
    presses: int | None
    held_mask: int


def overlay_width(num_keys: int) -> int:
    """Minimum frame width in pixels for the overlay of ``num_keys`` marker cells."""
    return max(barcode.barcode_width(CELL), num_keys * CELL)


def overlay_height() -> int:
    """Height in pixels of the overlay band at the top of the frame."""
    return MARKER_Y + CELL


def draw_overlay(image: npt.NDArray[np.uint8], frame: int, presses: int, held_mask: int,
                 num_keys: int) -> None:
    """Draw the overlay into ``image`` ((H, W) or (H, W, C) uint8) in place.

    Args:
        image: frame to draw into; must be at least :func:`overlay_width` wide.
        frame: the game's frame number (wraps at 2**24).
        presses: total key/button presses counted so far (wraps at 2**24).
        held_mask: bit ``k`` set when layout key ``k`` is shown as held.
        num_keys: number of marker cells (``len(layout)``).
    """
    if image.shape[1] < overlay_width(num_keys) or image.shape[0] < overlay_height():
        raise ValueError(
            f"frame {image.shape[1]}x{image.shape[0]} is too small for the demo overlay: "
            f"needs {overlay_width(num_keys)}x{overlay_height()}"
        )
    wrap = (1 << barcode.BITS) - 1
    barcode.draw(image, frame & wrap, 0, FRAME_Y, CELL)
    barcode.draw(image, presses & wrap, 0, PRESSES_Y, CELL)
    for k in range(num_keys):
        image[MARKER_Y:MARKER_Y + CELL, k * CELL:(k + 1) * CELL] = 255 if held_mask >> k & 1 else 0


def read_overlay(image: npt.NDArray[np.uint8], num_keys: int) -> Overlay:
    """Read the overlay back from a captured frame (BGR or grey, uint8)."""
    frame = barcode.decode(image, 0, FRAME_Y, CELL)
    presses = barcode.decode(image, 0, PRESSES_Y, CELL)
    q = CELL // 4
    band = image[MARKER_Y + q:MARKER_Y + CELL - q, :num_keys * CELL]
    if band.ndim == 3:
        band = band.mean(axis=2)
    n = min(num_keys, band.shape[1] // CELL)
    means = band[:, :n * CELL].reshape(band.shape[0], n, CELL)[:, :, q:CELL - q].mean(axis=(0, 2))
    mask = 0
    for k, m in enumerate(means.tolist()):
        if m >= 128:
            mask |= 1 << k
    return Overlay(frame=frame, presses=presses, held_mask=mask)


def mask_to_keys(mask: int, keys: Sequence[str]) -> list[str]:
    """Names of the keys whose bit is set in ``mask``."""
    return [k for i, k in enumerate(keys) if mask >> i & 1]
