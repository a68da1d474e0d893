"""What a policy asks the game to do: :class:`Action` steps in :class:`ActionChunk` chunks.

An :class:`Action` is one step of control in the *recording's* terms, so the same vocabulary
describes what a policy proposed and what the session recorded (docs/play.md):

* ``keys``: the layout keys and mouse buttons held during the step (canonical names, as in
  :mod:`nitrogen_capture.keylayout`; ``wheel_*`` pseudo-keys are one wheel step each time they
  appear in a step);
* ``mouse``: relative pointer motion over the step, in counts (+x right, +y down);
* ``pad``: a virtual gamepad's whole state, the 21 values of a ``gamepad`` row
  (:data:`~nitrogen_capture.rows.PAD_BUTTONS` as 0/1, then ``lx, ly, rx, ry`` in [-1, 1], +y
  down), or None when the step does not drive a pad.

A policy answers a frame with an :class:`ActionChunk`: one or more steps executed one after the
other, ``step_s`` apart (NitroGen answers 16-18 steps at 60 Hz; a behaviour-cloning net one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..rows import GAMEPAD_WIDTH

__all__ = ["NOTHING", "Action", "ActionChunk"]


@dataclass(frozen=True)
class Action:
    """One step of control (see the module docstring)."""

    keys: frozenset[str] = frozenset()
    mouse: tuple[float, float] = (0.0, 0.0)
    pad: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.pad is not None and len(self.pad) != GAMEPAD_WIDTH:
            raise ConfigError(f"a gamepad action has {GAMEPAD_WIDTH} values, got {len(self.pad)}")

    @classmethod
    def of(cls, keys: Iterable[str] = (), mouse: Sequence[float] = (0.0, 0.0),
           pad: Sequence[float] | None = None) -> Action:
        """Build an action from plain sequences (keys in any iterable, floats in any sequence)."""
        return cls(frozenset(keys), (float(mouse[0]), float(mouse[1])),
                   None if pad is None else tuple(float(v) for v in pad))


#: The action that holds nothing: what every output returns to when control ends.
NOTHING = Action()


@dataclass(frozen=True)
class ActionChunk:
    """Steps to execute one after the other, ``step_s`` seconds apart.

    Attributes:
        steps: at least one :class:`Action`.
        step_s: seconds per step (1 / the model's action rate).
        extra: what the policy said beside the actions (e.g. NitroGen's raw prediction keys),
            kept out of the session; for logs and tests.
    """

    steps: tuple[Action, ...]
    step_s: float
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ConfigError("a policy answered with no action steps")
        if not self.step_s > 0:
            raise ConfigError(f"an action step must last more than 0 s, got {self.step_s}")
