"""From device sample index to session time: one line per run, fitted to the arrival stamps.

Each stored piece row carries an observation: device sample ``dev_mark`` (the end of the block it
came from) *arrived* at ``t_mark_ns``. A run's arrivals lie on a line, ``t = t0 + k / rate``,
plus a delay that is never negative (a late thread wake-up, a busy machine) and that the device
and server buffering make constant on average. The fit (:func:`fit_run`):

1. least squares over all observations;
2. again over the lower half of the residuals (late arrivals pull a plain fit up and tilt it);
3. the intercept moved down to the 2nd percentile of the residuals: the lower envelope, the
   arrivals with the least scheduling delay.

The slope is the device's rate as the monotonic clock counts it: its drift in ppm from the
nominal rate is measured, not assumed. A run shorter than :data:`MIN_FIT_S` or with fewer than
:data:`MIN_OBSERVATIONS` arrivals keeps the nominal rate (its drift is unmeasurable and a few ms
at most over that span).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MIN_FIT_S", "MIN_OBSERVATIONS", "RunFit", "fit_run", "fit_runs"]

MIN_FIT_S = 2.0
MIN_OBSERVATIONS = 16


@dataclass(frozen=True)
class RunFit:
    """The clock of one run: device sample ``k`` is at ``t0_ns + k * 1e9 / rate`` (session ns)."""

    run: int
    rate: float
    t0_ns: float
    nominal: int
    observations: int
    jitter_ms: tuple[float, float, float]  # arrival above the line: p50, p99, max

    @property
    def drift_ppm(self) -> float:
        """How much faster (positive) the device's clock runs than the nominal rate says."""
        return (self.rate / self.nominal - 1.0) * 1e6

    def time_ns(self, k: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Session time (ns) of device sample(s) ``k``."""
        return self.t0_ns + np.asarray(k, dtype=np.float64) * 1e9 / self.rate

    def to_json(self) -> dict[str, Any]:
        """The run's object in ``meta.json`` ``audio.runs``."""
        p50, p99, top = self.jitter_ms
        return {"run": self.run, "rate": round(self.rate, 4),
                "drift_ppm": round(self.drift_ppm, 2), "t0_ns": round(self.t0_ns),
                "observations": self.observations,
                "jitter_ms": {"p50": round(p50, 3), "p99": round(p99, 3), "max": round(top, 3)}}


def fit_run(run: int, dev_marks: npt.ArrayLike, t_marks: npt.ArrayLike, nominal: int) -> RunFit:
    """Fit run ``run``'s observations (see the module docstring)."""
    k = np.asarray(dev_marks, dtype=np.float64)
    t = np.asarray(t_marks, dtype=np.float64)
    order = np.argsort(k, kind="stable")
    k, t = k[order], t[order]
    rate = float(nominal)
    span_s = (k[-1] - k[0]) / nominal if len(k) else 0.0
    if len(k) >= MIN_OBSERVATIONS and span_s >= MIN_FIT_S:
        slope, icpt = np.polyfit(k, t, 1)
        resid = t - (icpt + slope * k)
        low = resid <= np.median(resid)
        if low.sum() >= MIN_OBSERVATIONS // 2:
            slope, icpt = np.polyfit(k[low], t[low], 1)
        if slope > 0:
            rate = 1e9 / float(slope)
    resid = t - k * 1e9 / rate if len(k) else np.zeros(1)
    t0 = float(np.percentile(resid, 2)) if len(k) else 0.0
    above = (resid - t0) / 1e6
    jitter = (float(np.percentile(above, 50)), float(np.percentile(above, 99)),
              float(above.max())) if len(k) else (0.0, 0.0, 0.0)
    return RunFit(run, rate, t0, nominal, len(k), jitter)


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
