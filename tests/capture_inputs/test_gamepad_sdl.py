"""The SDL2 gamepad reader, fed by SDL's virtual joystick in-process (docs/architecture.md 10).

No uinput here: ``SDL_JoystickAttachVirtual`` (called through ctypes on the libSDL2 that pygame
bundles, which is the library pygame itself runs on) makes a pad that the reader finds and reads
like a real one, through SDL's own mapping and update code.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from nitrogen_capture.binning import GAMEPAD_WIDTH
from nitrogen_capture.clock import now_ns
from nitrogen_capture.errors import DependencyError
from nitrogen_capture.events import PAD_AXIS, PAD_BUTTON, InputEvent
from nitrogen_capture.inputs import _sdl, get_input_backends
from nitrogen_capture.inputs._live import gamepad_source
from nitrogen_capture.inputs._pad_state import PadState
from nitrogen_capture.inputs._sdl import CONTROLLER_BUTTONS, JOYSTICK_BUTTONS, SdlGamepad
from nitrogen_capture.keylayout import PAD_AXES, PAD_BUTTONS
from nitrogen_capture.session.merge import merge_session
from recording import synthetic_recorder
from waiting import wait_until

INIT_JOYSTICK, INIT_GAMECONTROLLER = 0x200, 0x2000
TYPE_UNKNOWN, TYPE_GAMECONTROLLER = 0, 1
HAT_CENTERED, HAT_UP, HAT_RIGHT, HAT_DOWN, HAT_LEFT = 0, 1, 2, 4, 8
MAX, MIN = 32767, -32768


def trigger(frac: float) -> int:
    """A virtual trigger axis value: SDL maps the full axis range onto the trigger's travel."""
    return round(MIN + frac * (MAX - MIN))


class Sdl:
    """The few SDL2 calls the tests need, on pygame's own libSDL2."""

    def __init__(self) -> None:
        import pygame

        here = os.path.dirname(pygame.__file__)
        found = sorted(glob.glob(os.path.join(here, "..", "pygame.libs", "libSDL2-2*.so*"))
                       + glob.glob(os.path.join(here, ".dylibs", "libSDL2*.dylib"))
                       + glob.glob(os.path.join(here, "SDL2.dll")))
        if not found:
            pytest.skip(f"no libSDL2 bundled with pygame under {here}")
        lib = self.lib = ctypes.CDLL(found[0])
        lib.SDL_GetError.restype = ctypes.c_char_p
        lib.SDL_JoystickOpen.restype = ctypes.c_void_p
        lib.SDL_JoystickClose.argtypes = [ctypes.c_void_p]
        lib.SDL_JoystickInstanceID.argtypes = [ctypes.c_void_p]
        for what in ("Button", "Hat"):
            getattr(lib, f"SDL_JoystickSetVirtual{what}").argtypes = [
                ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
        lib.SDL_JoystickSetVirtualAxis.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int16]

    def was_init(self, flags: int) -> int:
        return int(self.lib.SDL_WasInit(flags))

    def check(self, rc: int, what: str) -> None:
        assert rc >= 0, f"{what}: {self.lib.SDL_GetError().decode()}"


