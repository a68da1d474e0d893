"""A frame-number barcode that survives lossy video, drawn into and read back from pixels.

The synthetic source and the demo game draw their frame number into every frame so that tests (and
users) can read the truth back from captured pixels, even after H.264 at crf ~20. Layout, left to
right, one square cell of ``cell`` pixels each, on one row::

    [white][black] b23 b22 ... b0 [parity]

White is 255, black 0; a cell is read at its centre (the mean of its inner half), thresholded at
128. The two guard cells tell "no barcode here" apart from the value 0, and the even-parity cell
catches most misreads. :func:`decode` returns ``None`` when either check fails.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BITS", "barcode_width", "decode", "draw"]

BITS = 24
_CELLS = BITS + 3


def barcode_width(cell: int = 16) -> int:
    """Width in pixels of a barcode with ``cell``-pixel cells."""
    return _CELLS * cell


def _cells(value: int) -> list[int]:
    if not 0 <= value < 1 << BITS:
        raise ValueError(f"barcode value must be in [0, 2**{BITS}), got {value}")
    bits = [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    return [1, 0, *bits, sum(bits) & 1]


def draw(image: npt.NDArray[np.uint8], value: int, x: int = 0, y: int = 0,
         cell: int = 16) -> None:
    """Draw ``value`` into ``image`` (H, W) or (H, W, C) uint8 in place, top-left at (x, y)."""
    h, w = image.shape[:2]
    if y + cell > h or x + _CELLS * cell > w:
        raise ValueError(f"barcode of {_CELLS * cell}x{cell} px does not fit at ({x}, {y}) "
                         f"in a {w}x{h} image")
    for i, bit in enumerate(_cells(value)):
        image[y:y + cell, x + i * cell:x + (i + 1) * cell] = 255 if bit else 0


def decode(image: npt.NDArray[np.uint8], x: int = 0, y: int = 0, cell: int = 16) -> int | None:
    """Read a barcode drawn by :func:`draw`; ``None`` when there is none or it misreads."""
    h, w = image.shape[:2]
    if y + cell > h or x + _CELLS * cell > w:
        return None
    q = max(cell // 4, 1)
    strip = image[y + q:y + cell - q, x:x + _CELLS * cell]
    if strip.ndim == 3:
        strip = strip.mean(axis=2)
    means = strip.reshape(strip.shape[0], _CELLS, cell)[:, :, q:cell - q].mean(axis=(0, 2))
    bits = (means >= 128).astype(int).tolist()
    if bits[0] != 1 or bits[1] != 0 or (sum(bits[2:2 + BITS]) & 1) != bits[-1]:
        return None
    value = 0
    for b in bits[2:2 + BITS]:
        value = (value << 1) | b
    return value
