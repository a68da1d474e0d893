"""NitroGen export action spaces and the keyboard/mouse -> gamepad keymap (docs/architecture.md 8).

Two action spaces, named in every export's ``meta``:

* ``nitrogen`` (default): the 25 floats of NitroGen's released checkpoint, :data:`NITROGEN_ACTIONS`
  order: 21 button slots (0/1) then ``lx, ly, rx, ry`` in [-1, 1], +x right, **+y down**. The
  four ``RIGHT_*`` face-button aliases are never emitted by NitroGen's player and stay 0.
* ``raw``: the session layout's K keys (0/1) then ``lx, ly, rx, ry``.

Gamepad rows (``gamepad_chunk_NNN.npy``: the 17 dataset buttons, then the four axes, already
+y down) map 1:1 by name. Keyboard/mouse rows go through a :class:`Keymap` (TOML, the default ships
as ``nitrogen_capture/data/default_keymap.toml``): stick direction keys with diagonals scaled to
unit length, mouse counts divided by ``mouse_scale`` and clipped to ``mouse_clip``, keys OR-ed
into button slots.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..bounds import number_check
from ..errors import ConfigError, check_settings
from ..keylayout import PAD_AXES, PAD_BUTTONS, KeyLayout, canonical_key, read_toml

__all__ = [
    "ACTION_SPACES",
    "NITROGEN_ACTIONS",
    "NITROGEN_BUTTONS",
    "Keymap",
    "action_names",
    "default_keymap",
    "load_keymap",
    "map_rows",
    "mouse_checks",
]

NITROGEN_BUTTONS: tuple[str, ...] = (
    "BACK", "DPAD_DOWN", "DPAD_LEFT", "DPAD_RIGHT", "DPAD_UP", "EAST", "GUIDE", "LEFT_SHOULDER",
    "LEFT_THUMB", "LEFT_TRIGGER", "NORTH", "RIGHT_BOTTOM", "RIGHT_LEFT", "RIGHT_RIGHT",
    "RIGHT_SHOULDER", "RIGHT_THUMB", "RIGHT_TRIGGER", "RIGHT_UP", "SOUTH", "START", "WEST",
)
NITROGEN_ACTIONS: tuple[str, ...] = (*NITROGEN_BUTTONS, "lx", "ly", "rx", "ry")
ACTION_SPACES: tuple[str, ...] = ("nitrogen", "raw")
# Never emitted by NitroGen's own player (docs/architecture.md 8.1): no keymap may target them.
_UNUSED_SLOTS = frozenset({"RIGHT_BOTTOM", "RIGHT_LEFT", "RIGHT_RIGHT", "RIGHT_UP"})
_SLOT = {name: i for i, name in enumerate(NITROGEN_BUTTONS)}
# Dataset button -> model slot: the names are the same up to case.
PAD_TO_SLOT: tuple[int, ...] = tuple(_SLOT[b.upper()] for b in PAD_BUTTONS)
_DIRECTIONS = ("up", "down", "left", "right")
MAX_MOUSE_SCALE = 1_000_000  # --mouse-scale: counts per full stick deflection
_STICKS = ("left", "right")


@dataclass(frozen=True)
class Keymap:
    """Keyboard/mouse -> gamepad mapping.

    Attributes:
        buttons: (key, slot) pairs; a slot is 1 when any of its keys is 1.
        sticks: per stick (``left``/``right``), per direction, the keys that push it.
        mouse_stick: ``right``, ``left`` or ``none``: the stick that mouse motion drives.
        name: shown in the export's meta.
    """

    buttons: tuple[tuple[str, str], ...]
    sticks: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    mouse_stick: str = "right"
    name: str = "custom"

    def __post_init__(self) -> None:
        for key, slot in self.buttons:
            if slot not in _SLOT:
                raise ConfigError(f"keymap '{self.name}': unknown button slot {slot!r} for key "
                                  f"{key!r}; use one of {', '.join(NITROGEN_BUTTONS)}")
            if slot in _UNUSED_SLOTS:
                raise ConfigError(f"keymap '{self.name}': slot {slot} is never used by NitroGen "
                                  f"(key {key!r}); map it to SOUTH/EAST/WEST/NORTH instead")
        for stick, dirs in self.sticks.items():
            if stick not in _STICKS or not set(dirs) <= set(_DIRECTIONS):
                raise ConfigError(f"keymap '{self.name}': bad stick section {stick!r} {dirs!r}: "
                                  "use [left_stick]/[right_stick] with up/down/left/right lists")
        if self.mouse_stick not in (*_STICKS, "none"):
            raise ConfigError(f"keymap '{self.name}': mouse.stick must be left, right or none, "
                              f"got {self.mouse_stick!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain form stored in the export's meta."""
        return {"name": self.name, "buttons": [list(p) for p in self.buttons],
                "sticks": {s: {d: list(k) for d, k in v.items()} for s, v in self.sticks.items()},
                "mouse_stick": self.mouse_stick}


