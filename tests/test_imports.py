"""Importing the package and building the CLI costs nothing: no backend, torch, pynput or PyAV."""

from __future__ import annotations

import os
import subprocess
import sys

BLOCKED = ("torch", "av", "pynput", "mss", "Xlib", "pygame", "pyarrow", "dxcam", "win32gui",
           "fpng")

SCRIPT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of these now raises ImportError
import nitrogen_capture, nitrogen_capture.cli, nitrogen_capture.record, nitrogen_capture.session
import nitrogen_capture.export, nitrogen_capture.capture, nitrogen_capture.inputs
import nitrogen_capture.targets
nitrogen_capture.cli.build_parser()
print("ok")
"""


def test_package_and_cli_import_without_heavy_or_platform_packages() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_missing_backend_package_names_the_extra() -> None:
    script = (
        "import sys\nsys.modules['mss'] = None\n"
        "from nitrogen_capture.capture import get_capture_backend\n"
        "from nitrogen_capture.capture.base import Region\n"
        "from nitrogen_capture.errors import DependencyError\n"
        "try:\n    get_capture_backend('mss', region=Region(0, 0, 8, 8)).open()\n"
        "except DependencyError as e:\n    print(e)\n"
    )
    env = {**os.environ, "DISPLAY": ":1234"}  # past the display check, to the import
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=env)
    assert "pip install 'nitrogen-capture[" in proc.stdout, proc.stdout + proc.stderr


SCRIPT_LAYERS = """
import sys
import nitrogen_capture.session, nitrogen_capture.export
loaded = sorted(m for m in sys.modules if m.startswith(("nitrogen_capture.record",
    "nitrogen_capture.codecs", "nitrogen_capture.targets", "nitrogen_capture.inputs",
    "nitrogen_capture.capture", "nitrogen_capture.encoderpool", "nitrogen_capture.config")))
print(",".join(loaded) or "none")
"""


def test_session_and_export_load_nothing_from_the_recording_side() -> None:
    # The import graph points one way: record/ -> session/ -> events/binning, never back.
    proc = subprocess.run([sys.executable, "-c", SCRIPT_LAYERS], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "none"
