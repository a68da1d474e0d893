"""From device sample index to session time: one line per run, fitted to the arrival stamps.

Each stored piece row carries an observation: device sample ``dev_mark`` (the end of the block it
came from) *arrived* at ``t_mark_ns``. A run's arrivals lie on a line, ``t = t0 + k / rate``,
plus a delay that is never negative: a late thread wake-up, or a sound server that hands a
monitor's sound over in bursts (PulseAudio's null sink does, up to 2 s apart, when the recording
asks for no low latency). The fit (:func:`fit_run`):

1. the least-delayed arrival of every :data:`FLOOR_S` window (:func:`_envelope`: late arrivals,
   and bursts most of all, tilt a fit through all of them), and least squares through those:
   the slope is the device's rate as the monotonic clock counts it, so its drift in ppm is
   measured, not assumed;
2. *steps*: a server that drops samples (an overrun) moves every later arrival up by the time
   lost, for good; a burst moves some arrivals up for a moment. So a step is where the floor of
   the residuals (their minimum over :data:`FLOOR_S`) moves by more than :data:`STEP_NS` and
   stays there (:func:`_steps`); the samples after it get an intercept of their own, and an
   upward step's height is sound lost;
3. each stretch's intercept is the median residual of its envelope arrivals: the lower envelope,
   the arrivals with the least delay.

A run shorter than :data:`MIN_FIT_S` or with fewer than :data:`MIN_OBSERVATIONS` arrivals keeps
the nominal rate (its drift is unmeasurable and a few ms at most over that span).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FLOOR_S", "MIN_FIT_S", "MIN_OBSERVATIONS", "STEP_NS", "RunFit", "fit_run",
           "fit_runs"]

MIN_FIT_S = 2.0
MIN_OBSERVATIONS = 16
STEP_NS = 50_000_000
FLOOR_S = 3.0  # longer than any burst: an on-time arrival falls in every window this long
_BUCKET_S = 0.5


@dataclass(frozen=True)
class RunFit:
    """The clock of one run: device sample ``k`` is at ``t0 + k * 1e9 / rate`` (session ns).

    ``t0`` is ``t0_ns`` up to the first step, then each step's: ``steps`` lists
    ``(k_from, t0_ns)`` in order.
    """

    run: int
    rate: float
    t0_ns: float
    nominal: int
    observations: int
    jitter_ms: tuple[float, float, float]  # arrival above the line: p50, p99, max
    steps: tuple[tuple[int, float], ...] = ()

    @property
    def drift_ppm(self) -> float:
        """How much faster (positive) the device's clock runs than the nominal rate says."""
        return (self.rate / self.nominal - 1.0) * 1e6

    @property
    def lost_ns(self) -> float:
        """Sound the server dropped: the upward steps' heights."""
        before = [self.t0_ns, *(t for _, t in self.steps)]
        return float(sum(max(0.0, b - a) for a, b in itertools.pairwise(before)))

    def breaks(self) -> list[int]:
        """The device indices where a step starts a new intercept."""
        return [k for k, _ in self.steps]

    def time_ns(self, k: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Session time (ns) of device sample(s) ``k``."""
        k = np.asarray(k, dtype=np.float64)
        t0 = np.full(k.shape, self.t0_ns)
        for k_from, t in self.steps:
            t0 = np.where(k >= k_from, t, t0)
        return t0 + k * 1e9 / self.rate

    def to_json(self) -> dict[str, Any]:
        """The run's object in ``meta.json`` ``audio.runs``."""
        p50, p99, top = self.jitter_ms
        return {"run": self.run, "rate": round(self.rate, 4),
                "drift_ppm": round(self.drift_ppm, 2), "t0_ns": round(self.t0_ns),
                "observations": self.observations,
                "jitter_ms": {"p50": round(p50, 3), "p99": round(p99, 3), "max": round(top, 3)},
                "steps": [{"k": k, "t0_ns": round(t)} for k, t in self.steps],
                "lost_ms": round(self.lost_ns / 1e6, 3)}


def _envelope(k: npt.NDArray[np.float64], t: npt.NDArray[np.float64],
              segment: npt.NDArray[np.int64], nominal: int) -> npt.NDArray[np.int64]:
    """The least-delayed arrival of every :data:`FLOOR_S` window of each segment.

    These are the arrivals a burst or a busy moment did not hold back (every window that long
    holds one), so a line through them is the device's clock; a fit through all arrivals, or
    their lower half, is tilted by a server that delivers in bursts.
    """
    span = (k[-1] - k[0]) / nominal
    window = nominal * max(min(FLOOR_S, span / 8), 0.25)
    r = t - k * 1e9 / nominal  # detrended by the nominal rate: 1000 ppm is 3 ms per window
    out = []
    for s in np.unique(segment):
        idx = np.flatnonzero(segment == s)
        groups = ((k[idx] - k[idx[0]]) // window).astype(np.int64)
        for g in np.unique(groups):
            members = idx[groups == g]
            out.append(members[np.argmin(r[members])])
    return np.asarray(out, np.int64)


def _slope(k: npt.NDArray[np.float64], t: npt.NDArray[np.float64],
           segment: npt.NDArray[np.int64]) -> float | None:
    """Nanoseconds per sample: one slope for all segments (each its own intercept)."""
    kd, td = k.copy(), t.copy()
    for s in np.unique(segment):
        m = segment == s
        kd[m] -= k[m].mean()
        td[m] -= t[m].mean()
    den = float(np.dot(kd, kd))
    return float(np.dot(kd, td)) / den if den > 0 else None


def _steps(k: npt.NDArray[np.float64], r: npt.NDArray[np.float64], nominal: int,
           ) -> npt.NDArray[np.int64]:
    """The segment of each observation: a new one where the residuals' floor steps for good.

    ``r`` is detrended (arrival minus the fitted line). Observations are grouped in buckets of
    :data:`_BUCKET_S`; the floor behind bucket ``b`` is the minimum over the buckets of the last
    :data:`FLOOR_S` of this segment, ahead of it over the next :data:`FLOOR_S` from ``b``.
    """
    segment = np.zeros(len(k), np.int64)
    if len(k) < 2:
        return segment
    bucket = ((k - k[0]) // (nominal * _BUCKET_S)).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(bucket) > 0])
    mins = np.minimum.reduceat(r, starts)
    ids = bucket[starts]
    span = round(FLOOR_S / _BUCKET_S)
    seg, seg_from = 0, 0  # the current segment and its first bucket position
    for pos in range(1, len(starts)):
        # Judge with a whole window ahead (a run's last seconds keep their intercept). Behind, a
        # step up needs a second of this segment, a step down a whole window: a short window
        # may hold no on-time arrival of a bursty server and sit high, which looks like a step
        # down, never up.
        behind_s = (ids[pos] - ids[seg_from]) * _BUCKET_S
        if ids[-1] - ids[pos] < span - 1 or behind_s < 1.0:
            continue
        behind = mins[max(seg_from, pos - span):pos]
        floor, ahead = behind.min(), mins[pos:pos + span].min()
        if abs(ahead - floor) <= STEP_NS or (ahead < floor and behind_s < FLOOR_S):
            continue
        # Up: the step follows the last arrival still on the old floor; down: it comes with the
        # first arrival on the new one.
        lo = starts[max(seg_from, pos - span)]
        hi = starts[pos + span] if pos + span < len(starts) else len(k)
        if ahead > floor:
            on_old = np.flatnonzero(r[lo:hi] <= floor + STEP_NS)
            cut = lo + int(on_old[-1]) + 1 if len(on_old) else starts[pos]
        else:
            cut = lo + int(np.flatnonzero(r[lo:hi] < floor - STEP_NS)[0])
        seg += 1
        segment[cut:] = seg
        seg_from = int(np.searchsorted(starts, cut, side="right")) - 1
        seg_from = max(seg_from, pos)
    return segment


def fit_run(run: int, dev_marks: npt.ArrayLike, t_marks: npt.ArrayLike, nominal: int) -> RunFit:
    """Fit run ``run``'s observations (see the module docstring)."""
    k = np.asarray(dev_marks, dtype=np.float64)
    t = np.asarray(t_marks, dtype=np.float64)
    if not len(k):
        return RunFit(run, float(nominal), 0.0, nominal, 0, (0.0, 0.0, 0.0))
    order = np.argsort(k, kind="stable")
    k, t = k[order], t[order]
    slope = 1e9 / nominal
    long_enough = len(k) >= MIN_OBSERVATIONS and (k[-1] - k[0]) / nominal >= MIN_FIT_S
    segment = np.zeros(len(k), np.int64)
    env = _envelope(k, t, segment, nominal)
    if long_enough and len(env) >= 3:
        slope = _slope(k[env], t[env], segment[env]) or slope
        # A step tilts the first slope; the slope with the steps' intercepts finds them better.
        for _ in range(2):
            found = _steps(k, t - slope * k, nominal)
            if found[-1] == 0 and segment[-1] == 0:
                break
            segment = found
            env = _envelope(k, t, segment, nominal)
            slope = _slope(k[env], t[env], segment[env]) or slope
    if slope <= 0:
        slope = 1e9 / nominal
    resid = t - slope * k
    intercepts = []
    for s in range(int(segment[-1]) + 1):
        mine = env[segment[env] == s]
        level = float(np.median(resid[mine])) if len(mine) else float(resid[segment == s].min())
        intercepts.append((int(k[segment == s][0]), level))
    floor = np.array([intercepts[s][1] for s in segment])
    above = (resid - floor) / 1e6
    jitter = (float(np.percentile(above, 50)), float(np.percentile(above, 99)),
              float(above.max()))
    return RunFit(run, 1e9 / slope, intercepts[0][1], nominal, len(k), jitter,
                  tuple(intercepts[1:]))


def fit_runs(pieces: npt.NDArray[np.int64], nominal: int) -> dict[int, RunFit]:
    """Every run's fit from piece rows (``(k, 5)``: run, dev_start, n, dev_mark, t_mark_ns)."""
    fits: dict[int, RunFit] = {}
    if len(pieces) == 0:
        return fits
    for run in np.unique(pieces[:, 0]):
        rows = pieces[pieces[:, 0] == run]
        # Pieces cut from one block share its observation: count it once.
        obs = np.unique(rows[:, [3, 4]], axis=0)
        fits[int(run)] = fit_run(int(run), obs[:, 0], obs[:, 1], nominal)
    return fits