def _names(value: object) -> list[str] | None:
    """A TOML value that is one name or a list of names, as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _parse(data: dict[str, Any], source: str) -> Keymap:
    """Build a keymap from parsed TOML; ``source`` names the file in every message.

    Every key and value is checked: a wrong type, an unknown table, direction or slot is a
    :class:`ConfigError` naming the file and the key, never silently ignored.
    """
    def bad(where: str, why: str) -> ConfigError:
        return ConfigError(f"keymap file {source}: {where} {why}")

    unknown = sorted(set(data) - {"name", "buttons", "mouse", *(f"{s}_stick" for s in _STICKS)})
    if unknown:
        raise bad(unknown[0], "is not a keymap setting: use name, [buttons], [left_stick], "
                              "[right_stick] and [mouse]")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise bad("name", f"must be a string, got {name!r}")
    buttons: list[tuple[str, str]] = []
    raw_buttons = data.get("buttons", {})
    if not isinstance(raw_buttons, dict):
        raise bad("[buttons]", 'must be a table of key = "SLOT"')
    for key, value in raw_buttons.items():
        slots = _names(value)
        if slots is None:
            raise bad(f"[buttons] {key}", f"must be a slot name or a list of slot names, "
                                          f"got {value!r}")
        for slot in slots:
            if slot.upper() not in _SLOT:
                usable = (b for b in NITROGEN_BUTTONS if b not in _UNUSED_SLOTS)
                raise bad(f"[buttons] {key}", f"names unknown button slot {slot!r}: use one of "
                                              f"{', '.join(usable)}")
            buttons.append((canonical_key(key), slot.upper()))
    sticks: dict[str, dict[str, tuple[str, ...]]] = {}
    for stick in _STICKS:
        table = data.get(f"{stick}_stick", {})
        if not isinstance(table, dict):
            raise bad(f"[{stick}_stick]", "must be a table of up/down/left/right key lists")
        dirs: dict[str, tuple[str, ...]] = {}
        for d, value in table.items():
            keys = _names(value)
            if d not in _DIRECTIONS:
                raise bad(f"[{stick}_stick] {d}", "is not a direction: use up, down, left, right")
            if keys is None:
                raise bad(f"[{stick}_stick] {d}", f"must be a key name or a list of key names, "
                                                  f"got {value!r}")
            dirs[d] = tuple(canonical_key(k) for k in keys)
        sticks[stick] = dirs
    mouse = data.get("mouse", {})
    if not isinstance(mouse, dict) or not set(mouse) <= {"stick"}:
        raise bad("[mouse]", 'must be a table with only stick = "right", "left" or "none"')
    stick = mouse.get("stick", "right")
    if not isinstance(stick, str):
        raise bad("[mouse] stick", f'must be "right", "left" or "none", got {stick!r}')
    try:
        return Keymap(buttons=tuple(buttons), sticks=sticks, mouse_stick=stick, name=name)
    except ConfigError as exc:
        raise ConfigError(f"keymap file {source}: {exc}") from exc


def load_keymap(path: str | Path) -> Keymap:
    """Load a keymap TOML file (format: see the shipped ``default_keymap.toml``)."""
    p = Path(path)
    return _parse(read_toml(p, "keymap"), str(p))


def default_keymap() -> Keymap:
    """The shipped default keymap (package data ``data/default_keymap.toml``)."""
    text = resources.files("nitrogen_capture").joinpath("data/default_keymap.toml").read_text(
        encoding="utf-8")
    return _parse(tomllib.loads(text), "default")


def mouse_checks(mouse_scale: float, mouse_clip: float) -> list[tuple[bool, str, str]]:
    """The checks of ``--mouse-scale`` and ``--mouse-clip`` (finite, in their bounds)."""
    return [
        number_check(mouse_scale, "mouse_scale", "--mouse-scale", 0, MAX_MOUSE_SCALE,
                     lo_open=True, note=" (mouse counts per full stick)"),
        number_check(mouse_clip, "mouse_clip", "--mouse-clip", 0, 1, lo_open=True,
                     interval=True, note=" (sticks live in [-1, 1])"),
    ]


def action_names(space: str, layout: KeyLayout) -> list[str]:
    """Names of the action dimensions of ``space`` for a session with ``layout``."""
    if space == "nitrogen":
        return list(NITROGEN_ACTIONS)
    if space == "raw":
        return [*layout.keys, *PAD_AXES]
    raise ConfigError(f"--action-space must be one of {', '.join(ACTION_SPACES)}, got {space!r}")


def _key_column(actions: npt.NDArray[Any], layout: KeyLayout, key: str) -> npt.NDArray[np.bool_]:
    col = layout.get(key)
    if col is None:
        return np.zeros(len(actions), dtype=bool)
    return np.asarray(actions[:, col] > 0)


def _stick_from_keys(actions: npt.NDArray[Any], layout: KeyLayout,
                     dirs: dict[str, tuple[str, ...]]) -> npt.NDArray[np.float32]:
    def any_of(d: str) -> npt.NDArray[np.float32]:
        out = np.zeros(len(actions), dtype=bool)
        for key in dirs.get(d, ()):
            out |= _key_column(actions, layout, key)
        return out.astype(np.float32)

    xy = np.stack([any_of("right") - any_of("left"), any_of("down") - any_of("up")], axis=1)
    # A diagonal (both axes pressed) has length sqrt(2): scale it back onto the unit circle.
    norm = np.maximum(np.linalg.norm(xy, axis=1, keepdims=True), 1.0)
    unit: npt.NDArray[np.float32] = (xy / norm).astype(np.float32)
    return unit


def _keyboard_sticks(actions: npt.NDArray[Any], mouse: npt.NDArray[Any], layout: KeyLayout,
                     keymap: Keymap, mouse_scale: float, mouse_clip: float,
                     ) -> npt.NDArray[np.float32]:
    sticks = np.zeros((len(actions), 4), dtype=np.float32)
    for i, stick in enumerate(_STICKS):
        sticks[:, 2 * i:2 * i + 2] = _stick_from_keys(actions, layout, keymap.sticks.get(stick, {}))
    if keymap.mouse_stick != "none":
        # Raw counts are already +x right, +y down, the NitroGen stick convention.
        m = np.clip(np.asarray(mouse, dtype=np.float64) / mouse_scale, -mouse_clip, mouse_clip)
        j = 0 if keymap.mouse_stick == "left" else 2
        sticks[:, j:j + 2] += m.astype(np.float32)
    return np.clip(sticks, -1.0, 1.0)


def map_rows(
    actions: npt.NDArray[Any],
    mouse: npt.NDArray[Any],
    gamepad: npt.NDArray[Any] | None,
    layout: KeyLayout,
    *,
    space: str = "nitrogen",
    keymap: Keymap | None = None,
    mouse_scale: float = 300.0,
    mouse_clip: float = 1.0,
) -> npt.NDArray[np.float32]:
    """Map per-step rows to the action space (``(n, D)`` float32).

    Args:
        actions: ``(n, K)`` 0/1 key rows of ``layout``.
        mouse: ``(n, 2)`` raw mouse counts summed per step.
        gamepad: ``(n, GAMEPAD_WIDTH)`` pad rows (:mod:`nitrogen_capture.binning`), or None
            for a keyboard/mouse session. When given, the sticks (and, for ``nitrogen``, the
            buttons) come from the pad 1:1.
        layout: the session's key layout.
        space: ``nitrogen`` or ``raw``.
        keymap: keyboard mapping (default: :func:`default_keymap`).
        mouse_scale: divisor from mouse counts per step to stick units.
        mouse_clip: mouse stick magnitude limit per axis, in (0, 1].
    """
    check_settings(mouse_checks(mouse_scale, mouse_clip))
    names = action_names(space, layout)
    n = len(actions)
    km = keymap or default_keymap()
    out = np.zeros((n, len(names)), dtype=np.float32)
    if gamepad is not None:
        pad = np.asarray(gamepad, dtype=np.float32)
        sticks = np.clip(pad[:, len(PAD_BUTTONS):], -1.0, 1.0)
    else:
        sticks = _keyboard_sticks(actions, mouse, layout, km, mouse_scale, mouse_clip)
    out[:, -4:] = sticks
    if space == "raw":
        out[:, :len(layout)] = np.asarray(actions[:, :len(layout)] > 0, dtype=np.float32)
        return out
    if gamepad is not None:
        out[:, list(PAD_TO_SLOT)] = (pad[:, :len(PAD_BUTTONS)] > 0.5).astype(np.float32)
        return out
    for key, slot in km.buttons:
        col = layout.get(key)
        if col is not None:
            np.maximum(out[:, _SLOT[slot]], (actions[:, col] > 0).astype(np.float32),
                       out=out[:, _SLOT[slot]])
    return out
