"""A scripted player that drives the demo game through XTEST and logs the truth.

Input is injected with ``Xlib.ext.xtest.fake_input``: the X server treats it as device input, so
XRecord (pynput) and XInput2 raw events (the recorder's raw motion) see it exactly like a real
keyboard and mouse. ``xdotool --window`` would use ``XSendEvent``, which XRecord never sees.

The script is a seeded, deterministic timeline (:func:`make_script`): key holds of varied length
(taps of 5 ms, far shorter than a 60 fps frame, up to 0.4 s holds), overlapping holds, bursts of
relative mouse motion, clicks, and optionally recorder hotkeys at given times with quiet gaps
around them. Every injected event is stamped with :func:`nitrogen_capture.clock.now_ns` right
after the server processed it (``sync``), so the truth shares the recorder's clock.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..clock import now_ns
from ..errors import PlatformError, TargetNotFound, missing_dependency
from ..keylayout import DEFAULT_LAYOUT, MOUSE_BUTTONS, KeyLayout

__all__ = ["HOTKEY_CHORDS", "Op", "Player", "TruthLog", "make_script"]

# X keysym names of canonical key names that differ from the name itself.
_KEYSYMS = {
    "space": "space", "shift": "Shift_L", "ctrl": "Control_L", "alt": "Alt_L",
    "backspace": "BackSpace", "esc": "Escape", "enter": "Return", "tab": "Tab",
    "up": "Up", "down": "Down", "left": "Left", "right": "Right",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
# X core buttons: 4-7 are the wheel's steps (up, down, left, right), 8/9 the side buttons.
_BUTTONS = {"lmb": 1, "mmb": 2, "rmb": 3, "wheel_up": 4, "wheel_down": 5, "wheel_left": 6,
            "wheel_right": 7, "mb4": 8, "mb5": 9}
# Hotkey -> the keys pressed in order (released in reverse), and what it does to the recorder.
HOTKEY_CHORDS: dict[str, tuple[tuple[str, ...], str]] = {
    "f6": (("f6",), "resume"), "f7": (("f7",), "pause"), "f8": (("f8",), "toggle"),
    "ctrl+t": (("ctrl", "t"), "resume"), "ctrl+p": (("ctrl", "p"), "pause"),
}
_HOTKEY_QUIET_S = 0.4  # no gesture within this of a hotkey: pause edges stay unambiguous
_REPRESS_GAP_S = 0.12  # a key is re-pressed >= 2 frames after its release (30 fps): edges count


@dataclass(frozen=True)
class Op:
    """One scripted injection ``t`` seconds after the script starts.

    ``device`` is ``key``, ``button`` (value 1 press / 0 release), ``motion`` (relative ``dx``,
    ``dy``) or ``hotkey`` (``code`` is a :data:`HOTKEY_CHORDS` name; the whole chord).
    """

    t: float
    device: str
    code: str
    value: float = 0.0
    dx: int = 0
    dy: int = 0


@dataclass
class TruthLog:
    """Everything the player injected, on the :func:`now_ns` clock.

    ``events`` rows are ``[t_ns, device, code, value]`` with ``motion`` rows as two entries
    (``dx``, ``dy``); ``hotkeys`` rows are ``[t_ns, name, action]``. ``presses`` counts layout-key
    presses of the gestures; ``chord_presses`` counts layout keys pressed inside hotkey chords
    (the game sees them, the recorder must not).
    """

    layout: list[str]
    events: list[list[Any]] = field(default_factory=list)
    hotkeys: list[list[Any]] = field(default_factory=list)
    presses: dict[str, int] = field(default_factory=dict)
    chord_presses: dict[str, int] = field(default_factory=dict)
    mouse_dx: int = 0
    mouse_dy: int = 0
    start_ns: int = 0
    end_ns: int = 0

    @property
    def total_presses(self) -> int:
        """Gesture presses of layout keys."""
        return sum(self.presses.values())

    def write(self, path: Path) -> None:
        """Write the log as JSON."""
        atomic_write(path, json.dumps(asdict(self)).encode("utf-8"))

    @classmethod
    def read(cls, path: Path) -> TruthLog:
        """Read a log written by :meth:`write`."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _overlaps(spans: list[tuple[float, float]], a: float, b: float, margin: float) -> bool:
    return any(s - margin < b and a < e + margin for s, e in spans)


