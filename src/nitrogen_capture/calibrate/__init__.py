"""Input-to-frame latency calibration (``nitrogen-capture calibrate``, docs/calibration.md).

:func:`run_calibration` measures, with the real capture and input backends, how long after an
input event's recorded timestamp the first captured frame shows its effect, and returns a
:class:`LatencyProfile` (per-event samples, p50/p90/max, the offset ``record`` stores in
``meta.json`` ``latency_offset_ns`` and every exporter applies). Nothing here is imported by
``import nitrogen_capture``; pygame (extra ``demo``) is needed only by the calibration window.
"""

from __future__ import annotations

from .profile import LatencyProfile, best_offset, delay_stats
from .runner import CalibrationOptions, CalibrationResult, run_calibration

__all__ = ["CalibrationOptions", "CalibrationResult", "LatencyProfile", "best_offset",
           "delay_stats", "run_calibration"]
