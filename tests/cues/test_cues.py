"""Start/pause/resume/stop cues: the factory, the backends, never blocking, the recorder's calls."""

from __future__ import annotations

import io
import logging
import os
import stat
import sys
import threading
import time
import tomllib
import types
import wave
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture import cues
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.cues import CUE_BACKENDS, get_cue_backend
from nitrogen_capture.cues._command import CommandCue
from nitrogen_capture.cues._fake import FakeCue
from nitrogen_capture.cues.base import MAX_PENDING, CueBackend, NullCue, cue_sound
from nitrogen_capture.cues.tones import TONES, tone_wav
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.events import KEY
from recording import synthetic_recorder
from waiting import wait_until

MS = 1_000_000
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src" / "nitrogen_capture" / "data"


def samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(int)


def test_bundled_wavs_are_the_generated_tones_and_packaged() -> None:
    for name in TONES:
        committed = samples((DATA / f"cue_{name}.wav").read_bytes())
        made = samples(tone_wav(name))
        assert committed.shape == made.shape and np.abs(committed - made).max() <= 1
        assert 0.05 < len(made) / 22050 <= 0.3
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["nitrogen_capture"]
    assert "data/*.wav" in patterns
    assert cue_sound("resume") == cue_sound("start") != cue_sound("stop")


def test_factory_choices() -> None:
    assert CUE_BACKENDS == ("sound", "notify", "none")
    assert isinstance(get_cue_backend("fake"), FakeCue)
    assert isinstance(get_cue_backend("none"), NullCue)
    with pytest.raises(ConfigError, match="--cue must be one of sound, notify, none, got beep"):
        get_cue_backend("beep")
    with pytest.raises(ConfigError) as info:
        RecordConfig(out=Path("s"), cue="beep")
    assert info.value.setting == "cue"


def test_no_player_is_said_once_and_is_a_no_op(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(cues.shutil, "which", lambda name: None)
    monkeypatch.setattr("nitrogen_capture.cues._command.shutil.which", lambda name: None)
    monkeypatch.setattr(cues, "_told", set())  # as in a fresh process
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture.cues"):
        for name in ("sound", "notify", "sound"):  # a second recorder (an episode loop)
            backend = get_cue_backend(name)
            assert isinstance(backend, NullCue)
            for event in cues.CUE_EVENTS:
                backend.play(event)
            backend.close()
        assert isinstance(get_cue_backend("sound", say_missing=False), NullCue)  # synthetic
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # No player: one line, once, naming the players and the visible sign instead.
    assert len(warned) == 1, warned
    assert "paplay" in warned[0] and "aplay" in warned[0] and "indicator" in warned[0]
    # A missing notify-send stays a debug line; nothing is printed by the cues themselves.
    assert any("notify-send" in r.getMessage() and r.levelno == logging.DEBUG
               for r in caplog.records)
    assert capsys.readouterr() == ("", "")


def fake_program(tmp_path: Path, body: str, name: str = "player") -> Path:
    prog = tmp_path / name
    prog.write_text(f"#!/bin/sh\n{body}\n")
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    return prog


@pytest.mark.skipif(os.name != "posix", reason="a shell-script player")
def test_player_gets_the_wav_and_play_returns_at_once(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "played"
    prog = fake_program(tmp_path, f'echo "$@" >> {log}', "aplay")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr("nitrogen_capture.cues._command.shutil.which",
                        lambda name: str(prog) if name == "aplay" else None)
    backend = get_cue_backend("sound")
    assert isinstance(backend, CommandCue) and backend.name == f"sound:{prog}"
    t = time.perf_counter()
    backend.play("start")
    backend.play("stop")
    assert time.perf_counter() - t < 0.05  # a hand-off, no fork or wait on the caller
    wait_until(lambda: log.exists() and len(log.read_text().splitlines()) == 2, "two lines logged")
    backend.close()
    lines = log.read_text().splitlines()
    assert lines == [f"-q {cue_sound('start')}", f"-q {cue_sound('stop')}"]


@pytest.mark.skipif(os.name != "posix", reason="a shell-script player")
def test_a_failing_player_is_logged_at_debug_only(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    done = tmp_path / "done"
    prog = fake_program(tmp_path, f'echo "no audio device" >&2; touch {done}; exit 1')
    backend = CommandCue("sound", str(prog))
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture.cues"):
        backend.play("pause")
        wait_until(lambda: any("exited 1" in r.getMessage() for r in caplog.records),
                   "the exit logged")
    backend.close()
    rec = next(r for r in caplog.records if "exited 1" in r.getMessage())
    assert rec.levelno == logging.DEBUG and "no audio device" in rec.getMessage()
    assert capsys.readouterr() == ("", "")


def test_notify_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cues.shutil, "which", lambda name: "/usr/bin/notify-send")
    backend = get_cue_backend("notify")
    assert isinstance(backend, CommandCue)
    argv = backend.command("pause")
    assert argv is not None and argv[0] == "/usr/bin/notify-send"
    assert argv[-1] == "nitrogen-capture: paused"


def test_winsound_backend_plays_the_wav(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    fake = types.SimpleNamespace(SND_FILENAME=0x20000, SND_NODEFAULT=2,
                                 PlaySound=lambda p, f: calls.append((p, f)))
    monkeypatch.setitem(sys.modules, "winsound", fake)
    monkeypatch.setattr(sys, "platform", "win32")
    backend = get_cue_backend("sound")
    assert backend.name == "winsound"
    backend._emit("resume")
    assert calls == [(str(cue_sound("start")), 0x20002)]


class Blocking(CueBackend):
    name = "blocking"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.emitted: list[str] = []

    def _emit(self, event: str) -> None:
        self.release.wait(10)
        self.emitted.append(event)


def test_a_stuck_player_never_blocks_and_cues_are_bounded() -> None:
    backend = Blocking()
    t = time.perf_counter()
    for _ in range(50):
        backend.play("pause")
    assert time.perf_counter() - t < 0.05
    backend.release.set()
    wait_until(backend._pending.empty, "the queue drained")
    backend.close()
    assert 1 <= len(backend.emitted) <= MAX_PENDING + 1


def test_recorder_cues_start_pause_resume_stop(tmp_path: Path) -> None:
    timeline = [(100 * MS, KEY, "f7", 1.0), (110 * MS, KEY, "f7", 0.0),
                (250 * MS, KEY, "f6", 1.0), (260 * MS, KEY, "f6", 0.0)]
    rec = synthetic_recorder(tmp_path / "s", timeline=timeline, max_frames=24)
    assert rec.cue.name in ("none", "winsound") or rec.cue.name.startswith("sound:")
    fake = rec.cue = get_cue_backend("fake")
    assert isinstance(fake, FakeCue)
    rec.run()
    assert fake.events == ["start", "pause", "resume", "stop"] and fake.closed


def test_recorder_does_not_cue_the_initial_wait(tmp_path: Path) -> None:
    timeline = [(100 * MS, KEY, "f8", 1.0), (110 * MS, KEY, "f8", 0.0)]
    rec = synthetic_recorder(tmp_path / "s", timeline=timeline, max_frames=10,
                             start_immediately=False)
    fake = rec.cue = get_cue_backend("fake")
    assert isinstance(fake, FakeCue)
    rec.run()
    assert fake.events == ["start", "stop"]
