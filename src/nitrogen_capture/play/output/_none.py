"""The output that sends nothing: ``--output none``, a dry run.

The policy runs and the rollout records what it proposed (``policy_actions``), but nothing reaches
the game: a first look at what a new policy would do, and the output of ``--source synthetic``
(no display, no game).
"""

from __future__ import annotations

from .base import ActionOutput, OutputSettings

__all__ = ["NoOutput"]


class NoOutput(ActionOutput):
    """Keeps the held state like any output and sends nothing."""

    name = "none"

    def __init__(self, settings: OutputSettings) -> None:
        super().__init__(settings.layout)

    def _key(self, key: str, down: bool) -> None:
        """Nothing is sent."""

    def _move(self, dx: int, dy: int) -> None:
        """Nothing is sent."""

    def _wheel(self, axis: str, steps: float) -> None:
        """Nothing is sent."""
