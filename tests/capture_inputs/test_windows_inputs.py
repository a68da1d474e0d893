"""Windows input listeners (Raw Input motion, XInput pads) tested through fakes of OS calls.

The OS calls themselves cannot run on Linux; the decoding, state diffing and listener threads do.
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time
from typing import Any

import pytest

from nitrogen_capture.errors import ConfigError, InputError, PlatformError
from nitrogen_capture.events import HELD, MOTION, PAD_AXIS, PAD_BUTTON, InputEvent
from nitrogen_capture.inputs import _rawinput_win32 as ri
from nitrogen_capture.inputs import _xinput as xi
from nitrogen_capture.keylayout import PAD_BUTTONS
from waiting import wait_until

# --- Raw Input: RAWMOUSE decoding, absolute devices, the listener loop with a fake message queue


def raw_buffer(flags: int, x: int, y: int, dev_type: int = 0) -> bytes:
    mouse = ri.RAWMOUSE(usFlags=flags, ulButtons=0, ulRawButtons=0, lLastX=x, lLastY=y)
    size = ctypes.sizeof(ri.RAWINPUTHEADER) + ctypes.sizeof(mouse)
    head = ri.RAWINPUTHEADER(dwType=dev_type, dwSize=size, hDevice=0x1234, wParam=0)
    return bytes(head) + bytes(mouse)


def test_rawinput_struct_layout_matches_windows() -> None:
    assert ctypes.sizeof(ri.RAWMOUSE) == 24
    assert ri.RAWMOUSE.lLastX.offset == 12 and ri.RAWMOUSE.lLastY.offset == 16
    assert ri.RAWMOUSE.ulButtons.offset == 4
    assert ctypes.sizeof(ri.RAWINPUTHEADER) == 8 + 2 * ctypes.sizeof(ctypes.c_void_p)


def test_decode_rawinput() -> None:
    assert ri.decode_rawinput(raw_buffer(0, 5, -3)) == ri.RawMouse(0, 5, -3)
    sample = ri.decode_rawinput(raw_buffer(ri.MOUSE_MOVE_ABSOLUTE, 65535, 0))
    assert sample is not None and sample.absolute and sample.x == 65535
    assert ri.decode_rawinput(raw_buffer(0, 1, 1, dev_type=1)) is None  # keyboard
    with pytest.raises(InputError, match="too short"):
        ri.decode_rawinput(raw_buffer(0, 1, 1)[:30])


def test_motion_decoder_relative_and_absolute() -> None:
    dec = ri.MotionDecoder(primary_size=(1920, 1080), virtual_size=(3840, 1080))
    assert dec.feed(ri.RawMouse(0, 7, -2)) == (7.0, -2.0) and not dec.absolute_seen
    absolute = ri.MOUSE_MOVE_ABSOLUTE
    assert dec.feed(ri.RawMouse(absolute, 0, 0)) == (0.0, 0.0)  # first: reference only
    dx_, dy_ = dec.feed(ri.RawMouse(absolute, 65535 // 2, 65535))
    assert dx_ == pytest.approx(959.99, abs=0.02) and dy_ == pytest.approx(1080.0)
    dx_, _ = dec.feed(ri.RawMouse(absolute | ri.MOUSE_VIRTUAL_DESKTOP, 65535, 65535))
    assert dx_ == pytest.approx(3840 - 959.99, abs=0.05)  # virtual-desktop scale now
    assert dec.absolute_seen
    assert dec.feed(ri.RawMouse(0, 1, 1)) == (1.0, 1.0)
    assert dec.feed(ri.RawMouse(absolute, 100, 100)) == (0.0, 0.0)  # re-anchored


class FakeRawApi:
    def __init__(self, fail_open: bool = False) -> None:
        self.messages: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self.buffers: dict[int, bytes] = {}
        self.dispatched = 0
        self.closed = threading.Event()
        self.fail_open = fail_open

    def open(self) -> None:
        if self.fail_open:
            raise InputError("RegisterRawInputDevices failed: Windows error 5")

    def screen_sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return (1920, 1080), (1920, 1080)

    def next_message(self) -> tuple[int, int] | None:
        return self.messages.get(timeout=5)

    def read_input(self, lparam: int) -> bytes:
        return self.buffers[lparam]

    def dispatch(self) -> None:
        self.dispatched += 1

    def quit(self) -> None:
        self.messages.put(None)

    def close(self) -> None:
        self.closed.set()


def collect() -> tuple[list[InputEvent], Any]:
    events: list[InputEvent] = []
    return events, events.append


def test_rawinput_listener_emits_motion_and_stops() -> None:
    api = FakeRawApi()
    ticks = iter(range(1000, 10_000, 10))
    src = ri.RawInputMotion(api, clock=lambda: next(ticks))
    events, sink = collect()
    api.buffers = {1: raw_buffer(0, 3, -4), 2: raw_buffer(0, 0, 6), 3: raw_buffer(0, 1, 1, 1)}
    src.start(sink)
    for msg in [(ri.WM_INPUT, 1), (0x0113, 0), (ri.WM_INPUT, 2), (ri.WM_INPUT, 3)]:
        api.messages.put(msg)
    wait_until(lambda: api.dispatched >= 4, "4 messages dispatched", interval=0.005)
    src.stop()
    assert api.closed.is_set() and api.dispatched == 4
    assert [(e.device, e.code, e.value) for e in events] == [
        (MOTION, "dx", 3.0), (MOTION, "dy", -4.0), (MOTION, "dy", 6.0)]
    assert events[0].t_ns == events[1].t_ns == 1000 and events[2].t_ns == 1010
    assert not src.absolute_seen


def test_rawinput_listener_errors_reach_the_owner() -> None:
    failing = FakeRawApi(fail_open=True)
    src = ri.RawInputMotion(failing)
    with pytest.raises(InputError, match="RegisterRawInputDevices"):
        src.start(lambda e: None)
    assert failing.closed.wait(5)  # a half-opened window is still cleaned up
    api = FakeRawApi()
    src = ri.RawInputMotion(api)
    src.start(lambda e: None)
    api.messages.put((ri.WM_INPUT, 99))  # read_input raises KeyError inside the thread
    assert api.closed.wait(5)
    with pytest.raises(InputError, match="rawinput listener failed"):
        src.stop()


# --- XInput: state -> events, dead zones, triggers, the poller with a fake XInputGetState


def reading(packet: int = 1, buttons: int = 0, lt: int = 0, rt: int = 0, lx: int = 0,
            ly: int = 0, rx: int = 0, ry: int = 0) -> xi.XInputReading:
    return xi.XInputReading(packet, buttons, lt, rt, lx, ly, rx, ry)


@pytest.mark.parametrize(("bit", "name"), [
    (0x0001, "dpad_up"), (0x0002, "dpad_down"), (0x0004, "dpad_left"), (0x0008, "dpad_right"),
    (0x0010, "start"), (0x0020, "back"), (0x0040, "left_thumb"), (0x0080, "right_thumb"),
    (0x0100, "left_shoulder"), (0x0200, "right_shoulder"), (0x1000, "south"),
    (0x2000, "east"), (0x4000, "west"), (0x8000, "north"),
])
def test_every_xinput_button(bit: int, name: str) -> None:
    state = xi.pad_state(reading(buttons=bit))
    assert state.buttons == {name}
    assert xi.diff_states(xi.NEUTRAL, state, 5) == [InputEvent(5, PAD_BUTTON, name, 1.0)]
    assert xi.diff_states(state, xi.NEUTRAL, 6) == [InputEvent(6, PAD_BUTTON, name, 0.0)]


def test_xinput_names_cover_the_dataset_buttons_but_guide() -> None:
    names = {n for _, n in xi.BUTTON_BITS} | {"left_trigger", "right_trigger"}
    assert names == set(PAD_BUTTONS) - {"guide"}
    assert "guide" not in xi.pad_state(reading(buttons=0xFFFF, lt=255, rt=255)).buttons


def test_xinput_trigger_threshold() -> None:
    assert xi.pad_state(reading(lt=30, rt=30)).buttons == frozenset()
    assert xi.pad_state(reading(lt=31)).buttons == {"left_trigger"}
    assert xi.pad_state(reading(rt=255)).buttons == {"right_trigger"}


def test_xinput_sticks_sign_and_deadzones() -> None:
    assert xi.normalise_stick(0, 32767, xi.LEFT_DEADZONE) == (0.0, -1.0)  # up is -y for us
    assert xi.normalise_stick(0, -32768, xi.LEFT_DEADZONE) == (0.0, 1.0)  # down is +y
    assert xi.normalise_stick(32767, 0, xi.RIGHT_DEADZONE) == (1.0, 0.0)
    assert xi.normalise_stick(-32768, 0, xi.RIGHT_DEADZONE) == (-1.0, 0.0)
    assert xi.normalise_stick(7849, 0, xi.LEFT_DEADZONE) == (0.0, 0.0)  # on the edge
    assert xi.normalise_stick(5000, 5000, xi.LEFT_DEADZONE) == (0.0, 0.0)  # radial: |v|=7071
    x, y = xi.normalise_stick(8500, 0, xi.LEFT_DEADZONE)
    assert 0 < x < 0.03 and y == 0.0  # just outside the left zone, rescaled from 0
    assert xi.normalise_stick(8500, 0, xi.RIGHT_DEADZONE) == (0.0, 0.0)  # inside the right one
    x, y = xi.normalise_stick(32767, 32767, xi.LEFT_DEADZONE)  # corner: clamped magnitude
    assert x == pytest.approx(0.7071, abs=1e-4) and y == pytest.approx(-0.7071, abs=1e-4)
    state = xi.pad_state(reading(lx=20000, ly=-20000, rx=-30000, ry=30000))
    lx, ly, rx, ry = state.axes
    assert lx > 0 and ly > 0 and rx < 0 and ry < 0


def test_xinput_diff_no_change_and_axes() -> None:
    a = xi.pad_state(reading(buttons=0x1000, lx=20000))
    assert xi.diff_states(a, a, 1) == []
    b = xi.pad_state(reading(buttons=0x1000, lx=20000, ry=-32768))
    assert xi.diff_states(a, b, 2) == [InputEvent(2, PAD_AXIS, "ry", 1.0)]
    events = xi.diff_states(xi.NEUTRAL, b, 3)
    assert [(e.device, e.code) for e in events] == [
        (PAD_BUTTON, "south"), (PAD_AXIS, "lx"), (PAD_AXIS, "ry")]


def test_xinput_state_struct() -> None:
    assert ctypes.sizeof(xi.XINPUT_STATE) == 16
    state = xi.XINPUT_STATE()
    state.dwPacketNumber = 9
    state.Gamepad.wButtons = 0x2001
    state.Gamepad.bRightTrigger = 200
    state.Gamepad.sThumbLY = -32768
    assert xi.XInputReading.from_struct(state) == reading(9, 0x2001, 0, 200, 0, -32768, 0, 0)


def test_load_first_dll_fallback() -> None:
    tried: list[str] = []

    def loader(name: str) -> str:
        tried.append(name)
        if name != "xinput9_1_0":
            raise OSError(f"{name} not found")
        return "dll"

    assert xi.load_first_dll(xi.XINPUT_DLLS, loader) == ("dll", "xinput9_1_0")
    assert tried == ["xinput1_4", "xinput1_3", "xinput9_1_0"]
    with pytest.raises(PlatformError, match=r"xinput1_4: .*xinput1_3: .*DirectX"):
        xi.load_first_dll(xi.XINPUT_DLLS[:2], loader)


class FakeXInput:
    def __init__(self) -> None:
        self.slots: dict[int, xi.XInputReading] = {}
        self.calls: list[int] = []

    def get_state(self, index: int) -> xi.XInputReading | None:
        self.calls.append(index)
        return self.slots.get(index)


def test_xinput_poller_connect_change_disconnect() -> None:
    api = FakeXInput()
    now = [0]
    pad = xi.XInputGamepad(api=api, clock=lambda: now[0], rescan_s=1.0)
    events, sink = collect()
    pad._sink = sink  # poll() synchronously, without the thread
    assert pad.poll() == [] and api.calls == [0, 1, 2, 3]
    now[0] = 500_000_000
    assert pad.poll() == [] and len(api.calls) == 4  # empty slots are rescanned once a second
    api.slots[2] = reading(1, buttons=0x1000, lt=255)
    now[0] = 1_000_000_000
    first = pad.poll()
    assert pad.connected_index == 2
    assert {(e.code, e.value) for e in first} == {("south", 1.0), ("left_trigger", 1.0)}
    now[0] += 4_000_000
    assert pad.poll() == []  # same packet number: nothing read into events
    api.slots[2] = reading(2, buttons=0x1000, lt=255, ly=32767)
    assert pad.poll() == [InputEvent(now[0], PAD_AXIS, "ly", -1.0)]
    del api.slots[2]
    released = pad.poll()
    assert {(e.code, e.value) for e in released} == {
        ("south", 0.0), ("left_trigger", 0.0), ("ly", 0.0)}
    moved = InputEvent(now[0], PAD_AXIS, "ly", -1.0)
    assert pad.connected_index is None and events == [*first, moved, *released]


def test_xinput_fixed_slot_and_config_errors() -> None:
    api = FakeXInput()
    pad = xi.XInputGamepad(1, api=api, clock=lambda: 0)
    pad.poll()
    assert api.calls == [1]
    with pytest.raises(ConfigError, match=r"0\.\.3"):
        xi.XInputGamepad(4, api=api)
    with pytest.raises(ConfigError, match="rate"):
        xi.XInputGamepad(rate_hz=0, api=api)


def test_xinput_thread_delivers_events() -> None:
    api = FakeXInput()
    api.slots[0] = reading(1, buttons=0x8000, lx=32767)
    pad = xi.XInputGamepad(api=api, rate_hz=500)
    got: queue.Queue[InputEvent] = queue.Queue()
    pad.start(got.put)
    try:
        # Y was down before the reader started: no press (nobody pressed it then); held_now
        # reports it, read before start() returned, with the stick as it stands.
        assert [(e.device, e.code, e.value) for e in pad.held_now(())] == [
            (PAD_BUTTON, "north", HELD), (PAD_AXIS, "lx", 1.0), (PAD_AXIS, "ly", 0.0),
            (PAD_AXIS, "rx", 0.0), (PAD_AXIS, "ry", 0.0)]
        api.slots[0] = reading(2, buttons=0x1000, lx=32767)
        events = [got.get(timeout=5), got.get(timeout=5)]
        assert {(e.device, e.code, e.value) for e in events} == {
            (PAD_BUTTON, "north", 0.0), (PAD_BUTTON, "south", 1.0)}
    finally:
        pad.stop()
    calls = len(api.calls)
    time.sleep(0.05)
    assert len(api.calls) == calls  # the thread has stopped polling