def make_script(seconds: float, seed: int = 0, layout: KeyLayout = DEFAULT_LAYOUT,
                hotkeys: Sequence[tuple[float, str]] = (), mouse: bool = True) -> list[Op]:
    """A deterministic timeline of ``seconds`` length (gestures end 0.3 s before it)."""
    rng = random.Random(seed)
    keys = [k for k in layout.keys if k not in MOUSE_BUTTONS and (k in _KEYSYMS or len(k) == 1)]
    buttons = [b for b in ("lmb", "rmb") if b in layout]
    spans: dict[str, list[tuple[float, float]]] = {}
    quiet = [(t - _HOTKEY_QUIET_S, t + _HOTKEY_QUIET_S) for t, _ in hotkeys]
    ops = [Op(t, "hotkey", name) for t, name in hotkeys]
    t, end = 0.05, seconds - 0.3

    def free(key: str, a: float, b: float) -> bool:
        if _overlaps(quiet, a, b, 0.0) or _overlaps(spans.get(key, []), a, b, _REPRESS_GAP_S):
            return False
        # Ctrl overlapping t/p would be the Ctrl+T / Ctrl+P hotkey: keep them apart.
        others = ("t", "p") if key == "ctrl" else ("ctrl",) if key in ("t", "p") else ()
        return not any(_overlaps(spans.get(o, []), a, b, 0.05) for o in others)

    while t < end:
        r = rng.random()
        if (r < 0.6 and keys) or (r >= 0.85 and buttons):
            pool = keys if r < 0.6 else buttons
            key = rng.choice(pool)
            hold = 0.005 if rng.random() < 0.15 else rng.uniform(0.03, 0.4)
            if t + hold < end and free(key, t, t + hold):
                dev = "button" if key in MOUSE_BUTTONS else "key"
                spans.setdefault(key, []).append((t, t + hold))
                ops += [Op(t, dev, key, 1.0), Op(t + hold, dev, key, 0.0)]
        elif mouse and not _overlaps(quiet, t, t + 0.2, 0.0):
            step = t
            for _ in range(rng.randint(3, 10)):
                # A slight drift to the right and down: the sums are never ~0 by chance.
                ops.append(Op(step, "motion", "move", dx=rng.randint(-12, 16),
                              dy=rng.randint(-13, 15)))
                step += rng.uniform(0.008, 0.02)
        t += rng.uniform(0.03, 0.22)
    return sorted(ops, key=lambda op: op.t)