class VirtualPad:
    """A virtual SDL joystick; ``kind`` TYPE_GAMECONTROLLER gets SDL's standard mapping."""

    def __init__(self, sdl: Sdl, kind: int, naxes: int, nbuttons: int, nhats: int) -> None:
        self.sdl, lib = sdl, sdl.lib
        index = lib.SDL_JoystickAttachVirtual(kind, naxes, nbuttons, nhats)
        sdl.check(index, "SDL_JoystickAttachVirtual")
        self.handle = lib.SDL_JoystickOpen(index)
        assert self.handle, lib.SDL_GetError()
        self.instance = lib.SDL_JoystickInstanceID(self.handle)

    def button(self, index: int, down: bool) -> None:
        self.sdl.check(self.sdl.lib.SDL_JoystickSetVirtualButton(self.handle, index, int(down)),
                       "SetVirtualButton")

    def axis(self, index: int, value: int) -> None:
        self.sdl.check(self.sdl.lib.SDL_JoystickSetVirtualAxis(self.handle, index, value),
                       "SetVirtualAxis")

    def hat(self, index: int, value: int) -> None:
        self.sdl.check(self.sdl.lib.SDL_JoystickSetVirtualHat(self.handle, index, value),
                       "SetVirtualHat")

    def set(self, *, buttons: dict[int, bool] | None = None,
            axes: dict[int, int] | None = None) -> None:
        """Several changes at once (the reader may see them in one poll or two)."""
        for index, down in (buttons or {}).items():
            self.button(index, down)
        for index, value in (axes or {}).items():
            self.axis(index, value)

    def unplug(self) -> None:
        lib = self.sdl.lib
        for i in range(lib.SDL_NumJoysticks()):
            if lib.SDL_JoystickGetDeviceInstanceID(i) == self.instance:
                self.sdl.check(lib.SDL_JoystickDetachVirtual(i), "SDL_JoystickDetachVirtual")
        lib.SDL_JoystickClose(self.handle)


@pytest.fixture
def sdl_env(monkeypatch: pytest.MonkeyPatch) -> Sdl:
    """Headless SDL; the reader's hints restored afterwards."""
    for key, value in {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
                       "PYGAME_HIDE_SUPPORT_PROMPT": "1", **_sdl._HINTS}.items():
        monkeypatch.setenv(key, value)
    return Sdl()


@pytest.fixture
def sdl(sdl_env: Sdl) -> Iterator[Sdl]:
    """SDL's joystick subsystems started on the test thread (to attach virtual pads)."""
    sdl_env.check(sdl_env.lib.SDL_InitSubSystem(INIT_JOYSTICK | INIT_GAMECONTROLLER), "init")
    yield sdl_env
    sdl_env.lib.SDL_QuitSubSystem(INIT_JOYSTICK | INIT_GAMECONTROLLER)


def count_polls(reader: SdlGamepad) -> Callable[[], int]:
    """The number of times ``reader`` has read the pad from now on.

    "Nothing was emitted over N polls" is then a wait for N polls, not a guess of their time.
    """
    done = [0]
    read = reader._read_state

    def counted() -> PadState:
        done[0] += 1
        return read()

    reader._read_state = counted  # type: ignore[method-assign]
    return lambda: done[0]


def over_polls(polls: Callable[[], int], n: int) -> None:
    """Wait until the reader has polled ``n`` more times."""
    start = polls()
    wait_until(lambda: polls() >= start + n, f"{n} polls")


def changes(events: list[InputEvent], polls: Callable[[], int],
            act: Callable[[], None]) -> list[tuple[str, str, float]]:
    """Run ``act`` and return the (device, code, value) events the reader emitted for it."""
    n = len(events)
    act()
    wait_until(lambda: len(events) > n, "pad events")
    over_polls(polls, 8)  # a few more polls: anything else would show up now
    return [(e.device, e.code, e.value) for e in events[n:]]


def quiet(events: list[InputEvent], polls: Callable[[], int], act: Callable[[], None],
          marker: Callable[[], None], expected_marker: list[tuple[str, str, object]]) -> None:
    """``act`` alone must emit nothing: after it, ``marker``'s events are all that arrive."""
    act()
    assert changes(events, polls, marker) == expected_marker


