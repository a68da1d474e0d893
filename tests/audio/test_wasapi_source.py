"""The wasapi audio source on a fake of soundcard's Windows backend (tests/soundcard_fakes.py).

Runs on any OS: the fake stands in for ``soundcard`` in ``sys.modules`` and the source is built
through the same factory ``record --audio`` uses.
"""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np
import pytest

from nitrogen_capture.audio import AudioSettings, _wasapi, list_audio_devices, make_audio_source
from nitrogen_capture.errors import AudioError, DependencyError
from soundcard_fakes import INVALIDATED, FakeSystem, two_outputs
from waiting import wait_until


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> FakeSystem:
    fake = two_outputs()
    monkeypatch.setitem(sys.modules, "soundcard", fake.module())
    return fake


def _source(source: str = "default", channels: int = 2) -> _wasapi.WasapiSource:
    made = make_audio_source(AudioSettings(source=source, backend="wasapi", channels=channels))
    assert isinstance(made, _wasapi.WasapiSource)
    return made


def _read_some(src: _wasapi.WasapiSource) -> np.ndarray:
    """The next block that is not None (a read may time out empty first)."""
    got: list[np.ndarray] = wait_until(lambda: [b] if (b := src.read()) is not None else None,
                                       "a block from the fake endpoint", timeout=10)
    return got[0]


def test_default_is_the_default_speakers_loopback(system: FakeSystem) -> None:
    system.speakers[1].feed(np.full((480, 2), 0.25, np.float32))
    with _source() as src:
        assert src.device == {"id": "{0.0.0.00000000}.{bbbb}",
                              "name": "Headset Earphone (USB Audio)", "kind": "monitor"}
        block = _read_some(src)
    assert block.dtype == np.int16 and block.shape[1] == 2
    assert system.speakers[1].opened == [(48000, 2, 480)]  # rate, channels, blocksize asked
    assert system.speakers[0].opened == []


@pytest.mark.parametrize(("source", "expected"), [
    ("realtek", ("Speakers (Realtek(R) Audio)", "monitor")),
    ("USB AUDIO", ("Headset Earphone (USB Audio)", "monitor")),  # loopbacks before inputs
    ("microphone", ("Microphone (USB Audio)", "input")),
    ("{0.0.1.00000000}.{cccc}", ("Microphone (USB Audio)", "input")),
])
def test_an_id_or_a_part_of_a_name_picks_an_endpoint(
        system: FakeSystem, source: str, expected: tuple[str, str]) -> None:
    with _source(source, channels=1) as src:
        assert (src.device["name"], src.device["kind"]) == expected


def test_unknown_endpoint_is_one_line_listing_what_there_is(system: FakeSystem) -> None:
    with pytest.raises(AudioError) as err:
        _source("Focusrite").open()
    text = str(err.value)
    assert "\n" not in text and "'Focusrite'" in text
    for name in ("Speakers (Realtek(R) Audio)", "Headset Earphone (USB Audio)",
                 "Microphone (USB Audio)"):
        assert name in text


def test_float_blocks_become_int16_clipped(system: FakeSystem) -> None:
    system.speakers[1].feed(np.array([[0.5, -0.5], [1.5, -2.0], [0.0, 1.0]], np.float32))
    with _source() as src:
        block = _read_some(src)
    assert block.dtype == np.int16
    assert block[:3].tolist() == [[16384, -16384], [32767, -32767], [0, 32767]]


def test_blocks_waiting_together_come_out_in_order(system: FakeSystem) -> None:
    ramp = np.linspace(-0.9, 0.9, 960, dtype=np.float32).reshape(-1, 2)
    system.speakers[1].feed(ramp[:100], ramp[100:300], ramp[300:])
    got: list[np.ndarray] = []
    with _source() as src:
        wait_until(lambda: got.append(_read_some(src)) or sum(map(len, got)) >= 480,
                   "the three blocks", timeout=10)
    assert np.concatenate(got)[:480].tolist() == np.round(ramp * 32767).astype(int).tolist()


def test_silent_loopback_gives_zeros_not_a_stall(system: FakeSystem) -> None:
    with _source() as src:
        block = _read_some(src)  # soundcard makes up zeros after four periods of silence
    assert block.size and not block.any()


