"""The evdev input backend on a fake of python-evdev's API (this machine has no /dev/input).

The backend's own code runs whole: device choice by capability, the reader thread over real
pipes with ``select``, key naming, the clock rule, hot-unplug, the permission and privacy
refusals, and a real ``record --source synthetic --input-backend evdev`` through the CLI.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_run import run_cli
from evdev_fakes import (
    KEYBOARD_CAPS,
    MOUSE_CAPS,
    POWER_BUTTON_CAPS,
    TOUCHPAD_CAPS,
    FakeEvdevModule,
    MonotonicApi,
)
from nitrogen_capture import inputs
from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import DependencyError, InputError, PlatformError
from nitrogen_capture.events import BUTTON, HELD, KEY, MOTION, WHEEL, InputEvent
from nitrogen_capture.inputs import _evdev_codes as ec
from nitrogen_capture.inputs._evdev import EvdevApi, EvdevInput, evdev_sources
from nitrogen_capture.inputs.base import InputSettings
from nitrogen_capture.inputs.router import InputRouter
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, Hotkeys
from nitrogen_capture.targets.base import FixedRegionTarget, Target
from waiting import wait_until

KEY_W, KEY_K, KEY_LSHIFT, KEY_RSHIFT, KEY_F8 = 17, 37, 42, 54, 66
BTN_LEFT, BTN_RIGHT = 0x110, 0x111
SETTLE_S = 10.0  # a busy two-core machine: generous, and only ever waited on a condition


class FakeBackend:
    """A window backend as far as the focus gate reads it."""

    name = "fake"

    def __init__(self, focus_known: bool = True) -> None:
        self.focus_known = focus_known


class WindowLike(Target):
    """A window target whose focus the test switches."""

    def __init__(self, *, focus_known: bool = True, fails: bool = False) -> None:
        self.backend = FakeBackend(focus_known)
        self.focused = True
        self.fails = fails

    def region(self) -> Region:
        return Region(0, 0, 320, 240)

    def is_focused(self) -> bool:
        if self.fails:
            raise PlatformError("sway IPC socket closed")
        return self.focused


def make(tmp_path: Path, *devices: tuple[str, dict[int, list[int]], bool]) -> FakeEvdevModule:
    (tmp_path / "input").mkdir(exist_ok=True)
    return FakeEvdevModule(tmp_path / "input", devices)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[FakeEvdevModule]:
    """A keyboard, a mouse, a power button and a touchpad, all readable."""
    module = make(tmp_path, ("AT keyboard", KEYBOARD_CAPS, True), ("USB mouse", MOUSE_CAPS, True),
                  ("Power Button", POWER_BUTTON_CAPS, True), ("Touchpad", TOUCHPAD_CAPS, True))
    yield module
    module.release()


def start(fake: FakeEvdevModule, target: Any, api: EvdevApi | None = None,
          layout: Any = DEFAULT_LAYOUT) -> tuple[EvdevInput, InputRouter]:
    src = sources(fake, target, api)[0]
    assert isinstance(src, EvdevInput)
    router = InputRouter(layout, target.is_focused, hotkeys=layout.hotkeys)
    src.start(router.push)
    return src, router


def sources(fake: FakeEvdevModule, target: Any, api: EvdevApi | None = None,
            **kw: Any) -> Any:
    """The ``evdev`` factory over the fake (its sources list, with ``warnings``)."""
    return evdev_sources(InputSettings(target=target, **kw), api=api or EvdevApi(fake),
                         input_dir=str(fake.dir))


def backend_over(fake: FakeEvdevModule) -> Any:
    """The ``evdev`` registry entry bound to the fake, for the CLI tests."""
    return functools.partial(evdev_sources, api=EvdevApi(fake), input_dir=str(fake.dir))


def drain_until(router: InputRouter, n: int) -> list[InputEvent]:
    got: list[InputEvent] = []

    def enough() -> bool:
        got.extend(router.drain())
        return len(got) >= n

    wait_until(enough, lambda: f"{n} events routed, got {got}", SETTLE_S)
    got.extend(router.drain())
    return got


def brief(events: list[InputEvent]) -> list[tuple[str, str, float]]:
    return [(e.device, e.code, e.value) for e in events]


def test_codes_table_matches_python_evdev() -> None:
    ecodes = pytest.importorskip("evdev.ecodes")
    for name in ("EV_SYN", "EV_KEY", "EV_REL", "EV_ABS", "SYN_REPORT", "SYN_DROPPED", "REL_X",
                 "REL_Y", "REL_WHEEL", "REL_HWHEEL", "KEY_A", "KEY_Z", "KEY_SPACE", "BTN_LEFT",
                 "BTN_JOYSTICK", "BTN_GAMEPAD", "BTN_TOUCH"):
        assert getattr(ec, name) == getattr(ecodes, name), name
    expect = {"KEY_W": "w", "KEY_ESC": "esc", "KEY_1": "1", "KEY_0": "0", "KEY_ENTER": "enter",
              "KEY_LEFTCTRL": "ctrl", "KEY_RIGHTSHIFT": "shift", "KEY_SPACE": "space",
              "KEY_BACKSPACE": "backspace", "KEY_F8": "f8", "KEY_F12": "f12", "KEY_F24": "f24",
              "KEY_UP": "up", "KEY_PAGEDOWN": "page_down", "KEY_KP7": "kp_7", "KEY_KP0": "kp_0",
              "KEY_M": "m", "KEY_L": "l", "KEY_P": "p", "KEY_SEMICOLON": ";",
              "KEY_LEFTMETA": "cmd", "KEY_RIGHTALT": "alt", "KEY_KPENTER": "kp_enter"}
    for const, name in expect.items():
        assert ec.KEY_NAMES[getattr(ecodes, const)] == name, const
    for const, name in {"BTN_LEFT": "lmb", "BTN_RIGHT": "rmb", "BTN_MIDDLE": "mmb",
                        "BTN_SIDE": "mb4", "BTN_EXTRA": "mb5"}.items():
        assert ec.BUTTON_NAMES[getattr(ecodes, const)] == name, const
    assert not set(ec.KEY_NAMES) & set(ec.BUTTON_NAMES)


def test_keyboards_and_mice_are_chosen_by_capability_and_others_closed(
        desk: FakeEvdevModule) -> None:
    srcs = sources(desk, WindowLike())
    src = srcs[0]
    assert isinstance(src, EvdevInput) and len(srcs) == 1
    kinds = {d.label: (d.is_keyboard, d.is_mouse) for d in src.devices}
    assert kinds == {"AT keyboard": (True, False), "USB mouse": (False, True)}
    assert desk.by_name("Power Button").closed and desk.by_name("Touchpad").closed
    assert srcs.warnings == []  # type: ignore[attr-defined]
    # The real ioctl on the fake's pipe is refused: times stay on the realtime path.
    assert not any(d.monotonic for d in src.devices)


def test_events_are_named_filtered_and_gated_by_focus_at_event_time(
        desk: FakeEvdevModule) -> None:
    target = WindowLike()
    src, router = start(desk, target)
    kbd, mouse = desk.by_name("AT keyboard"), desk.by_name("USB mouse")
    try:
        before = time.monotonic_ns()
        kbd.emit([(ec.EV_KEY, KEY_W, 1)])
        kbd.emit([(ec.EV_KEY, KEY_W, 2), (ec.EV_KEY, KEY_W, 2)])  # auto-repeat: no presses
        kbd.emit([(ec.EV_KEY, KEY_K, 1), (ec.EV_KEY, KEY_K, 0)])  # not in the layout
        mouse.emit([(ec.EV_REL, ec.REL_X, 5), (ec.EV_REL, ec.REL_Y, -3)])
        mouse.emit([(ec.EV_REL, ec.REL_WHEEL, 1), (ec.EV_KEY, BTN_LEFT, 1)])
        got = drain_until(router, 5)
        after = time.monotonic_ns()
        assert brief(got) == [(KEY, "w", 1), (MOTION, "dx", 5), (MOTION, "dy", -3),
                              (WHEEL, "dy", 1), (BUTTON, "lmb", 1)]
        # Realtime stamps moved onto the monotonic clock, never after the read.
        assert all(before - 5_000_000 <= e.t_ns <= after for e in got), (before, got, after)
        assert router.dropped_not_in_layout == 2
        target.focused = False
        kbd.emit([(ec.EV_KEY, KEY_W, 0)])  # the release of a forwarded press passes
        kbd.emit([(ec.EV_KEY, 30, 1)])  # A, typed into another window: dropped
        mouse.emit([(ec.EV_REL, ec.REL_X, 7), (ec.EV_KEY, BTN_LEFT, 0)])
        got = drain_until(router, 2)
        assert brief(got) == [(KEY, "w", 0), (BUTTON, "lmb", 0)]
        wait_until(lambda: router.dropped_unfocused == 2, "A and the motion dropped", SETTLE_S)
    finally:
        src.stop()
    assert all(d.closed for d in (kbd, mouse))


def test_monotonic_device_times_are_kept_as_they_are(desk: FakeEvdevModule) -> None:
    src, router = start(desk, WindowLike(), api=MonotonicApi(desk))
    kbd = desk.by_name("AT keyboard")
    try:
        assert kbd.monotonic and all(d.monotonic for d in src.devices)
        stamp = time.monotonic_ns() - 3_000_000  # the interrupt came 3 ms before the read
        kbd.emit([(ec.EV_KEY, KEY_W, 1)], stamp_ns=stamp)
        got = drain_until(router, 1)
        assert [e.t_ns for e in got] == [stamp // 1000 * 1000]
        kbd.emit([(ec.EV_KEY, KEY_W, 0)], stamp_ns=time.monotonic_ns() + 10**9)
        late = drain_until(router, 1)[0]  # a stamp "from the future" is clamped to the read
        assert late.t_ns <= time.monotonic_ns()
    finally:
        src.stop()


def test_both_shifts_fold_into_one_press_and_hotkeys_still_act(desk: FakeEvdevModule) -> None:
    src, router = start(desk, WindowLike())
    kbd = desk.by_name("AT keyboard")
    try:
        kbd.emit([(ec.EV_KEY, KEY_LSHIFT, 1)])
        kbd.emit([(ec.EV_KEY, KEY_RSHIFT, 1)])
        kbd.emit([(ec.EV_KEY, KEY_LSHIFT, 0)])
        kbd.emit([(ec.EV_KEY, KEY_RSHIFT, 0)])
        kbd.emit([(ec.EV_KEY, KEY_F8, 1), (ec.EV_KEY, KEY_F8, 0)])
        got = drain_until(router, 3)
        assert brief(got) == [(KEY, "shift", 1), (KEY, "shift", 0), ("control", "toggle", 1)]
    finally:
        src.stop()


def test_held_now_reads_the_kernel_key_state(desk: FakeEvdevModule) -> None:
    src, _router = start(desk, WindowLike())
    try:
        desk.by_name("AT keyboard").keys_down |= {KEY_W, KEY_K}
        desk.by_name("USB mouse").keys_down |= {BTN_RIGHT}
        held = src.held_now(["w", "rmb", "space"])
        assert sorted(brief(held)) == [(BUTTON, "rmb", HELD), (KEY, "w", HELD)]
    finally:
        src.stop()


def test_a_device_unplugged_mid_recording_is_counted_logged_once_and_the_rest_goes_on(
        desk: FakeEvdevModule, caplog: pytest.LogCaptureFixture) -> None:
    src, router = start(desk, WindowLike())
    kbd, mouse = desk.by_name("AT keyboard"), desk.by_name("USB mouse")
    try:
        with caplog.at_level(logging.WARNING, logger="nitrogen_capture.inputs._evdev"):
            mouse.emit([(ec.EV_KEY, BTN_LEFT, 1)])
            assert brief(drain_until(router, 1)) == [(BUTTON, "lmb", 1)]
            mouse.unplug()
            wait_until(lambda: src.devices_lost == 1, "the unplug noticed", SETTLE_S)
            kbd.emit([(ec.EV_KEY, KEY_W, 1)])
            got = drain_until(router, 2)
            # the held button is released when its device goes, so nothing sticks
            assert brief(got) == [(BUTTON, "lmb", 0), (KEY, "w", 1)]
            src.check()  # no error: the recording goes on
        lost = [r for r in caplog.records if "went away" in r.getMessage()]
        assert len(lost) == 1 and "USB mouse" in lost[0].getMessage()
        assert [d.label for d in src.devices] == ["AT keyboard"] and mouse.closed
    finally:
        src.stop()


def test_overflow_drops_until_the_next_report_then_releases_what_is_up(
        desk: FakeEvdevModule) -> None:
    src, router = start(desk, WindowLike())
    kbd = desk.by_name("AT keyboard")
    try:
        kbd.emit([(ec.EV_KEY, KEY_W, 1)])
        assert brief(drain_until(router, 1)) == [(KEY, "w", 1)]
        kbd.keys_down.discard(KEY_W)  # W went up while the kernel's buffer was full
        kbd.emit([(ec.EV_SYN, ec.SYN_DROPPED, 0), (ec.EV_KEY, 30, 1)])
        assert brief(drain_until(router, 1)) == [(KEY, "w", 0)]
        assert src.syn_dropped == 1
    finally:
        src.stop()


def test_no_readable_device_is_one_line_naming_the_fix(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make(tmp_path, ("AT keyboard", KEYBOARD_CAPS, False), ("USB mouse", MOUSE_CAPS, False))
    try:
        with pytest.raises(InputError, match=r"none of the 2 input devices .* is readable by "
                                             r"this user: sudo usermod -aG input \$USER"):
            sources(fake, WindowLike())
        monkeypatch.setitem(inputs.REGISTRY, "evdev",
                            backend_over(fake))
        out = tmp_path / "s"
        run = run_cli(capsys, "record", "--source", "synthetic", "--input-backend", "evdev",
                      "--out", str(out), "--seconds", "1", "--start-immediately", "--cue", "none")
        run.one_line_error(1, "sudo usermod -aG input $USER", "udev rule")
        assert not (out / "meta.json").exists()
    finally:
        fake.release()


def test_no_device_nodes_and_no_keyboard_are_one_line_each(tmp_path: Path) -> None:
    empty = make(tmp_path)
    with pytest.raises(InputError, match="no input devices in"):
        sources(empty, WindowLike())
    odd = make(tmp_path, ("Power Button", POWER_BUTTON_CAPS, True))
    try:
        with pytest.raises(InputError, match="no keyboard or mouse among the 1 readable"):
            sources(odd, WindowLike())
    finally:
        odd.release()


@pytest.mark.parametrize("target, needle", [
    (None, "there is no target"),
    (WindowLike(focus_known=False), "cannot tell which window has focus"),
    (WindowLike(fails=True), "the focus check failed (sway IPC socket closed)"),
])
def test_input_is_refused_when_focus_cannot_be_known(desk: FakeEvdevModule, target: Any,
                                                     needle: str) -> None:
    with pytest.raises(InputError) as err:
        sources(desk, target)
    assert "refuses to log input (privacy)" in str(err.value) and needle in str(err.value)
    assert all(d.opened == 0 for d in desk.devices.values())  # refused before any open


def test_missing_python_evdev_names_the_wayland_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)  # import evdev -> ImportError
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[wayland\]"):
        EvdevApi()


def test_record_synthetic_with_evdev_input_stores_the_keys_typed(
        desk: FakeEvdevModule, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI path: ``record --source synthetic --input-backend evdev`` on the fake devices."""
    monkeypatch.setitem(inputs.REGISTRY, "evdev",
                        backend_over(desk))
    out = tmp_path / "session"
    kbd, mouse = desk.by_name("AT keyboard"), desk.by_name("USB mouse")
    done = threading.Event()

    def player() -> None:  # types while the recording runs: W taps, K (not in the layout)
        wait_until(lambda: (out / "meta.json").exists() or done.is_set(), "recording", 60)
        while not done.is_set():
            kbd.emit([(ec.EV_KEY, KEY_W, 1)])
            kbd.emit([(ec.EV_KEY, KEY_K, 1), (ec.EV_KEY, KEY_K, 0)])
            mouse.emit([(ec.EV_REL, ec.REL_X, 3)])
            done.wait(0.03)
            kbd.emit([(ec.EV_KEY, KEY_W, 0)])
            done.wait(0.05)

    thread = threading.Thread(target=player, daemon=True)
    thread.start()
    try:
        run = run_cli(capsys, "record", "--source", "synthetic", "--input-backend", "evdev",
                      "--out", str(out), "--seconds", "2", "--start-immediately", "--cue",
                      "none", "--status-interval", "0")
    finally:
        done.set()
        thread.join(5)
    assert run.code == 0, run.err
    import json

    meta = json.loads((out / "meta.json").read_text())
    assert meta["input"]["backends"] == ["evdev"] and meta["input"]["raw_motion"] is True
    assert any("region target" in w for w in meta["input"]["warnings"])
    events = np.concatenate([np.load(p) for p in sorted(out.glob("events_chunk_*.npy"))])
    presses = events[(events["device"] == KEY) & (events["value"] == 1)]
    assert set(presses["code"]) == {"w"}, set(presses["code"])  # K never stored
    assert len(presses) >= 3
    assert (events[events["device"] == MOTION]["value"] == 3).all()
    assert all(d.closed for d in (kbd, mouse))


