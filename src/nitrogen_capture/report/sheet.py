"""The contact sheet: evenly spaced frames of a session with each row's actions written under it.

Frames are decoded through the session's own frame store
(:meth:`~nitrogen_capture.session.reader.SessionReader.map_chunk_frames`: PNG folders and video
files alike), only the chosen rows, each shrunk to the tile width as soon as it is decoded, so
memory holds one tile per frame shown. Only rows whose frame is on disk are chosen. Under each
frame: its time and row, the keys and buttons held, the mouse delta and, with a gamepad, the
pressed buttons and stick positions; a frame inside an idle stretch is tagged ``IDLE`` (what
``convert --drop-idle-seconds`` would leave out).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

import cv2
import numpy as np
import numpy.typing as npt

from ..keylayout import PAD_AXES, PAD_BUTTONS
from ..preview.plot import drawable
from .facts import DEFAULT_TILES, SessionReport

__all__ = ["DEFAULT_COLUMNS", "DEFAULT_TILES", "TILE_WIDTH", "render_sheet", "sheet_rows"]

DEFAULT_COLUMNS, TILE_WIDTH = 4, 270
CAPTION_LINES, LINE_H, PAD = 4, 15, 6
FONT = cv2.FONT_HERSHEY_SIMPLEX
BG, INK, DIM, HELD, IDLE_RED = (255, 255, 255), (20, 20, 20), (110, 110, 110), (30, 130, 30), \
    (40, 40, 200)
Progress = Callable[[int, int], None]


def sheet_rows(rep: SessionReport, tiles: int) -> list[int]:
    """Up to ``tiles`` merged rows, evenly spaced over the rows whose frame is on disk."""
    present = np.concatenate([rep.reader.frames_present(c)
                              for c in rep.reader.included_chunks()] or [np.zeros(0, bool)])
    rows = np.flatnonzero(present)
    if len(rows) > tiles:
        rows = rows[np.unique(np.round(np.linspace(0, len(rows) - 1, tiles)).astype(np.int64))]
    return [int(r) for r in rows]


def _caption(rep: SessionReport, row: int) -> list[tuple[str, tuple[int, int, int]]]:
    a = rep.series.arrays
    keys = rep.reader.layout.keys
    held = [k for k, v in zip(keys, a["actions"][row].tolist(), strict=True) if v]
    dx, dy = (float(v) for v in a["mouse_deltas"][row])
    t = float(a["timestamps"][row]) / 1e9
    lines = [(f"{t:7.2f} s  row {row}" + ("  IDLE" if rep.idle_mask[row] else ""),
              IDLE_RED if rep.idle_mask[row] else INK),
             ("keys: " + (" ".join(held) if held else "-"), HELD if held else DIM),
             (f"mouse: dx {dx:+.0f} dy {dy:+.0f}", INK if dx or dy else DIM)]
    g = a.get("gamepad")
    if rep.reader.has_gamepad and g is not None:
        nb = len(PAD_BUTTONS)
        pressed = [PAD_BUTTONS[i] for i in range(nb) if g[row, i] > 0.5]
        sticks = " ".join(f"{n} {g[row, nb + i]:+.1f}" for i, n in enumerate(PAD_AXES))
        lines.append(("pad: " + (" ".join(pressed) or "-") + "  " + sticks, INK))
    return lines


def _fit(text: str, width: int, scale: float) -> str:
    """``text`` cut with ``..`` so it fits ``width`` px."""
    while text and cv2.getTextSize(text, FONT, scale, 1)[0][0] > width:
        text = text[:-3] + ".."
    return text


def render_sheet(rep: SessionReport, *, tiles: int = DEFAULT_TILES,
                 columns: int = DEFAULT_COLUMNS, tile_width: int = TILE_WIDTH,
                 progress: Progress | None = None) -> npt.NDArray[np.uint8]:
    """The contact sheet as a BGR image; a session without frames gives a one-line note."""
    rows = sheet_rows(rep, tiles)
    size = rep.reader.meta.capture.size if rep.reader.meta.capture else None
    w, h = size if size else (16, 9)
    frame_h = max(1, round(tile_width * h / w))
    cell_w, cell_h = tile_width + 2 * PAD, frame_h + CAPTION_LINES * LINE_H + 3 * PAD
    cols = max(1, min(columns, len(rows)))
    nrows = max(1, -(-len(rows) // cols))
    sheet = np.full((nrows * cell_h + PAD, cols * cell_w + PAD, 3), BG, np.uint8)
    if not rows:
        cv2.putText(sheet, "no frame on disk", (PAD, cell_h // 2), FONT, 0.5, INK, 1, cv2.LINE_AA)
        return sheet

    def shrink(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return np.asarray(cv2.resize(img, (tile_width, frame_h), interpolation=cv2.INTER_AREA),
                          np.uint8)

    chunks = {c.index: c for c in rep.reader.included_chunks()}
    offsets = rep.reader.row_offsets()
    starts = sorted((off, idx) for idx, off in offsets.items())
    done = 0
    # Rows grouped by chunk, each chunk's frames decoded once in row order.
    chunk_of = {r: max(((off, idx) for off, idx in starts if off <= r))[1] for r in rows}
    for idx, group in groupby(rows, key=lambda r: chunk_of[r]):
        grp = list(group)
        tiles_ = rep.reader.map_chunk_frames(chunks[idx], [r - offsets[idx] for r in grp], shrink)
        for row, tile in zip(grp, tiles_, strict=True):
            k = rows.index(row)
            x, y = PAD + (k % cols) * cell_w, PAD + (k // cols) * cell_h
            sheet[y:y + frame_h, x:x + tile_width] = tile
            if rep.idle_mask[row]:
                cv2.rectangle(sheet, (x, y), (x + tile_width - 1, y + frame_h - 1), IDLE_RED, 3)
            for i, (text, color) in enumerate(_caption(rep, row)):
                cv2.putText(sheet, _fit(drawable(text), tile_width, 0.42),
                            (x, y + frame_h + PAD + (i + 1) * LINE_H - 3), FONT, 0.42, color, 1,
                            cv2.LINE_AA)
            done += 1
            if progress is not None:
                progress(done, len(rows))
    return sheet
