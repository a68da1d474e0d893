"""The encoders' CPU priority is a policy (encoderpool/priority.py), applied and recorded.

Before, every encoder process ran at niceness 10: beside a busy game the scheduler gave the
frames a tenth of the game's share and a 1440p video recording kept 13% of its frames, below the
original design's synchronous loop. ``fair`` (the default) makes the encoder threads together
weigh what that loop's one normal-priority thread weighed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from nitrogen_capture.codecs.jobs import READY
from nitrogen_capture.encoderpool.pool import EncoderPool, EncoderSpec
from nitrogen_capture.encoderpool.priority import ENCODER_PRIORITIES, encoder_nice
from recording import record_synthetic

# Linux CFS weights of niceness 0..10, as the scheduler shares a busy CPU.
WEIGHT = {0: 1024, 1: 820, 2: 655, 3: 526, 4: 423, 5: 335, 6: 272, 10: 110}


@pytest.mark.parametrize("threads, nice", [(1, 0), (2, 3), (3, 5), (4, 6)])
def test_fair_shares_one_normal_threads_weight(threads: int, nice: int) -> None:
    assert encoder_nice("fair", threads) == nice
    # Together within 15% of one normal-priority thread.
    assert abs(threads * WEIGHT[nice] - 1024) / 1024 < 0.15
    assert encoder_nice("normal", threads) == 0 and encoder_nice("low", threads) == 10


def _sleeper(tasks: Any, results: Any, arg: Any) -> None:
    results.put(READY)
    tasks.get()  # blocks until the pool closes


@pytest.mark.skipif(not hasattr(os, "nice"), reason="POSIX niceness")
def test_the_workers_run_at_the_policys_niceness() -> None:
    base = os.nice(0)
    spec = EncoderSpec(_sleeper, None, workers=2, nice=encoder_nice("fair", 2))
    with EncoderPool(spec, 2, lambda r: None) as pool:
        assert pool.wait_ready()
        assert [psutil.Process(pid).nice() for pid in pool.pids] == [min(19, base + 3)] * 2


@pytest.mark.parametrize("priority", ENCODER_PRIORITIES)
def test_a_recording_states_its_encoders_priority(tmp_path: Path, priority: str) -> None:
    out = tmp_path / priority
    result, _ = record_synthetic(out, max_frames=10, encoder_workers=2,
                                 encoder_priority=priority)
    encoder = json.loads((out / "meta.json").read_text())["encoder"]
    assert encoder["priority"] == priority
    assert encoder["nice"] == {"fair": 3, "normal": 0, "low": 10}[priority]
    assert result.meta.encoder is not None and result.meta.encoder.nice == encoder["nice"]


@pytest.mark.skipif(sys.platform == "win32", reason="argparse choices are platform-free")
def test_a_bad_priority_is_one_usage_line(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    from cli_run import run_cli

    run = run_cli(capsys, "record", "--source", "synthetic", "--out", str(tmp_path / "s"),
                  "--encoder-priority", "realtime")
    run.one_line_error(2, "--encoder-priority")
    assert not (tmp_path / "s").exists()