def test_fixed_region_targets_are_recorded_with_a_warning(desk: FakeEvdevModule) -> None:
    srcs = sources(desk, FixedRegionTarget(Region(0, 0, 64, 64)))
    assert any("no window to gate input on" in w for w in srcs.warnings)  # type: ignore[attr-defined]
    for s in srcs:
        s.stop()


def test_raw_motion_off_keeps_buttons_and_wheel(desk: FakeEvdevModule) -> None:
    srcs = sources(desk, WindowLike(), raw_motion=False)
    src = srcs[0]
    router = InputRouter(DEFAULT_LAYOUT, hotkeys=Hotkeys())
    src.start(router.push)
    try:
        assert not src.raw_motion
        desk.by_name("USB mouse").emit([(ec.EV_REL, ec.REL_X, 4), (ec.EV_REL, ec.REL_WHEEL, -1)])
        assert brief(drain_until(router, 1)) == [(WHEEL, "dy", -1)]
    finally:
        src.stop()


def test_a_device_lost_while_recording_is_counted_in_meta_json_and_validate(
        desk: FakeEvdevModule, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The unplug is not only logged: meta.json ``input.losses`` and validate both show it."""
    import json

    monkeypatch.setitem(inputs.REGISTRY, "evdev", backend_over(desk))
    out = tmp_path / "session"
    kbd, mouse = desk.by_name("AT keyboard"), desk.by_name("USB mouse")

    def unplug_once_recording() -> None:
        wait_until(lambda: (out / "meta.json").exists(), "recording", 60)
        kbd.emit([(ec.EV_KEY, KEY_W, 1), (ec.EV_KEY, KEY_W, 0)])
        mouse.unplug()

    thread = threading.Thread(target=unplug_once_recording, daemon=True)
    thread.start()
    run = run_cli(capsys, "record", "--source", "synthetic", "--input-backend", "evdev",
                  "--out", str(out), "--seconds", "1.5", "--start-immediately", "--cue",
                  "none", "--status-interval", "0")
    thread.join(5)
    assert run.code == 0, run.err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["input"]["losses"] == {"evdev.devices_lost": 1}
    check = run_cli(capsys, "validate", "--root", str(out))
    assert check.code == 0, check.err
    assert "evdev.devices_lost 1: the input source lost events" in check.out + check.err
