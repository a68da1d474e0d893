"""A rollout's per-row arrays as the writer and crash repair build them (docs/format.md).

A `play` session stores per row who was in control (``action_source``) and what the policy
proposed (``policy_actions``, ``policy_mouse``, with a gamepad output ``policy_gamepad``). The
live writer gets each row as a :class:`RolloutRow` from the driver's log
(:mod:`nitrogen_capture.play.rollout`); repair rebuilds rows from the journal's ``rollout``
lines. Both turn their rows into arrays here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..rows import GAMEPAD_WIDTH, SOURCE_POLICY

__all__ = ["RolloutRow", "rollout_arrays"]


@dataclass(frozen=True)
class RolloutRow:
    """One row's rollout values (``pad`` None unless the output is a gamepad)."""

    source: int
    keys: npt.NDArray[np.int8]
    mouse: npt.NDArray[np.float32]
    pad: npt.NDArray[np.float32] | None = None

    @classmethod
    def unknown(cls, keys: int, source: int = SOURCE_POLICY, pad: bool = False) -> RolloutRow:
        """A row whose rollout line a crash lost: nothing proposed, ``source`` carried over."""
        return cls(source, np.zeros(keys, np.int8), np.zeros(2, np.float32),
                   np.zeros(GAMEPAD_WIDTH, np.float32) if pad else None)


def rollout_arrays(rows: Sequence[RolloutRow], keys: int, *,
                   pad: bool) -> dict[str, npt.NDArray[Any]]:
    """The chunk arrays of ``rows`` (``keys``: the layout's K; ``pad``: a gamepad output)."""
    n = len(rows)
    out: dict[str, npt.NDArray[Any]] = {
        "action_source": np.array([r.source for r in rows], dtype=np.int8),
        "policy_actions": (np.stack([r.keys for r in rows]).astype(np.int8) if n
                           else np.zeros((0, keys), np.int8)),
        "policy_mouse": (np.stack([r.mouse for r in rows]).astype(np.float32) if n
                         else np.zeros((0, 2), np.float32)),
    }
    if pad:
        out["policy_gamepad"] = (
            np.stack([r.pad if r.pad is not None else np.zeros(GAMEPAD_WIDTH, np.float32)
                      for r in rows]).astype(np.float32) if n
            else np.zeros((0, GAMEPAD_WIDTH), np.float32))
    return out
