"""The ``dxgi`` backend's Windows facts for real under Wine: the QPC rule and DXCam 0.3's refusal.

The backend stamps a frame with DXGI's ``LastPresentTime``, a raw QueryPerformanceCounter value,
mapped onto the recording's clock by capture/_qpc.py's :class:`QpcClock` (measured when the
source opens). Wine 8 has the real QPC (and the Windows CPython reading it), so the rule is
checked here on the real counter: the measured offset is stable, and a QPC value read just now
maps to now. Desktop Duplication itself is refused by Wine 8 (E_NOTIMPL): that refusal must come
out of DXCam 0.3 as the one line an ``auto`` chain prints.
"""

from __future__ import annotations

import json
from pathlib import Path

from winetier import WineTier, winpath

# Offsets of two measures may differ by at most the sum of their uncertainties (each measure's
# true offset lies within its own +-uncertainty: if the offset is constant, both intervals hold
# it), plus 2 ns of the integer divisions. A QPC value read between two clock reads maps inside
# that bracket widened by the offset's uncertainty and MAP_SLACK_NS: 2 ms for a clock other than
# the one the offset was measured against (time.monotonic_ns, QPC too in CPython 3.13).
MAP_SLACK_NS = 2_000_000
SPAN_NS = 200_000_000  # the second measure is taken this long after the first

QPC = f'''
import json, sys, time
from nitrogen_capture import winecompat
winecompat.prepare()
from nitrogen_capture.capture._qpc import QpcClock, read_qpc
from nitrogen_capture.clock import now_ns
first = QpcClock.measure()
start = now_ns()
spins = 0
while now_ns() - start < {SPAN_NS}:  # a busy wait on the clock: no sleep's own behaviour
    spins += 1
second = QpcClock.measure()
counter, frequency = read_qpc()
maps = {{}}
for name, clock in (("now_ns", now_ns), ("monotonic_ns", time.monotonic_ns)):
    before = clock()
    ticks = counter()
    after = clock()
    maps[name] = [before, first.ticks_to_ns(ticks), after]
print("QPC " + json.dumps({{
    "python": list(sys.version_info[:3]), "frequency": frequency,
    "offsets": [first.offset_ns, second.offset_ns],
    "uncertainties": [first.uncertainty_ns, second.uncertainty_ns],
    "span_ns": now_ns() - start, "maps": maps}}), flush=True)
'''

REFUSAL = '''
import json
from importlib.metadata import version
from nitrogen_capture import winecompat
winecompat.prepare()
from nitrogen_capture.capture.base import Region
from nitrogen_capture.capture._dxcam import DxcamSource, DxgiUnavailable
source = DxcamSource(Region(0, 0, 64, 48))
try:
    source.open()
except DxgiUnavailable as exc:
    print("REFUSED " + json.dumps({"short": exc.short, "message": str(exc),
                                   "dxcam": version("dxcam")}), flush=True)
else:
    print("OPENED", flush=True)
'''


def test_qpc_rule_holds_on_the_real_counter(wine: WineTier, tmp_path: Path) -> None:
    """QpcClock.measure() twice, 200 ms apart: one offset; a QPC read now maps to now."""
    script = tmp_path / "qpc_probe.py"
    script.write_text(QPC)
    done = wine.python(winpath(script), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.split("QPC ", 1)[1].splitlines()[0])
    print("QPC under Wine:", json.dumps(facts))  # the figures for the report (pytest -s)
    assert facts["python"][:2] == [3, 13] and facts["frequency"] > 0
    (a, b), (ua, ub) = facts["offsets"], facts["uncertainties"]
    assert facts["span_ns"] >= SPAN_NS
    assert max(ua, ub) < 1_000_000, facts  # the narrowest of 16 brackets is well under 1 ms
    assert abs(a - b) <= ua + ub + 2, facts
    for name, (before, mapped, after) in facts["maps"].items():
        slack = ua + 2 + (0 if name == "now_ns" else MAP_SLACK_NS)
        assert before - slack <= mapped <= after + slack, (name, facts)


def test_dxcam_03_refusal_is_one_line(wine: WineTier, tmp_path: Path) -> None:
    """Wine 8's E_NOTIMPL from DuplicateOutput comes out of DXCam 0.3 as the source's one line."""
    script = tmp_path / "dxgi_refusal.py"
    script.write_text(REFUSAL)
    done = wine.python(winpath(script), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.split("REFUSED ", 1)[1].splitlines()[0])
    assert facts["dxcam"] == "0.3.0"  # scripts/wine_requirements.txt's pin
    assert facts["short"] == "E_NOTIMPL: this system has no Desktop Duplication (Wine?)", facts
    assert facts["message"].startswith("Desktop Duplication could not open output 0: E_NOTIMPL "
                                       "(0x80004001): "), facts
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
