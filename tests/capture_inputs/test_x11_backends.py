"""The X11 backends: tier 1 against a real Xvfb (window lookup, focus, mss, pynput, XI2 raw)
and tier 0 checks of their pure logic (raw-event decoding, key names, errors).

Windows are plain python-xlib windows of this process (no toolkit needed); input is injected
with XTEST (``Xlib.ext.xtest.fake_input``), which XRecord and XInput2 see like real devices.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil
import pytest

from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.errors import ConfigError, TargetNotFound
from nitrogen_capture.events import InputEvent
from nitrogen_capture.targets import (
    FixedRegionTarget,
    WindowTarget,
    format_window_table,
    resolve_target,
)
from waiting import wait_until

x11 = pytest.mark.x11

TITLE = "Nitro Test Window"
COLOR = 0x3366CC  # RGB; mss/cv2 give BGR (0xCC, 0x66, 0x33)
GEOM = (100, 80, 320, 240)


class XWin:
    """A plain X window on its own connection, painted with a solid colour."""

    def __init__(self, title: str | None, geom: tuple[int, int, int, int], color: int,
                 pid: int | None) -> None:
        from Xlib import X, Xatom, display

        self.X = X
        self.d: Any = display.Display()
        scr = self.d.screen()
        x, y, w, h = geom
        self.win: Any = scr.root.create_window(
            x, y, w, h, 0, scr.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=color, override_redirect=False)
        if title is not None:
            self.win.set_wm_name(title)
        if pid is not None:
            self.win.change_property(self.d.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32,
                                     [pid])
        self.win.map()
        self.win.clear_area()
        self.d.sync()

    @property
    def id(self) -> int:
        return int(self.win.id)

    def close(self) -> None:
        self.win.destroy()
        self.d.sync()
        self.d.close()


@pytest.fixture(scope="module")
def xwin(xvfb_display: str) -> Iterator[XWin]:
    w = XWin(TITLE, GEOM, COLOR, os.getpid())
    wait_until(lambda: w.win.get_attributes().map_state == w.X.IsViewable, "the window mapped")
    yield w
    w.close()


@pytest.fixture()
def backend(xwin: XWin) -> Iterator[Any]:
    from nitrogen_capture.targets._x11 import X11WindowBackend

    b = X11WindowBackend()
    yield b
    b.close()


@x11
def test_list_windows_finds_window_with_pid_and_geometry(backend: Any, xwin: XWin) -> None:
    mine = [w for w in backend.list_windows() if w.window_id == xwin.id]
    assert len(mine) == 1
    info = mine[0]
    assert info.title == TITLE
    assert info.pid == os.getpid()
    assert info.process == psutil.Process().name()
    assert info.region == Region.from_xywh(*GEOM)
    table = format_window_table([info])
    assert TITLE in table and "100,80 320x240" in table and str(os.getpid()) in table


@x11
@pytest.mark.parametrize("spec", [
    TargetSpec(pid=os.getpid()),
    TargetSpec(window_title="test window"),
    TargetSpec(process_name=psutil.Process().name()),
    TargetSpec(process_name=psutil.Process().name(), window_title="Nitro"),
])
def test_resolve_target(xwin: XWin, spec: TargetSpec) -> None:
    target = resolve_target(spec, wait_s=2.0)
    try:
        assert isinstance(target, WindowTarget)
        assert target.window_id == xwin.id
        assert target.region() == Region.from_xywh(*GEOM)
        assert target.describe()["title"] == TITLE
    finally:
        target.close()


@x11
def test_target_not_found_lists_near_matches(xwin: XWin) -> None:
    with pytest.raises(TargetNotFound) as err:
        resolve_target(TargetSpec(process_name=psutil.Process().name() + "x"), wait_s=0.3)
    assert TITLE in str(err.value) and "near matches" in str(err.value)
    with pytest.raises(TargetNotFound) as err:
        resolve_target(TargetSpec(window_title="Nitro Tset Window"), wait_s=0.2)
    assert TITLE in str(err.value)


@x11
def test_resolve_waits_for_window_to_appear(xvfb_display: str) -> None:
    import threading

    holder: list[XWin] = []
    timer = threading.Timer(0.4, lambda: holder.append(
        XWin("Late Window", (500, 400, 100, 100), 0xFF0000, None)))
    timer.start()
    try:
        target = resolve_target(TargetSpec(window_title="late window"), wait_s=5.0)
        assert target.region() == Region(500, 400, 600, 500)
        target.close()
    finally:
        timer.join()
        for w in holder:
            w.close()


@x11
def test_region_and_monitor_targets(xvfb_display: str) -> None:
    target = resolve_target(TargetSpec(region=Region(10, 10, 110, 60)))
    assert isinstance(target, FixedRegionTarget) and target.region() == Region(10, 10, 110, 60)
    whole = resolve_target(TargetSpec())
    assert whole.region() == Region(0, 0, 1280, 720)
    with pytest.raises(ConfigError, match="outside the screen"):
        resolve_target(TargetSpec(region=Region(1200, 600, 1400, 800)))
    with pytest.raises(ConfigError, match="monitor 5"):
        resolve_target(TargetSpec(monitor=5))


@x11
def test_mss_grabs_window_pixels(xwin: XWin) -> None:
    from nitrogen_capture.capture import get_capture_backend

    target = resolve_target(TargetSpec(pid=os.getpid()), wait_s=2.0)
    try:
        with get_capture_backend("mss", region=target.region()) as src:
            frame = src.grab()
            again = src.grab()
            raw = src.grab_raw()
            assert src.details["xshm"] is True  # Xvfb supports MIT-SHM
    finally:
        target.close()
    assert frame.shape == (240, 320, 3) and frame.flags["C_CONTIGUOUS"]
    assert (frame == (0xCC, 0x66, 0x33)).all()
    # Fresh arrays that own their memory: the caller may keep them across grabs.
    assert frame.base is None and not np.shares_memory(frame, again)
    # The recorder's grab: mss's BGRA as it came, also the caller's to keep.
    assert raw.shape == (240, 320, 4) and (raw[:, :, :3] == frame).all()
    assert not np.shares_memory(raw, frame)


@x11
def test_window_target_follows_moves_and_disappearance(xvfb_display: str) -> None:
    w = XWin("Mover", (50, 50, 100, 80), 0x00FF00, None)
    target = resolve_target(TargetSpec(window_title="Mover"), wait_s=2.0)
    try:
        w.win.configure(x=300, y=200)
        w.d.sync()
        wait_until(lambda: target.refresh() == Region(300, 200, 400, 280), "moved")
        w.win.unmap()
        w.d.sync()
        wait_until(lambda: target.refresh() == Region(300, 200, 400, 280), "kept")  # kept
        w.close()
        wait_until(lambda: target.refresh() is None, "gone")
    finally:
        target.close()


@x11
def test_focus_detection(xwin: XWin, backend: Any) -> None:
    X = xwin.X
    other = XWin("Other Window", (700, 100, 200, 150), 0xFFFFFF, None)
    target = resolve_target(TargetSpec(pid=os.getpid()), wait_s=2.0)
    try:
        xwin.d.set_input_focus(xwin.win, X.RevertToParent, X.CurrentTime)
        xwin.d.sync()
        assert backend.focused_window() == xwin.id
        wait_until(target.is_focused, "focused")
        focused = [w for w in backend.list_windows() if w.focused]
        assert [w.window_id for w in focused] == [xwin.id]
        xwin.d.set_input_focus(other.win, X.RevertToParent, X.CurrentTime)
        xwin.d.sync()
        assert backend.focused_window() == other.id
        wait_until(lambda: not target.is_focused(), "not focused")
        # PointerRoot (no WM, SDL1 games): the window under the pointer has the keyboard.
        xwin.d.set_input_focus(X.PointerRoot, X.RevertToPointerRoot, X.CurrentTime)
        xwin.d.screen().root.warp_pointer(150, 150)
        xwin.d.sync()
        assert backend.focused_window() == xwin.id
        xwin.d.screen().root.warp_pointer(750, 150)
        xwin.d.sync()
        assert backend.focused_window() == other.id
        xwin.d.screen().root.warp_pointer(1000, 600)
        xwin.d.sync()
        assert backend.focused_window() is None
    finally:
        target.close()
        other.close()


class Collector:
    def __init__(self) -> None:
        self.events: list[InputEvent] = []

    def __call__(self, ev: InputEvent) -> None:
        self.events.append(ev)

    def of(self, device: str) -> list[tuple[str, float]]:
        return [(e.code, e.value) for e in self.events if e.device == device]


@x11
def test_pynput_canonical_names_from_xtest(xwin: XWin) -> None:
    from Xlib import XK, X
    from Xlib.ext import xtest

    from nitrogen_capture.inputs._pynput import PynputInput

    d = xwin.d

    def key(name: str, down: bool) -> None:
        code = d.keysym_to_keycode(XK.string_to_keysym(name))
        assert code, name
        xtest.fake_input(d, X.KeyPress if down else X.KeyRelease, code)

    def tap(name: str) -> None:
        key(name, True)
        key(name, False)

    sink = Collector()
    src = PynputInput()
    src.start(sink)
    try:
        # pynput marks itself ready just before XRecord recording is enabled: probe with keys
        # and wheel-right steps until both listeners deliver, then start from a clean slate.
        def live() -> bool:
            tap("F12")
            xtest.fake_input(d, X.ButtonPress, 7)
            xtest.fake_input(d, X.ButtonRelease, 7)
            d.sync()
            return ("f12", 1) in sink.of("key") and ("dx", 1.0) in sink.of("wheel")

        wait_until(live, "both listeners deliver", 5, interval=0.05)
        sink.events.clear()  # a probe event delivered after this is filtered out below
        key("Shift_L", True)
        tap("w")
        tap("1")
        key("Shift_L", False)
        for name in ("w", "space", "Control_L", "Control_R", "F8", "Return", "Escape",
                     "BackSpace", "Up", "F1"):
            tap(name)
        for button in (1, 3):
            xtest.fake_input(d, X.ButtonPress, button)
            xtest.fake_input(d, X.ButtonRelease, button)
        xtest.fake_input(d, X.ButtonPress, 4)  # wheel up
        xtest.fake_input(d, X.ButtonRelease, 4)
        d.sync()
        # Wait for the last injected event itself (a late probe event must not end the wait).
        # Keyboard and mouse listeners deliver on separate connections and threads: wait for
        # the last event of each.
        wait_until(lambda: ("dy", 1.0) in sink.of("wheel") and ("f1", 0.0) in sink.of("key"),
                   "the last wheel step and key release")
    finally:
        src.stop()
    # A probe event delivered after the clear is not part of what this test injected.
    sink.events[:] = [e for e in sink.events if e.code != "f12" and e.code != "dx"]
    presses = [c for c, v in sink.of("key") if v == 1]
    assert presses == ["shift", "w", "1", "w", "space", "ctrl", "ctrl", "f8", "enter", "esc",
                       "backspace", "up", "f1"]
    assert [c for c, v in sink.of("key") if v == 0][:3] == ["w", "1", "shift"]
    assert sink.of("button") == [("lmb", 1), ("lmb", 0), ("rmb", 1), ("rmb", 0)]
    assert sink.of("wheel") == [("dy", 1.0)]
    stamps = [e.t_ns for e in sink.events]
    assert stamps == sorted(stamps) and stamps[0] > 0


@x11
def test_xi2_raw_motion_sums_also_under_pointer_grab(xwin: XWin) -> None:
    from Xlib import X
    from Xlib.ext import xtest

    from nitrogen_capture.inputs._xi2_raw import XI2RawMotion

    d = xwin.d
    sink = Collector()
    src = XI2RawMotion()
    src.start(sink)

    def inject(moves: list[tuple[int, int]]) -> None:
        for dx, dy in moves:
            xtest.fake_input(d, X.MotionNotify, detail=1, x=dx, y=dy)
        d.sync()

    def sums() -> tuple[float, float]:
        ev = sink.of("motion")
        return (sum(v for c, v in ev if c == "dx"), sum(v for c, v in ev if c == "dy"))

    try:
        root = d.screen().root
        root.warp_pointer(640, 360)
        d.sync()
        # A marker motion: once it is here, whatever the server sent before it is here too.
        sink.events.clear()
        inject([(1, 1)])
        wait_until(lambda: ("dx", 1.0) in sink.of("motion") and ("dy", 1.0) in sink.of("motion"),
                   "the marker motion", 5)
        sink.events.clear()
        inject([(7, -3), (5, 2), (-4, 6)] * 4)
        wait_until(lambda: sums() == (32.0, 20.0), lambda: str(sums()), 5)
        # A game grabbing the pointer (confined to its window) must not hide raw motion.
        status = xwin.win.grab_pointer(True, X.PointerMotionMask, X.GrabModeAsync,
                                       X.GrabModeAsync, xwin.win, X.NONE, X.CurrentTime)
        assert status == X.GrabSuccess
        try:
            sink.events.clear()
            inject([(30, 25)] * 10 + [(-1, -2)] * 5)  # the cursor hits the window edge
            wait_until(lambda: sums() == (295.0, 240.0), lambda: str(sums()), 5)
        finally:
            d.ungrab_pointer(X.CurrentTime)
            d.sync()
    finally:
        src.stop()
    assert all(e.device == "motion" and e.code in ("dx", "dy") for e in sink.events)


# -- tier 0: no display needed ---------------------------------------------------------------------
def _raw_event(sourceid: int, axes: dict[int, tuple[float, float]]) -> bytes:
    """The body of an XIRawEvent as the server sends it (after the 10-byte generic header)."""
    import struct

    mask = bytearray(4)
    for axis in axes:
        mask[axis >> 3] |= 1 << (axis & 7)
    body = struct.pack("=HIIHHII", 2, 123, 0, sourceid, 1, 0, 0) + bytes(mask)

    def fp3232(v: float) -> bytes:
        integral = int(np.floor(v))
        return struct.pack("=iI", integral, round((v - integral) * 2**32))

    ordered = sorted(axes)
    body += b"".join(fp3232(axes[a][0]) for a in ordered)  # processed (accelerated)
    body += b"".join(fp3232(axes[a][1]) for a in ordered)  # raw
    return body


def test_decode_raw_event_uses_raw_values_and_mask() -> None:
    from nitrogen_capture.inputs._xi2_raw import decode_raw_event

    source, values = decode_raw_event(_raw_event(7, {0: (14.0, 7.0), 1: (-1.5, -0.75)}))
    assert source == 7 and values == {0: 7.0, 1: -0.75}
    # Only y present (mask bit 1), plus a wheel axis 3: values follow the mask order.
    source, values = decode_raw_event(_raw_event(9, {1: (2.0, 3.0), 3: (9.0, 1.0)}))
    assert values == {1: 3.0, 3: 1.0}


def test_xi2_absolute_devices_give_differences() -> None:
    from nitrogen_capture.inputs._xi2_raw import XI2RawMotion

    src = XI2RawMotion()
    sink = Collector()
    src._sink = sink
    src._absolute[5] = (True, True)
    for x, y in ((100.0, 50.0), (103.0, 49.0), (103.0, 55.0)):
        src._handle(1, _raw_event(5, {0: (x, x), 1: (y, y)}))
    assert sink.of("motion") == [("dx", 3.0), ("dy", -1.0), ("dy", 6.0)]


class _FakeKey:
    def __init__(self, vk: int | None = None, char: str | None = None) -> None:
        self.vk, self.char = vk, char


def test_key_names_fold_shift_and_sides() -> None:
    from nitrogen_capture.inputs._pynput import PynputInput

    src = PynputInput()
    src._base_keysyms = {0x57: 0x77, 0x21: 0x31}  # W -> w, exclam -> 1 (US keyboard rows)
    assert src.key_name(_FakeKey(0x57, "W")) == "w"
    assert src.key_name(_FakeKey(0x21, "!")) == "1"
    assert src.key_name(_FakeKey(0x61, "a")) == "a"
    src._windows = True  # Windows: the virtual-key code does not depend on Shift
    assert src.key_name(_FakeKey(0x57, "W")) == "w"
    assert src.key_name(_FakeKey(0x31, "!")) == "1"
    assert src.key_name(_FakeKey(0xBD, "_")) == "-"
    assert src.key_name(None) is None


@x11
def test_special_key_names(xvfb_display: str) -> None:
    from pynput.keyboard import Key

    from nitrogen_capture.inputs._pynput import PynputInput

    src = PynputInput()
    expect = {Key.ctrl_l: "ctrl", Key.ctrl_r: "ctrl", Key.shift_r: "shift", Key.alt_gr: "alt",
              Key.cmd_r: "cmd", Key.esc: "esc", Key.enter: "enter", Key.f12: "f12",
              Key.left: "left", Key.space: "space", Key.backspace: "backspace"}
    assert {k: src.key_name(k) for k in expect} == expect


def test_no_display_and_wayland_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.capture._mss import MssSource, check_x11_display
    from nitrogen_capture.errors import PlatformError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    with pytest.raises(PlatformError, match="no X display: set DISPLAY or run under Xvfb"):
        MssSource(Region(0, 0, 10, 10)).grab()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(PlatformError, match="XWayland"):
        check_x11_display()


def test_format_window_table_and_near_matches() -> None:
    from nitrogen_capture.targets import WindowInfo, _near_matches

    wins = [WindowInfo(0x400001, "Hollow Knight", 42, "hollow_knight.x86_64",
                       Region(0, 0, 1280, 720), focused=True),
            WindowInfo(0x500001, "Terminal", 7, "xterm", None)]
    table = format_window_table(wins).splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "PROCESS"]
    assert "0x400001" in table[1] and "0,0 1280x720" in table[1] and "*" in table[1]
    assert "unmapped" in table[2] and table[2].endswith("Terminal")
    near = _near_matches(wins, TargetSpec(process_name="hollow_knight.exe"))
    assert len(near) == 1 and "Hollow Knight" in near[0]


@x11
def test_live_input_sources_on_x11(xvfb_display: str) -> None:
    from nitrogen_capture.inputs import get_input_backends
    from nitrogen_capture.inputs._pynput import PynputInput
    from nitrogen_capture.inputs._xi2_raw import XI2RawMotion

    sources = get_input_backends("pynput")
    assert [type(s) for s in sources] == [PynputInput, XI2RawMotion]
    assert getattr(sources, "warnings", None) == []


def test_live_input_sources_warn_without_xi2(monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.inputs._live import live_input_sources
    from nitrogen_capture.inputs._pynput import PynputInput

    monkeypatch.delenv("DISPLAY", raising=False)  # (a refused connection leaks a socket in Xlib)
    sources = live_input_sources()
    assert [type(s) for s in sources] == [PynputInput]
    assert len(sources.warnings) == 1 and "raw mouse motion" in sources.warnings[0]


# -- what is already held when a recording starts (docs/architecture.md 5.5) ---------------------
class _FakeKeymapDisplay:
    """python-xlib's Display as X11HeldReader uses it: the keymap, keysyms, the pointer."""

    def __init__(self, down: dict[int, int], mask: int) -> None:
        self.down, self.mask, self.closed = down, mask, False  # keycode -> level-0 keysym

    def query_keymap(self) -> list[int]:
        keymap = [0] * 32
        for code in self.down:
            keymap[code // 8] |= 1 << code % 8
        return keymap

    def keycode_to_keysym(self, code: int, index: int) -> int:
        assert index == 0  # the unshifted keysym, as the listener's names fold Shift away
        return self.down.get(code, 0)

    def screen(self) -> Any:
        pointer = type("P", (), {"mask": self.mask})()
        root = type("R", (), {"query_pointer": lambda _: pointer})()
        return type("S", (), {"root": root})()

    def close(self) -> None:
        self.closed = True


def test_x11_held_keys_are_named_as_the_listener_names_them() -> None:
    from nitrogen_capture.inputs._held_keys import HeldKeysReader
    from nitrogen_capture.inputs._pynput import PynputInput
    from nitrogen_capture.inputs._x11_keymap import X11HeldReader, keycodes_down

    assert keycodes_down([0b1000_0001, 0, 0b10] + [0] * 29) == [0, 7, 17]
    # w (keycode 25), Shift_R (62), keypad 1 (87), Escape (9), a keycode without a keysym
    # (200); buttons 1 and 3 and the Shift modifier bit in the pointer mask.
    d = _FakeKeymapDisplay({25: 0x77, 62: 0xFFE2, 87: 0xFFB1, 9: 0xFF1B, 200: 0},
                           (1 << 8) | (1 << 10) | 1)
    x11 = X11HeldReader(opener=lambda _: d)
    assert x11.keysyms_down() == [0xFF1B, 0x77, 0xFFE2, 0xFFB1]
    assert x11.buttons_down() == ["lmb", "rmb"]
    # pynput's tables, as its X11 listener has them: special keys are Key members (their name
    # is the physical key its repeat filter uses), keypad keys map to characters.
    special = {0xFF1B: _Named("esc"), 0xFFE2: _Named("shift_r")}
    keypad = {0xFFB1: _FakeKey(None, "1")}
    src = PynputInput()
    reader = HeldKeysReader(src.key_name, windows=False, x11=x11, tables=(special, keypad))
    assert reader.keys_down() == [("esc", "esc"), ("w", "w"), ("shift_r", "shift"), ("1", "1")]
    assert reader.held(["w", "shift", "a", "1", "lmb", "mmb"]) == ["w", "shift", "1", "lmb"]
    reader.close()
    assert d.closed


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


@x11
def test_pynput_held_now_reads_keys_held_through_xtest(xwin: XWin) -> None:
    from Xlib import XK, X
    from Xlib.ext import xtest

    from nitrogen_capture.inputs._pynput import PynputInput

    d = xwin.d
    codes = [d.keysym_to_keycode(XK.string_to_keysym(s)) for s in ("w", "Shift_R", "F8", "h")]
    src = PynputInput()
    src.start(Collector())
    try:
        for code in codes:
            xtest.fake_input(d, X.KeyPress, code)
        xtest.fake_input(d, X.ButtonPress, 3)
        d.sync()
        held = src.held_now(["w", "shift", "f8", "space", "lmb", "rmb"])
        assert [(e.device, e.code, e.value) for e in held] == [
            ("key", "w", 2.0), ("key", "shift", 2.0), ("key", "f8", 2.0), ("button", "rmb", 2.0)]
    finally:
        for code in codes:
            xtest.fake_input(d, X.KeyRelease, code)
        xtest.fake_input(d, X.ButtonRelease, 3)
        d.sync()
        src.stop()
    assert src._held is None  # its X connection closed with the listener


@x11
@pytest.mark.slow  # a real recording of the window (mss, pynput, XI2), about a second
def test_a_recording_started_while_w_is_held_shows_w_in_its_first_row(
        xwin: XWin, tmp_path: Any) -> None:
    from Xlib import XK, X
    from Xlib.ext import xtest

    from nitrogen_capture.config import RecordConfig
    from nitrogen_capture.keylayout import DEFAULT_LAYOUT
    from nitrogen_capture.record import build_recorder

    d = xwin.d
    # No window manager: the keys go to the focused window, the pointer sits on it.
    xtest.fake_input(d, X.MotionNotify, detail=0, root=d.screen().root,
                     x=GEOM[0] + 20, y=GEOM[1] + 20)
    xwin.win.set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
    w, shift = (d.keysym_to_keycode(XK.string_to_keysym(s)) for s in ("w", "Shift_L"))
    out = tmp_path / "s"
    cfg = RecordConfig(out=out, target=TargetSpec(window_title=TITLE), fps=30.0, max_frames=12,
                       start_immediately=True, capture_backend="mss", input_backend="pynput",
                       encoder_workers=1, status_interval=0, cue="none", merge=False)
    try:
        for code in (w, shift):  # down before anything of the recorder exists
            xtest.fake_input(d, X.KeyPress, code)
        xtest.fake_input(d, X.ButtonPress, 1)
        d.sync()
        result = build_recorder(cfg).run()
    finally:
        for code in (w, shift):
            xtest.fake_input(d, X.KeyRelease, code)
        xtest.fake_input(d, X.ButtonRelease, 1)
        d.sync()
    assert result.frames == 12
    actions = np.concatenate([np.load(p) for p in sorted(out.glob("actions_chunk_*.npy"))])
    events = np.concatenate([np.load(p) for p in sorted(out.glob("events_chunk_*.npy"))])
    first = [DEFAULT_LAYOUT.keys[i] for i in np.flatnonzero(actions[0])]
    assert first == ["w", "shift", "lmb"]
    assert actions[:, [DEFAULT_LAYOUT.index(k) for k in first]].all()  # held throughout
    # Marked synthetic (value 2, HELD) and entered before the first frame; X's auto-repeat of
    # the held W is not a press.
    assert [(str(e["device"]), str(e["code"]), float(e["value"])) for e in events] == [
        ("button", "lmb", 2.0), ("key", "shift", 2.0), ("key", "w", 2.0)]
    ts = np.load(out / "timestamps_chunk_001.npy")
    assert 0 <= int(events["t_ns"][0]) <= int(ts[0])
