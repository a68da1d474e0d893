"""The Win32 indicator for real (user32/gdi32 through ctypes in the Windows CPython, under Wine).

Wine 8 cannot exclude a window from screen capture (``WDA_EXCLUDEFROMCAPTURE``), so there the
indicator must refuse to show itself (``win32``: one clear error; ``auto``: one warning and no
indicator): a window the capture would see must never be drawn. The window, its painting and
its closing are then checked with the exclusion requirement lifted, through the tier's Xvfb.
Whether real Windows leaves the window out of a capture cannot be checked here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from nitrogen_capture.indicator.base import BACKGROUND, DOT_COLOURS
from winetier import WineTier, winpath

REFUSED = '''
import json, logging
logging.basicConfig(level=logging.WARNING)
from nitrogen_capture.errors import PlatformError
from nitrogen_capture.indicator import get_indicator
facts = {}
try:
    get_indicator("win32")
except PlatformError as exc:
    facts["win32"] = str(exc)
facts["auto"] = get_indicator("auto").name
print("FACTS " + json.dumps(facts), flush=True)
'''

SHOWN = '''
import ctypes, json, sys, time
from nitrogen_capture.indicator import IndicatorState
from nitrogen_capture.indicator._win32 import Win32Indicator
ind = Win32Indicator(require_exclusion=False)
ind.show(IndicatorState("recording", 2, 5, 42.0))
deadline = time.monotonic() + 30
while ind.paints < 1 and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(0.5)  # (Wine hands the painted window to X)
import ctypes.wintypes as wt
r = wt.RECT()
ctypes.windll.user32.GetWindowRect(ctypes.c_void_p(ind._hwnd), ctypes.byref(r))
print("SHOWN " + json.dumps({"paints": ind.paints, "excluded": ind.excluded,
                             "rect": [r.left, r.top, r.right, r.bottom]}), flush=True)
flag = sys.argv[1]  # the Linux side looks at the screen, then creates this file
import os
while not os.path.exists(flag) and time.monotonic() < deadline + 60:
    time.sleep(0.05)
ind.close()
print("CLOSED", flush=True)
'''


def _facts(text: str, tag: str) -> dict[str, object]:
    line = next(x for x in text.splitlines() if x.startswith(tag + " "))
    facts: dict[str, object] = json.loads(line[len(tag) + 1:])
    return facts


def test_wine_cannot_exclude_so_no_indicator(wine: WineTier, tmp_path: Path) -> None:
    script = tmp_path / "refused.py"
    script.write_text(REFUSED)
    done = wine.python(winpath(script), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    facts = _facts(done.stdout, "FACTS")
    assert "cannot keep a window out of screen captures" in str(facts["win32"])
    assert facts["auto"] == "none"
    warned = [x for x in done.stderr.splitlines() if x.startswith("WARNING")]
    assert len(warned) == 1 and "no on-screen indicator" in warned[0], done.stderr


def _screen(display: str) -> np.ndarray:
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        root = d.screen().root
        geo = root.get_geometry()
        img = root.get_image(0, 0, geo.width, geo.height, X.ZPixmap, 0xFFFFFFFF)
        rgb = np.frombuffer(img.data, np.uint8).reshape(geo.height, geo.width, 4)[:, :, 2::-1]
        return np.ascontiguousarray(rgb)
    finally:
        d.close()


def _count(rgb: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((rgb == np.array(colour, np.uint8)).all(axis=-1).sum())


def test_window_is_drawn_top_right_and_closes(wine: WineTier, tmp_path: Path) -> None:
    script = tmp_path / "shown.py"
    script.write_text(SHOWN)
    flag = tmp_path / "looked"
    proc = wine.spawn(winpath(script), winpath(flag))
    try:
        proc.wait_for("SHOWN ", timeout=120)
        facts = _facts(proc.stdout, "SHOWN")
        assert facts["paints"] >= 1 and facts["excluded"] is False  # Wine: not excluded
        left, top, right, bottom = facts["rect"]  # type: ignore[misc]
        shot = _screen(wine.display)
        width = shot.shape[1]
        assert right <= width and width - right < 40 and top < 40, facts  # the top right
        inside = shot[top:bottom, left:right]
        assert _count(inside, BACKGROUND) > 100, facts
        assert _count(inside, DOT_COLOURS["recording"]) > 20, facts
        flag.write_text("")
        proc.wait_for("CLOSED", timeout=60)
        assert proc.wait(60) == 0, proc.stderr
    finally:
        if proc.proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 30
    while _count(_screen(wine.display), BACKGROUND) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _count(_screen(wine.display), BACKGROUND) == 0  # closed: gone from the screen
