"""Find short clicks in recorded audio: their onsets, on the session clock.

The demo game and the calibration window play a 5 ms click on every press they see; the check
finds those clicks in the merged ``audio.flac`` (docs/audio.md "Measured offset"). Detection:

1. the envelope: the RMS over a short window (1 ms) ending at each sample, of the loudest
   channel;
2. the background: the median of the envelope. Clicks are short and sparse, so the median is
   the noise floor or a quiet background (a game's music), not the clicks; the threshold is
   ``snr`` times it, and never below ``min_level`` (digital silence has a floor of 0, where any
   dither would count);
3. a click starts where the envelope rises through the threshold, at least ``refractory_ms``
   after the previous onset (the ring of one click is not a second click);
4. the onset is refined to the first sample of the burst itself: the first sample within one
   window before the crossing whose magnitude reaches a tenth of the click's peak and rises
   above what the background reached in the 5 ms before, which puts it within a sample or two
   of where the burst begins (a few samples under loud music).

Sample ``n`` is at ``n / rate`` s after ``clock.t0_ns``, so the times returned are in the
session's ns (the same clock as ``timestamps`` and ``events``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

__all__ = ["find_onset_samples", "find_onsets"]

_WINDOW_MS = 1.0
_PEAK_FRACTION = 0.1  # the burst begins where it first reaches this share of its peak


def _envelope(x: npt.NDArray[np.float64], w: int) -> npt.NDArray[np.float64]:
    """RMS over the ``w`` samples ending at each sample (shorter at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - w, 0)
    out: npt.NDArray[np.float64] = np.sqrt(np.maximum(c[idx] - c[lo], 0.0) / (idx - lo))
    return out


def find_onset_samples(samples: npt.ArrayLike, rate: int, *, snr: float = 8.0,
                       min_level: float = 300.0,
                       refractory_ms: float = 15.0) -> npt.NDArray[np.int64]:
    """Sample indices where clicks start in int16 ``(n,)`` or ``(n, channels)`` audio.

    ``snr``: how far above the background (median envelope) a click must rise; ``min_level``:
    the least envelope (int16 units; 300 is about -40 dBFS) that counts; ``refractory_ms``: the
    least gap between two onsets.

    Raises:
        ConfigError: a rate or setting out of range.
    """
    if rate <= 0 or snr <= 1 or min_level <= 0 or refractory_ms < 0:
        raise ConfigError(f"onset detection needs rate > 0, snr > 1, min_level > 0 and "
                          f"refractory_ms >= 0, got {rate}, {snr}, {min_level}, {refractory_ms}")
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a[:, None]
    if a.size == 0:
        return np.zeros(0, np.int64)
    x = np.abs(a.astype(np.float64)).max(axis=1)
    w = max(1, round(rate * _WINDOW_MS / 1000))
    env = _envelope(x, w)
    background = float(np.median(env))
    threshold = max(snr * background, min_level)
    above = env >= threshold
    rising = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    refractory = round(rate * refractory_ms / 1000)
    onsets: list[int] = []
    for i in rising.tolist():
        if onsets and i - onsets[-1] < refractory:
            continue
        lo, hi = max(i - w, 0), min(i + 4 * w, len(x))
        peak = float(x[lo:hi].max())
        # Above what the background reached just before (music, noise), and a tenth of the peak.
        before = x[max(lo - 5 * w, 0):lo]
        level = max(_PEAK_FRACTION * peak, 1.2 * float(before.max()) if len(before) else 0.0)
        hit = np.flatnonzero(x[lo:i + 1] >= level)
        first = lo + int(hit[0]) if len(hit) else i
        if onsets and first - onsets[-1] < refractory:
            continue
        onsets.append(first)
    return np.array(onsets, np.int64)


def find_onsets(samples: npt.ArrayLike, rate: int, **options: float) -> npt.NDArray[np.int64]:
    """Click onsets in ns since ``clock.t0_ns`` (sample ``n`` at ``n / rate`` s); see above.

    ``options`` are :func:`find_onset_samples`'s.
    """
    idx = find_onset_samples(samples, rate, **options)
    return np.round(idx.astype(np.float64) * 1e9 / rate).astype(np.int64)
