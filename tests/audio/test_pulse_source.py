"""The ``pulse`` backend against a real private PulseAudio server (tests/pulse_server.py).

A signal played into the null sink with ``pacat`` comes back from its monitor sample for sample
(up to a gain); the asked rate and channels come back whatever the sink runs at; the sink
vanishing or the server dying mid-read raise AudioError from ``read`` within a bounded time, and
a fresh ``open`` works once the sink is back.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.audio import _pulse
from nitrogen_capture.audio.base import AudioSettings
from nitrogen_capture.errors import AudioError
from pulse_capture import MARGIN_S, first_block, locate, peak_hz, read_samples, tone
from pulse_server import MONITOR, PulseServer

# soundcard connects to a server when imported: look it up, do not import it here.
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PulseAudio runs on Linux"),
    pytest.mark.skipif(importlib.util.find_spec("soundcard") is None,
                       reason="needs soundcard (the audio extra)"),
]


def _source(source: str = "default", rate: int = 48000, channels: int = 2
            ) -> _pulse.PulseSource:
    return _pulse.PulseSource(AudioSettings(source=source, backend="pulse", rate=rate,
                                            channels=channels, block_ms=10))


def _read_until_error(src: _pulse.PulseSource) -> tuple[AudioError, float]:
    start = time.monotonic()
    while time.monotonic() - start < MARGIN_S:
        try:
            src.read()
        except AudioError as exc:
            return exc, time.monotonic() - start
    raise AssertionError(f"read raised nothing within {MARGIN_S:g} s")


def test_monitor_captures_the_played_signal(pulse_server: PulseServer) -> None:
    rate = 48000
    rng = np.random.default_rng(7)
    left = np.round(rng.normal(0, 4000, rate // 2)).clip(-32000, 32000).astype(np.int16)
    played = np.stack([left, (left // -2).astype(np.int16)], axis=1)  # right = -left / 2
    # A stream starting on an idle sink loses its first ms in the monitor (the server rewinds
    # the sink to mix it in; seen: 3 to 15 ms): it starts with 0.2 s of silence.
    lead = np.zeros((rate // 5, 2), np.int16)
    with _source() as src:
        assert src.device == {"id": MONITOR, "name": "Monitor of Null Output", "kind": "monitor"}
        first_block(src)
        player = pulse_server.play(np.concatenate([lead, played]), rate)
        got = [read_samples(src, rate // 10)]
        while player.poll() is None:
            got.append(read_samples(src, rate // 50))
        assert player.returncode == 0
        got.append(read_samples(src, rate // 4))  # what was still in the server's buffers
    recorded = np.concatenate(got).astype(np.float64)
    assert recorded.shape[1] == 2
    # Each 50 ms piece is found on its own: on a loaded machine pacat can run dry for a moment
    # and the sink plays silence in the middle (the player's gap, not the capture's).
    piece, found = rate // 20, []
    for k in range(0, len(left), piece):
        ref = played[k:k + piece].astype(np.float64)
        at = locate(recorded[:, 0], ref[:, 0])
        seg = recorded[at:at + piece]
        gains = (seg * ref).sum(axis=0) / (ref * ref).sum(axis=0)
        residual = (np.sqrt(np.mean((seg - gains * ref) ** 2, axis=0))
                    / np.sqrt(np.mean(ref ** 2, axis=0)))
        # the sink at 100 %: the samples themselves, both channels (right = -left / 2)
        if np.all(np.abs(gains - 1.0) < 0.05) and np.all(residual < 0.01):
            found.append(at)
    assert len(found) >= 8, f"{len(found)} of 10 pieces found"
    assert found == sorted(found)  # in the order played


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2)])
def test_the_asked_rate_and_channels_come_back(pulse_server: PulseServer, rate: int,
                                               channels: int) -> None:
    with _source(rate=rate, channels=channels) as src:
        block = first_block(src)
        assert block.dtype == np.int16 and block.shape[1] == channels
        player = pulse_server.play(tone(1000.0, 1.0, 48000), 48000)  # the sink runs at 48 kHz
        recorded = read_samples(src, rate)
        player.wait(timeout=MARGIN_S)
    # 1 kHz at the asked rate: the server converted, the samples are not reinterpreted
    assert abs(peak_hz(recorded[:, 0].astype(np.float64), rate) - 1000.0) < 5.0


def test_a_sink_at_another_rate_still_gives_the_asked_rate(pulse_server: PulseServer) -> None:
    pulse_server.unload_sink()
    pulse_server.load_sink(rate=44100)
    assert "44100Hz" in pulse_server.pactl("list", "short", "sinks")
    with _source(rate=48000) as src:
        first_block(src)
        player = pulse_server.play(tone(1500.0, 1.0, 44100), 44100)
        recorded = read_samples(src, 48000)
        player.wait(timeout=MARGIN_S)
    assert abs(peak_hz(recorded[:, 0].astype(np.float64), 48000) - 1500.0) < 5.0


def test_list_devices_default_monitor_first_and_pick_by_name(
        pulse_server: PulseServer) -> None:
    pulse_server.pactl("load-module", "module-null-sink", "sink_name=phones",
                       "sink_properties=device.description=Headphones")
    devices = _pulse.PulseSource.list_devices()
    assert [d.id for d in devices] == [MONITOR, "phones.monitor"]
    first = devices[0]
    assert (first.kind, first.default, first.backend) == ("monitor", True, "pulse")
    assert not devices[1].default
    with _source("HEADPH", channels=1) as src:  # a part of the name, any case
        assert src.device["id"] == "phones.monitor"
        assert first_block(src).shape[1] == 1
    with _source("phones.monitor") as src:  # an id
        assert src.device["name"] == "Monitor of Headphones"


def test_an_unknown_source_lists_the_ids(pulse_server: PulseServer) -> None:
    with pytest.raises(AudioError) as err:
        _source("no-such-device").open()
    line = str(err.value)
    assert "\n" not in line and "'no-such-device'" in line and MONITOR in line


def test_app_sources_are_refused_with_what_to_use(pulse_server: PulseServer) -> None:
    with pytest.raises(AudioError, match="--audio-source default") as err:
        _source("app:game.exe").open()
    assert "\n" not in str(err.value)


def test_no_server_is_one_line_at_open(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dead = f"unix:{tmp_path}/native"
    monkeypatch.setenv("PULSE_SERVER", dead)
    with pytest.raises(AudioError) as err:
        _source().open()
    line = str(err.value)
    assert "\n" not in line and dead in line and "without --audio" in line


def test_the_sink_vanishing_mid_read_raises_and_a_reopen_works(
        pulse_server: PulseServer) -> None:
    src = _source()
    src.open()
    try:
        first_block(src)
        pulse_server.unload_sink()
        exc, _ = _read_until_error(src)
        assert MONITOR in str(exc) and "went away" in str(exc)
        with pytest.raises(AudioError, match="no monitor source"):
            src.open()  # nothing to record until the sink is back
        pulse_server.load_sink()
        src.open()
        assert first_block(src).shape[1] == 2
    finally:
        src.close()
        src.close()  # idempotent


def test_the_server_dying_mid_read_raises_and_close_returns(
        pulse_server: PulseServer) -> None:
    src = _source()
    src.open()
    try:
        first_block(src)
        pulse_server.kill()
        exc, _ = _read_until_error(src)
        assert "went away" in str(exc)
    finally:
        src.close()
    with pytest.raises(AudioError, match="no PulseAudio/PipeWire sound server"):
        src.open()


def test_a_read_without_sound_returns_none_within_two_blocks(
        pulse_server: PulseServer) -> None:
    # A record stream on a suspended sink gets nothing: read must come back empty, not wait.
    with _source() as src:
        first_block(src)
        pulse_server.pactl("suspend-sink", "game", "1")
        nones = 0
        for _ in range(200):
            if src.read() is None:
                nones += 1
                if nones == 3:
                    break
        assert nones == 3


def test_reopening_against_a_dead_server_leaves_no_thread(pulse_server: PulseServer) -> None:
    # The recorder reopens a lost device every second: a failed connect must free its thread.
    import psutil

    with _source() as src:
        first_block(src)
    pulse_server.kill()
    src = _source()
    with pytest.raises(AudioError):
        src.open()  # the first failed reconnect
    threads = psutil.Process().num_threads()
    for _ in range(5):
        with pytest.raises(AudioError, match="no PulseAudio/PipeWire sound server"):
            src.open()
    assert psutil.Process().num_threads() == threads
