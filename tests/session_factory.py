"""Write small, valid format-v1 sessions by hand (docs/format.md) for the read-side tests.

Independent of the recorder and the session writer on purpose: the reader, repair, merge and
validate are tested against the format document, not against the writer's code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nitrogen_capture.binning import ActionBinner, bin_events
from nitrogen_capture.events import BUTTON, EVENT_DTYPE, KEY, MOTION, InputEvent
from nitrogen_capture.keylayout import MOUSE_BUTTONS, KeyLayout
from nitrogen_capture.session.paths import SessionPaths

LAYOUT = KeyLayout(("w", "a", "space", "lmb"), name="test")
PERIOD = 33_333_333  # 30 fps
W, H = 16, 12


@dataclass
class Built:
    """What the factory wrote, for assertions."""

    root: Path
    layout: KeyLayout
    chunk_sizes: list[int]
    frame_indices: np.ndarray
    timestamps: np.ndarray
    events: list[InputEvent]
    actions: np.ndarray
    mouse_deltas: np.ndarray
    gamepad: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    ticks: np.ndarray | None = None  # each frame's real tick (frame_indices less hidden gaps)

    @property
    def paths(self) -> SessionPaths:
        return SessionPaths(self.root)


def moving_image(row: int) -> np.ndarray:
    """A frame a picture-comparing validator sees change: a bright column that moves each row."""
    img = frame_image(row)
    img[:, row % W] = 255
    return img


def frame_image(row: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[:, :, 0] = row % 256
    img[:, :, 1] = (row // 256) % 256
    img[0, 0, 2] = 200
    return img


def _events(ts: np.ndarray, seed: int, period: int = PERIOD) -> list[InputEvent]:
    """Presses, releases, taps shorter than a frame and motion, around the frame times."""
    rng = np.random.default_rng(seed)
    out: list[InputEvent] = []
    held: set[str] = set()
    prev = int(ts[0]) - period
    for t in ts:
        t = int(t)
        for _ in range(int(rng.integers(0, 3))):
            at = int(rng.integers(prev + 1, t + 1))
            key = str(rng.choice([*LAYOUT.keys, "q"]))  # q is not in the layout
            dev = BUTTON if key in MOUSE_BUTTONS else KEY
            value = 0.0 if key in held else 1.0
            (held.discard if value == 0 else held.add)(key)
            out.append(InputEvent(at, dev, key, value))
        if rng.random() < 0.6:
            at = int(rng.integers(prev + 1, t + 1))
            out.append(InputEvent(at, MOTION, "dx", float(rng.integers(-5, 6))))
            out.append(InputEvent(at, MOTION, "dy", float(rng.integers(-5, 6))))
        prev = t
    out.sort(key=lambda e: e.t_ns)
    return out


def to_array(events: list[InputEvent]) -> np.ndarray:
    return np.array([(e.t_ns, e.device, e.code, e.value) for e in events], dtype=EVENT_DTYPE)


def make_session(
    root: Path,
    chunk_sizes: tuple[int, ...] = (5, 4, 3),
    *,
    gaps: dict[int, tuple[int, str | None]] | None = None,
    open_last: bool = False,
    gamepad: bool = False,
    seed: int = 0,
    merge: bool = False,
    jitter_ns: int = 2_000_000,
    fps: float = 30.0,
    hidden: dict[int, int] | None = None,
    image: Callable[[int], np.ndarray] | None = None,
) -> Built:
    """Write a session; ``gaps[row] = (ticks, reason)`` skips ticks before merged ``row``
    (a pause entry when ``reason`` is given, dropped ticks otherwise). ``open_last`` leaves the
    last chunk open: a journal, its PNGs, no arrays and no meta entry (a kill -9). ``jitter_ns``
    is the bound of the random capture-time jitter added to each frame's grid time. ``fps``: the
    target rate (period ``round(1e9 / fps)``, the pacer's). ``hidden[row] = periods``: periods
    missed before ``row`` that ``frame_indices`` does not show (an earlier version's pacer kept
    the index contiguous after a late tick): only the timestamps jump. ``Built.frame_indices``
    are the indices written; ``Built.ticks`` the real tick of each frame. ``image(row)``: the
    PNG of each row (default :func:`frame_image`)."""
    gaps, hidden = gaps or {}, hidden or {}
    period = round(1e9 / fps)
    paths = SessionPaths(root)
    root.mkdir(parents=True, exist_ok=True)
    n = sum(chunk_sizes)
    fi, real, tick, lost, pauses = [], [], 0, 0, []
    for r in range(n):
        lost += hidden.get(r, 0)
        if r in gaps:
            ticks, reason = gaps[r]
            if reason:
                pauses.append({"start_tick": tick, "end_tick": tick + ticks,
                               "start_t_ns": (tick + lost) * period,
                               "end_t_ns": (tick + lost + ticks) * period, "reason": reason})
            tick += ticks
        fi.append(tick)
        real.append(tick + lost)
        tick += 1
    frame_indices = np.array(fi, np.int64)
    ticks_real = np.array(real, np.int64)
    rng = np.random.default_rng(seed)
    # jitter_ns 0: frames exactly on the 30 fps grid (tests that shift events by whole periods)
    timestamps = ticks_real * period + (rng.integers(0, jitter_ns, n) if jitter_ns else 0)
    events = _events(timestamps, seed, period)
    binner = ActionBinner(LAYOUT)
    binned = bin_events(events, timestamps, LAYOUT, binner)

    meta: dict[str, Any] = {
        "schema_version": 1, "tool": {"name": "nitrogen-capture", "version": "0.1.0"},
        "status": "complete", "capture": {"backend": "synthetic", "region": [0, 0, W, H],
                                          "size": [W, H]},
        "fps": {"target": fps, "achieved": None}, "skip_late": bool(gaps), "chunk_size": 5,
        "layout": LAYOUT.to_dict(), "frame_format": {"kind": "png", "encoder": "cv2", "ext": "png"},
        "gamepad": gamepad,
        "clock": {"source": "monotonic", "t0_ns": 10**12, "t0_wall": "2026-11-24T15:00:00+00:00"},
        "chunks": [], "pauses": pauses,
        "counters": {"frames": n, "ticks": int(tick), "dropped_ticks": 0, "late_frames": 2,
                     "events": len(events)},
        "encoder": {"name": "cv2", "workers": 1, "ms_per_frame_mean": 1.5, "ms_per_frame_p99": 3.0},
        "latency_offset_ns": None,
    }
    row, prev_t = 0, None
    held_at: dict[int, list[str]] = {}
    state = ActionBinner(LAYOUT)
    for idx, size in enumerate(chunk_sizes, start=1):
        sl = slice(row, row + size)
        t_last = int(timestamps[row + size - 1])
        ev = [e for e in events if (prev_t is None or e.t_ns > prev_t) and e.t_ns <= t_last]
        held_at[idx] = state.held_keys
        for e in ev:
            state.feed(e)
        folder = paths.chunk_frames_dir(idx)
        folder.mkdir(parents=True)
        for r in range(size):
            cv2.imwrite(str(paths.frame_png(idx, r + 1)), (image or frame_image)(row + r))
        last_open = open_last and idx == len(chunk_sizes)
        if last_open:
            _write_journal(paths, idx, row, frame_indices[sl], timestamps[sl], ev, held_at[idx])
        else:
            arrays = {"actions": binned.actions[sl], "mouse_deltas": binned.mouse_deltas[sl],
                      "frame_indices": frame_indices[sl], "timestamps": timestamps[sl],
                      "events": to_array(ev)}
            if gamepad:
                arrays["gamepad"] = binned.gamepad[sl]
            for stem, arr in arrays.items():
                np.save(paths.chunk_array(stem, idx), arr)
            meta["chunks"].append({
                "index": idx, "first_row": row, "num_frames": size,
                "first_frame_index": int(frame_indices[row]),
                "last_frame_index": int(frame_indices[row + size - 1]),
                "first_t_ns": int(timestamps[row]), "last_t_ns": t_last, "region": [0, 0, W, H],
                "size": [W, H], "held_at_start": held_at[idx],
                "files": {"frames": f"frames/chunk_{idx:03d}",
                          **{s: paths.chunk_array(s, idx).name for s in arrays}},
                "complete": True})
        row += size
        prev_t = t_last
    if open_last:
        meta["status"] = "recording"
    paths.meta.write_text(json.dumps(meta, indent=2))
    built = Built(root, LAYOUT, list(chunk_sizes), frame_indices, timestamps, events,
                  binned.actions, binned.mouse_deltas, binned.gamepad, meta, ticks_real)
    if merge:
        from nitrogen_capture.session import merge_session

        merge_session(root)
    return built


def _write_journal(paths: SessionPaths, idx: int, first_row: int, fi: np.ndarray, ts: np.ndarray,
                   events: list[InputEvent], held: list[str]) -> None:
    """Interleave frame and event records in time order, as the recorder journals them."""
    lines = [{"kind": "chunk", "chunk": idx, "first_row": first_row, "region": [0, 0, W, H],
              "size": [W, H]}, {"kind": "state", "held": held}]
    recs: list[tuple[int, int, dict[str, Any]]] = []
    for r, (i, t) in enumerate(zip(fi, ts, strict=True)):
        recs.append((int(t), 0, {"kind": "frame", "row": r, "index": int(i), "t": int(t)}))
    for e in events:
        recs.append((e.t_ns, 1, {"kind": "event", "t": e.t_ns, "device": e.device,
                                 "code": e.code, "value": e.value}))
    recs.sort(key=lambda x: (x[0], x[1]))
    lines += [r[2] for r in recs]
    paths.journal(idx).write_text("".join(json.dumps(x) + "\n" for x in lines))


def chunk_to_video(root: Path, chunk: int, first_row: int, rows: int) -> None:
    """Replace a chunk's PNG folder by a lossless FFV1 MKV of the same frames (needs PyAV)."""
    import shutil

    import av

    path = root / "frames" / f"chunk_{chunk:03d}.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "bgr0"
        for r in range(rows):
            frame = av.VideoFrame.from_ndarray(frame_image(first_row + r), format="bgr24")
            out.mux(stream.encode(frame.reformat(format="bgr0")))
        out.mux(stream.encode(None))
    shutil.rmtree(root / "frames" / f"chunk_{chunk:03d}", ignore_errors=True)
