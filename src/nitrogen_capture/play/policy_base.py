"""The policy seam: frames in, :class:`~.action.ActionChunk` out (docs/play.md).

Every policy ``play`` can run is a :class:`Policy`: NitroGen's model server
(:mod:`.nitrogen_client`), a Python callable named ``module:callable`` (:mod:`.local`), or the
built-in ``random`` and ``idle`` policies the demo compares against. :func:`load_policy` (in
:mod:`.policies`) picks one from the ``--policy`` text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..keylayout import DEFAULT_LAYOUT, KeyLayout
from .action import ActionChunk

__all__ = ["Policy", "PolicySettings"]


@dataclass(frozen=True)
class PolicySettings:
    """How ``play`` talks to its policy.

    Attributes:
        spec: the ``--policy`` text (``nitrogen://HOST:PORT``, ``module:callable``, ``random``).
        layout: the session's key layout (the keys a keyboard policy may press).
        keymap: the ``--keymap`` TOML that maps keys to NitroGen's pad slots (None: the default,
            docs/export.md); ``play`` runs it backwards to turn pad actions into keys.
        img_size: side of the square frame a local policy gets (NitroGen's server says its own).
        action_hz: steps per second of a local policy's answers (NitroGen's: 60 or its ``info``).
        timeout_s: longest wait for one answer before the server counts as dead.
        mouse_scale: counts of mouse motion per full right-stick deflection (as ``convert``).
        space: how a local policy's rows read: ``auto`` (by width), ``raw`` (the layout's K keys,
            optionally then dx, dy), ``nitrogen`` (25 floats), ``pad`` (21 floats).
        seed: the random policy's seed.
        output_kind: ``keyboard`` or ``gamepad``: what the output seam drives, so pad answers
            become keys (keyboard) or stay a pad state (gamepad).
    """

    spec: str
    layout: KeyLayout = DEFAULT_LAYOUT
    keymap: Path | None = None
    img_size: int = 64
    action_hz: float = 30.0
    timeout_s: float = 5.0
    mouse_scale: float = 300.0
    space: str = "auto"
    seed: int = 0
    output_kind: str = "keyboard"
    options: dict[str, Any] = field(default_factory=dict, compare=False)


class Policy(ABC):
    """A policy: :meth:`act` answers one RGB frame with the actions to take next.

    ``frame_size``: the (width, height) the frame passed to :meth:`act` must have (``play``
    squashes the whole window to it with INTER_AREA, as the NitroGen exporter does); None: the
    captured size. ``action_hz``: see the attribute.
    """

    name = "policy"
    frame_size: tuple[int, int] | None = None
    #: The rate its answers' steps run at when the policy has its own (NitroGen's server says
    #: it); None: ``play``'s ``--action-hz`` (default: the recording's ``--fps``).
    action_hz: float | None = None

    @abstractmethod
    def act(self, frame_rgb: npt.NDArray[np.uint8]) -> ActionChunk:
        """The actions for this frame (``(H, W, 3)`` uint8 RGB, C-contiguous)."""

    def describe(self) -> dict[str, Any]:
        """What identifies this policy in ``meta.json`` ``play.policy`` (JSON values only)."""
        return {"kind": self.name}

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Start a new episode (NitroGen's ``reset``; a recurrent policy's state)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sockets, models and threads."""
