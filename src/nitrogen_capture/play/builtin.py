"""The built-in policies ``random`` and ``idle``: the baselines a trained policy is compared with.

``random`` presses each of its keys with probability 0.5 at every step (one step per
``action_hz``), from a seeded numpy Generator, so two runs with one seed send the same keys.
Its keys are ``--policy-arg keys=w,a,s,d`` or, by default, the layout's movement keys among
``w a s d up down left right space``. ``idle`` holds nothing: the "no agent" floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..keylayout import canonical_key
from ..rows import GAMEPAD_WIDTH
from .action import NOTHING, Action, ActionChunk
from .mapping import keys_to_pad, settings_keymap
from .policy_base import Policy, PolicySettings

__all__ = ["MOVEMENT_KEYS", "IdlePolicy", "RandomPolicy"]

MOVEMENT_KEYS = ("w", "a", "s", "d", "up", "down", "left", "right", "space")


def _random_keys(settings: PolicySettings) -> tuple[str, ...]:
    text = settings.options.get("keys")
    if text is None:
        keys = tuple(k for k in MOVEMENT_KEYS if k in settings.layout)
        if not keys:
            raise ConfigError(f"the random policy found none of {', '.join(MOVEMENT_KEYS)} in "
                              f"layout '{settings.layout.name}': pass --policy-arg keys=K1,K2",
                              setting="options")
        return keys
    keys = tuple(canonical_key(k) for k in str(text).split(",") if k.strip())
    missing = [k for k in keys if k not in settings.layout]
    if not keys or missing:
        raise ConfigError(f"--policy-arg keys={text}: "
                          + (f"{', '.join(missing)} not in layout '{settings.layout.name}'"
                             if missing else "name at least one key"), setting="options")
    return keys


class RandomPolicy(Policy):
    """Each step presses each key with probability 0.5 (module docstring)."""

    name = "random"

    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings
        self.keys = _random_keys(settings)
        self.step_s = 1.0 / settings.action_hz
        self.frame_size = (settings.img_size, settings.img_size)
        self._rng = np.random.default_rng(settings.seed)
        self._keymap = (settings_keymap(settings.keymap)
                        if settings.output_kind == "gamepad" else None)

    def describe(self) -> dict[str, Any]:
        """Kind, keys, seed and rate."""
        return {"kind": self.name, "keys": list(self.keys), "seed": self.settings.seed,
                "action_hz": self.settings.action_hz}

    def act(self, frame_rgb: npt.NDArray[np.uint8]) -> ActionChunk:
        """One random step (the frame is not looked at)."""
        pressed = self._rng.random(len(self.keys)) < 0.5
        keys = frozenset(k for k, p in zip(self.keys, pressed, strict=True) if p)
        if self._keymap is not None:
            step = keys_to_pad(keys, (0.0, 0.0), self.settings.layout, self._keymap,
                               self.settings.mouse_scale)
        else:
            step = Action(keys)
        return ActionChunk((step,), self.step_s)


class IdlePolicy(Policy):
    """Holds nothing, one step at ``action_hz``."""

    name = "idle"

    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings
        self.step_s = 1.0 / settings.action_hz
        self.frame_size = (settings.img_size, settings.img_size)
        # On a gamepad output "nothing" is a centred pad with no button down.
        self._step = (Action(pad=(0.0,) * GAMEPAD_WIDTH)
                      if settings.output_kind == "gamepad" else NOTHING)

    def describe(self) -> dict[str, Any]:
        """Kind and rate."""
        return {"kind": self.name, "action_hz": self.settings.action_hz}

    def act(self, frame_rgb: npt.NDArray[np.uint8]) -> ActionChunk:
        """The empty step."""
        return ActionChunk((self._step,), self.step_s)