class Player:
    """An XTEST connection to one X display. Use as a context manager.

    Args:
        display: DISPLAY string (``:1``); None uses ``$DISPLAY``.
        layout: the layout the truth log is written in.
        clock: the recorder's clock, in nanoseconds (default :func:`now_ns`). A recorder under
            Wine stamps with Windows' QueryPerformanceCounter, which Wine reads from
            ``CLOCK_MONOTONIC_RAW``, not ``CLOCK_MONOTONIC``: the Windows tier passes that clock.
    """

    def __init__(self, display: str | None = None, layout: KeyLayout = DEFAULT_LAYOUT,
                 clock: Callable[[], int] = now_ns) -> None:
        self.clock = clock
        try:
            from Xlib import XK, X, error
            from Xlib import display as xdisplay
            from Xlib.ext import xtest
        except ImportError as exc:
            raise missing_dependency("python-xlib", "demo", "the scripted demo player") from exc
        try:
            self._d = xdisplay.Display(display)
        except (error.DisplayError, OSError) as exc:
            raise PlatformError(f"cannot open X display {display!r} for XTEST: {exc}") from exc
        if not self._d.has_extension("XTEST"):
            self._d.close()
            raise PlatformError(f"X display {display!r} has no XTEST extension")
        self._X, self._XK, self._xtest = X, XK, xtest
        self.layout = layout
        self.root = self._d.screen().root

    def close(self) -> None:
        """Close the display connection (also when its server is gone)."""
        from ..xdisplay import close_display

        close_display(self._d)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- windows ------------------------------------------------------------------------------
    def find_window(self, pid: int, timeout: float = 10.0) -> int:
        """Id of the mapped window whose ``_NET_WM_PID`` is ``pid``, waiting up to ``timeout``."""
        atom = self._d.intern_atom("_NET_WM_PID")
        deadline = time.monotonic() + timeout
        while True:
            stack = [self.root]
            while stack:
                win = stack.pop()
                prop = win.get_full_property(atom, self._X.AnyPropertyType)
                if (prop is not None and list(prop.value)[:1] == [pid]
                        and win.get_attributes().map_state == self._X.IsViewable):
                    return int(win.id)
                stack.extend(win.query_tree().children)
            if time.monotonic() > deadline:
                raise TargetNotFound(f"no mapped window with _NET_WM_PID {pid} "
                                     f"after {timeout:g} s: did the game start?")
            time.sleep(0.1)

    def focus(self, window_id: int, pointer: bool = True) -> None:
        """Give the window the keyboard focus, by default after moving the pointer into it.

        With ``pointer`` the pointer first jumps to the window's centre: an absolute XTEST
        motion, which raw-motion listeners may see as a delta.
        """
        win = self._d.create_resource_object("window", window_id)
        if pointer:
            geo = win.get_geometry()
            pos = win.translate_coords(self.root, 0, 0)
            x, y = -pos.x + geo.width // 2, -pos.y + geo.height // 2  # root coords of the centre
            self._xtest.fake_input(self._d, self._X.MotionNotify, detail=0, root=self.root,
                                   x=x, y=y)
        # No window manager: the focus is only what we set (keys go to the focused window).
        win.set_input_focus(self._X.RevertToPointerRoot, self._X.CurrentTime)
        self._d.sync()

    def create_window(self, x: int, y: int, width: int, height: int) -> int:
        """Map a plain window (a 'different application' for privacy tests) and return its id."""
        screen = self._d.screen()
        win = self.root.create_window(x, y, width, height, 0, screen.root_depth,
                                      background_pixel=screen.white_pixel,
                                      event_mask=self._X.KeyPressMask)
        win.set_wm_name("not the game")
        win.map()
        self._d.sync()
        return int(win.id)

    def destroy_window(self, window_id: int) -> None:
        """Destroy a window made by :meth:`create_window`."""
        self._d.create_resource_object("window", window_id).destroy()
        self._d.sync()

    # -- injection ----------------------------------------------------------------------------
    def _keycode(self, key: str) -> int:
        sym = self._XK.string_to_keysym(_KEYSYMS.get(key, key))
        code = int(self._d.keysym_to_keycode(sym)) if sym else 0
        if not code:
            raise PlatformError(f"key '{key}' has no keycode on this X server")
        return code

    def has_key(self, key: str) -> bool:
        """Whether ``key`` (a canonical name or button) can be pressed on this X server."""
        if key in _BUTTONS:
            return True
        sym = self._XK.string_to_keysym(_KEYSYMS.get(key, key))
        return bool(sym and self._d.keysym_to_keycode(sym))

    def key(self, key: str, down: bool, sync: bool = True) -> int:
        """Press or release ``key`` (a canonical name or mouse button); returns the time.

        With ``sync`` the call returns once the server processed the event; without, the
        caller batches events and calls :meth:`sync` after the batch.
        """
        X = self._X
        if key in _BUTTONS:
            self._xtest.fake_input(self._d, X.ButtonPress if down else X.ButtonRelease,
                                   _BUTTONS[key])
        else:
            self._xtest.fake_input(self._d, X.KeyPress if down else X.KeyRelease,
                                   self._keycode(key))
        if sync:
            self._d.sync()
        return self.clock()

    def move(self, dx: int, dy: int, sync: bool = True) -> int:
        """Relative pointer motion (XTEST MotionNotify with detail=1); returns the time."""
        self._xtest.fake_input(self._d, self._X.MotionNotify, detail=1, x=dx, y=dy)
        if sync:
            self._d.sync()
        return self.clock()

    def sync(self) -> None:
        """Wait until the server processed everything sent so far (in the order sent)."""
        self._d.sync()

    def type_keys(self, keys: Sequence[str], hold: float = 0.02) -> None:
        """Tap each key in turn (used to type into a window that is not the game)."""
        for k in keys:
            self.key(k, True)
            time.sleep(hold)
            self.key(k, False)
            time.sleep(hold)

    def play(self, script: Sequence[Op], start_ns: int | None = None) -> TruthLog:
        """Run ``script`` against absolute deadlines from ``start_ns`` (default: now)."""
        t0 = self.clock() if start_ns is None else start_ns
        truth = TruthLog(layout=list(self.layout.keys), start_ns=t0)
        for op in script:
            wait = t0 + op.t * 1e9 - self.clock()
            if wait > 0:
                time.sleep(wait / 1e9)
            if op.device == "motion":
                t = self.move(op.dx, op.dy)
                truth.events += [[t, "motion", "dx", op.dx], [t, "motion", "dy", op.dy]]
                truth.mouse_dx += op.dx
                truth.mouse_dy += op.dy
            elif op.device == "hotkey":
                chord, action = HOTKEY_CHORDS[op.code]
                t = self.key(chord[0], True)
                for k in chord[1:]:
                    time.sleep(0.03)
                    self.key(k, True)
                for k in reversed(chord):
                    time.sleep(0.03)
                    self.key(k, False)
                truth.hotkeys.append([t, op.code, action])
                for k in chord:
                    if k in self.layout:
                        truth.chord_presses[k] = truth.chord_presses.get(k, 0) + 1
            else:
                t = self.key(op.code, op.value > 0)
                truth.events.append([t, op.device, op.code, op.value])
                if op.value > 0:
                    truth.presses[op.code] = truth.presses.get(op.code, 0) + 1
        truth.end_ns = self.clock()
        return truth
