"""``record --audio`` against a real PulseAudio server that is missing or loses its sink.

* No server: one line, exit 1, no session left (the audio source opens before the clock).
* The sink unloaded mid-recording, then loaded again at another rate: the recording goes on
  without sound and says so (log line, status line, ``meta.json`` ``audio.stats.device_lost``,
  ``validate``'s warning), the device is reopened as a second run at the session's rate, and the
  sound after it is stored again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.session.audio_store import read_session_audio
from nitrogen_capture.session.validate import validate_session
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _cmd(out: Path, seconds: float) -> list[str]:
    return [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
            "--region", "0", "0", "96", "64", "--fps", "30", "--seconds", str(seconds),
            "--status-interval", "0.5", "--cue", "none", "--out", str(out), "--audio",
            "--audio-backend", "pulse", "--audio-rate", "48000"]


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


needs_soundcard = pytest.mark.skipif(importlib.util.find_spec("soundcard") is None,
                                     reason="needs the audio extra (soundcard)")


@needs_soundcard
def test_no_sound_server_is_one_line_and_no_session(tmp_path):
    out = tmp_path / "s"
    done = subprocess.run(_cmd(out, 2), env=_env({"PULSE_SERVER": f"unix:{tmp_path}/none"}),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    # (the status line may say it is starting first: the encoders open before the sound)
    lines = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("nitrogen-capture record: error: no PulseAudio"), lines
    assert "--audio" in lines[0], lines
    assert not (out / "meta.json").exists()


@needs_soundcard
def test_a_sink_that_vanishes_and_returns(pulse_server, tmp_path):
    out = tmp_path / "s"
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(48000 * 20) / 48000)).astype(np.int16)
    pulse_server.play(tone, 48000)
    proc = subprocess.Popen(_cmd(out, 9), env=_env(pulse_server.env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (out / "meta.json").is_file(), "meta.json", 60, proc=proc)
        second = 48000 * 2 * 2  # bytes of one second of the .part's int16 stereo

        def stored() -> int:
            return sum(p.stat().st_size for p in out.glob("audio_chunk_*.pcm.part"))

        wait_until(lambda: stored() > 1.5 * second, "1.5 s of sound stored", 30, proc=proc)
        pulse_server.unload_sink()
        lost_at = os.times().elapsed
        wait_until(lambda: os.times().elapsed - lost_at > 2.0, "2 s without the sink", 10)
        pulse_server.load_sink(rate=44100)  # back, at another rate than the session's
        pulse_server.play(tone, 48000)
        said, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, said[-3000:]
    assert "recording goes on without audio" in said and "audio LOST" in said, said[-3000:]
    meta = json.loads((out / "meta.json").read_text())
    audio_meta = meta["audio"]
    assert len(audio_meta["stats"]["device_lost"]) == 1 and audio_meta["stats"]["reopened"] == 1
    assert len(audio_meta["runs"]) == 2 and audio_meta["status"] == "ok"
    assert meta["counters"]["frames_captured"] > 200  # the frames went on throughout
    audio = read_session_audio(out)
    assert audio is not None and audio.rate == 48000
    lost_ns = audio_meta["stats"]["device_lost"][0]["t_ns"]
    # Sound before the loss, silence in the gap, sound again after the reopen (at 48 kHz).
    before = audio.samples[audio.sample_at(lost_ns - 1.2e9):audio.sample_at(lost_ns - 0.4e9)]
    gap = audio.samples[audio.sample_at(lost_ns + 0.3e9):audio.sample_at(lost_ns + 1.5e9)]
    ts = np.load(out / "timestamps.npy")
    after = audio.samples[audio.sample_at(ts[-1] - 2e9):audio.sample_at(ts[-1] - 0.5e9)]
    assert np.abs(before).max() > 4000 and np.abs(after).max() > 4000
    assert not gap.any()
    report = validate_session(out)
    assert report.ok and any("went away" in p.message for p in report.warnings), report.format()
