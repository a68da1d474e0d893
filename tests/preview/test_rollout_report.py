"""report on a ``play`` rollout: the "Policy rollout" part and the control band of the timeline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.report.facts import gather
from nitrogen_capture.report.rollout import control_spans, rollout_facts, takeover_rows
from rollout_factory import make_rollout
from session_factory import make_session

pytest.importorskip("matplotlib")

SOURCES = "P" * 12 + "H" * 6 + "P" * 9 + "H" * 3  # 30 rows; the last takeover runs to the end
# The band colours of plots.py (BGR): policy orange, human purple.
ORANGE, PURPLE = (14, 127, 255), (189, 103, 148)


def _count(png: bytes, bgr: tuple[int, int, int]) -> int:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return int(np.all(np.abs(img.astype(int) - bgr) <= 2, axis=2).sum())


def test_the_rollout_part_says_what_play_ran_and_measured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = make_rollout(tmp_path / "r", SOURCES, chunk_sizes=(10, 10, 10), merge=True)
    rep = gather(r.root, check_frames=False)
    facts = dict(rollout_facts(rep))
    assert facts["policy"] == "test-policy (tests:policy); frame_size [16, 12]"
    assert facts["output"] == "xtest (keyboard)"
    assert facts["latency"].startswith("p50 12.5 ms, p99 30.0 ms, max 41.0 ms")
    assert facts["ready in time"] == "95.0% of 30 ticks"
    assert facts["answers"] == ("21 (0 unused); steps applied 21, input events sent 42; "
                                "errors 0")
    assert facts["late ticks"] == "1"
    assert facts["rows"] == "policy 21, human 9"
    ts = r.timestamps
    first = (int(ts[17]) - int(ts[11]) - 1) / 1e9
    assert takeover_rows(rep) == [(f"{(int(ts[11]) + 1) / 1e9:.2f} s", f"{first:.2f} s",
                                   "input"),
                                  (f"{(int(ts[26]) + 1) / 1e9:.2f} s", "until the end", "input")]
    out = tmp_path / "page.html"
    run = run_cli(capsys, "report", "--root", str(r.root), "--out", str(out), "--no-progress")
    assert run.code == 0, run.err
    text = out.read_text(encoding="utf-8")
    assert '<a href="#rollout">Policy rollout</a>' in text
    assert '<h2 id="rollout">Policy rollout</h2>' in text
    assert "p50 12.5 ms, p99 30.0 ms, max 41.0 ms" in text and "95.0% of 30 ticks" in text
    assert f"<td>{first:.2f} s</td><td>input</td>" in text
    assert "<td>until the end</td>" in text


def test_the_timeline_shows_who_had_control(tmp_path: Path) -> None:
    from nitrogen_capture.report.plots import timeline_plot

    r = make_rollout(tmp_path / "r", SOURCES, chunk_sizes=(10, 10, 10), merge=True)
    rep = gather(r.root, check_frames=False)
    spans = control_spans(rep)
    t = np.asarray(r.timestamps, dtype=np.float64) / 1e9
    # policy rows 0..11 then 18..26, human 12..17 and 27..29; a stretch starts at the frame
    # before its first row (the first row at its own frame)
    assert spans["policy"] == [(t[0], t[11] - t[0]), (t[17], t[26] - t[17])]
    assert spans["human"] == [(t[11], t[17] - t[11]), (t[26], t[29] - t[26])]
    png = timeline_plot(rep)
    policy_px, human_px = _count(png, ORANGE), _count(png, PURPLE)
    assert policy_px > 0 and human_px > 0
    # the policy had control about twice as long as the player
    assert 1.3 < policy_px / human_px < 3.5, (policy_px, human_px)
    plain = make_session(tmp_path / "s", (10, 10, 10), merge=True)
    other = gather(plain.root, check_frames=False)
    assert control_spans(other) == {} and rollout_facts(other) == []
    assert _count(timeline_plot(other), ORANGE) == 0
