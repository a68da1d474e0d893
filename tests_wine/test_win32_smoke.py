"""scripts/win32_smoke.py under Wine: the same check the real-Windows workflow runs."""

from __future__ import annotations

import json

from winetier import ROOT, WineTier, winpath


def test_win32_smoke_script_passes_under_wine(wine: WineTier) -> None:
    done = wine.python(winpath(ROOT / "scripts" / "win32_smoke.py"), timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    summary = json.loads(lines[-1])
    print(summary)
    assert done.returncode == 0, summary["problems"]
    assert summary["frames"] >= 36 and summary["barcodes_read"] == summary["frames"]
    # Wine 8 has neither Desktop Duplication nor WGC: auto's chain ended on GDI.
    assert summary["capture_backend"] == "gdi"
