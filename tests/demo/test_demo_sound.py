"""The demo's sound parts without a display: the click, the private server, the summary line,
the profile's and meta.json's ``audio_offset_ms``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.audio.onsets import find_onset_samples
from nitrogen_capture.calibrate.profile import LatencyProfile
from nitrogen_capture.demo import soundserver
from nitrogen_capture.demo.audiocheck import AudioOffset, Spread, audio_lines
from nitrogen_capture.demo.check import CheckReport
from nitrogen_capture.demo.runner import DemoOptions, DemoResult, _sound, format_summary
from nitrogen_capture.demo.sound import click_samples, wants_sound
from nitrogen_capture.errors import AudioError, ConfigError
from nitrogen_capture.session._check import JsonObject
from nitrogen_capture.session.meta_latency import LatencyInfo


def test_the_click_is_found_where_it_starts() -> None:
    c = click_samples(48000, 2)
    assert c.shape == (240, 2) and c.dtype == np.int16 and int(np.abs(c).max()) > 10000
    x = np.zeros((48000, 2), np.int16)
    x[1000:1240] = c
    assert abs(int(find_onset_samples(x, 48000)[0]) - 1000) <= 2


def test_sound_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    assert not wants_sound("auto") and not wants_sound("off")
    assert wants_sound("on")  # and SDL may look for the server again
    assert "SDL_AUDIODRIVER" not in __import__("os").environ
    assert wants_sound("auto") and not wants_sound("off")


def test_the_summary_says_why_there_is_no_audio(tmp_path: Path) -> None:
    res = DemoResult(out=tmp_path, display=":5", record_rc=0, merge_rc=0, validate_rc=0,
                     report=CheckReport(frames=10), audio_note="off (--audio off)")
    assert "audio: off (--audio off)" in format_summary(res)
    a = AudioOffset(12, 12, 13, Spread(30.0, 41.5, 52.0, 12), Spread(20.0, 25.0, 27.0, 12), 12)
    text = "\n".join(audio_lines(a))
    assert "clicks found for 12/12 presses" in text
    assert "p50 30.0 ms, p90 41.5 ms, max 52.0 ms" in text and "p50 20.0 ms" in text
    with pytest.raises(ConfigError, match="--audio"):
        DemoOptions(out=tmp_path, audio="loud")


def test_without_pulseaudio_the_demo_goes_on_silent(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(soundserver.shutil, "which", lambda name: None)
    res = DemoResult(out=tmp_path, display=":5")
    with _sound(DemoOptions(out=tmp_path / "s"), res, tmp_path) as env:
        assert env is None
    assert res.audio_note is not None and "pulseaudio not found" in res.audio_note
    assert "apt-get install pulseaudio" in res.audio_note
    with pytest.raises(AudioError, match="pulseaudio"), _sound(
            DemoOptions(out=tmp_path / "s", audio="on"), res, tmp_path):
        pass


@pytest.mark.skipif(sys.platform != "linux" or soundserver.sound_server_missing() is not None,
                    reason="needs Linux and PulseAudio")
def test_the_private_server_has_the_game_sink_and_goes_away(tmp_path: Path) -> None:
    with soundserver.SoundServer(parent=tmp_path) as server:
        out = subprocess.run(["pactl", "list", "short", "sources"], env=server.env,
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert soundserver.MONITOR in out
        folder = server.dir
    assert not folder.exists()
    assert subprocess.run(["pactl", "info"], env=server.env, capture_output=True,
                          timeout=30).returncode != 0


def _profile(audio: dict[str, float] | None) -> LatencyProfile:
    return LatencyProfile(fps=30.0, method="xtest", injected=2, logged=2, delays_ns=(10, 20),
                          lower_ns=(0, 5), row_lags=(0, 1), offset_ns=8,
                          audio_offset_ms=audio)


def test_profile_and_meta_carry_the_audio_offset(tmp_path: Path) -> None:
    fig = {"p50_ms": 31.5, "p90_ms": 40.0, "max_ms": 44.25, "n": 2.0, "presses": 2.0}
    path = tmp_path / "p.json"
    _profile(fig).save(path)
    assert LatencyProfile.load(path).audio_offset_ms == fig
    _profile(None).save(path)
    assert LatencyProfile.load(path).audio_offset_ms is None
    assert "audio_offset_ms" not in _profile(None).to_json()  # older readers see no change
    bad = {**_profile(fig).to_json(), "audio_offset_ms": {"p50_ms": "fast"}}
    with pytest.raises(ConfigError, match="audio_offset_ms"):
        LatencyProfile.from_json(bad, "p.json")
    info = LatencyInfo("profile", "p.json", 30.0, 1.0, 2.0, 3.0, 2, fig)
    back = LatencyInfo.from_json(JsonObject(info.to_json(), "latency", "meta.json"))
    assert back == info
    assert "audio_offset_ms" not in LatencyInfo("flag").to_json()
