"""No silent emptiness: missing, sparse or stopped input is a warning in meta.json, validate and
the report (session/input_check.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.events import EVENT_DTYPE, KEY, MOTION, PAD_AXIS
from nitrogen_capture.session.input_check import PREFIX, input_warnings
from nitrogen_capture.session.meta_parts import Pause

S = 1_000_000_000
MINUTE = 60 * S


def _events(*rows: tuple[int, str, str, float]) -> np.ndarray:
    return np.array(list(rows), dtype=EVENT_DTYPE)


def _frames(seconds: float, fps: float = 10.0) -> np.ndarray:
    return np.arange(0, int(seconds * S) + 1, int(S / fps), dtype=np.int64)


def _taps(times_s: list[float]) -> np.ndarray:
    rows = []
    for t in times_s:
        rows += [(int(t * S), KEY, "w", 1.0), (int(t * S) + S // 10, KEY, "w", 0.0)]
    return _events(*rows)


def test_a_lively_session_has_no_warning() -> None:
    ts = _frames(300)
    ev = _events(*[(int(t * S), MOTION, "dx", 3.0) for t in np.arange(0.5, 300, 0.5)])
    assert input_warnings(ev, ts, [], gamepad=False) == []


def test_no_input_at_all() -> None:
    (w,) = input_warnings(_events(), _frames(2), [], gamepad=False)
    assert w.startswith(PREFIX + "no input event in 2.0 s of recording")


def test_a_requested_gamepad_that_said_nothing() -> None:
    ts = _frames(5)
    keys = _taps([1, 2, 3])
    (w,) = input_warnings(keys, ts, [], gamepad=True)
    assert "--gamepad was requested but no gamepad event was recorded" in w
    pad = np.concatenate([keys, _events((4 * S, PAD_AXIS, "lx", 0.8))])
    assert input_warnings(pad[np.argsort(pad["t_ns"])], ts, [], gamepad=True) == []


def test_ten_minutes_with_13_input_events() -> None:
    # The session: 13 presses spread over ten minutes, none more than 2 min apart.
    found = input_warnings(_taps([10 + 45 * k for k in range(13)]), _frames(600), [],
                           gamepad=False)
    assert [w.removeprefix(PREFIX)[:40] for w in found] == [
        "almost no input: 13 input events in 10.0"]
    assert "(1.3 a minute, fewer than 10)" in found[0]


def test_input_that_stops_for_minutes_but_not_while_paused() -> None:
    ts = _frames(400)
    busy = [t / 4 for t in range(4 * 400)]  # four taps a second ...
    quiet = [t for t in busy if not 100 <= t <= 280]  # ... but none for three minutes
    (w,) = input_warnings(_taps(quiet), ts, [], gamepad=False)
    assert w == (PREFIX + "input stopped for 1 stretch(es) of more than 2 min of recording; "
                 "the longest 3.0 min from 99.8 s")
    # The same silence, two minutes of it paused: one minute of recording, no warning.
    pause = Pause(1000, 2200, 120 * S, 240 * S, "hotkey")
    assert input_warnings(_taps(quiet), ts, [pause], gamepad=False) == []


@pytest.mark.slow  # a real synthetic recording of about a second
def test_a_recording_with_no_input_says_so_in_meta_validate_and_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "quiet"
    r = run_cli(capsys, "record", "--source", "synthetic", "--input-backend", "none", "--out",
                str(out), "--region", "0", "0", "64", "48", "--max-frames", "20",
                "--status-interval", "0", "--cue", "none")
    assert r.code == 0, r.err
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    (w,) = meta["input"]["warnings"]
    assert w.startswith(PREFIX + "no input event in ")
    v = run_cli(capsys, "validate", "--root", str(out))
    assert v.code == 0  # a warning, not an error: the frames are fine
    assert "no input event in " in v.out, v.out
    from nitrogen_capture.report.facts import gather

    rep = gather(out, check_frames=False)
    assert [p.where for p in rep.validation.warnings if "no input event" in p.message] == ["input"]
    # A second merge replaces the check's warning instead of adding another.
    assert run_cli(capsys, "merge", "--root", str(out)).code == 0
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["input"]["warnings"] == [w]
