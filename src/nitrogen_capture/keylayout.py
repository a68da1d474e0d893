"""The key layout: which keys and buttons become columns of the action arrays.

The default layout (docs/architecture.md 5.1, the original tool's 28 columns) is
``w a s d space shift ctrl e q r f g c v x z t p i backspace esc 1 2 3 4 enter lmb rmb``.

A layout can be loaded from TOML (``--layout FILE``)::

    name = "arrows"
    keys = ["up", "down", "left", "right", "z", "x", "enter", "lmb", "wheel_up", "wheel_down"]

Key names are canonical lower-case names (see :data:`KEY_ALIASES` for the accepted spellings).
``lmb``/``rmb``/``mmb`` are mouse buttons; ``wheel_up``/``wheel_down``/``wheel_left``/
``wheel_right`` are wheel steps, which count as taps. ``meta.json`` stores the layout used and every
reader takes the names from there, never from this module's constant.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_LAYOUT",
    "HOTKEY_KEYS",
    "KEY_ALIASES",
    "MOUSE_BUTTONS",
    "PAD_AXES",
    "PAD_BUTTONS",
    "KeyLayout",
    "canonical_key",
    "load_layout",
    "read_toml",
]

DEFAULT_KEYS: tuple[str, ...] = (
    "w", "a", "s", "d", "space", "shift", "ctrl", "e", "q", "r", "f", "g", "c", "v", "x", "z",
    "t", "p", "i", "backspace", "esc", "1", "2", "3", "4", "enter", "lmb", "rmb",
)

MOUSE_BUTTONS: frozenset[str] = frozenset({"lmb", "rmb", "mmb", "mb4", "mb5"})
# The 17 buttons of the NitroGen dataset, in its column order (docs/architecture.md 8.2), then the
# stick axes. gamepad_chunk_NNN.npy rows are these 17 as 0/1 followed by lx, ly, rx, ry in
# [-1, 1], +y down.
PAD_BUTTONS: tuple[str, ...] = (
    "dpad_down", "dpad_left", "dpad_right", "dpad_up", "left_shoulder", "left_thumb",
    "left_trigger", "right_shoulder", "right_thumb", "right_trigger", "south", "west", "east",
    "north", "back", "start", "guide",
)
PAD_AXES: tuple[str, ...] = ("lx", "ly", "rx", "ry")
# Keys that drive the recorder (docs/architecture.md 5.2). They never reach the action stream.
HOTKEY_KEYS: frozenset[str] = frozenset({"f6", "f7", "f8"})

KEY_ALIASES: dict[str, str] = {
    "escape": "esc",
    "return": "enter",
    "spacebar": "space",
    " ": "space",
    "control": "ctrl",
    "ctrl_l": "ctrl",
    "ctrl_r": "ctrl",
    "control_l": "ctrl",
    "control_r": "ctrl",
    "lctrl": "ctrl",
    "rctrl": "ctrl",
    "shift_l": "shift",
    "shift_r": "shift",
    "lshift": "shift",
    "rshift": "shift",
    "alt_l": "alt",
    "alt_r": "alt",
    "alt_gr": "alt",
    "lalt": "alt",
    "ralt": "alt",
    "tab": "tab",
    "up_arrow": "up",
    "down_arrow": "down",
    "left_arrow": "left",
    "right_arrow": "right",
    "mouse_left": "lmb",
    "mouse_right": "rmb",
    "mouse_middle": "mmb",
    "left": "left",
    "back_space": "backspace",
}


def canonical_key(name: str) -> str:
    """Return the canonical spelling of a key name (lower case, aliases folded)."""
    low = name.strip().lower() if name != " " else " "
    return KEY_ALIASES.get(low, low)


@dataclass(frozen=True)
class KeyLayout:
    """An ordered set of key names; column ``k`` of the action arrays is ``keys[k]``."""

    keys: tuple[str, ...] = DEFAULT_KEYS
    name: str = "default"
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        keys = tuple(canonical_key(k) for k in self.keys)
        if not keys:
            raise ConfigError("a key layout needs at least one key")
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ConfigError(f"key layout '{self.name}' lists keys twice: {', '.join(dupes)}")
        hot = sorted(HOTKEY_KEYS.intersection(keys))
        if hot:
            raise ConfigError(
                f"key layout '{self.name}' uses recorder hotkeys {', '.join(hot)}: remove them"
            )
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(keys)})

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._index

    def index(self, key: str) -> int:
        """Column of ``key``; raises KeyError when the key is not in the layout."""
        return self._index[key]

    def get(self, key: str) -> int | None:
        """Column of ``key`` or None when it is not in the layout."""
        return self._index.get(key)

    def to_dict(self) -> dict[str, object]:
        """The form stored in ``meta.json``."""
        return {"name": self.name, "keys": list(self.keys)}

    @classmethod
    def from_meta(cls, data: dict[str, object] | Sequence[str]) -> KeyLayout:
        """Rebuild the layout stored in ``meta.json`` (a dict or a bare list of names)."""
        if isinstance(data, dict):
            keys = data.get("keys")
            if not isinstance(keys, list):
                raise ConfigError("meta.json layout has no 'keys' list")
            return cls(keys=tuple(str(k) for k in keys), name=str(data.get("name", "custom")))
        return cls(keys=tuple(str(k) for k in data), name="custom")


DEFAULT_LAYOUT = KeyLayout()


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a user's TOML file; a missing, unreadable or invalid file is a :class:`ConfigError`.

    ``what`` names the file in messages ("layout", "keymap"). The file comes from a flag
    (``--layout``, ``--keymap``), so a bad one is a usage error like any bad flag value (exit 2),
    a directory included.
    """
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} file not found: {p}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{what} file {p} is a directory: give a .toml file") from exc
    except OSError as exc:
        raise ConfigError(f"{what} file {p} cannot be read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} file {p} is not valid TOML: {exc}") from exc


def load_layout(path: str | Path) -> KeyLayout:
    """Load a layout from a TOML file with a ``keys`` list of strings (and an optional ``name``).

    Anything else in the file (another setting, a non-string key or name) is a
    :class:`ConfigError` naming the file and the entry.
    """
    p = Path(path)
    data = read_toml(p, "layout")
    unknown = sorted(set(data) - {"keys", "name"})
    if unknown:
        raise ConfigError(f"layout file {p}: {unknown[0]} is not a layout setting: "
                          "give keys = [...] and optionally name = \"...\"")
    keys = data.get("keys")
    if not isinstance(keys, list):
        raise ConfigError(f"layout file {p} needs a 'keys' list of key names")
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"layout file {p}: keys must all be key names (strings), "
                          f"got {bad[0]!r}")
    name = data.get("name", p.stem)
    if not isinstance(name, str):
        raise ConfigError(f"layout file {p}: name must be a string, got {name!r}")
    try:
        return KeyLayout(keys=tuple(keys), name=name)
    except ConfigError as exc:
        raise ConfigError(f"layout file {p}: {exc}") from exc
