"""The Windows live sources on Linux: PynputInput's key handling with fake pynput keys, and the
source list ``record`` gets on Windows and under Wine (the hooks themselves need Windows).

tests_wine/test_win32_inputs.py runs the same code under Wine with the real low-level hooks.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from nitrogen_capture.events import KEY, InputEvent
from nitrogen_capture.inputs import _live, _rawinput_win32
from nitrogen_capture.inputs._pynput import PynputInput
from nitrogen_capture.inputs.router import InputRouter
from nitrogen_capture.keylayout import DEFAULT_LAYOUT


def named(name: str) -> SimpleNamespace:
    """A pynput ``Key`` member (F8, shift_r ...)."""
    return SimpleNamespace(name=name)


def char(vk: int, ch: str) -> SimpleNamespace:
    """A Windows pynput ``KeyCode``: its char follows Shift, its virtual-key code does not."""
    return SimpleNamespace(vk=vk, char=ch)


def windows_source() -> tuple[PynputInput, list[InputEvent]]:
    src = PynputInput()
    src._windows = True  # the names as the Windows hooks give them
    events: list[InputEvent] = []
    src._sink = events.append
    return src, events


def rows(events: list[InputEvent]) -> list[tuple[str, float]]:
    return [(e.code, e.value) for e in events if e.device == KEY]


def test_windows_key_names_do_not_follow_shift() -> None:
    src, _ = windows_source()
    assert [src.key_name(k) for k in (char(0x57, "W"), char(0x31, "!"), char(0xBA, ":"),
                                      char(0xBD, "_"), named("shift_r"), named("ctrl_l"),
                                      named("alt_gr"), named("esc"))] == [
        "w", "1", ";", "-", "shift", "ctrl", "alt", "esc"]


def test_typematic_repeats_of_the_hook_are_one_press() -> None:
    src, events = windows_source()
    for _ in range(22):  # a 1.5 s hold under Wine 8: 22 key-downs, one key-up
        src._on_press(named("f8"))
    src._on_release(named("f8"))
    src._on_press(char(0x57, "w"))
    src._on_press(char(0x57, "W"))  # Shift went down meanwhile: the same key repeating
    src._on_release(char(0x57, "W"))
    src._on_press(char(0x57, "w"))  # a new press after the release counts again
    src._on_release(char(0x57, "w"))
    src._on_press(named("space"))
    src._stop()  # stopped while space is down: after a restart its next press is a press
    src._on_press(named("space"))
    assert rows(events) == [("f8", 1), ("f8", 0), ("w", 1), ("w", 0), ("w", 1), ("w", 0),
                            ("space", 1), ("space", 1)]


def test_both_shift_keys_are_one_held_shift() -> None:
    src, events = windows_source()
    src._on_press(named("shift_l"))
    src._on_press(named("shift_r"))
    src._on_press(named("shift_r"))
    src._on_release(named("shift_l"))  # right Shift is still down: shift stays held
    assert rows(events) == [("shift", 1)]
    src._on_release(named("shift_r"))
    src._on_release(named("ctrl_r"))  # held before the listener started: passed on
    assert rows(events) == [("shift", 1), ("shift", 0), ("ctrl", 0)]


def test_a_held_hotkey_toggles_the_recorder_once() -> None:
    src, _ = windows_source()
    router = InputRouter(DEFAULT_LAYOUT)
    src._sink = router.push
    for _ in range(10):
        src._on_press(named("f8"))
    src._on_release(named("f8"))
    assert [(e.device, e.code) for e in router.drain()] == [("control", "toggle")]


@pytest.mark.parametrize("wine", [None, "8.0"])
def test_windows_sources_say_when_wine_makes_the_motion(monkeypatch: pytest.MonkeyPatch,
                                                        wine: str | None) -> None:
    monkeypatch.setattr(_live.sys, "platform", "win32")
    monkeypatch.setattr(_live, "wine_version", lambda: wine)
    monkeypatch.setattr(_rawinput_win32, "RawInputMotion", lambda: SimpleNamespace(name="raw"))
    sources = _live.live_input_sources()
    assert [s.name for s in sources] == ["pynput", "raw"]
    assert sources.warnings == ([] if wine is None else [
        "running under Wine 8.0: Raw Input motion comes from the cursor over Wine's windows, "
        "so mouse_deltas miss motion outside the game window or at the screen edge"])
