"""``timing.png``: frame intervals over time, their histogram, and input activity per second.

Top: the interval between consecutive frames (ms) against capture time, with the target interval
as a dashed line, pauses shaded grey and dropped ticks marked red; beside it a sideways histogram
of the same intervals on the same ms axis. Below: key/button presses per second and mouse motion
(raw counts) per second, on the same time axis. A long session is drawn at pixel resolution (the
min..max of the intervals in each pixel column), so the cost stays small for hours of recording.
When the source stamped its frames, the notes at the right add the capture latency and the
repeated frames (docs/format.md, "OS frame times").
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..atomic import atomic_write
from ..diskspace import check_free, on_disk, said_when_full
from ..marks import mark_png
from ..session.frametimes import frame_time_stats
from ..session.timeline import leading_missed, tick_jumps
from .data import SessionSeries
from .plot import INK, Axes, dashed_hline, legend, text

__all__ = ["SIZE", "TIMING_MARK", "render_timing", "write_timing"]

TIMING_MARK = "timing-plot"  # the PNG's Software text (marks.py): a later run may replace it

_TITLE_CHARS = 110  # what fits across the figure at the title's size

SIZE = (1200, 860)  # (width, height) of timing.png
BLUE, GREEN, RED, ORANGE = (200, 110, 30), (40, 160, 40), (40, 40, 220), (0, 140, 255)
PAUSE_GREY, SPAN_TINT = (215, 215, 215), (205, 245, 255)


def _interval_panel(img: npt.NDArray[np.uint8], ax: Axes, t: npt.NDArray[np.float64],
                    iv: npt.NDArray[np.float64], skip: npt.NDArray[np.bool_]) -> None:
    """Min..max of the intervals per pixel column, joined column to column within a run.

    ``skip`` marks intervals not plotted (those spanning a pause); the line breaks there.
    """
    n = ax.x1 - ax.x0 + 1
    bounds = [0, *(np.flatnonzero(skip) + 1).tolist(), len(iv)]
    for s0, s1 in itertools.pairwise(bounds):
        seg = np.arange(s0, s1)
        seg = seg[~skip[seg]]
        if not len(seg):
            continue
        cols = ax.px(t[seg]) - ax.x0
        lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(lo, cols, iv[seg])
        np.maximum.at(hi, cols, iv[seg])
        used = np.flatnonzero(np.isfinite(lo))
        ylo, yhi = ax.py(lo[used]), ax.py(hi[used])
        prev: tuple[int, int] | None = None
        for c, a, b in zip(used, ylo, yhi, strict=True):
            x = int(c) + ax.x0
            cv2.line(img, (x, int(a)), (x, int(b)), BLUE, 2)
            if prev is not None:
                cv2.line(img, prev, (x, int(a)), BLUE, 2, cv2.LINE_AA)
            prev = (x, int(b))
    over = ~skip & (iv > ax.ylim[1])
    for x in ax.px(t[over]):  # intervals above the axis: a small caret at the top
        pts = np.array([[x, ax.y0 + 1], [x - 4, ax.y0 + 8], [x + 4, ax.y0 + 8]], np.int32)
        cv2.fillPoly(img, [pts], BLUE)


def render_timing(series: SessionSeries, title: str = "",
                  span_s: tuple[float, float] | None = None) -> npt.NDArray[np.uint8]:
    """Draw the timing figure as a BGR image of :data:`SIZE`; ``span_s`` tints the preview span."""
    w, h = SIZE
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    a = series.arrays
    t = series.t_s
    target = 1000.0 / series.fps
    t_end = max(float(t[-1]) if len(t) else 0.0, 1.0)
    iv = np.diff(np.asarray(a["timestamps"], dtype=np.float64)) / 1e6
    ti = t[1:]
    jumps = tick_jumps(a["frame_indices"], a["timestamps"], series.pauses)
    pause_rows = np.array([j.row for j in jumps if j.cut], np.int64)
    gap_rows = np.array([j.row for j in jumps if j.dropped > 0], np.int64)
    skip = np.zeros(len(iv), dtype=bool)
    skip[pause_rows - 1] = True  # a pause's interval is its length: shaded, not plotted
    plotted = iv[~skip]
    top = max(2.5 * target, float(np.percentile(plotted, 99.5)) * 1.15 if len(plotted) else 0.0)
    top = min(top, 10 * target)

    dropped = sum(j.dropped for j in jumps) + leading_missed(a["frame_indices"], series.pauses)
    stats = (f"{series.rows} frames, {t_end:.1f} s, target {series.fps:g} fps "
             f"({target:.2f} ms)")
    if len(plotted):
        stats += (f" | interval mean {plotted.mean():.2f} ms, p99 "
                  f"{np.percentile(plotted, 99):.2f} ms, max {plotted.max():.2f} ms")
    stats += f" | {dropped} dropped ticks, {len(pause_rows)} pauses"
    # The title carries the session's labels, whose notes may be long: one line of the figure.
    title = title or "frame timing"
    text(img, title if len(title) <= _TITLE_CHARS else title[:_TITLE_CHARS - 3] + "...",
         (20, 28), 0.6, INK, 2)
    text(img, stats, (20, 52), 0.45)

    ax = Axes(70, 90, 860, 420, (0.0, t_end), (0.0, top))
    if span_s is not None:
        ax.span(img, span_s[0], min(span_s[1], t_end), SPAN_TINT)
    for r in pause_rows:
        ax.span(img, float(t[r - 1]), float(t[r]), PAUSE_GREY)
    ax.draw(img, "frame interval (ms)", xticks=True, xfmt="")
    for r in pause_rows:
        text(img, "pause", (int(ax.px(t[r - 1])) + 3, ax.y0 + 16), 0.4, (90, 90, 90))
    _interval_panel(img, ax, ti, iv, skip)
    dashed_hline(img, ax, target, GREEN, thick=1)
    for r in gap_rows:  # dropped ticks: a red line through the plot and a triangle at the top
        x = int(ax.px(t[r]))
        cv2.line(img, (x, ax.y0), (x, ax.y1), RED, 1)
        pts = np.array([[x, ax.y0 + 10], [x - 6, ax.y0], [x + 6, ax.y0]], np.int32)
        cv2.fillPoly(img, [pts], RED, cv2.LINE_AA)
    items = [("frame interval", BLUE, "line"), (f"target {target:.2f} ms", GREEN, "dash"),
             ("dropped ticks", RED, "tri"), ("pause", PAUSE_GREY, "box")]
    if span_s is not None:
        items.append(("preview span", SPAN_TINT, "box"))
    legend(img, (ax.x1 - 6, ax.y0 + 6), items)

    # Sideways histogram on the same ms axis.
    edges = np.linspace(0.0, top, 121)
    counts, _ = np.histogram(np.clip(plotted, 0.0, top), bins=edges)
    hx = Axes(900, 90, 1170, 420, (0.0, max(float(counts.max()) if len(counts) else 1.0, 1.0)),
              (0.0, top))
    hx.draw(img, "interval histogram (frames)", xticks=True)
    ys = hx.py(edges)
    xs = hx.px(counts)
    for i in np.flatnonzero(counts):
        cv2.rectangle(img, (hx.x0 + 1, int(ys[i + 1])), (int(xs[i]), max(int(ys[i]) - 1,
                      int(ys[i + 1]))), BLUE, -1)
    dashed_hline(img, hx, target, GREEN)

    # Input activity per second.
    ev = a["events"]
    sec = np.arange(int(np.ceil(t_end)) + 1, dtype=np.float64)
    et = np.asarray(ev["t_ns"], dtype=np.float64) / 1e9
    dev = np.asarray(ev["device"]).astype(str)
    val = np.asarray(ev["value"], dtype=np.float64)
    press = np.isin(dev, ("key", "button", "pad_btn")) & (val == 1.0)
    presses, _ = np.histogram(et[press], bins=sec)
    motion = dev == "motion"
    moved, _ = np.histogram(et[motion], bins=sec, weights=np.abs(val[motion]))
    for (y0, y1), vals, label, color in (
            ((480, 630), presses, "key / button presses per second", ORANGE),
            ((680, 820), moved, "mouse motion per second (raw counts, |dx|+|dy|)", BLUE)):
        px = Axes(70, y0, 860, y1, (0.0, t_end), (0.0, max(float(vals.max()), 1.0) * 1.1))
        if span_s is not None:
            px.span(img, span_s[0], min(span_s[1], t_end), SPAN_TINT)
        for r in pause_rows:
            px.span(img, float(t[r - 1]), float(t[r]), PAUSE_GREY)
        px.draw(img, label, xlabel="time since start (s)" if y0 > 600 else "")
        px.bars(img, sec, vals, color)
    for n, line in enumerate((
            "How to read this:",
            "- blue near the green dashes: frames",
            "  arrived on time",
            "- spikes: late frames (the next",
            "  interval is short to catch up)",
            "- red triangles: ticks dropped",
            "- grey: recording paused",
            f"- total key presses: {int(presses.sum())}",
            f"- total mouse motion: {int(moved.sum())}",
            *_frame_time_lines(a))):
        text(img, line, (900, 500 + 22 * n), 0.45)
    return img


def _frame_time_lines(a: dict[str, npt.NDArray[Any]]) -> list[str]:
    """The capture latency and repeats, when the source stamped its frames (else nothing)."""
    if "os_timestamps" not in a:
        return []
    ft = frame_time_stats(None, a["timestamps"], a["os_timestamps"], a["repeated"])
    lat = ft["latency_ms"]
    return [f"- repeated frames: {ft['repeated_frames']}",
            "- capture latency (grab - OS time):",
            f"  p50 {lat['p50']:.2f}, p90 {lat['p90']:.2f}, max {lat['max']:.2f} ms"
            if lat else "  none (no OS times)"]


def write_timing(series: SessionSeries, path: Path, title: str = "",
                 span_s: tuple[float, float] | None = None) -> None:
    """Render the timing figure and write it as PNG to ``path`` (atomic.py), marked as ours.

    Encoded in memory, so a full disk is the one line of diskspace.py (with the size needed),
    not libpng's own complaints on stderr.
    """
    img = render_timing(series, title, span_s)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise OSError(f"the timing plot for {path} could not be encoded as PNG")
    data = mark_png(buf.tobytes(), TIMING_MARK)
    needed = on_disk([len(data)])
    todo = "free some space (or choose another --out) and run preview again"
    check_free(path, needed, "the timing plot", todo)
    with said_when_full(path, needed, "the timing plot", todo):
        atomic_write(path, data)
