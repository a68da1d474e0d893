"""The report's plots, drawn with matplotlib (Agg, no display) and returned as PNG bytes.

Each function takes a :class:`~.facts.SessionReport` and returns one PNG. matplotlib is imported
inside :func:`_figure` only (the ``report`` extra); nothing touches the global backend, so a
program that imports this module keeps its own. Time axes are seconds since the session's first
tick, as everywhere in the package. Long sessions are binned before plotting (at most
:data:`MAX_COLUMNS` time bins), so a plot costs the same for a minute or for hours.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..events import BUTTON, KEY, PAD_BUTTON, PRESS
from ..keylayout import PAD_AXES, PAD_BUTTONS
from ..rows import OS_TIME_NONE
from ..session.timeline import live_intervals
from .facts import SessionReport

__all__ = ["ALL_PLOTS", "fps_plot", "gamepad_plot", "interval_histogram", "key_plot",
           "latency_plot", "load_matplotlib", "mouse_plot", "timeline_figure", "timeline_plot"]

WIDTH_IN, DPI = 11.0, 100  # 1100 px wide
MAX_COLUMNS = 1000
MAX_POINTS = 20_000  # a scatter of more rows draws every k-th
PAUSE, DROP, IDLE, LINE = "#9bb7d4", "#d62728", "#bbbbbb", "#1f77b4"
POLICY, HUMAN = "#ff7f0e", "#9467bd"  # a rollout's control band (timeline_plot)
AUDIO = "#8c564b"  # the sound's envelope (timeline_plot)


def load_matplotlib(purpose: str = "report") -> None:
    """Import matplotlib; when it is missing raise a DependencyError naming the ``report`` extra."""
    from ..errors import missing_dependency

    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise missing_dependency("matplotlib", "report", purpose) from exc


def _figure(height_in: float, rows: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def spans_to_draw(spans: list[tuple[float, float]], total_s: float) -> list[tuple[float, float]]:
    """``(start, length)`` spans in seconds within the plot, merged where closer than a column.

    A plot is :data:`MAX_COLUMNS` columns wide: spans nearer than one column look the same
    merged, and a session with a hundred thousand pauses then costs a thousand patches, not a
    hundred thousand.
    """
    gap = max(total_s, 1e-9) / MAX_COLUMNS
    out: list[list[float]] = []
    # Spans outside the plotted time (0 .. total_s) are not drawn at all.
    for start, length in sorted(x for x in spans if x[0] <= total_s and x[0] + x[1] >= 0):
        end = start + max(length, 0.0)
        if out and start - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b - a) for a, b in out]


def _end_s(rep: SessionReport) -> float:
    return float(rep.series.t_s[-1]) if len(rep.series.t_s) else 1.0


def _pause_spans(rep: SessionReport) -> list[tuple[float, float]]:
    return spans_to_draw([(p.start_t_ns / 1e9, (p.end_t_ns - p.start_t_ns) / 1e9)
                          for p in rep.reader.pauses], _end_s(rep))


def _idle_spans(rep: SessionReport) -> list[tuple[float, float]]:
    return spans_to_draw([(s.start_ns / 1e9, s.seconds) for s in rep.idle], _end_s(rep))


def _shade(ax: Any, rep: SessionReport, idle: bool = True) -> None:
    """Pauses (blue) and idle stretches (grey) as spans behind a time plot.

    One collection each, x in seconds and y the whole height of the axes.
    """
    across = ax.get_xaxis_transform()
    ax.broken_barh(_pause_spans(rep), (0, 1), transform=across, color=PAUSE, alpha=0.5, lw=0)
    if idle:
        ax.broken_barh(_idle_spans(rep), (0, 1), transform=across, color=IDLE, alpha=0.35,
                       lw=0)


def _bins(rep: SessionReport, finest: float = 1.0) -> tuple[npt.NDArray[np.float64], float]:
    """Time-bin edges (s) over the session and the bin width: ``finest``, wider when long."""
    t = rep.series.t_s
    end = float(t[-1]) if len(t) else 1.0
    width = max(finest, end / MAX_COLUMNS)
    width = float(np.ceil(width)) if width >= 1.0 else width
    return np.arange(0.0, end + width, width), width


def _recording_seconds(rep: SessionReport, edges: npt.NDArray[np.float64]
                       ) -> npt.NDArray[np.float64]:
    """Per bin: seconds of recording in it (between the first and last frame, not paused)."""
    t = rep.series.t_s
    if not len(t):
        return np.zeros(max(len(edges) - 1, 0))
    x = np.clip(edges, float(t[0]), float(t[-1]))
    spans = sorted((p.start_t_ns / 1e9, p.end_t_ns / 1e9) for p in rep.reader.pauses)
    merged: list[list[float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    paused = np.zeros_like(x)  # paused seconds before each edge
    if merged:
        starts, ends = np.array([m[0] for m in merged]), np.array([m[1] for m in merged])
        before = np.concatenate(([0.0], np.cumsum(ends - starts)))
        k = np.searchsorted(starts, x, side="right")  # spans starting at or before each edge
        last = np.maximum(k - 1, 0)
        inside = np.clip(x - starts[last], 0.0, ends[last] - starts[last])
        paused = np.where(k > 0, before[last] + inside, 0.0)
    return np.asarray(np.diff(x - paused), dtype=np.float64)


def fps_plot(rep: SessionReport) -> bytes:
    """Frames captured per second of recording over time, with the target as a dashed line.

    A bin's rate is its frames over the recording time in it: paused time and the time before
    the first frame are not counted, so a bin at a pause edge does not look like a stall, and a
    bin with less than half a bin of recording is not drawn.
    """
    fig, (ax,) = _figure(2.6)
    edges, width = _bins(rep)
    counts, _ = np.histogram(rep.series.t_s, bins=edges)
    live = _recording_seconds(rep, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        fps = np.where(live >= width / 2, counts / np.maximum(live, 1e-9), np.nan)
    ax.stairs(fps, edges, baseline=None, color=LINE, lw=1.2, label="achieved")
    ax.axhline(rep.series.fps, color="k", ls="--", lw=0.8, label=f"target {rep.series.fps:g}")
    _shade(ax, rep, idle=False)
    ax.set_ylim(0, rep.series.fps * 1.25)
    ax.set_ylabel("frames / s")
    ax.set_xlabel("time (s)")
    ax.set_title(f"fps over time ({width:g} s bins; blue: pauses)", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _live_intervals(rep: SessionReport) -> npt.NDArray[np.float64]:
    """The frame intervals (ms) no pause cuts: the same rule as validate's and the fps's."""
    a = rep.series.arrays
    return live_intervals(a["frame_indices"], a["timestamps"], rep.reader.pauses) / 1e6


def interval_histogram(rep: SessionReport) -> bytes:
    """The frame-interval histogram (ms, log count), intervals spanning a pause left out."""
    fig, (ax,) = _figure(2.6)
    iv = _live_intervals(rep)
    period = 1000.0 / rep.series.fps
    if len(iv):
        hi = max(float(np.percentile(iv, 99.9)) * 1.2, period * 2.5)
        ax.hist(np.clip(iv, 0, hi), bins=120, range=(0, hi), color=LINE, log=True)
    ax.axvline(period, color="k", ls="--", lw=0.8, label=f"target {period:.2f} ms")
    ax.set_xlabel("interval between consecutive frames (ms; the last bin holds everything above)")
    ax.set_ylabel("frames")
    ax.set_title(f"frame-interval histogram ({len(iv)} intervals)", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def latency_plot(rep: SessionReport) -> bytes | None:
    """Capture latency (our grab time minus the OS's frame time) over time, repeats marked.

    None when the source gave no OS frame times (docs/format.md, "OS frame times").
    """
    a, ft = rep.series.arrays, rep.stats.get("frame_times")
    if ft is None or "os_timestamps" not in a or not rep.series.rows:
        return None
    ts = np.asarray(a["timestamps"], dtype=np.int64)
    os_ts = np.asarray(a["os_timestamps"], dtype=np.int64)
    repeated = np.asarray(a["repeated"], dtype=bool)
    new = np.flatnonzero((os_ts != OS_TIME_NONE) & ~repeated)
    step = max(1, len(new) // MAX_POINTS)
    fig, (ax,) = _figure(2.6)
    rows = new[::step]
    ax.plot(ts[rows] / 1e9, (ts[rows] - os_ts[rows]) / 1e6, ".", ms=2, color=LINE,
            label="new frame")
    lat = ft.get("latency_ms")
    if lat:
        ax.axhline(lat["p50"], color="k", ls="--", lw=0.8, label=f"p50 {lat['p50']:.2f} ms")
        ax.axhline(lat["p90"], color="k", ls=":", lw=0.8, label=f"p90 {lat['p90']:.2f} ms")
    ax.vlines(ts[repeated] / 1e9, 0, 1, transform=ax.get_xaxis_transform(), color=DROP,
              lw=0.6, alpha=0.5, label=f"repeated frame ({int(repeated.sum())})")
    _shade(ax, rep, idle=False)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("grab - OS time (ms)")
    ax.set_xlabel("time (s)")
    ax.set_title(f"capture latency (source {ft['source']}; red: repeated frames)", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def timeline_plot(rep: SessionReport) -> bytes:
    """Pauses, dropped ticks, idle stretches and input events on one time axis.

    A ``play`` rollout adds a band on top: who had control, policy or the player
    (:func:`.rollout.control_spans`); a session with audio adds the sound's envelope
    (:func:`timeline_figure`).
    """
    fig, _ = timeline_figure(rep)
    return _png(fig)


def timeline_figure(rep: SessionReport) -> tuple[Any, Any]:
    """The timeline's figure and axes (:func:`timeline_plot` draws it to PNG).

    The audio band (``rep.audio``) is the peak of the sound in each of :data:`MAX_COLUMNS`
    columns on a dB scale (:func:`.audio.level`), on the row labelled ``audio``: blank where
    it is silent (below :data:`.audio.FLOOR_DB`) or nothing was recorded.
    """
    from .audio import FLOOR_DB, envelope, level
    from .rollout import control_spans

    control = control_spans(rep)
    fig, (ax,) = _figure((2.6 if control else 2.2) + (0.5 if rep.audio is not None else 0))
    t_end = float(rep.series.t_s[-1]) if rep.series.rows else 1.0
    ts = np.asarray(rep.series.arrays["timestamps"], dtype=np.int64)
    ax.broken_barh(_pause_spans(rep), (3.6, 0.8), color=PAUSE)
    drops = [float(ts[j.row - 1]) / 1e9 for j in rep.jumps if j.dropped > 0]
    ax.vlines(drops, 2.6, 3.4, color=DROP, lw=1.5)
    ax.broken_barh(_idle_spans(rep), (1.6, 0.8), color=IDLE)
    ev = rep.series.arrays["events"]
    inputs = ev["t_ns"][ev["device"] != "control"] / 1e9
    ax.vlines(inputs, 0.6, 1.4, color="#2ca02c", lw=0.4, alpha=0.6)
    labels = ["input events", f"idle > {rep.idle_seconds:g} s",
              f"dropped ticks ({rep.validation.stats['dropped_ticks']})",
              f"pauses ({len(rep.reader.pauses)})"]
    if control:
        for source, color in (("policy", POLICY), ("human", HUMAN)):
            ax.broken_barh(spans_to_draw(control[source], t_end), (4.6, 0.8), color=color,
                           label=f"{source} in control")
        labels.append("control (policy / human)")
        ax.legend(loc="upper right", fontsize=7, ncols=2, framealpha=0.8)
    if rep.audio is not None:
        y = len(labels) + 1
        edges, lo, hi = envelope(rep.audio, t_end, MAX_COLUMNS)
        mid = (edges[:-1] + edges[1:]) / 2
        lev = level(lo, hi)
        # One line per loud column, at least a pixel wide: a 5 ms click fills one column of a
        # long session, and fill_between drops a region one column wide.
        loud = lev > 0
        ax.vlines(mid[loud], y - 0.45 * lev[loud], y + 0.45 * lev[loud], color=AUDIO,
                  linewidth=1.0)
        labels.append(f"audio ({rep.audio.rate} Hz)")
    ax.set_yticks(range(1, len(labels) + 1), labels)
    ax.set_ylim(0.4, len(labels) + 0.6 + (0.9 if control else 0))
    ax.set_xlim(0, max(t_end, 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_title("timeline" + (f" (audio: peak per column, {FLOOR_DB:g} to 0 dBFS; blank: "
                               "silence or nothing recorded)" if rep.audio is not None else ""),
                 fontsize=10)
    return fig, ax


def _pooled(values: npt.NDArray[Any], t: npt.NDArray[np.float64], edges: npt.NDArray[np.float64],
            how: Any) -> npt.NDArray[np.float64]:
    """Reduce rows into time bins (``how``: the ufunc np.maximum or np.add), per column."""
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    out = np.zeros((len(edges) - 1, *values.shape[1:]), dtype=np.float64)
    how.at(out, idx, values.astype(np.float64))
    return out


def key_plot(rep: SessionReport) -> bytes:
    """Per-key activity: when each used key or button was held, and how often it was pressed."""
    a, keys = rep.series.arrays, rep.reader.layout.keys
    ev = a["events"]
    press = np.isin(ev["device"], [KEY, BUTTON, PAD_BUTTON]) & (ev["value"] == PRESS)  # not HELD
    codes, counts = np.unique(ev["code"][press], return_counts=True)
    presses = {str(c): int(n) for c, n in zip(codes, counts, strict=True)}
    actions = np.asarray(a["actions"])
    used = [i for i, k in enumerate(keys) if presses.get(k) or actions[:, i].any()]
    fig, (ax,) = _figure(max(1.6, 0.5 + 0.28 * max(len(used), 1)))
    if not used:
        ax.text(0.5, 0.5, "no key or mouse button was pressed", ha="center", va="center")
        ax.set_axis_off()
        return _png(fig)
    edges, _ = _bins(rep, finest=1.0 / rep.series.fps)  # one frame a column when it fits
    held = _pooled(actions[:, used] > 0, rep.series.t_s, edges, np.maximum)
    fps = rep.series.fps
    ax.imshow(held.T, aspect="auto", interpolation="nearest", cmap="Greens", vmin=0, vmax=1.4,
              extent=(edges[0], edges[-1], len(used) - 0.5, -0.5))
    ax.set_yticks(range(len(used)), [
        f"{keys[i]}  {presses.get(keys[i], 0)}x, {np.count_nonzero(actions[:, i]) / fps:.1f} s"
        for i in used], fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_title("per-key activity (held; label: presses, seconds held)", fontsize=10)
    return _png(fig)


def mouse_plot(rep: SessionReport) -> bytes:
    """Mouse speed (raw counts per second) over time; idle stretches grey."""
    fig, (ax,) = _figure(2.4)
    a = rep.series.arrays
    d = np.asarray(a["mouse_deltas"], dtype=np.float64)
    edges, width = _bins(rep)
    dist = _pooled(np.hypot(d[:, 0], d[:, 1]), rep.series.t_s, edges, np.add) if len(d) else \
        np.zeros(len(edges) - 1)
    ax.fill_between(edges[:-1], dist / width, step="post", color=LINE, alpha=0.7)
    _shade(ax, rep)
    ax.set_ylabel("counts / s")
    ax.set_xlabel("time (s)")
    ax.set_title(f"mouse speed ({width:g} s bins; total {float(d.__abs__().sum()):.0f} counts "
                 "|dx|+|dy|)", fontsize=10)
    return _png(fig)


def gamepad_plot(rep: SessionReport) -> bytes | None:
    """Stick deflection and buttons held over time, or None when no gamepad was recorded."""
    g = rep.series.arrays.get("gamepad")
    if not rep.reader.has_gamepad or g is None or not len(g):
        return None
    fig, (ax, bx) = _figure(3.6, rows=2)
    edges, _ = _bins(rep)
    t = rep.series.t_s
    nb = len(PAD_BUTTONS)
    axes = np.asarray(g[:, nb:nb + len(PAD_AXES)], dtype=np.float64)
    left = _pooled(np.hypot(axes[:, 0], axes[:, 1]), t, edges, np.maximum)
    right = _pooled(np.hypot(axes[:, 2], axes[:, 3]), t, edges, np.maximum)
    ax.step(edges[:-1], left, where="post", label="left stick")
    ax.step(edges[:-1], right, where="post", label="right stick")
    ax.set_ylim(0, 1.5)
    ax.set_ylabel("deflection")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("gamepad use", fontsize=10)
    buttons = g[:, :nb] > 0.5
    used = [i for i in range(nb) if buttons[:, i].any()]
    if used:
        held = _pooled(buttons[:, used], t, edges, np.maximum)
        bx.imshow(held.T, aspect="auto", interpolation="nearest", cmap="Purples", vmin=0,
                  vmax=1.4, extent=(edges[0], edges[-1], len(used) - 0.5, -0.5))
        bx.set_yticks(range(len(used)), [PAD_BUTTONS[i] for i in used], fontsize=8)
    else:
        bx.text(0.5, 0.5, "no gamepad button pressed", ha="center", va="center",
                transform=bx.transAxes)
    bx.set_xlabel("time (s)")
    return _png(fig)


# (anchor, heading, function) in page order.
ALL_PLOTS: tuple[tuple[str, str, Callable[[SessionReport], bytes | None]], ...] = (
    ("fps", "fps over time", fps_plot),
    ("intervals", "Frame intervals", interval_histogram),
    ("latency", "Capture latency (OS frame times)", latency_plot),
    ("timeline", "Dropped ticks, pauses, idle stretches (and who had control)", timeline_plot),
    ("keys", "Per-key activity", key_plot),
    ("mouse", "Mouse speed", mouse_plot),
    ("gamepad", "Gamepad use", gamepad_plot),
)
