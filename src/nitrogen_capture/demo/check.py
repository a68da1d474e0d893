"""Compare a recorded demo session with the truth: the game's pixels, its log, the player's log.

Used by ``nitrogen-capture demo`` and the tier-1 tests, so both judge a recording the same way:

* frames on disk = rows of the arrays = frames the recorder counted;
* the frame-number barcodes read back from the stored frames never go backwards (a pygame loop
  at ``tick(60)`` runs at ~60-62 fps, so duplicates and skips are expected, not 1:1);
* key presses: injected by the player (outside pauses) = press events in ``events`` = rising
  edges of ``actions`` = presses the game counted (those include hotkey chords and pauses);
* the logged key state agrees with the on-screen markers within +-``tolerance`` rows, placing
  each stored frame at the moment the game sampled the state it drew (from the game's log), so
  a game that stalls on a busy machine does not count against the recorder
  (``alignment_rows`` is the plain row-by-row figure);
* raw mouse delta sums = injected sums (and = what the game got while it grabbed the pointer);
* with audio (``record --audio``): a click onset for every recorded press and the
  audio-to-event offset (:mod:`.audiocheck`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..session.reader import SessionReader
from ..session.timeline import achieved_fps
from . import markers
from .audiocheck import AudioOffset, session_audio_offset
from .player import TruthLog

__all__ = ["CheckReport", "Readout", "alignment", "check_session", "game_positions",
           "game_stalled", "read_overlays"]


@dataclass(frozen=True)
class Readout:
    """The overlays of every stored frame, by merged row (-1 where a barcode misread)."""

    frame_numbers: npt.NDArray[np.int64]
    presses: npt.NDArray[np.int64]
    held: npt.NDArray[np.bool_]  # (n, K)


@dataclass
class CheckReport:
    """Numbers of one comparison; :attr:`problems` lists what failed."""

    frames: int = 0
    frames_on_disk: int = 0
    frames_counted: int = 0
    fps_target: float = 0.0
    fps_achieved: float = 0.0
    dropped_ticks: int = 0
    barcodes_read: int = 0
    barcodes_backwards: int = 0
    presses_injected: int = 0
    presses_events: int = 0
    presses_actions: int = 0
    presses_game: int | None = None
    presses_game_expected: int | None = None
    key_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    mouse_injected: tuple[int, int] = (0, 0)
    mouse_recorded: tuple[float, float] = (0.0, 0.0)
    mouse_game: tuple[int, int] | None = None
    alignment: float = 0.0
    alignment_rows: float = 0.0
    frames_game_stalled: int = 0
    pauses: int = 0
    audio: AudioOffset | None = None  # None: the session recorded no audio
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def read_overlays(reader: SessionReader) -> Readout:
    """Decode the overlay of every stored frame of the session (merged row order)."""
    k = len(reader.layout)
    nums: list[int] = []
    presses: list[int] = []
    held: list[list[bool]] = []
    for _, img in reader.iter_frames():
        ov = markers.read_overlay(img, k)
        nums.append(-1 if ov.frame is None else ov.frame)
        presses.append(-1 if ov.presses is None else ov.presses)
        held.append([bool(ov.held_mask >> i & 1) for i in range(k)])
    return Readout(np.array(nums, np.int64), np.array(presses, np.int64),
                   np.array(held, bool).reshape(len(nums), k))


def alignment(actions: npt.NDArray[Any], held: npt.NDArray[np.bool_], valid: npt.ArrayLike,
              tolerance: int = 1, positions: npt.ArrayLike | None = None,
              latch_rows: int = 0) -> float:
    """Fraction of stored frames whose markers and the logged actions agree within +-tolerance.

    Row ``i`` shows the game's state of (action) row ``p_i``: ``positions[i]`` when given (the row
    whose interval holds the moment the game sampled the state it drew, which takes the game's
    own rendering lag out of the comparison), else ``i``. For every key, row ``i``'s on-screen
    state must occur among the logged states of rows ``p_i - tol .. p_i + tol``, and the logged
    state of row ``p_i`` must occur among the on-screen states of frames whose ``p`` lies within
    ``tol`` of it. A key the game shows lit for ``latch_rows`` after a press may stay lit that much
    longer. Frames whose overlay misread (``valid`` False) count as disagreeing.
    """
    a = np.asarray(actions, dtype=bool)
    m = np.asarray(held, dtype=bool)
    n = len(m)
    if n == 0 or len(a) == 0:
        return 0.0
    ok = np.asarray(valid, dtype=bool).copy()
    p = np.arange(n) if positions is None else np.asarray(positions, dtype=np.int64)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    for i in range(n):
        if not ok[i]:
            continue
        pi = int(min(max(p[i], 0), len(a) - 1))
        lo, hi = max(pi - tolerance, 0), min(pi + tolerance + 1, len(a))
        a_any = a[max(lo - latch_rows, 0):hi].any(axis=0)  # lit: a press up to a latch earlier
        a_has0 = ~a[lo:hi].all(axis=0)
        near = order[np.searchsorted(ps, pi - tolerance):
                     np.searchsorted(ps, pi + tolerance + latch_rows, side="right")]
        near_on = order[np.searchsorted(ps, pi - tolerance):
                        np.searchsorted(ps, pi + tolerance, side="right")]
        m_has1 = m[near_on].any(axis=0) if len(near_on) else np.zeros(m.shape[1], bool)
        m_has0 = ~m[near].all(axis=0) if len(near) else np.zeros(m.shape[1], bool)
        good = np.where(m[i], a_any, a_has0) & np.where(a[pi], m_has1, m_has0)
        ok[i] = bool(good.all())
    return float(ok.mean())


def game_positions(frame_numbers: npt.NDArray[np.int64], game_log: dict[str, Any],
                   timestamps: npt.NDArray[np.int64], t0_ns: int) -> npt.NDArray[np.int64]:
    """For each stored frame, the row whose interval holds the time of the game state it shows.

    Uses the game log's per-frame state times (``records.t_ns``); frames whose barcode misread or
    is not in the log get -1.
    """
    rec = game_log["records"]
    state_t = dict(zip(rec["frame"], rec["t_ns"], strict=True))
    out = np.full(len(frame_numbers), -1, np.int64)
    for i, f in enumerate(frame_numbers.tolist()):
        t = state_t.get(f)
        if t is not None:
            out[i] = int(np.searchsorted(timestamps, int(t) - t0_ns, side="left"))
    return out


def game_stalled(frame_numbers: npt.NDArray[np.int64], game_log: dict[str, Any],
                 lookback: int = 4, factor: float = 2.5) -> npt.NDArray[np.bool_]:
    """Stored frames showing a game frame drawn while the game itself was stalling.

    A game frame is stalled when one of its last ``lookback`` loop intervals took more than
    ``factor`` times the median: a starved game (a busy machine) picks up input late, so its
    markers say nothing about the recorder. Unknown frames count as stalled.
    """
    rec = game_log["records"]
    t = np.asarray(rec["t_ns"], np.int64)
    frames = np.asarray(rec["frame"], np.int64)
    if len(t) < 2:
        return np.ones(len(frame_numbers), bool)
    gaps = np.diff(t, prepend=t[0])
    slow = gaps > factor * float(np.median(gaps[1:]))
    recent = np.array([slow[max(j - lookback + 1, 0):j + 1].any() for j in range(len(t))])
    by_frame = dict(zip(frames.tolist(), recent.tolist(), strict=True))
    return np.array([by_frame.get(f, True) for f in frame_numbers.tolist()], bool)


def _press_edges(actions: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    a = np.asarray(actions, dtype=np.int8)
    prev = np.vstack([np.zeros((1, a.shape[1]), np.int8), a[:-1]])
    return np.asarray(((a == 1) & (prev == 0)).sum(axis=0), dtype=np.int64)


def _recorded(t_rel: int, pauses: Sequence[tuple[float, float]], end: int) -> bool:
    return 0 <= t_rel <= end and not any(s <= t_rel < e for s, e in pauses)


def check_session(root: str | Path, truth: TruthLog | None = None,
                  game_log: dict[str, Any] | None = None, *, tolerance: int = 1,
                  min_alignment: float = 0.98, fps_tolerance: float = 0.01) -> CheckReport:
    """Compare the session at ``root`` with the player's truth and the game's log."""
    reader = SessionReader(root)
    keys = list(reader.layout.keys)
    arrays = reader.concat_arrays()
    actions, ts = arrays["actions"], arrays["timestamps"]
    rep = CheckReport(frames=len(actions))
    p = rep.problems
    rep.frames_on_disk = int(sum(int(reader.frames_present(c).sum())
                                 for c in reader.included_chunks()))
    counters = reader.meta.counters
    rep.frames_counted = counters.frames
    rep.dropped_ticks = counters.dropped_ticks
    rep.fps_target = reader.meta.fps_target or 0.0
    pauses = [(float(x.start_t_ns), float(x.end_t_ns)) for x in reader.pauses
              if x.reason != "start"]
    rep.pauses = len(pauses)
    if not (rep.frames == rep.frames_on_disk == rep.frames_counted):
        p.append(f"frames: {rep.frames} rows, {rep.frames_on_disk} on disk, "
                 f"{rep.frames_counted} counted")
    if len(ts) > 1:
        # The one achieved-fps rule (session/timeline.py): pause gaps are not capture time,
        # missed periods are.
        rep.fps_achieved = achieved_fps(arrays["frame_indices"], ts, reader.pauses)
        if rep.fps_target and abs(rep.fps_achieved / rep.fps_target - 1) > fps_tolerance:
            p.append(f"achieved {rep.fps_achieved:.2f} fps, target {rep.fps_target:g}")

    readout = read_overlays(reader)
    valid = readout.frame_numbers >= 0
    rep.barcodes_read = int(valid.sum())
    seen = readout.frame_numbers[valid]
    rep.barcodes_backwards = int((np.diff(seen) < 0).sum())
    if rep.barcodes_read < rep.frames:
        p.append(f"{rep.frames - rep.barcodes_read} frames without a readable barcode")
    if rep.barcodes_backwards:
        p.append(f"frame barcodes went backwards {rep.barcodes_backwards} times")
    rep.alignment_rows = alignment(actions, readout.held, valid, tolerance)
    rep.alignment = rep.alignment_rows
    if game_log is not None and len(ts):
        t0 = reader.meta.clock.t0_ns or 0
        pos = game_positions(readout.frame_numbers, game_log, ts, t0)
        period = 1e9 / rep.fps_target if rep.fps_target else 1e9 / 30
        latch_rows = int(np.ceil(float(game_log.get("latch_ns", 0)) / period))
        live = ~game_stalled(readout.frame_numbers, game_log)
        rep.frames_game_stalled = int((~live).sum())
        if rep.frames_game_stalled > rep.frames // 2:
            p.append(f"the game stalled in {rep.frames_game_stalled} of {rep.frames} frames: "
                     "the machine is too busy to judge the markers")
        keep = live & (pos >= 0)
        rep.alignment = alignment(actions, readout.held[keep], valid[keep], tolerance, pos[keep],
                                  latch_rows)
    if rep.alignment < min_alignment:
        p.append(f"markers agree with actions in {rep.alignment:.1%} of frames "
                 f"(< {min_alignment:.0%})")

    ev = arrays["events"]
    is_press = np.isin(ev["device"], ["key", "button"]) & (ev["value"] > 0)
    per_key_events = {k: int((is_press & (ev["code"] == k)).sum()) for k in keys}
    rep.presses_events = sum(per_key_events.values())
    edges = _press_edges(actions)
    rep.presses_actions = int(edges.sum())
    motion = ev["device"] == "motion"
    md = arrays["mouse_deltas"].astype(np.float64).sum(axis=0) if len(actions) else np.zeros(2)
    rep.mouse_recorded = (float(md[0]), float(md[1]))
    if float(ev["value"][motion & (ev["code"] == "dx")].sum()) != rep.mouse_recorded[0]:
        p.append("mouse_deltas do not sum to the recorded motion events")

    if truth is not None:
        t0 = reader.meta.clock.t0_ns or 0
        end = int(ts[-1]) if len(ts) else 0
        want: dict[str, int] = dict.fromkeys(keys, 0)
        dx = dy = 0
        for t, dev, code, value in truth.events:
            if not _recorded(int(t) - t0, pauses, end):
                continue
            if dev in ("key", "button") and value > 0 and code in want:
                want[code] += 1
            elif dev == "motion":
                dx += int(value) if code == "dx" else 0
                dy += int(value) if code == "dy" else 0
        rep.presses_injected = sum(want.values())
        rep.mouse_injected = (dx, dy)
        for i, k in enumerate(keys):
            if not want[k] == per_key_events[k] == int(edges[i]):
                rep.key_mismatches[k] = (want[k], per_key_events[k])
        if rep.key_mismatches or rep.presses_injected != rep.presses_events:
            p.append(f"presses injected {rep.presses_injected}, events {rep.presses_events}, "
                     f"action edges {rep.presses_actions} (per key {rep.key_mismatches})")
        if (float(dx), float(dy)) != rep.mouse_recorded:
            p.append(f"mouse injected {rep.mouse_injected}, recorded {rep.mouse_recorded}")
    if game_log is not None:
        rep.presses_game = int(game_log["total_presses"])
        if truth is not None:
            rep.presses_game_expected = truth.total_presses + sum(truth.chord_presses.values())
            if rep.presses_game != rep.presses_game_expected:
                p.append(f"game counted {rep.presses_game} presses, player injected "
                         f"{rep.presses_game_expected}")
        grabbed = game_log.get("mouse_rel_grabbed") or [0, 0]
        rep.mouse_game = (int(grabbed[0]), int(grabbed[1]))
    rep.audio = session_audio_offset(root, game_log)
    a = rep.audio
    # A silent game (no sound device) leaves nothing to find: only a clicking game's misses count.
    if a is not None and game_log is not None and game_log.get("clicks_ns") and a.missing_ns:
        p.append(f"audio: {a.presses - a.clicks_found} of {a.presses} presses without a click "
                 f"(first at {a.missing_ns[0] / 1e9:.3f} s)")
    return rep
