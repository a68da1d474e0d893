"""Win32 smoke test: target a real window and record it with the Windows backends.

Runs natively on Windows (the GitHub Actions workflow, .github/workflows/windows.yml) and under
Wine (tests_wine/test_win32_smoke.py runs it with the tier's Windows CPython), so what the
workflow checks on real Windows is the same script the Linux CI proves under Wine.

It starts the bundled demo game, waits for its window through the Win32 window backend (title,
PID, executable, client area), records it for a few seconds by ``--pid`` with the auto capture
backend, and reads the game's frame-number barcode back from every stored frame. No input is
injected (a Windows runner has no way to type into a window of its own desktop that this
script could not fake): the input paths are covered under Wine, with XTEST.

Prints one JSON summary line; exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nitrogen_capture.demo.check import read_overlays
from nitrogen_capture.demo.game import CAPTION
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.targets import get_window_backend

RECORD_SECONDS = 4.0
FPS = 10.0


def _find_game(pid: int, timeout: float = 60.0) -> dict[str, object]:
    backend = get_window_backend()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for info in backend.list_windows():
            if info.title == CAPTION and info.region is not None:
                return info.to_dict()
        time.sleep(0.2)
    raise SystemExit(f"no window titled {CAPTION!r} of PID {pid} within {timeout:g} s")


def main() -> int:
    """Run the smoke test; see the module docstring."""
    out = Path(tempfile.mkdtemp(prefix="nitrogen-win32-smoke-")) / "session"
    game = subprocess.Popen([sys.executable, "-m", "nitrogen_capture.demo.game",
                             "--size", "640x360", "--seconds", "60"])
    problems: list[str] = []
    try:
        window = _find_game(game.pid)
        if window["pid"] != game.pid:
            problems.append(f"window PID {window['pid']}, game PID {game.pid}")
        process = str(window["process"] or "")
        if Path(process).name.lower() != Path(sys.executable).name.lower():
            problems.append(f"window process {process!r}, expected {Path(sys.executable).name}")
        record = subprocess.run(
            [sys.executable, "-m", "nitrogen_capture", "record", "--pid", str(game.pid),
             "--out", str(out), "--fps", f"{FPS:g}", "--seconds", f"{RECORD_SECONDS:g}",
             "--start-immediately", "--status-interval", "0", "--cue", "none",
             "--input-backend", "none"],
            capture_output=True, text=True, timeout=120, check=False)
        if record.returncode != 0:
            problems.append(f"record exited {record.returncode}: {record.stderr.strip()}")
            frames, read, backwards, backend = 0, 0, 0, None
        else:
            reader = SessionReader(out)
            numbers = read_overlays(reader).frame_numbers
            frames, read = len(numbers), int((numbers >= 0).sum())
            backwards = int((numbers[1:] < numbers[:-1]).sum()) if frames else 0
            backend = reader.meta.capture.backend
            if frames < RECORD_SECONDS * FPS * 0.9:
                problems.append(f"{frames} frames in {RECORD_SECONDS:g} s at {FPS:g} fps")
            if read < frames or backwards or len(set(numbers.tolist())) < frames // 2:
                problems.append(f"barcodes: {read}/{frames} read, {backwards} backwards")
    finally:
        game.kill()
        game.wait(timeout=30)
    print(json.dumps({"window": window, "frames": frames, "barcodes_read": read,
                      "barcodes_backwards": backwards, "capture_backend": backend,
                      "record_stderr": record.stderr.strip().splitlines()[-3:],
                      "problems": problems}, default=str))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
