"""Just enough plotting on OpenCV/numpy primitives for ``timing.png`` (no matplotlib).

:class:`Axes` maps data to pixels inside a box of the canvas and draws the frame, grid, "nice"
tick labels and a title; the rest (lines, bars, spans) are small helpers on top of cv2 calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["Axes", "Color", "dashed_hline", "drawable", "legend", "nice_ticks", "text"]

Color = tuple[int, int, int]
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK, GRID, FAINT = (40, 40, 40), (225, 225, 225), (110, 110, 110)


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 times a power of ten) covering ``[lo, hi]``, about ``n``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 100 else f"{v:g}"


def drawable(s: str) -> str:
    """``s`` as OpenCV's Hershey fonts draw it: printable ASCII, anything else as ``?``.

    Every text drawn into a picture goes through here: a session's folder name or a label may be
    any text, even lone surrogates from a file name that is not UTF-8, on which ``putText``
    crashes the process.
    """
    return "".join(ch if " " <= ch <= "~" else "?" for ch in s)


def text(img: npt.NDArray[np.uint8], s: str, org: tuple[int, int], scale: float = 0.45,
         color: Color = INK, thick: int = 1, anchor: str = "left") -> None:
    """Draw ``s`` with its baseline at ``org``; ``anchor`` ``left``, ``center`` or ``right``."""
    s = drawable(s)
    (w, _), _ = cv2.getTextSize(s, FONT, scale, thick)
    x = org[0] - (w if anchor == "right" else w // 2 if anchor == "center" else 0)
    cv2.putText(img, s, (int(x), int(org[1])), FONT, scale, color, thick, cv2.LINE_AA)


@dataclass(frozen=True)
class Axes:
    """A plot box ``(x0, y0)``-``(x1, y1)`` in pixels showing ``xlim`` x ``ylim`` of data."""

    x0: int
    y0: int
    x1: int
    y1: int
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def px(self, x: npt.ArrayLike) -> npt.NDArray[np.int32]:
        """Pixel columns of data x values (clipped to the box)."""
        lo, hi = self.xlim
        f = (np.asarray(x, dtype=np.float64) - lo) / ((hi - lo) or 1.0)
        return np.clip(np.round(self.x0 + f * (self.x1 - self.x0)), self.x0, self.x1).astype(
            np.int32)

    def py(self, y: npt.ArrayLike) -> npt.NDArray[np.int32]:
        """Pixel rows of data y values (clipped to the box; larger y is higher)."""
        lo, hi = self.ylim
        f = (np.asarray(y, dtype=np.float64) - lo) / ((hi - lo) or 1.0)
        return np.clip(np.round(self.y1 - f * (self.y1 - self.y0)), self.y0, self.y1).astype(
            np.int32)

    def draw(self, img: npt.NDArray[np.uint8], title: str, xlabel: str = "",
             xticks: bool = True, yticks: bool = True, xfmt: str = "") -> None:
        """Grid, frame, tick labels, title above the box and x label below it."""
        if yticks:
            for v in nice_ticks(*self.ylim, n=5):
                y = int(self.py(v))
                cv2.line(img, (self.x0, y), (self.x1, y), GRID, 1)
                text(img, _fmt(v), (self.x0 - 6, y + 5), 0.4, FAINT, anchor="right")
        if xticks:
            for v in nice_ticks(*self.xlim, n=10):
                x = int(self.px(v))
                cv2.line(img, (x, self.y0), (x, self.y1), GRID, 1)
                text(img, _fmt(v) + xfmt, (x, self.y1 + 16), 0.4, FAINT, anchor="center")
        cv2.rectangle(img, (self.x0, self.y0), (self.x1, self.y1), INK, 1)
        text(img, title, (self.x0, self.y0 - 8), 0.5, INK, 1)
        if xlabel:
            text(img, xlabel, ((self.x0 + self.x1) // 2, self.y1 + 34), 0.45, FAINT,
                 anchor="center")

    def span(self, img: npt.NDArray[np.uint8], a: float, b: float, color: Color) -> None:
        """Shade the x range ``[a, b]`` over the box's full height (at least 2 px wide)."""
        xa, xb = int(self.px(a)), int(self.px(b))
        cv2.rectangle(img, (xa, self.y0 + 1), (max(xb, xa + 2), self.y1 - 1), color, -1)

    def bars(self, img: npt.NDArray[np.uint8], edges: npt.ArrayLike, heights: npt.ArrayLike,
             color: Color) -> None:
        """Vertical bars: bar ``i`` spans ``edges[i]..edges[i+1]`` up to ``heights[i]``."""
        e = self.px(edges)
        top = self.py(heights)
        for i in np.flatnonzero(np.asarray(heights) > 0):
            # Wide bars get a 2 px gap so neighbours read as separate bins.
            gap = 3 if int(e[i + 1]) - int(e[i]) > 8 else 1
            x0, x1 = int(e[i]), max(int(e[i + 1]) - gap, int(e[i]))
            cv2.rectangle(img, (x0, int(top[i])), (x1, self.y1 - 1), color, -1)


def dashed_hline(img: npt.NDArray[np.uint8], ax: Axes, y: float, color: Color,
                 dash: int = 8, thick: int = 2) -> None:
    """A dashed horizontal line across ``ax`` at data ``y``."""
    py = int(ax.py(y))
    for x in range(ax.x0, ax.x1, 2 * dash):
        cv2.line(img, (x, py), (min(x + dash, ax.x1), py), color, thick, cv2.LINE_AA)


def legend(img: npt.NDArray[np.uint8], org: tuple[int, int],
           items: Sequence[tuple[str, Color, str]]) -> None:
    """A boxed legend with its top-right corner at ``org``; items are (label, colour, kind).

    ``kind`` is ``line``, ``dash``, ``dot``, ``tri`` or ``box``.
    """
    widths = [cv2.getTextSize(s, FONT, 0.4, 1)[0][0] for s, _, _ in items]
    w, h = max(widths) + 46, 18 * len(items) + 8
    x0, y0 = org[0] - w, org[1]
    cv2.rectangle(img, (x0, y0), (org[0], y0 + h), (255, 255, 255), -1)
    cv2.rectangle(img, (x0, y0), (org[0], y0 + h), FAINT, 1)
    for i, (label, color, kind) in enumerate(items):
        y = y0 + 14 + 18 * i
        if kind == "box":
            cv2.rectangle(img, (x0 + 8, y - 6), (x0 + 30, y + 4), color, -1)
        elif kind == "dot":
            cv2.circle(img, (x0 + 19, y - 1), 4, color, -1, cv2.LINE_AA)
        elif kind == "tri":
            pts = np.array([[x0 + 19, y - 7], [x0 + 13, y + 3], [x0 + 25, y + 3]], np.int32)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
        elif kind == "dash":
            cv2.line(img, (x0 + 8, y - 1), (x0 + 16, y - 1), color, 2)
            cv2.line(img, (x0 + 22, y - 1), (x0 + 30, y - 1), color, 2)
        else:
            cv2.line(img, (x0 + 8, y - 1), (x0 + 30, y - 1), color, 2, cv2.LINE_AA)
        text(img, label, (x0 + 38, y + 3), 0.4)
