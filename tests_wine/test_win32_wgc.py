"""Windows Graphics Capture under Wine: the real windows-capture package, refused in one line.

Wine 8 implements no ``Windows.Graphics.Capture`` (nor Desktop Duplication), so the real
package cannot capture here; what runs for real is everything up to that. Facts seen under
Wine 8.0 with the tier's windows-capture 2.0.1 (installed ``--no-deps`` by scripts/wine_setup.sh):

* the default prefix reports Windows 7 SP1 (``sys.getwindowsversion().build`` 7601), so
  :class:`WgcSource` on a real window (found by the Win32 target backend, captured by its HWND)
  is refused by the build check, before any import, with the line the ``auto`` chain prints;
* past that check (a build given to :class:`RealWgcApi`, as a Windows 10 would report), the
  real import fails: the package's native module links ``coremessaging.dll`` (WGC's
  DispatcherQueue), which Wine 8 does not have ("DLL load failed ... Module not found"), and
  the layer turns that into one line too.

The capture logic itself runs on a fake of the package (tests/capture_inputs/test_windows_wgc.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from winetier import WineTier, WinProcess, winpath

TITLE = "NitroGen WGC"

WINDOW = f'''
import os, time, pygame
pygame.display.init()
screen = pygame.display.set_mode((160, 120))
pygame.display.set_caption({TITLE!r})
end = time.monotonic() + 120
first = True
while time.monotonic() < end:
    if any(e.type == pygame.QUIT for e in pygame.event.get()):
        break
    screen.fill((40, 160, 220))
    pygame.display.flip()
    if first:
        print("SHOWN", os.getpid(), flush=True)
        first = False
    time.sleep(0.05)
'''

PROBE = f'''
import json, sys
from nitrogen_capture import winecompat
winecompat.prepare()
facts = {{"build": sys.getwindowsversion().build}}
try:
    import windows_capture
    facts["imported"] = windows_capture.__file__.replace("\\\\", "/").split("/")[-2]
    facts["api"] = sorted(n for n in ("WindowsCapture", "Frame", "CaptureControl")
                          if hasattr(windows_capture, n))
except Exception as exc:
    facts["imported"] = None
    facts["import_error"] = repr(exc)
from nitrogen_capture.capture import CaptureTarget
from nitrogen_capture.capture._wgc import WgcConfig, WgcSource
from nitrogen_capture.capture._wgc_api import WgcUnavailable
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.errors import NitrogenCaptureError
from nitrogen_capture.targets import resolve_target

target = resolve_target(TargetSpec(window_title={TITLE!r}, wait_s=30))
window = target.capture_target()
facts["kind"] = window.kind
try:
    source = WgcSource.from_target(window, WgcConfig(fps=30))
    with source:
        source.grab()
    facts["grabbed"] = True
except WgcUnavailable as exc:
    facts["error"] = type(exc).__name__
    facts["short"] = exc.short
    facts["message"] = str(exc)
except NitrogenCaptureError as exc:
    facts["error"] = type(exc).__name__
    facts["message"] = str(exc)
from nitrogen_capture.capture._wgc_api import RealWgcApi
try:
    RealWgcApi(build=19045)  # past the build check: the real import
    facts["api_layer"] = "loaded"
except NitrogenCaptureError as exc:
    facts["api_layer"] = getattr(exc, "short", str(exc))
print("WGC " + json.dumps(facts), flush=True)
'''


@pytest.fixture(scope="module")
def shown(wine: WineTier, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinProcess]:
    """A pygame window titled TITLE, for the module's tests."""
    script = tmp_path_factory.mktemp("wgcwin") / "window.py"
    script.write_text(WINDOW)
    with wine.running(script, "SHOWN") as proc:
        yield proc


def test_the_real_package_imports_and_wgc_is_refused_in_one_line(
        wine: WineTier, shown: WinProcess, tmp_path: Path) -> None:
    script = tmp_path / "wgc_probe.py"
    script.write_text(PROBE)
    done = wine.python(winpath(script), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.split("WGC ", 1)[1].splitlines()[0])
    print(json.dumps(facts, indent=1))  # the real line, for the record
    if "No module named 'windows_capture'" in facts.get("import_error", ""):
        pytest.fail("the Windows tier has no windows-capture: run scripts/wine_setup.sh "
                    "(make wine-tier) to add it", pytrace=False)
    assert facts["kind"] == "window"
    # Wine 8: Windows 7 SP1 to the program, and no coremessaging.dll for the native module.
    assert facts["build"] == 7601, facts
    assert facts["imported"] is None
    assert "DLL load failed while importing windows_capture" in facts["import_error"], facts
    assert facts["error"] == "WgcUnavailable"
    assert facts["short"] == ("Windows Graphics Capture needs Windows 10 1903 or later "
                              "(this is build 7601)")
    assert facts["message"] == facts["short"] + "; use --capture-backend gdi (slower, works " \
        "everywhere)"
    assert facts["api_layer"].startswith("Windows Graphics Capture could not load "
                                         "windows-capture: DLL load failed while importing "
                                         "windows_capture"), facts
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