def test_controller_buttons_sticks_triggers(sdl: Sdl, caplog: pytest.LogCaptureFixture) -> None:
    vp = VirtualPad(sdl, TYPE_GAMECONTROLLER, 6, 15, 0)
    reader, events = SdlGamepad(rate_hz=250), list[InputEvent]()
    polls = count_polls(reader)
    with caplog.at_level(logging.INFO, logger=_sdl.__name__):
        reader.start(events.append)
        wait_until(lambda: reader.pad is not None, "the pad")
    try:
        name, guid = reader.pad or ("", "")
        assert "through SDL GameController" in caplog.text and name in caplog.text
        assert len(guid) == 32 and guid in caplog.text
        over_polls(polls, 12)
        assert events == []  # a pad at rest has nothing to report
        for button, code in CONTROLLER_BUTTONS:
            assert changes(events, polls, partial(vp.button, button, True)) == [
                (PAD_BUTTON, code, 1.0)]
            assert changes(events, polls, partial(vp.button, button, False)) == [
                (PAD_BUTTON, code, 0.0)]
        assert {code for _, code in CONTROLLER_BUTTONS} == set(PAD_BUTTONS) - {
            "left_trigger", "right_trigger"}
        # Sticks: SDL's +y is down, kept as is; full deflection is exactly 1.
        assert changes(events, polls, lambda: vp.axis(1, MIN)) == [(PAD_AXIS, "ly", -1.0)]
        # The dead zone is radial: a corner is clamped to magnitude 1.
        assert changes(events, polls, lambda: vp.axis(0, MAX)) == [
            (PAD_AXIS, "lx", 0.7071), (PAD_AXIS, "ly", -0.7071)]
        assert changes(events, polls, lambda: vp.axis(1, 0)) == [
            (PAD_AXIS, "lx", 1.0), (PAD_AXIS, "ly", 0.0)]
        assert changes(events, polls, lambda: vp.axis(3, MAX)) == [(PAD_AXIS, "ry", 1.0)]
        assert changes(events, polls, lambda: vp.set(axes={0: 0, 3: 0})) == [
            (PAD_AXIS, "lx", 0.0), (PAD_AXIS, "ry", 0.0)]
        # Dead zone: 8% of travel is nothing; 55% is rescaled from the zone's edge.
        quiet(events, polls, lambda: vp.axis(2, round(0.08 * MAX)), lambda: vp.axis(1, MAX // 2),
              [(PAD_AXIS, "ly", pytest.approx((0.5 - 0.1) / 0.9, abs=2e-4))])
        [(_, code, rx)] = changes(events, polls, lambda: vp.axis(2, round(0.55 * MAX)))
        assert code == "rx" and rx == pytest.approx(0.5, abs=2e-4)
        # Triggers are buttons above 12% of their travel.
        quiet(events, polls, lambda: vp.axis(4, trigger(0.10)), lambda: vp.button(0, True),
              [(PAD_BUTTON, "south", 1.0)])
        assert changes(events, polls, lambda: vp.axis(4, trigger(0.2))) == [
            (PAD_BUTTON, "left_trigger", 1.0)]
        assert changes(events, polls, lambda: vp.axis(5, MAX)) == [
            (PAD_BUTTON, "right_trigger", 1.0)]
        assert changes(events, polls, lambda: vp.set(axes={4: MIN, 5: MIN})) == [
            (PAD_BUTTON, "left_trigger", 0.0), (PAD_BUTTON, "right_trigger", 0.0)]
        n = len(events)
        over_polls(polls, 50)  # an unchanged pad
        assert len(events) == n
        assert all(isinstance(e.t_ns, int) and e.t_ns <= now_ns() for e in events)
        assert [e.t_ns for e in events] == sorted(e.t_ns for e in events)
    finally:
        reader.stop()
        vp.unplug()


def test_joystick_fallback_layout_and_hat(sdl: Sdl, caplog: pytest.LogCaptureFixture) -> None:
    vp = VirtualPad(sdl, TYPE_UNKNOWN, 6, 11, 1)  # no SDL mapping: the joystick API is used
    vp.axis(2, MIN)
    vp.axis(5, MIN)  # triggers rest at -1 (how the reader tells them from other axes)
    reader, events = SdlGamepad(), list[InputEvent]()
    polls = count_polls(reader)
    with caplog.at_level(logging.INFO, logger=_sdl.__name__):
        reader.start(events.append)
        wait_until(lambda: reader.pad is not None, "the pad")
    try:
        assert "through SDL joystick (no SDL mapping" in caplog.text
        for button, code in JOYSTICK_BUTTONS:
            assert changes(events, polls, partial(vp.button, button, True)) == [
                (PAD_BUTTON, code, 1.0)]
            assert changes(events, polls, partial(vp.button, button, False)) == [
                (PAD_BUTTON, code, 0.0)]
        assert changes(events, polls, lambda: vp.hat(0, HAT_UP)) == [(PAD_BUTTON, "dpad_up", 1.0)]
        assert changes(events, polls, lambda: vp.hat(0, HAT_RIGHT | HAT_DOWN)) == [
            (PAD_BUTTON, "dpad_down", 1.0), (PAD_BUTTON, "dpad_right", 1.0),
            (PAD_BUTTON, "dpad_up", 0.0)]
        assert changes(events, polls, lambda: vp.hat(0, HAT_LEFT)) == [
            (PAD_BUTTON, "dpad_down", 0.0), (PAD_BUTTON, "dpad_left", 1.0),
            (PAD_BUTTON, "dpad_right", 0.0)]
        assert changes(events, polls, lambda: vp.hat(0, HAT_CENTERED)) == [
            (PAD_BUTTON, "dpad_left", 0.0)]
        assert changes(events, polls, lambda: vp.axis(2, MAX)) == [
            (PAD_BUTTON, "left_trigger", 1.0)]
        assert changes(events, polls, lambda: vp.axis(1, MAX)) == [(PAD_AXIS, "ly", 1.0)]  # down
        assert changes(events, polls, lambda: vp.axis(3, MIN)) == [(PAD_AXIS, "rx", -1.0)]
        assert changes(events, polls, lambda: vp.set(axes={3: 0, 4: MIN})) == [
            (PAD_AXIS, "rx", 0.0), (PAD_AXIS, "ry", -1.0)]
    finally:
        reader.stop()
        vp.unplug()


def test_hotplug_and_the_reader_owns_sdl(sdl_env: Sdl) -> None:
    both = INIT_JOYSTICK | INIT_GAMECONTROLLER
    assert sdl_env.was_init(both) == 0
    reader, events = SdlGamepad(), list[InputEvent]()
    polls = count_polls(reader)
    reader.start(events.append)
    try:
        assert sdl_env.was_init(both) == both  # started on the reader's thread
        over_polls(polls, 10)
        assert reader.pad is None and events == []
        vp = VirtualPad(sdl_env, TYPE_GAMECONTROLLER, 6, 15, 0)  # plugged in after start
        wait_until(lambda: reader.pad is not None, "the hot-plugged pad")
        assert sorted(changes(events, polls, lambda: vp.set(buttons={0: True}, axes={0: MAX}))) == [
            (PAD_AXIS, "lx", 1.0), (PAD_BUTTON, "south", 1.0)]
        assert changes(events, polls, vp.unplug) == [
            (PAD_BUTTON, "south", 0.0), (PAD_AXIS, "lx", 0.0)]
        assert reader.pad is None
        vp2 = VirtualPad(sdl_env, TYPE_GAMECONTROLLER, 6, 15, 0)
        wait_until(lambda: reader.pad is not None, "the second pad")
        assert changes(events, polls, lambda: vp2.button(3, True)) == [(PAD_BUTTON, "north", 1.0)]
    finally:
        reader.stop()
    assert sdl_env.was_init(both) == 0  # and quit there: vp2 went with it


@pytest.mark.x11  # the pynput listener needs a display (make test runs tier 0 without one)
def test_gamepad_source_choice(sdl_env: Sdl, xvfb_display: str) -> None:
    live = get_input_backends("pynput", gamepad=True, raw_motion=False)
    # The default gamepad reader ("auto") is XInput on Windows, SDL2 elsewhere.
    assert [s.name for s in live] == ["pynput", "xinput" if os.name == "nt" else "sdl_gamepad"]
    assert [s.name for s in get_input_backends("pynput", raw_motion=False)] == ["pynput"]
    assert isinstance(gamepad_source("sdl"), SdlGamepad)
    if os.name != "nt":
        assert isinstance(gamepad_source("auto"), SdlGamepad)
    with pytest.raises(ValueError, match="unknown gamepad backend 'evdev'"):
        gamepad_source("evdev")
    with pytest.raises(ValueError, match="dead zone"):
        SdlGamepad(deadzone=0.95)


def test_missing_pygame_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygame", None)  # import pygame -> ImportError
    with pytest.raises(DependencyError, match=r"pip install 'nitrogen-capture\[gamepad\]'"):
        SdlGamepad()


@pytest.mark.slow  # 110 frames at 60 fps
def test_recorder_stores_the_fed_pad_state(sdl: Sdl, tmp_path: Path) -> None:
    vp = VirtualPad(sdl, TYPE_GAMECONTROLLER, 6, 15, 0)
    out = tmp_path / "s"
    rec = synthetic_recorder(out, gamepad=True, max_frames=110, chunk_size=40)
    reader = SdlGamepad()
    rec.inputs[:] = [reader]
    south, rtrig = PAD_BUTTONS.index("south"), PAD_BUTTONS.index("right_trigger")
    lx, ly = (len(PAD_BUTTONS) + PAD_AXES.index(a) for a in ("lx", "ly"))
    row1, row2 = np.zeros(GAMEPAD_WIDTH, np.float32), np.zeros(GAMEPAD_WIDTH, np.float32)
    row1[[south, lx]] = 1.0
    row2[rtrig], row2[ly] = 1.0, -1.0
    steps: list[tuple[npt.NDArray[np.float32], Callable[[], None]]] = [
        (row1, lambda: vp.set(buttons={0: True}, axes={0: MAX})),
        (row2, lambda: vp.set(buttons={0: False}, axes={0: 0, 5: MAX, 1: MIN})),
        (np.zeros(GAMEPAD_WIDTH, np.float32), lambda: vp.set(axes={5: MIN, 1: 0})),
    ]
    fed: list[int] = []
    errors: list[BaseException] = []

    def feed() -> None:
        try:
            wait_until(lambda: reader.pad is not None, "the recorder's pad", timeout=30)
            for _, act in steps:
                time.sleep(0.35)
                fed.append(now_ns())
                act()
        except BaseException as exc:
            errors.append(exc)

    feeder = threading.Thread(target=feed)
    feeder.start()
    result = rec.run()
    feeder.join()
    vp.unplug()
    assert not errors and len(fed) == 3
    t0 = result.meta.clock.t0_ns
    chunks = sorted(out.glob("gamepad_chunk_*.npy"))
    assert len(chunks) == 3
    pad = np.concatenate([np.load(p) for p in chunks])
    ts = np.concatenate([np.load(p) for p in sorted(out.glob("timestamps_chunk_*.npy"))])
    assert pad.shape == (len(ts), GAMEPAD_WIDTH) and pad.dtype == np.float32
    assert ts[-1] > fed[-1] - t0 + 0.1e9, "the recording outlived the feeding"
    first = [int(np.searchsorted(ts, t - t0)) for t in fed] + [len(ts) + 1]
    np.testing.assert_array_equal(pad[:first[0]], 0.0)  # nothing before the first press
    for k, (row, _) in enumerate(steps):
        # The change can land in the first frame at/after it was fed or the next (+-1 frame).
        np.testing.assert_array_equal(pad[first[k] + 1:first[k + 1] - 1], row[None].repeat(
            len(pad[first[k] + 1:first[k + 1] - 1]), 0))
        assert first[k + 1] - first[k] > 10
    merge_session(out)
    np.testing.assert_array_equal(np.load(out / "gamepad.npy"), pad)
    stored = np.load(out / "events.npy")
    pad_events = stored[np.isin(stored["device"], [PAD_BUTTON, PAD_AXIS])]
    assert {(str(e["code"]), float(e["value"])) for e in pad_events} >= {
        ("south", 1.0), ("lx", 1.0), ("right_trigger", 1.0), ("ly", -1.0), ("ly", 0.0)}
    assert result.meta.gamepad is True
