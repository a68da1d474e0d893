"""Keyboard, mouse buttons and wheel through pynput (XRecord on X11, low-level hooks on Windows).

Each callback stamps the event with :func:`~nitrogen_capture.clock.now_ns` as its first action
and hands it on; the router filters by layout and focus. Pointer positions are not recorded:
motion comes from the raw-input sources, which see relative device counts even when a game
grabs and re-centres the cursor.

Key names are canonicalised to the layout's names (:func:`~nitrogen_capture.keylayout.
canonical_key`). pynput reports the *shifted* symbol (``W`` or ``!`` while Shift is held), so a
character key is folded back to its unshifted key: on X11 through the keyboard mapping (keysym ->
keycode -> level-0 keysym), on Windows through the virtual-key code, which does not depend on
Shift. ``shift``/``ctrl``/``alt``/``cmd`` lose their left/right suffix.

A key emits one press and one release however long it is held. Windows' low-level keyboard hook
reports every typematic repeat as another key-down, with nothing marking it a repeat (measured
under Wine 8: a 1.5 s hold of F8 gave 22 presses, i.e. 22 recorder toggles). So a press of a key
already down is dropped, and while both keys of a folded pair (left and right Shift) are down
the name is pressed once and released when the last of them is released.

Keys and buttons already down when the listener starts give it no press, so
:meth:`PynputInput.held_now` reads them from the OS (:mod:`._held_keys`: ``QueryKeymap`` and the
pointer's button mask on X11, ``GetAsyncKeyState`` of each layout key on Windows). The keys down
at the start also seed the repeat filter: the OS's auto-repeat of a key held since before the
start (X repeats W after 660 ms, Windows after 500 ms) is a repeat, not a first press.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ..clock import now_ns
from ..errors import InputError, missing_dependency
from ..events import BUTTON, HELD, KEY, WHEEL, InputEvent
from ..keylayout import canonical_key
from ..rows import MOUSE_BUTTONS
from ..xdisplay import close_display, connection_lost, display_lost
from ._held_keys import HeldKeysReader
from ._keystate_win32 import VK_OEM, KeyStateApi
from .base import InputSource

__all__ = ["PynputInput", "x11_base_keysyms"]

log = logging.getLogger(__name__)

_MODIFIERS = ("shift", "ctrl", "alt", "cmd")
_BUTTONS: dict[str, str] = {
    "left": "lmb", "right": "rmb", "middle": "mmb", "x1": "mb4", "x2": "mb5",
    "button8": "mb4", "button9": "mb5",
}


def x11_base_keysyms(display: str | None = None) -> dict[int, int]:
    """Map every keysym of the X keyboard mapping to its key's unshifted (level 0) keysym.

    ``W`` -> ``w``, ``exclam`` -> ``1`` on a US layout. Empty when no X display can be opened.
    """
    try:
        import Xlib.display
        import Xlib.error
    except ImportError:
        return {}
    try:
        d = Xlib.display.Display(display)
    except (Xlib.error.DisplayError, OSError):
        return {}
    try:
        first = d.display.info.min_keycode
        count = d.display.info.max_keycode - first + 1
        out: dict[int, int] = {}
        for row in d.get_keyboard_mapping(first, count):
            base = row[0] if row else 0
            if not base:
                continue
            for sym in row:
                if sym:
                    out.setdefault(int(sym), int(base))
        return out
    finally:
        d.close()


def _keysym_name(keysym: int) -> str | None:
    """The character of a Latin-1 keysym (they equal their code points), else None."""
    if 0x20 < keysym < 0x7F or 0xA0 <= keysym <= 0xFF:
        return chr(keysym).lower()
    return None


class PynputInput(InputSource):
    """Keyboard and mouse-button/wheel listener; emits ``key``, ``button`` and ``wheel`` events."""

    name = "pynput"

    def __init__(self, *, keyboard: bool = True, mouse: bool = True,
                 keystate: KeyStateApi | None = None) -> None:
        """``keystate`` is Windows' key-state call (tests pass a fake; default the real one)."""
        super().__init__()
        self.keyboard = keyboard
        self.mouse = mouse
        self._listeners: list[Any] = []
        self._base_keysyms: dict[int, int] = {}
        self._windows = sys.platform == "win32"
        self._down: dict[str, str] = {}  # physical key -> its name, for keys now held
        self._keystate = keystate
        self._held: HeldKeysReader | None = None  # the OS's key state, read at the first use
        self._display_gone = False  # a listener found the X display gone (reported once)

    # -- names ----------------------------------------------------------------------------------
    def key_name(self, key: Any) -> str | None:
        """Canonical name of a pynput ``Key``/``KeyCode`` (None when it has no usable name)."""
        if key is None:
            return None
        name = getattr(key, "name", None)  # pynput.keyboard.Key members
        if isinstance(name, str):
            return self._fold_modifier(canonical_key(name))
        vk = getattr(key, "vk", None)
        if self._windows and isinstance(vk, int):
            if 0x41 <= vk <= 0x5A or 0x30 <= vk <= 0x39:
                return chr(vk).lower()
            if vk in VK_OEM:
                return VK_OEM[vk]
        elif isinstance(vk, int) and vk:
            base = self._base_keysyms.get(vk, vk)
            char = _keysym_name(base)
            if char is not None:
                return canonical_key(char)
        char = getattr(key, "char", None)
        if isinstance(char, str) and char:
            return canonical_key(char.lower())
        return f"vk_{vk}" if isinstance(vk, int) else None

    def _held_keys(self) -> HeldKeysReader:
        if self._held is None:
            self._held = HeldKeysReader(self.key_name, windows=self._windows,
                                        keystate=self._keystate)
        return self._held

    def held_now(self, keys: Sequence[str]) -> list[InputEvent]:
        """The layout keys and buttons down now (module docstring).

        They come as :data:`~nitrogen_capture.events.HELD` presses stamped at the read.
        """
        wanted = [k for k in keys
                  if (self.mouse if k in MOUSE_BUTTONS else self.keyboard)]
        if not wanted:
            return []
        names = self._held_keys().held(wanted)
        t = now_ns()
        return [InputEvent(t, BUTTON if n in MOUSE_BUTTONS else KEY, n, HELD) for n in names]

    @staticmethod
    def _fold_modifier(name: str) -> str:
        for mod in _MODIFIERS:
            if name in (f"{mod}_l", f"{mod}_r"):
                return mod
        return name

    # -- callbacks: stamp first, then hand over -------------------------------------------------
    def _on_key(self, key: Any, value: int) -> None:
        t = now_ns()
        try:
            code = self.key_name(key)
            if code is not None and self._edge(key, code, value):
                self._emit(InputEvent(t, KEY, code, value))
        except Exception as exc:  # handed to the owner thread by check()/stop()
            self._fail(exc)

    def _edge(self, key: Any, code: str, value: int) -> bool:
        """Whether this press/release changes whether ``code`` is held (see the module doc).

        Called from the one keyboard listener thread only. The physical key is pynput's
        ``Key`` name (``shift_r``) or, for a character key, its canonical name: its ``char``
        changes with Shift, its name does not.
        """
        name = getattr(key, "name", None)
        physical = name if isinstance(name, str) else code
        held_before = code in self._down.values()
        if value:
            if physical in self._down:
                return False  # a typematic repeat
            self._down[physical] = code
            return not held_before
        if self._down.pop(physical, None) is None:
            return not held_before  # a release we never saw pressed: pass it on
        return code not in self._down.values()

    def _on_press(self, key: Any, *_: Any) -> None:
        self._on_key(key, 1)

    def _on_release(self, key: Any, *_: Any) -> None:
        self._on_key(key, 0)

    def _on_click(self, _x: Any, _y: Any, button: Any, pressed: bool, *_: Any) -> None:
        t = now_ns()
        try:
            name = getattr(button, "name", str(button))
            code = _BUTTONS.get(name, name)
            self._emit(InputEvent(t, BUTTON, code, 1 if pressed else 0))
        except Exception as exc:
            self._fail(exc)

    def _on_scroll(self, _x: Any, _y: Any, dx: int, dy: int, *_: Any) -> None:
        t = now_ns()
        try:
            if dy:
                self._emit(InputEvent(t, WHEEL, "dy", float(dy)))
            if dx:
                self._emit(InputEvent(t, WHEEL, "dx", float(dx)))
        except Exception as exc:
            self._fail(exc)

    # -- lifecycle ------------------------------------------------------------------------------
    def _start(self) -> None:
        extra = "windows" if self._windows else "x11"
        # Tell "missing" from "cannot start": importing pynput itself fails without a display.
        if importlib.util.find_spec("pynput") is None:
            raise missing_dependency("pynput", extra, "Keyboard and mouse logging")
        try:
            from pynput import keyboard, mouse
        except ImportError as exc:
            # pynput raises ImportError when no backend can start (no display, Wayland).
            raise InputError(f"pynput cannot start here: {exc}; on Linux set DISPLAY to an X "
                             "server (Wayland sessions cannot be logged)") from exc
        if not self._windows:
            self._base_keysyms = x11_base_keysyms()
        seeded = self._seed_down() if self.keyboard else {}
        try:
            if self.keyboard:
                self._listeners.append(keyboard.Listener(on_press=self._on_press,
                                                         on_release=self._on_release))
            if self.mouse:
                self._listeners.append(mouse.Listener(on_click=self._on_click,
                                                      on_scroll=self._on_scroll))
            for listener in self._listeners:
                self._guard(listener)
                listener.start()
            for listener in self._listeners:
                listener.wait()  # returns once the XRecord context / hook is live
            if seeded:
                self._prune_seed(seeded)
        except Exception as exc:
            self._stop()
            raise InputError(f"pynput listener failed to start: {exc}") from exc

    def _guard(self, listener: Any) -> None:
        """Hand what ends ``listener``'s thread to :meth:`check` instead of a thread traceback.

        pynput's X11 listener thread flushes and closes its own connections as it ends; when
        the X server is gone that raises in the thread, and threading printed the traceback.
        The display going becomes one :class:`DisplayLostError`, anything else an
        :class:`InputError`, both raised on the recorder's thread by :meth:`check`.
        """
        run = listener.run

        def guarded_run() -> None:
            try:
                run()
            except Exception as exc:
                if connection_lost(exc):
                    # pynput's own clean-up raised before closing its two connections.
                    for name in ("_display_stop", "_display_record"):
                        with _gone_display_ignored():
                            close_display(getattr(listener, name, None) or _NoDisplay())
                    if not self._display_gone:  # both listeners see it: said once
                        self._display_gone = True
                        self._fail(display_lost(None, exc))
                else:
                    self._fail(InputError(f"pynput {type(listener).__module__} listener "
                                          f"died: {exc}"))

        listener.run = guarded_run

    def _seed_down(self) -> dict[str, str]:
        """Take the keys down now as held, so their auto-repeat is no press (module doc)."""
        try:
            seeded = dict(self._held_keys().keys_down())
        except Exception as exc:
            log.warning("cannot read the keys held at the start (%s): the auto-repeat of a key "
                        "held now counts as its press", exc)
            return {}
        self._down = dict(seeded)
        return seeded

    def _prune_seed(self, seeded: dict[str, str]) -> None:
        """Forget seeded keys released before the listener was live.

        It never saw them go up, and would take their next press for a repeat.
        """
        try:
            still = {physical for physical, _ in self._held_keys().keys_down()}
        except Exception as exc:
            log.debug("keys held at the start not re-read: %s", exc)
            return
        for physical, name in seeded.items():
            if physical not in still and self._down.get(physical) == name:
                self._down.pop(physical, None)

    def _stop(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            with _gone_display_ignored():
                listener.stop()
        # (Not when the display is gone: nothing blocks, and python-xlib leaks the sockets of
        # a connection attempt that fails.)
        if listeners and not self._windows and not self._display_gone:
            _unblock_xrecord(listeners)
        for listener in listeners:
            if listener.is_alive():
                listener.join(timeout=2.0)
                if listener.is_alive():
                    log.warning("pynput %s listener did not stop within 2 s",
                                type(listener).__module__)
        self._down.clear()  # a restarted source must not take a key still held for a repeat
        held, self._held = self._held, None
        if held is not None:
            with _gone_display_ignored():
                held.close()


class _NoDisplay:
    """Stands for a connection pynput never opened: closing it does nothing."""

    def close(self) -> None:
        """Nothing to close."""


@contextlib.contextmanager
def _gone_display_ignored() -> Iterator[None]:
    """Let a stop step pass that failed only because the X display is already gone."""
    try:
        yield
    except Exception as exc:
        if not connection_lost(exc):
            raise
        log.debug("the X display was already gone at stop: %s", exc)


def _unblock_xrecord(listeners: list[Any]) -> None:
    """Disable the listeners' XRecord contexts from a connection of our own.

    pynput's ``stop()`` sends ``RecordDisableContext`` on the connection its thread is blocked
    reading, and python-xlib only flushes it when the next input event arrives: on an idle
    desktop (or Xvfb) the thread would hang until the user touches a key. Disabling the context
    from another client makes the server end the recording at once. Uses pynput's private
    ``_context`` attribute; if it is missing we fall back to pynput's own (slow) stop.
    """
    contexts = [c for c in (getattr(lst, "_context", None) for lst in listeners) if c]
    if not contexts:
        return
    try:
        import Xlib.display
        import Xlib.error

        d = Xlib.display.Display()
    except Exception as exc:  # no display any more: pynput's threads die with it
        log.debug("cannot open a display to stop XRecord: %s", exc)
        return
    try:
        for ctx in contexts:
            d.record_disable_context(ctx)
        d.sync()
    except Xlib.error.XError as exc:  # context already gone: fine
        log.debug("RecordDisableContext failed: %s", exc)
    finally:
        d.close()
