"""The real-Windows workflow is valid YAML that runs files of this repository, and the verdict of
its per-backend script (scripts/win32_backends.py) on each kind of leg.

The workflow cannot run here (no Windows, no GitHub runner); a typo in it, or a step naming a
script that was renamed, would only show on the first real run. The script's legs run for real
under Wine (tests_wine/test_win32_backends.py: dxgi refused, gdi recorded); here its rules are
checked on the summaries a leg produces, including the ones Wine cannot produce (a WGC leg with
OS frame times, a refused WGC).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "windows.yml"


def _steps() -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = doc["jobs"]["windows"]["steps"]
    return steps


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("win32_backends",
                                                  ROOT / "scripts" / "win32_backends.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workflow_steps_run_files_that_exist() -> None:
    runs = [s["run"] for s in _steps() if "run" in s]
    named = {m for run in runs for m in re.findall(r"\b((?:scripts|bench)/[\w/]+\.py)\b", run)}
    assert {"scripts/win32_smoke.py", "scripts/win32_backends.py",
            "bench/capture_probe.py"} <= named
    assert all((ROOT / path).is_file() for path in named), named


def test_workflow_records_with_each_backend_in_its_own_step() -> None:
    legs = [s["run"].split()[2:] for s in _steps()
            if "run" in s and "scripts/win32_backends.py" in s["run"]]
    assert legs == [["dxgi"], ["wgc"], ["gdi"], ["auto"]]


def _leg(asked: str, **over: Any) -> dict[str, Any]:
    leg = {"asked": asked, "record_exit": 0, "capture_lines": [], "backend": asked,
           "valid": True, "frames": 120, "fps_target": 30.0, "fps_achieved": 29.9,
           "frame_time_source": "wgc-system-relative", "repeated_frames": 3,
           "latency_ms": {"p50": 4.2, "p90": 9.5, "max": 17.0}}
    return {**leg, **over}


def test_leg_verdicts() -> None:
    script = _script()

    def problems(leg: dict[str, Any]) -> list[str]:
        return list(script.leg_problems(leg, 4.0, 30.0))

    refused = {"record_exit": 1, "refused": "nitrogen-capture record: error: Desktop "
               "Duplication refused (DXGI_ERROR_UNSUPPORTED)"}
    assert problems(_leg("wgc")) == []
    assert problems({"asked": "dxgi", **refused}) == []  # a runner may refuse DXGI
    assert problems({"asked": "wgc", **refused}) == [f"wgc: {refused['refused']}"]
    assert problems({"asked": "gdi", **refused}) == [f"gdi: {refused['refused']}"]
    assert problems(_leg("auto", backend="gdi")) == []  # auto may end anywhere
    assert problems(_leg("wgc", backend="gdi")) == ["wgc: meta.json says capture backend 'gdi'"]
    assert problems(_leg("gdi", valid=False)) == ["gdi: the session does not validate"]
    assert problems(_leg("gdi", frames=50)) == ["gdi: 50 frames in 4 s at 30 fps"]


def test_leg_lines() -> None:
    script = _script()
    line = script.describe(_leg("wgc", capture_lines=["capture: using Windows Graphics Capture"]))
    assert line == ("wgc: backend wgc, 120 frames, 29.90 fps achieved of 30, capture latency "
                    "p50 4.20 / p90 9.50 / max 17.00 ms (wgc-system-relative, 3 repeated)\n"
                    "    capture: using Windows Graphics Capture")
    gdi = script.describe(_leg("gdi", latency_ms=None, frame_time_source=None))
    assert gdi.endswith("fps achieved of 30, no OS frame times")
    assert script.describe({"asked": "dxgi", "refused": "E_NOTIMPL"}) == \
        "dxgi: refused: E_NOTIMPL"
