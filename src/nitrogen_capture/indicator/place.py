"""Where an indicator that the capture would see may go: a screen corner clear of the capture.

On X11 nothing keeps a window out of a screen grab, so the indicator is placed where the grab
never looks: the first of the screen's four corners (top right first, where a recording light
usually is) whose rectangle, with a gap around it, does not meet the captured rectangle. When
the capture covers every corner (a full-screen capture) there is no such place and the
indicator is not drawn at all: its pixels must never be in the data.
"""

from __future__ import annotations

from ..capture.base import Region

__all__ = ["MARGIN", "corner_spot", "overlaps"]

MARGIN = 4  # px between the indicator and the screen edge, and at least this from the capture


def overlaps(a: Region, b: Region) -> bool:
    """Whether two rectangles share a pixel."""
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


def corner_spot(screen: Region, size: tuple[int, int], avoid: Region | None,
                margin: int = MARGIN) -> tuple[int, int] | None:
    """Where a ``size`` rectangle goes: its top-left desktop position, or None.

    The first corner of ``screen`` (top right, top left, bottom right, bottom left) where it
    keeps ``margin`` px from the edges and from ``avoid``; None when none does or it cannot fit.
    """
    w, h = size
    if w + 2 * margin > screen.width or h + 2 * margin > screen.height:
        return None
    left, top = screen.left + margin, screen.top + margin
    right, bottom = screen.right - margin - w, screen.bottom - margin - h
    for x, y in ((right, top), (left, top), (right, bottom), (left, bottom)):
        grown = Region(x - margin, y - margin, x + w + margin, y + h + margin)
        if avoid is None or not overlaps(grown, avoid):
            return x, y
    return None
