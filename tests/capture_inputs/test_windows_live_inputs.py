"""The Windows live sources on Linux: PynputInput's key handling with fake pynput keys, and the
source list ``record`` gets on Windows and under Wine (the hooks themselves need Windows).

tests_wine/test_win32_inputs.py runs the same code under Wine with the real low-level hooks.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from nitrogen_capture.events import BUTTON, HELD, KEY, InputEvent
from nitrogen_capture.inputs import _live, _rawinput_win32
from nitrogen_capture.inputs._held_keys import HeldKeysReader
from nitrogen_capture.inputs._keystate_win32 import VK_CODES, held_keys
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


class FakeKeyState:
    """``GetAsyncKeyState``: the virtual keys down, and every code asked about."""

    def __init__(self, down: set[int]) -> None:
        self.down = down
        self.asked: list[int] = []

    def key_down(self, vk: int) -> bool:
        self.asked.append(vk)
        return vk in self.down


def windows_reader(api: FakeKeyState, **kw: bool) -> PynputInput:
    src = PynputInput(keystate=api, **kw)
    src._windows = True  # GetAsyncKeyState, through the fake
    return src


def test_held_now_asks_windows_for_the_layout_keys_only() -> None:
    # W, VK_SHIFT (either Shift), F8, the right Windows key and the left button are down; so
    # is H, which is not in the layout: it is never asked about (privacy).
    api = FakeKeyState({0x57, 0x10, 0x77, 0x5C, 0x01, 0x48})
    layout = ["w", "a", "shift", "f8", "cmd", "lmb", "rmb", ";", "no_such_key"]
    held = windows_reader(api).held_now(layout)
    assert [(e.device, e.code, e.value) for e in held] == [
        (KEY, "w", HELD), (KEY, "shift", HELD), (KEY, "f8", HELD), (KEY, "cmd", HELD),
        (BUTTON, "lmb", HELD)]
    assert len({e.t_ns for e in held}) == 1  # one read, one stamp
    assert set(api.asked) == {vk for name in layout for vk in VK_CODES.get(name, ())}
    # A keyboard-only or a mouse-only source reads only its own devices.
    assert [e.code for e in windows_reader(api, mouse=False).held_now(layout)] == [
        "w", "shift", "f8", "cmd"]
    assert [e.code for e in windows_reader(api, keyboard=False).held_now(layout)] == ["lmb"]


# pynput's Windows Key members (their names fold to these, keylayout.canonical_key).
_PYNPUT_KEYS = {"alt", "backspace", "caps_lock", "cmd", "ctrl", "delete", "down", "end", "enter",
                "esc", "home", "left", "page_down", "page_up", "right", "shift", "space", "tab",
                "up", "insert", "menu", "num_lock", "pause", "print_screen", "scroll_lock",
                *(f"f{i}" for i in range(1, 25))}


def test_the_key_state_table_names_keys_as_the_hooks_do() -> None:
    src, _ = windows_source()
    for name, codes in VK_CODES.items():
        if len(name) == 1:  # a character key: the hooks name it by its virtual key
            assert [src.key_name(char(vk, "?")) for vk in codes] == [name]
        else:
            assert name in _PYNPUT_KEYS | {"lmb", "rmb", "mmb", "mb4", "mb5"}, name
    assert src.key_name(char(VK_CODES["w"][0], "W")) == "w"
    up = FakeKeyState(set())
    assert held_keys(["w", "lmb", "w"], up) == [] and up.asked == [0x57, 0x01]


def test_keys_down_at_the_start_make_their_auto_repeat_no_press() -> None:
    # Right Shift and W are down when the hooks start; VK_CONTROL is in pynput's table but is a
    # generic code (the hooks report the sided ones): it is never taken as down.
    special = {0xA0: named("shift"), 0xA1: named("shift_r"), 0x11: named("ctrl"),
               0x77: named("f8")}
    api = FakeKeyState({0x10, 0x11, 0xA1, 0x57})
    src, events = windows_source()
    src._held = HeldKeysReader(src.key_name, windows=True, keystate=api, tables=(special, {}))
    assert src._held.keys_down() == [("shift_r", "shift"), ("w", "w")]
    seeded = src._seed_down()
    src._on_press(named("shift_r"))  # the hook's typematic repeats of keys already down
    src._on_press(char(0x57, "W"))
    assert rows(events) == []
    src._on_release(char(0x57, "w"))
    src._on_press(char(0x57, "w"))  # a new press after the release is a press
    assert rows(events) == [("w", 0), ("w", 1)]
    # Right Shift came up before the hooks were live (they never saw it): forgotten, so its
    # next press is a press and not a repeat.
    api.down.discard(0xA1)
    src._prune_seed(seeded)
    src._on_press(named("shift_r"))
    assert rows(events)[-1] == ("shift", 1)
