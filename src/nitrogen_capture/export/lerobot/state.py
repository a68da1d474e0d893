"""``observation.state`` of a LeRobot export: what a policy is told it was doing (``--state``).

LeRobot's policies take ``observation.state`` as the robot's proprioception: ACT and Diffusion
read it on every step (``lerobot-train --policy.type=act`` fails with ``KeyError:
'observation.state'`` on a dataset without it). A game has no joints, so the state is the
player's own recent input (docs/export.md, "--format lerobot"), one variant per ``--state``:

* ``previous-action`` (the default): the row before's ``action``, zeros on an episode's first
  row. Known when the row's action is chosen, in the action's own space and names: a policy
  that sees what it was just doing can keep a key held or finish a combo.
* ``held-keys``: the session layout's keys (0/1) held when the row's interval opens, i.e. at the
  row before's time: the held keys without the row's own taps (``binning.BinnedRows``). Raw
  keys whatever ``--action-space`` is; a gamepad's buttons are not keys (use the default there).
* ``none``: no state feature (datasets written before it existed have none).

Neither variant holds anything of the row's own action: a state equal to the target would teach
a policy to copy its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ...errors import ExportError

__all__ = ["STATE_KEY", "StateKind", "state_kind"]

STATE_KEY = "observation.state"


@dataclass(frozen=True)
class StateKind:
    """One ``--state`` variant: its feature's names and its rows for one episode."""

    name: str

    def names(self, action_names: list[str], keys: list[str]) -> list[str] | None:
        """The feature's ``names`` (None: no feature)."""
        return None

    def rows(self, actions: npt.NDArray[np.float32],
             held_before: npt.NDArray[np.int8]) -> npt.NDArray[np.float32] | None:
        """The episode's ``(n, D)`` state from its ``(n, A)`` actions and ``(n, K)`` held keys."""
        return None


@dataclass(frozen=True)
class _PreviousAction(StateKind):
    def names(self, action_names: list[str], keys: list[str]) -> list[str] | None:
        return [f"previous.{n}" for n in action_names]

    def rows(self, actions: npt.NDArray[np.float32],
             held_before: npt.NDArray[np.int8]) -> npt.NDArray[np.float32] | None:
        out = np.zeros_like(actions, dtype=np.float32)
        out[1:] = actions[:-1]
        return out


@dataclass(frozen=True)
class _HeldKeys(StateKind):
    def names(self, action_names: list[str], keys: list[str]) -> list[str] | None:
        return [f"held.{k}" for k in keys]

    def rows(self, actions: npt.NDArray[np.float32],
             held_before: npt.NDArray[np.int8]) -> npt.NDArray[np.float32] | None:
        return np.asarray(held_before > 0, dtype=np.float32)


_KINDS: dict[str, StateKind] = {k.name: k for k in (
    _PreviousAction("previous-action"), _HeldKeys("held-keys"), StateKind("none"))}


def state_kind(name: str) -> StateKind:
    """The variant of ``--state NAME`` (settings.py checks the name against :data:`STATES`)."""
    try:
        return _KINDS[name]
    except KeyError:
        raise ExportError(f"--state must be one of {', '.join(_KINDS)}, got {name!r}") from None
