"""Pad-space actions -> :class:`~.action.Action` steps for the output ``play`` drives.

A policy may answer in pad terms: NitroGen's 25 floats (:data:`NITROGEN_ACTIONS`: 21 button
slots, then ``lx, ly, rx, ry`` with +y down) or a 21-float ``gamepad`` row
(:data:`~nitrogen_capture.rows.PAD_BUTTONS` then the axes). Two mappers turn either into a step:

* :class:`PadToKeys`, for a keyboard output: the export keymap (docs/export.md) run backwards.
  Each button slot presses the *first* layout key the keymap maps to it (keymap order; wheel
  pseudo-keys are skipped: a held button is not a wheel spinning); a stick with direction keys
  presses a direction past 0.5 of deflection (a diagonal on the unit circle, 0.71 per axis,
  presses two keys, as two keys make that diagonal when recording); the stick the keymap's mouse
  drives becomes ``stick * mouse_scale`` counts of motion per step (the inverse of ``convert``'s
  division).
* :class:`PadToPad`, for a gamepad output: a 25-vector keeps its 17 dataset buttons by name
  (the four ``RIGHT_*`` alias slots have no dataset button and are dropped) and its sticks.

Buttons are pressed above 0.5, NitroGen's own threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, PolicyError, check_settings
from ..export.keymap import (
    NITROGEN_ACTIONS,
    NITROGEN_BUTTONS,
    PAD_TO_SLOT,
    Keymap,
    default_keymap,
    load_keymap,
    map_rows,
    mouse_checks,
)
from ..keylayout import KeyLayout
from ..rows import GAMEPAD_WIDTH, PAD_BUTTONS, WHEEL_KEYS
from .action import Action

__all__ = ["PRESS", "PadToKeys", "PadToPad", "keys_to_pad", "make_mapper", "nitrogen_to_pad",
           "pad_to_nitrogen", "settings_keymap"]

PRESS = 0.5  # a button above this is pressed; a stick past it presses its direction key
_NB = len(NITROGEN_BUTTONS)
_SLOT = {name: i for i, name in enumerate(NITROGEN_BUTTONS)}
_AXES = {"left": (_NB, _NB + 1), "right": (_NB + 2, _NB + 3)}


def _clip(v: float) -> float:
    return min(1.0, max(-1.0, v))  # sticks live in [-1, 1]


def _values(values: Sequence[float], width: int, what: str) -> list[float]:
    vals = [float(v) for v in values]
    if len(vals) != width:
        raise PolicyError(f"{what} has {width} values, got {len(vals)}")
    if not all(math.isfinite(v) for v in vals):
        raise PolicyError(f"{what} holds a value that is not finite: {vals}")
    return vals


def pad_to_nitrogen(row: Sequence[float]) -> list[float]:
    """A 21-float gamepad row as NitroGen's 25 floats (buttons by name, sticks as they are)."""
    vals = _values(row, GAMEPAD_WIDTH, "a gamepad row")
    out = [0.0] * len(NITROGEN_ACTIONS)
    for i, slot in enumerate(PAD_TO_SLOT):
        out[slot] = vals[i]
    out[_NB:] = vals[len(PAD_BUTTONS):]
    return out


def nitrogen_to_pad(vec: Sequence[float]) -> tuple[float, ...]:
    """NitroGen's 25 floats as a 21-float gamepad row (buttons 0/1, sticks clipped to +-1)."""
    vals = _values(vec, len(NITROGEN_ACTIONS), "a NitroGen action")
    buttons = [1.0 if vals[slot] > PRESS else 0.0 for slot in PAD_TO_SLOT]
    sticks = [_clip(v) for v in vals[_NB:]]
    return (*buttons, *sticks)