def test_device_invalidated_is_an_audio_error_after_the_samples_before_it(
        system: FakeSystem) -> None:
    system.speakers[1].feed(np.full((480, 2), 0.1, np.float32), RuntimeError(INVALIDATED))
    with _source() as src:
        first = _read_some(src)
        assert len(first) == 480
        with pytest.raises(AudioError, match="AUDCLNT_E_DEVICE_INVALIDATED") as err:
            wait_until(lambda: src.read() is not None, "the error", timeout=10)
        assert "Headset Earphone" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(AudioError):  # stays broken: the recorder reopens a new source run
            src.read()


def test_reopen_after_invalidation_is_a_fresh_stream(system: FakeSystem) -> None:
    system.speakers[1].feed(RuntimeError(INVALIDATED))
    src = _source()
    with src, pytest.raises(AudioError):
        wait_until(lambda: src.read() is not None, "the error", timeout=10)
    system.speakers[1].feed(np.full((10, 2), 0.5, np.float32))
    with src:
        assert _read_some(src)[0].tolist() == [16384, 16384]
    assert len(system.speakers[1].opened) == 2


def test_refused_format_fails_open_with_one_line(system: FakeSystem) -> None:
    system.speakers[1].refuse = "unsupported format"  # soundcard's text for 0x88890008
    with pytest.raises(AudioError, match="AUDCLNT_E_UNSUPPORTED_FORMAT") as err:
        _source().open()
    assert "\n" not in str(err.value)


def test_a_stalled_driver_does_not_hang_read_or_close(
        system: FakeSystem, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(_wasapi, "CLOSE_TIMEOUT_S", 0.2)
    release = threading.Event()
    system.speakers[1].feed(release)
    src = _source()
    src.open()
    reader = src._reader
    assert reader is not None
    try:
        assert src.read() is None and src.read() is None  # bounded waits, nothing came
        with caplog.at_level(logging.WARNING, logger=_wasapi.__name__):
            src.close()
        assert "still inside the driver" in caplog.text
        assert reader.is_alive()
    finally:
        release.set()
    wait_until(lambda: not reader.is_alive(), "the reader to end once the driver returns")


def test_list_devices_loopbacks_first_default_first(system: FakeSystem) -> None:
    devices = list_audio_devices("wasapi")
    assert [(d.name, d.kind, d.default) for d in devices] == [
        ("Headset Earphone (USB Audio)", "monitor", True),
        ("Speakers (Realtek(R) Audio)", "monitor", False),
        ("Microphone (USB Audio)", "input", False),
    ]
    assert {d.backend for d in devices} == {"wasapi"}
    assert devices[2].id == "{0.0.1.00000000}.{cccc}"


def test_enumeration_failure_is_an_audio_error(system: FakeSystem) -> None:
    system.fail = "Error 0x88890010"
    with pytest.raises(AudioError, match="AUDCLNT_E_SERVICE_NOT_RUNNING"):
        list_audio_devices("wasapi")
    with pytest.raises(AudioError, match="AUDCLNT_E_SERVICE_NOT_RUNNING"):
        _source().open()


def test_no_render_endpoint_at_all_is_one_line(system: FakeSystem) -> None:
    system.fail = "Error 0x80070490"  # GetDefaultAudioEndpoint on a machine without sound
    with pytest.raises(AudioError, match="no active audio endpoint") as err:
        _source().open()
    assert "\n" not in str(err.value)


def test_app_source_is_refused_naming_the_windows_rule(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "soundcard", None)  # refused before any import
    with pytest.raises(AudioError, match=r"Windows 10 2004") as err:
        _source("app:game.exe").open()
    assert "\n" not in str(err.value)


def test_missing_soundcard_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "soundcard", None)  # import soundcard -> ImportError
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[audio\]"):
        _source().open()
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[audio\]"):
        list_audio_devices("wasapi")


def test_read_before_open_and_double_close(system: FakeSystem) -> None:
    src = _source()
    with pytest.raises(AudioError, match="before open"):
        src.read()
    src.close()
    src.close()
