"""The keys and mouse buttons down now, named as pynput's listener names them.

:class:`~._pynput.PynputInput` asks this twice (docs/architecture.md 5.5):

* when it starts, for every key down (:meth:`HeldKeysReader.keys_down`): they seed its list of
  keys already down, so the OS's auto-repeat of a key held since before the start is a repeat,
  not a first press. Nothing of this read leaves the process;
* at the start of a recording and at every resume, for the layout's keys and buttons
  (:meth:`HeldKeysReader.held`), which the recorder enters as held.

The OS reads: ``QueryKeymap`` and the pointer's button mask on X11 (:mod:`._x11_keymap`),
``GetAsyncKeyState`` on Windows (:mod:`._keystate_win32`; the layout read asks only the
layout's keys). A key is named through pynput's own tables (the listener's special keys, then
its keypad keys, then the character), so a key read as held and the same key pressed get one
name, and the same *physical* key (``shift_r`` or ``w``) that the listener's repeat filter uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from ._keystate_win32 import VK_OEM, KeyStateApi, User32KeyState, held_keys

__all__ = ["HeldKeysReader", "KeyTables", "listener_tables"]

KeyTables = tuple[dict[int, Any], dict[int, Any]]  # special keys, keypad keys (X11 only)
# Windows: VK_SHIFT/CONTROL/MENU are down with either side; the hooks report the sided codes,
# so a generic one in the seed would never see its release.
_GENERIC_VKS = frozenset({0x10, 0x11, 0x12})
_CHAR_VKS = (*range(0x30, 0x3A), *range(0x41, 0x5B), *VK_OEM)


def listener_tables() -> KeyTables:
    """The key tables of pynput's keyboard listener (its public keys when one is missing)."""
    from pynput import keyboard

    listener = keyboard.Listener
    special = getattr(listener, "_SPECIAL_KEYS", None)
    if not isinstance(special, dict):
        special = {key.value.vk: key for key in keyboard.Key}
    keypad = getattr(listener, "_KEYPAD_KEYS", None)
    return special, keypad if isinstance(keypad, dict) else {}


class HeldKeysReader:
    """Reads the keys and buttons down now (see the module docstring).

    Args:
        key_name: the listener's naming of a key object (``PynputInput.key_name``).
        windows: read through ``GetAsyncKeyState`` instead of X11.
        keystate: Windows' key-state call (tests pass a fake; default the real one).
        x11: the X11 reader (tests pass one over a fake display; default ``$DISPLAY``'s).
        tables: pynput's key tables (tests pass their own; default :func:`listener_tables`).
    """

    def __init__(self, key_name: Callable[[Any], str | None], *, windows: bool,
                 keystate: KeyStateApi | None = None, x11: Any = None,
                 tables: KeyTables | None = None) -> None:
        self._key_name = key_name
        self._windows = windows
        self._keystate = keystate
        self._x11 = x11
        self._tables = tables

    def _api(self) -> KeyStateApi:
        if self._keystate is None:
            self._keystate = User32KeyState()
        return self._keystate

    def _reader(self) -> Any:
        if self._x11 is None:
            from ._x11_keymap import X11HeldReader

            self._x11 = X11HeldReader()
        return self._x11

    def _key_tables(self) -> KeyTables:
        if self._tables is None:
            self._tables = listener_tables()
        return self._tables

    def _key(self, code: int) -> Any:
        """The listener's key object for a keysym (X11) or virtual-key code (Windows)."""
        special, keypad = self._key_tables()
        return special.get(code) or keypad.get(code) or SimpleNamespace(vk=code, char=None)

    def keys_down(self) -> list[tuple[str, str]]:
        """``(physical key, name)`` of every key down now, as the listener's filter keys them."""
        if self._windows:
            api = self._api()
            candidates = dict.fromkeys([*self._key_tables()[0], *_CHAR_VKS])
            codes = [vk for vk in candidates
                     if isinstance(vk, int) and vk not in _GENERIC_VKS and api.key_down(vk)]
        else:
            codes = self._reader().keysyms_down()
        out: list[tuple[str, str]] = []
        for code in codes:
            key = self._key(code)
            name = self._key_name(key)
            if name is not None:
                physical = getattr(key, "name", None)
                out.append((physical if isinstance(physical, str) else name, name))
        return out

    def held(self, keys: Sequence[str]) -> list[str]:
        """The names of ``keys`` (layout keys and mouse buttons) that are down now."""
        if self._windows:
            return held_keys(keys, self._api())
        wanted = set(keys)
        names = dict.fromkeys(name for _, name in self.keys_down() if name in wanted)
        names.update(dict.fromkeys(b for b in self._reader().buttons_down() if b in wanted))
        return list(names)

    def close(self) -> None:
        """Close the X connection, if one was opened."""
        reader, self._x11 = self._x11, None
        if reader is not None:
            reader.close()
