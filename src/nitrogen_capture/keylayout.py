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

The same file may remap or disable the recorder's hotkeys (:class:`Hotkeys`)::

    hotkeys = {toggle = "f9", resume = ["f6"], pause = ["f7", "ctrl+p"]}

Each action takes a key name, a list of them, or ``""`` / ``[]`` (disabled); an action left out
keeps its default (:data:`DEFAULT_HOTKEYS`: F8 toggles, F6 / Ctrl+T resume, F7 / Ctrl+P pause).
A hotkey is a canonical keyboard key name or ``ctrl+<key>``. A layout may use any key that is not
a single-key hotkey (keys of chords stay plain keys when Ctrl is not held). A recording refuses
hotkeys it could not be driven by (:meth:`Hotkeys.recording_problem`): starting paused with no
key that starts it, or a pause key with no key that resumes.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .inputfiles import read_input_text
from .rows import MOUSE_BUTTONS, PAD_AXES, PAD_BUTTONS, WHEEL_KEYS

__all__ = [
    "CHORD_PREFIX",
    "DEFAULT_HOTKEYS",
    "DEFAULT_KEYS",
    "DEFAULT_LAYOUT",
    "EPISODE_ACTIONS",
    "HOTKEY_ACTIONS",
    "HOTKEY_KEYS",
    "KEY_ALIASES",
    "MAX_LAYOUT_KEYS",
    "MAX_TOML_BYTES",
    "MOUSE_BUTTONS",
    "PAD_AXES",
    "PAD_BUTTONS",
    "Hotkeys",
    "KeyLayout",
    "canonical_key",
    "load_layout",
    "pretty_key",
    "read_toml",
]

# A keyboard has about 110 keys, a mouse a few buttons and wheel steps: a layout of more is
# damage (a hostile meta.json), refused before any per-key work.
MAX_LAYOUT_KEYS = 512
DEFAULT_KEYS: tuple[str, ...] = (
    "w", "a", "s", "d", "space", "shift", "ctrl", "e", "q", "r", "f", "g", "c", "v", "x", "z",
    "t", "p", "i", "backspace", "esc", "1", "2", "3", "4", "enter", "lmb", "rmb",
)

# MOUSE_BUTTONS, PAD_BUTTONS (the NitroGen dataset's 17, in its column order) and PAD_AXES are
# the devices' codes, declared in .rows with the per-frame columns they fill.
# The recorder's hotkey actions (docs/architecture.md 5.2) and the one chord modifier.
HOTKEY_ACTIONS: tuple[str, ...] = ("toggle", "resume", "pause")
# The keys of a collection run (record --episodes, docs/architecture.md 5.2): end the episode as a
# success or a failure, discard it and record it again, or end it unmarked. They act, and are
# swallowed, only in a run: a plain recording keeps F9..F12 as game keys.
EPISODE_ACTIONS: tuple[str, ...] = ("success", "failure", "discard", "end")
_ALL_ACTIONS = HOTKEY_ACTIONS + EPISODE_ACTIONS
CHORD_PREFIX = "ctrl+"
# A layout or keymap file is a few hundred bytes; a megabyte is no such file (read_toml).
MAX_TOML_BYTES = 1_000_000
_NOT_KEYBOARD = MOUSE_BUTTONS | set(WHEEL_KEYS)

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


def pretty_key(name: str) -> str:
    """A hotkey as people write it: ``f8`` -> ``F8``, ``ctrl+t`` -> ``Ctrl+T``."""
    chord = name.startswith(CHORD_PREFIX)
    key = name[len(CHORD_PREFIX):] if chord else name
    key = key.upper() if len(key) <= 3 else key.capitalize()
    return "Ctrl+" + key if chord else key


def _hotkey_name(spec: str, action: str) -> str:
    """Canonical form of one hotkey (``f8`` or ``ctrl+t``); ConfigError naming it otherwise."""
    where = f"hotkeys.{action}"
    if not isinstance(spec, str):
        raise ConfigError(f"{where}: a hotkey is a key name string, got {spec!r}")
    low = spec.strip().lower()
    chord = low.startswith(CHORD_PREFIX)
    key = canonical_key(low[len(CHORD_PREFIX):] if chord else low)
    if not key or "+" in key or any(c.isspace() for c in key):
        raise ConfigError(f"{where}: {spec!r} is not a key name: give a key like \"f8\" or a "
                          "chord \"ctrl+<key>\" (Ctrl is the only chord modifier)")
    if key in _NOT_KEYBOARD or key in PAD_BUTTONS:
        raise ConfigError(f"{where}: {spec!r} is not a keyboard key (hotkeys are keys)")
    if key == "ctrl":
        raise ConfigError(f"{where}: {spec!r}: Ctrl is the chord modifier, not a hotkey on its "
                          "own (give ctrl+<key>)")
    return CHORD_PREFIX + key if chord else key


