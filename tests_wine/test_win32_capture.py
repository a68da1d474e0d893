"""Capture for real under Wine: DXCam refused, GDI (mss) grabs a Windows program's real pixels.

A tiny pygame program, run by the tier's Windows CPython, fills its window with four known
colours. The Windows recorder finds that window with the Win32 backend and grabs its client area
with the ``auto`` capture backend: DXCam is tried first and Wine 8 refuses Desktop Duplication
(``IDXGIOutput1::DuplicateOutput`` returns E_NOTIMPL), so ``auto`` must say so in one line and
grab through mss's GDI backend (``BitBlt`` of the screen DC), whose pixels must be the painted
ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from winetier import WineTier, WinProcess, winpath

TITLE = "NitroGen Paint"
SIZE = (320, 240)
# BGR of the four quadrants (top-left, top-right, bottom-left, bottom-right), as captured.
QUADRANTS_BGR = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255)]
FALLBACK = "capture: dxcam unavailable (could not open output 0: E_NOTIMPL (0x80004001)); " \
           "using mss (GDI)"

PAINT = f'''
import time, pygame
pygame.display.init()
screen = pygame.display.set_mode({SIZE!r})
pygame.display.set_caption({TITLE!r})
w, h = {SIZE!r}
colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]  # RGB
rects = [(0, 0, w // 2, h // 2), (w // 2, 0, w - w // 2, h // 2),
         (0, h // 2, w // 2, h - h // 2), (w // 2, h // 2, w - w // 2, h - h // 2)]
end = time.monotonic() + 120
first = True
while time.monotonic() < end:
    if any(e.type == pygame.QUIT for e in pygame.event.get()):
        break
    for colour, rect in zip(colours, rects):
        screen.fill(colour, rect)
    pygame.display.flip()
    if first:
        print("PAINTED", flush=True)
        first = False
    time.sleep(0.05)
'''

GRAB = f'''
import json, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
from nitrogen_capture import winecompat
winecompat.prepare()
import numpy as np
from nitrogen_capture.capture import get_capture_backend
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.targets import resolve_target

target = resolve_target(TargetSpec(window_title={TITLE!r}, wait_s=30))
region = target.region()
source = get_capture_backend("auto", region=region)
with source:
    frame = source.grab()
h, w = frame.shape[:2]
points = [(h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)]
print("GRABBED " + json.dumps({{
    "backend": source.name, "region": region.to_list(), "shape": list(frame.shape),
    "dtype": str(frame.dtype), "contiguous": bool(frame.flags.c_contiguous),
    "samples": [frame[y, x].tolist() for y, x in points],
    "uniform": [int(np.ptp(frame[y - 10:y + 10, x - 10:x + 10].reshape(-1, 3), axis=0).max())
                for y, x in points]}}), flush=True)
'''


@pytest.fixture(scope="module")
def painter(wine: WineTier, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinProcess]:
    """The pygame program painting four known colours, running for the module's tests."""
    script = tmp_path_factory.mktemp("paint") / "paint.py"
    script.write_text(PAINT)
    proc = wine.spawn(winpath(script))
    try:
        proc.wait_for("PAINTED", timeout=90)
        yield proc
    finally:
        proc.kill()


def test_auto_capture_falls_back_to_gdi_and_grabs_the_real_pixels(
        wine: WineTier, painter: WinProcess, tmp_path: Path) -> None:
    script = tmp_path / "grab.py"
    script.write_text(GRAB)
    done = wine.python(winpath(script), timeout=120)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout.split("GRABBED ", 1)[1])
    # One line, saying which backend and why; no COM clean-up noise around it.
    assert done.stderr.strip().splitlines() == [FALLBACK], done.stderr
    assert facts["backend"] == "mss"
    left, top, right, bottom = facts["region"]
    assert (right - left, bottom - top) == SIZE
    assert facts["shape"] == [SIZE[1], SIZE[0], 3] and facts["dtype"] == "uint8"
    assert facts["contiguous"]
    assert facts["samples"] == [list(c) for c in QUADRANTS_BGR], facts
    assert facts["uniform"] == [0, 0, 0, 0], facts  # flat colour around each sample point
