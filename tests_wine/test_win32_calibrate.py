"""``calibrate`` under Wine: the Windows CPython, the pygame window, ``SendInput``, pynput's hooks.

The Xvfb has no window manager, so the test does what one would when the calibration window
appears (:func:`winetier.activate`); everything else is the Windows code path: the window found
through the Win32 backend by PID, the mss capture, the presses and clicks inserted by
``SendInput`` (with scan codes: SDL ignores a key sent with only its virtual key).
"""

from __future__ import annotations

import json
from pathlib import Path

from nitrogen_capture.calibrate.window import CAPTION
from winetier import WineTier, activate, winpath, x_window

COUNT = 12


def test_calibrate_injects_with_sendinput_and_sees_every_event(wine: WineTier,
                                                               tmp_path: Path) -> None:
    save = tmp_path / "latency.json"
    proc = wine.spawn("-m", "nitrogen_capture", "calibrate", "--count", str(COUNT), "--fps",
                      "30", "--capture-backend", "mss", "--seed", "3", "--save", winpath(save))
    activate(wine.display, x_window(wine.display, CAPTION, timeout=90))
    code = proc.wait(240)
    assert code == 0, proc.stdout + proc.stderr
    doc = json.loads(save.read_text(encoding="utf-8"))
    assert doc["method"] == "sendinput"
    assert doc["events"] == {"injected": COUNT, "logged": COUNT, "seen": COUNT}, proc.stdout
    assert 0 <= doc["delay"]["p50_ms"] < 1000 / 30 + 30, proc.stdout