class PadToKeys:
    """Pad-space actions -> keys and mouse motion, through ``keymap`` backwards (module doc)."""

    def __init__(self, keymap: Keymap, layout: KeyLayout, mouse_scale: float = 300.0) -> None:
        check_settings(mouse_checks(mouse_scale, 1.0))
        self.keymap = keymap
        self.layout = layout
        self.mouse_scale = mouse_scale
        self.slot_keys: dict[int, str] = {}  # slot index -> the key that presses it
        for key, slot in keymap.buttons:
            if key in layout and key not in WHEEL_KEYS:
                self.slot_keys.setdefault(_SLOT[slot], key)
        # stick -> direction -> key (the first of the keymap's keys that the layout has)
        self.stick_keys: dict[str, dict[str, str]] = {}
        for stick, dirs in keymap.sticks.items():
            chosen = {d: next(k for k in keys if k in layout)
                      for d, keys in dirs.items() if any(k in layout for k in keys)}
            if chosen:
                self.stick_keys[stick] = chosen

    @property
    def unmapped_slots(self) -> tuple[str, ...]:
        """Button slots no layout key presses (a policy's presses there are dropped)."""
        return tuple(n for i, n in enumerate(NITROGEN_BUTTONS) if i not in self.slot_keys)

    def nitrogen(self, vec: Sequence[float]) -> Action:
        """One step from NitroGen's 25 floats."""
        vals = _values(vec, len(NITROGEN_ACTIONS), "a NitroGen action")
        keys = {key for slot, key in self.slot_keys.items() if vals[slot] > PRESS}
        for stick, dirs in self.stick_keys.items():
            x, y = (vals[i] for i in _AXES[stick])
            pushed = {"right": x > PRESS, "left": x < -PRESS, "down": y > PRESS, "up": y < -PRESS}
            keys.update(key for d, key in dirs.items() if pushed[d])
        mouse = (0.0, 0.0)
        if self.keymap.mouse_stick in _AXES:
            ix, iy = _AXES[self.keymap.mouse_stick]
            mouse = (_clip(vals[ix]) * self.mouse_scale, _clip(vals[iy]) * self.mouse_scale)
        return Action(frozenset(keys), mouse)

    def pad(self, row: Sequence[float]) -> Action:
        """One step from a 21-float gamepad row."""
        return self.nitrogen(pad_to_nitrogen(row))


class PadToPad:
    """Pad-space actions -> a virtual pad's state (for a ``gamepad`` output)."""

    def nitrogen(self, vec: Sequence[float]) -> Action:
        """One step from NitroGen's 25 floats."""
        return Action(pad=nitrogen_to_pad(vec))

    def pad(self, row: Sequence[float]) -> Action:
        """One step from a 21-float gamepad row (buttons thresholded, sticks clipped)."""
        return Action(pad=nitrogen_to_pad(pad_to_nitrogen(row)))


def keys_to_pad(keys: frozenset[str], mouse: tuple[float, float], layout: KeyLayout,
                keymap: Keymap, mouse_scale: float) -> Action:
    """A keyboard step as a pad state, through the keymap forwards (as ``convert`` maps it)."""
    row = np.array([[1.0 if k in keys else 0.0 for k in layout.keys]], dtype=np.float32)
    vec = map_rows(row, np.array([mouse], dtype=np.float64), None, layout, space="nitrogen",
                   keymap=keymap, mouse_scale=mouse_scale)[0]
    return Action(pad=nitrogen_to_pad(vec.tolist()))


def settings_keymap(path: Path | None) -> Keymap:
    """The ``--keymap`` file's keymap, or the shipped default when there is none."""
    return default_keymap() if path is None else load_keymap(path)


def make_mapper(output_kind: str, keymap: Keymap, layout: KeyLayout,
                mouse_scale: float) -> PadToKeys | PadToPad:
    """The mapper for an output of ``output_kind`` (``keyboard`` or ``gamepad``)."""
    if output_kind == "gamepad":
        return PadToPad()
    if output_kind != "keyboard":
        raise ConfigError(f"an output drives a keyboard or a gamepad, got {output_kind!r}",
                          setting="output_kind")
    return PadToKeys(keymap, layout, mouse_scale)