@dataclass(frozen=True)
class Hotkeys:
    """The keys that drive the recorder; each action has zero or more (an empty tuple: disabled).

    A hotkey is a canonical key name (``"f8"``) or a Ctrl chord (``"ctrl+t"``). Single keys never
    reach the action stream; the key of a chord is only swallowed while Ctrl is held. The episode
    actions (:data:`EPISODE_ACTIONS`) are active only in a collection run
    (:meth:`with_episode_keys`); elsewhere their keys are ordinary keys.
    """

    toggle: tuple[str, ...] = ("f8",)
    resume: tuple[str, ...] = ("f6", "ctrl+t")
    pause: tuple[str, ...] = ("f7", "ctrl+p")
    success: tuple[str, ...] = ("f9",)
    failure: tuple[str, ...] = ("f10",)
    discard: tuple[str, ...] = ("f11",)
    end: tuple[str, ...] = ("f12",)
    episodes: bool = False  # whether the episode actions are active (a collection run)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for action in _ALL_ACTIONS:
            names = getattr(self, action)
            if isinstance(names, str):
                names = (names,) if names.strip() else ()
            fixed = tuple(_hotkey_name(n, action) for n in names)
            object.__setattr__(self, action, fixed)
            if action not in self.actions:
                continue
            for n in fixed:
                if n in seen:
                    raise ConfigError(f"hotkeys: {n} is both the {seen[n]} and the {action} "
                                      "hotkey: give each key one action")
                seen[n] = action
        both = sorted(set(self.keys) & set(self.chords))
        if both:
            raise ConfigError(f"hotkeys: {both[0]} is both a hotkey and the key of the chord "
                              f"ctrl+{both[0]}: drop one of them")

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions that act: the recorder's, plus the episode actions in a run."""
        return _ALL_ACTIONS if self.episodes else HOTKEY_ACTIONS

    @property
    def keys(self) -> dict[str, str]:
        """Single-key hotkeys: key name -> action."""
        return {n: a for a in self.actions for n in getattr(self, a) if "+" not in n}

    @property
    def chords(self) -> dict[str, str]:
        """Ctrl chords: the key pressed with Ctrl -> action."""
        return {n[len(CHORD_PREFIX):]: a for a in self.actions for n in getattr(self, a)
                if n.startswith(CHORD_PREFIX)}

    def without_chords(self) -> Hotkeys:
        """These hotkeys with every Ctrl chord dropped (``record --no-chord-hotkeys``)."""
        kept: dict[str, Any] = {a: tuple(n for n in getattr(self, a) if "+" not in n)
                                for a in _ALL_ACTIONS}
        return dataclasses.replace(self, **kept)

    def with_episode_keys(self) -> Hotkeys:
        """These hotkeys with the episode actions active (``record --episodes``)."""
        return dataclasses.replace(self, episodes=True)

    def describe(self) -> str:
        """Human summary, e.g. ``F8 toggles, F6 / Ctrl+T resume, F7 / Ctrl+P pause``."""
        verbs = {"toggle": "toggles", "resume": "resume", "pause": "pause",
                 "success": "ends a success", "failure": "ends a failure",
                 "discard": "discards and re-records", "end": "ends unmarked"}
        parts = [" / ".join(map(pretty_key, getattr(self, a))) + " " + verbs[a]
                 for a in self.actions if getattr(self, a)]
        return ", ".join(parts) if parts else "no hotkeys"

    def start_hint(self) -> str:
        """How a recording waiting paused is started: ``press F8 to start (or F6 / Ctrl+T)``."""
        keys = [pretty_key(n) for n in (*self.toggle, *self.resume)]
        if not keys:
            return "no hotkey starts it"
        more = f" (or {' / '.join(keys[1:])})" if keys[1:] else ""
        return f"press {keys[0]} to start{more}"

    def recording_problem(self, *, start_paused: bool) -> str | None:
        """Why these hotkeys cannot drive a recording, or None (docs/architecture.md 5.2).

        A recording that starts paused needs a key that starts it (toggle or resume), or it
        waits paused until Ctrl+C and keeps nothing; a key that pauses needs one that resumes,
        or the first pause never ends. Stopping needs no hotkey: Ctrl+C, SIGTERM, ``--seconds``
        and ``--max-frames`` stop any recording.
        """
        starts = bool(self.toggle or self.resume)
        if starts:
            return None
        empty = "(hotkeys.toggle and hotkeys.resume are empty)"
        if start_paused:
            return (f"no hotkey starts the recording, which starts paused {empty}: give one "
                    "of them a key in the layout file, or pass --start-immediately")
        if self.pause:
            return (f"hotkeys.pause ({' / '.join(map(pretty_key, self.pause))}) has no way "
                    f"back {empty}: give one of them a key in the layout file, or disable "
                    "hotkeys.pause")
        return None

    def to_dict(self) -> dict[str, list[str]]:
        """The form stored in ``meta.json`` (and accepted in a layout file).

        The episode actions are written only by a run, so a plain session's layout reads as it
        always did.
        """
        return {a: list(getattr(self, a)) for a in self.actions}

    @classmethod
    def from_dict(cls, data: object) -> Hotkeys:
        """Parse a ``hotkeys`` table: action -> key, list of keys, or ``""`` / ``[]``."""
        if not isinstance(data, dict):
            raise ConfigError(f"hotkeys must be a table like {{toggle = \"f8\"}}, got {data!r}")
        unknown = sorted(set(data) - set(_ALL_ACTIONS))
        if unknown:
            raise ConfigError(f"hotkeys.{unknown[0]} is not a hotkey action: give "
                              f"{', '.join(_ALL_ACTIONS)}")
        fields: dict[str, Any] = {}
        for action, value in data.items():
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                raise ConfigError(f"hotkeys.{action}: give a key name or a list of them, "
                                  f"got {value!r}")
            for n in items:
                if not isinstance(n, str):
                    raise ConfigError(f"hotkeys.{action}: a hotkey is a key name string, "
                                      f"got {n!r}")
            fields[action] = tuple(n for n in items if n.strip())
        return dataclasses.replace(cls(), **fields)


