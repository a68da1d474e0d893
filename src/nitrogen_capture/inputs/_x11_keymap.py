"""Which keys and mouse buttons the X server says are down now: ``QueryKeymap`` and the pointer.

A key held when XRecord starts gives pynput no press, so the recorder asks at the start of a
recording and at every resume (docs/architecture.md 5.5). ``QueryKeymap`` answers with a 32-byte
bitmap, one bit per keycode (bit ``k % 8`` of byte ``k // 8``); each keycode down is named from
its unshifted (level 0) keysym, which :mod:`._held_keys` names the way the listener names keys.
Mouse buttons 1-3 come from ``QueryPointer``'s button mask (``Button1Mask`` = ``lmb``,
``Button2Mask`` = ``mmb``, ``Button3Mask`` = ``rmb``); X keeps no state for the others.

The reader keeps one display connection of its own, opened at the first read, used from one
thread (the recorder's) and closed with the listener.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InputError

__all__ = ["BUTTON_MASKS", "X11HeldReader", "keycodes_down"]

BUTTON_MASKS: tuple[tuple[int, str], ...] = ((1 << 8, "lmb"), (1 << 9, "mmb"), (1 << 10, "rmb"))


def keycodes_down(keymap: Sequence[int]) -> list[int]:
    """The keycodes whose bit is set in a ``QueryKeymap`` bitmap, ascending."""
    return [i * 8 + bit for i, byte in enumerate(keymap) for bit in range(8)
            if int(byte) >> bit & 1]


class X11HeldReader:
    """Reads what is held from an X display (``$DISPLAY`` unless ``display`` is given).

    Args:
        display: the X display name.
        opener: opens the display (tests pass a fake); default python-xlib's ``Display``.
    """

    def __init__(self, display: str | None = None, *,
                 opener: Callable[[str | None], Any] | None = None) -> None:
        self._display_name = display
        self._opener = opener
        self._d: Any = None

    def _display(self) -> Any:
        if self._d is None:
            opener = self._opener
            if opener is None:
                import Xlib.display

                opener = Xlib.display.Display
            try:
                self._d = opener(self._display_name)
            except Exception as exc:  # python-xlib's DisplayError, OSError
                raise InputError(f"cannot open X display {self._display_name or ''!r} to read "
                                 f"the held keys: {exc}") from exc
        return self._d

    def keysyms_down(self) -> list[int]:
        """The unshifted (level 0) keysym of every key down now, in keycode order."""
        d = self._display()
        syms = (int(d.keycode_to_keysym(code, 0)) for code in keycodes_down(d.query_keymap()))
        return [sym for sym in syms if sym]

    def buttons_down(self) -> list[str]:
        """``lmb``, ``mmb``, ``rmb``: those down now (the pointer's button mask)."""
        mask = int(self._display().screen().root.query_pointer().mask)
        return [name for bit, name in BUTTON_MASKS if mask & bit]

    def close(self) -> None:
        """Close the display connection (idempotent)."""
        d, self._d = self._d, None
        if d is not None:
            d.close()
