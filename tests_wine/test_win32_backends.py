"""scripts/win32_backends.py under Wine: the per-backend legs the real-Windows workflow runs.

Wine 8 implements neither Desktop Duplication nor Windows Graphics Capture, so here the script
runs its ``dxgi`` leg (which a runner may refuse: the refusal is shown and the run goes on) and
its ``gdi`` leg (which must record the demo game's window and validate). On windows-latest the
workflow runs the same script with ``dxgi``, ``wgc``, ``gdi`` and ``auto``.
"""

from __future__ import annotations

import json

from winetier import ROOT, WineTier, winpath

SECONDS, FPS = 3.0, 10.0


def test_win32_backends_script_records_with_gdi_and_shows_a_dxgi_refusal(
        wine: WineTier) -> None:
    done = wine.python(winpath(ROOT / "scripts" / "win32_backends.py"), "dxgi", "gdi",
                       "--seconds", f"{SECONDS:g}", "--fps", f"{FPS:g}", timeout=400)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    summary = json.loads(lines[-1])
    print(done.stdout)
    assert done.returncode == 0, summary["problems"]
    dxgi, gdi = summary["legs"]
    # Wine 8: IDXGIOutput1::DuplicateOutput is E_NOTIMPL; the leg shows record's one line.
    assert dxgi["asked"] == "dxgi" and dxgi["record_exit"] != 0 and dxgi["refused"]
    assert f"dxgi: refused: {dxgi['refused']}" in done.stdout
    assert "Traceback" not in dxgi["refused"]
    assert gdi["backend"] == "gdi" and gdi["valid"] is True
    assert gdi["frames"] >= SECONDS * FPS * 0.8
    assert 0.8 * FPS <= gdi["fps_achieved"] <= 1.05 * FPS
    # GDI has no OS frame time: the leg says so instead of a latency.
    assert gdi["latency_ms"] is None
    assert "gdi: backend gdi," in done.stdout and "no OS frame times" in done.stdout
    assert summary["work"] is None  # the sessions were removed