DEFAULT_HOTKEYS = Hotkeys()
# The default single-key hotkeys (a layout checks against its own :class:`Hotkeys`).
HOTKEY_KEYS: frozenset[str] = frozenset(DEFAULT_HOTKEYS.keys)


@dataclass(frozen=True)
class KeyLayout:
    """An ordered set of key names; column ``k`` of the action arrays is ``keys[k]``.

    ``hotkeys`` are the recorder's hotkeys for this layout; its single keys cannot be columns.
    """

    keys: tuple[str, ...] = DEFAULT_KEYS
    name: str = "default"
    hotkeys: Hotkeys = DEFAULT_HOTKEYS
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.keys) > MAX_LAYOUT_KEYS:  # before any per-key work: one line, at once
            raise ConfigError(f"key layout '{self.name}' lists {len(self.keys)} keys; a layout "
                              f"holds at most {MAX_LAYOUT_KEYS}")
        keys = tuple(canonical_key(k) for k in self.keys)
        if not keys:
            raise ConfigError("a key layout needs at least one key")
        dupes = sorted(k for k, n in Counter(keys).items() if n > 1)
        if dupes:
            raise ConfigError(f"key layout '{self.name}' lists keys twice: {', '.join(dupes)}")
        hot = sorted(set(self.hotkeys.keys).intersection(keys))
        if hot:
            raise ConfigError(
                f"key layout '{self.name}' uses recorder hotkeys {', '.join(hot)}: remove them "
                "or remap the hotkeys (hotkeys = {...} in the layout file)"
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
        return {"name": self.name, "keys": list(self.keys), "hotkeys": self.hotkeys.to_dict()}

    def with_hotkeys(self, hotkeys: Hotkeys) -> KeyLayout:
        """A copy of the layout with other hotkeys (checked against the keys again)."""
        return KeyLayout(keys=self.keys, name=self.name, hotkeys=hotkeys)

    @classmethod
    def from_meta(cls, data: dict[str, object] | Sequence[str]) -> KeyLayout:
        """Rebuild the layout stored in ``meta.json`` (a dict or a bare list of names).

        A session written before hotkeys were configurable has no ``hotkeys``: the defaults.
        """
        if isinstance(data, dict):
            keys = data.get("keys")
            if not isinstance(keys, list):
                raise ConfigError("meta.json layout has no 'keys' list")
            hotkeys = (Hotkeys.from_dict(data["hotkeys"]) if "hotkeys" in data
                       else DEFAULT_HOTKEYS)
            return cls(keys=tuple(str(k) for k in keys), name=str(data.get("name", "custom")),
                       hotkeys=hotkeys)
        return cls(keys=tuple(str(k) for k in data), name="custom")


DEFAULT_LAYOUT = KeyLayout()


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a user's TOML file; a missing, unreadable or invalid file is a :class:`ConfigError`.

    ``what`` names the file in messages ("layout", "keymap"). The file comes from a flag
    (``--layout``, ``--keymap``), so a bad one is a usage error like any bad flag value (exit 2):
    a directory, a FIFO or a device (refused before it is read, :mod:`..inputfiles`) and a
    file over :data:`MAX_TOML_BYTES` included.
    """
    p = Path(path)
    text = read_input_text(p, what=f"{what} file", max_bytes=MAX_TOML_BYTES)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} file {p} is not valid TOML: {exc}") from exc


def load_layout(path: str | Path) -> KeyLayout:
    """Load a layout from a TOML file with a ``keys`` list of strings (and an optional ``name``).

    Anything else in the file (another setting, a non-string key or name) is a
    :class:`ConfigError` naming the file and the entry.
    """
    p = Path(path)
    data = read_toml(p, "layout")
    unknown = sorted(set(data) - {"keys", "name", "hotkeys"})
    if unknown:
        raise ConfigError(f"layout file {p}: {unknown[0]} is not a layout setting: "
                          "give keys = [...] and optionally name = \"...\" and "
                          "hotkeys = {...}")
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
        hotkeys = Hotkeys.from_dict(data["hotkeys"]) if "hotkeys" in data else DEFAULT_HOTKEYS
        return KeyLayout(keys=tuple(keys), name=name, hotkeys=hotkeys)
    except ConfigError as exc:
        raise ConfigError(f"layout file {p}: {exc}") from exc
