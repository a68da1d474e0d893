"""Input devices and the per-frame row arrays, declared once (docs/format.md).

A session stores one row per frame in several arrays (``actions_chunk_NNN.npy`` ...). This leaf
module (numpy and :mod:`~nitrogen_capture.events` only) says which arrays there are, their dtype
and width, and which *device kind* fills which of them from which event devices:

=============  ===================================  ===========================================
device kind    event devices (``events.py``)        row arrays it fills
=============  ===================================  ===========================================
``keyboard``   ``key``                              ``actions`` (one column per layout key)
``mouse``      ``button`` ``motion`` ``wheel``      ``actions`` (buttons, wheel steps),
                                                    ``mouse_deltas`` (2: dx, dy)
``gamepad``    ``pad_btn`` ``pad_axis``             ``gamepad`` (17 buttons + 4 axes = 21),
                                                    only when a pad was recorded
=============  ===================================  ===========================================

``frame_indices`` and ``timestamps`` belong to the clock, not to a device; ``os_timestamps`` and
``repeated`` (:data:`FRAME_TIME_ARRAYS`) to the frame source, stored only when it stamps its
frames with the OS's own time (``meta.json`` ``capture.frame_time_source``). The session reader
checks every stored array against :data:`ARRAY_SPECS`; the key layout, the binner and the
reader's empty arrays read the codes and widths from here. :func:`register_device_kind` adds a
kind at run time (a test adds a toy one; docs/extending.md "An input backend" says what else a
real new kind needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL

__all__ = [
    "ACTION_SOURCES",
    "ARRAY_SPECS",
    "CHUNK_ARRAYS",
    "DEVICE_KINDS",
    "FRAME_TIME_ARRAYS",
    "GAMEPAD_WIDTH",
    "MOUSE_BUTTONS",
    "OS_TIME_NONE",
    "PAD_AXES",
    "PAD_BUTTONS",
    "PLAY_ARRAYS",
    "PLAY_PAD_ARRAYS",
    "ROW_ARRAYS",
    "SOURCE_HUMAN",
    "SOURCE_POLICY",
    "WHEEL_KEYS",
    "DeviceKind",
    "RowArray",
    "array_names",
    "device_kind_of",
    "empty_rows",
    "register_device_kind",
    "unregister_device_kind",
]

#: Mouse button codes (``button`` events and their layout keys).
MOUSE_BUTTONS: frozenset[str] = frozenset({"lmb", "rmb", "mmb", "mb4", "mb5"})
#: The wheel's pseudo-keys: a ``wheel`` step is a tap of one of them in ``actions``.
WHEEL_KEYS: tuple[str, ...] = ("wheel_up", "wheel_down", "wheel_left", "wheel_right")
# The 17 buttons of the NitroGen dataset, in its column order (docs/format.md), then the
# stick axes. gamepad rows are these 17 as 0/1 followed by lx, ly, rx, ry in [-1, 1], +y down.
PAD_BUTTONS: tuple[str, ...] = (
    "dpad_down", "dpad_left", "dpad_right", "dpad_up", "left_shoulder", "left_thumb",
    "left_trigger", "right_shoulder", "right_thumb", "right_trigger", "south", "west", "east",
    "north", "back", "start", "guide",
)
PAD_AXES: tuple[str, ...] = ("lx", "ly", "rx", "ry")
GAMEPAD_WIDTH = len(PAD_BUTTONS) + len(PAD_AXES)  # 21


@dataclass(frozen=True)
class RowArray:
    """One per-frame array: ``<name>_chunk_NNN.npy`` of shape ``(n, *tail)``.

    Attributes:
        name: the file stem (``actions``).
        dtype: its dtype.
        tail: trailing shape; None stands for K, the number of layout keys.
        optional: stored only when its device was recorded (the gamepad's).
    """

    name: str
    dtype: np.dtype[Any]
    tail: tuple[int | None, ...] = ()
    optional: bool = False

    def shape(self, n: int, keys: int) -> tuple[int, ...]:
        """The shape of ``n`` rows with ``keys`` layout keys."""
        return (n, *(keys if d is None else d for d in self.tail))

    def empty(self, keys: int) -> npt.NDArray[Any]:
        """No rows, with the right dtype and width."""
        return np.zeros(self.shape(0, keys), self.dtype)


@dataclass(frozen=True)
class DeviceKind:
    """A kind of input device: the event devices it produces and the row arrays it fills."""

    name: str
    events: tuple[str, ...]
    arrays: tuple[str, ...]


#: Every per-frame array in file order (the order of ``meta.json`` chunk ``files``).
ROW_ARRAYS: dict[str, RowArray] = {a.name: a for a in (
    RowArray("actions", np.dtype(np.int8), (None,)),
    RowArray("mouse_deltas", np.dtype(np.float32), (2,)),
    RowArray("frame_indices", np.dtype(np.int64)),
    RowArray("timestamps", np.dtype(np.int64)),
    RowArray("gamepad", np.dtype(np.float32), (GAMEPAD_WIDTH,), optional=True),
    # The OS's time of each row's frame (ns since t0, OS_TIME_NONE where the source gave none)
    # and whether it repeats the frame of the row before (docs/format.md, "OS frame times").
    RowArray("os_timestamps", np.dtype(np.int64), optional=True),
    RowArray("repeated", np.dtype(np.bool_), optional=True),
    # A rollout of `play` (docs/format.md, "Rollouts"): who was in control of each row
    # (ACTION_SOURCES index), and what the policy proposed over the row's interval, binned like
    # the executed actions above (keys held or pressed, motion summed, pad state at t_i).
    RowArray("action_source", np.dtype(np.int8), optional=True),
    RowArray("policy_actions", np.dtype(np.int8), (None,), optional=True),
    RowArray("policy_mouse", np.dtype(np.float32), (2,), optional=True),
    RowArray("policy_gamepad", np.dtype(np.float32), (GAMEPAD_WIDTH,), optional=True),
)}
#: The frame source's optional arrays, present when it stamps frames (not a device's).
FRAME_TIME_ARRAYS: tuple[str, ...] = ("os_timestamps", "repeated")
#: A rollout's arrays (every ``play`` session), and the one only a gamepad output adds.
PLAY_ARRAYS: tuple[str, ...] = ("action_source", "policy_actions", "policy_mouse")
PLAY_PAD_ARRAYS: tuple[str, ...] = ("policy_gamepad",)
#: ``action_source`` values: the index of the name (0 human, 1 policy).
ACTION_SOURCES: tuple[str, ...] = ("human", "policy")
SOURCE_HUMAN = 0
SOURCE_POLICY = 1
#: ``os_timestamps`` of a row whose frame came without an OS time (int64 minimum).
OS_TIME_NONE = int(np.iinfo(np.int64).min)
#: The arrays every chunk has (the optional ones are added when their device was recorded).
CHUNK_ARRAYS: tuple[str, ...] = tuple(a.name for a in ROW_ARRAYS.values() if not a.optional)
#: Expected dtype and trailing shape of each array, by name: a live view of :data:`ROW_ARRAYS`
#: (None stands for K = len(layout)).
ARRAY_SPECS: dict[str, tuple[np.dtype[Any], tuple[int | None, ...]]] = {
    a.name: (a.dtype, a.tail) for a in ROW_ARRAYS.values()}

DEVICE_KINDS: dict[str, DeviceKind] = {k.name: k for k in (
    DeviceKind("keyboard", (KEY,), ("actions",)),
    DeviceKind("mouse", (BUTTON, MOTION, WHEEL), ("actions", "mouse_deltas")),
    DeviceKind("gamepad", (PAD_BUTTON, PAD_AXIS), ("gamepad",)),
)}
_BUILTIN_KINDS = frozenset(DEVICE_KINDS)


def register_device_kind(kind: DeviceKind, *arrays: RowArray) -> None:
    """Add a device kind and the new row arrays it fills (they must be optional).

    Raises:
        ValueError: the kind or an array exists, an array is not optional, or the kind names an
            array that is not declared.
    """
    if kind.name in DEVICE_KINDS:
        raise ValueError(f"device kind '{kind.name}' is already declared")
    for a in arrays:
        if a.name in ROW_ARRAYS or not a.optional:
            raise ValueError(f"row array '{a.name}' exists or is not optional")
    missing = set(kind.arrays) - set(ROW_ARRAYS) - {a.name for a in arrays}
    if missing:
        raise ValueError(f"device kind '{kind.name}' fills undeclared arrays {sorted(missing)}")
    for a in arrays:
        ROW_ARRAYS[a.name] = a
        ARRAY_SPECS[a.name] = (a.dtype, a.tail)
    DEVICE_KINDS[kind.name] = kind


def unregister_device_kind(name: str) -> None:
    """Remove a kind added by :func:`register_device_kind` and the arrays only it fills."""
    if name in _BUILTIN_KINDS or name not in DEVICE_KINDS:
        return
    kind = DEVICE_KINDS.pop(name)
    used = {a for k in DEVICE_KINDS.values() for a in k.arrays}
    for a in kind.arrays:
        if a not in used:
            ROW_ARRAYS.pop(a, None)
            ARRAY_SPECS.pop(a, None)


def device_kind_of(event_device: str) -> str | None:
    """The device kind that produces ``event_device`` events (None: ``control`` and unknowns)."""
    for kind in DEVICE_KINDS.values():
        if event_device in kind.events:
            return kind.name
    return None


def array_names(recorded: frozenset[str] | set[str] = frozenset(), *,
                frame_times: bool = False, play: bool = False,
                play_pad: bool = False) -> tuple[str, ...]:
    """The arrays of a chunk whose optional devices ``recorded`` (kind names) were recorded.

    ``frame_times``: the frame source stamped its frames (:data:`FRAME_TIME_ARRAYS` too).
    ``play``: a ``play`` rollout (:data:`PLAY_ARRAYS`); ``play_pad``: its output was a gamepad
    (:data:`PLAY_PAD_ARRAYS` too).
    """
    optional = {a for k in recorded for a in DEVICE_KINDS[k].arrays}
    if frame_times:
        optional.update(FRAME_TIME_ARRAYS)
    if play:
        optional.update(PLAY_ARRAYS)
        if play_pad:
            optional.update(PLAY_PAD_ARRAYS)
    return tuple(a.name for a in ROW_ARRAYS.values() if not a.optional or a.name in optional)


def empty_rows(keys: int) -> dict[str, npt.NDArray[Any]]:
    """Every array with no rows (``keys``: the layout's K)."""
    return {a.name: a.empty(keys) for a in ROW_ARRAYS.values()}
