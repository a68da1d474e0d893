"""One episode of a collection run, as its :class:`~.recorder.Recorder` sees it.

A run (``record --episodes``, driven by ``cli.episodes``) records each episode as a session of its
own. Between two episodes the player resets the game; that reset is the *start* of the next
session, paused with the reason ``reset``: the next recorder is already built and its encoders
warm, so recording starts on the first tick after the reset. The reset ends after
``reset_s`` or at the start hotkey.

The episode keys (keylayout.EPISODE_ACTIONS) mean two things:
- while the episode records (or is paused by the player), ``success``/``failure``/``end`` end it
  with that mark (``end``: none) and ``discard`` ends it marked discarded, to be recorded again;
- during the reset, ``success``/``failure``/``discard`` mark the episode *before* (the one just
  finished), which is how an episode that ran out of time is marked; ``discard`` there also
  makes the coming episode a re-recording of it.
Marks of the previous episode go to ``on_previous`` at once (it rewrites that session's
meta.json), so a crash later in the run keeps them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["EpisodeControl", "EpisodePlan"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodePlan:
    """What a recorder is told about its episode.

    ``seconds``: seconds of recording (pauses do not count) after which the episode ends, None for
    no limit; ``reset_s``: the reset before it (0: none, the episode starts as a normal recording
    does); ``has_previous``: whether a finished episode can be marked during the reset.
    """

    index: int
    count: int | None
    seconds: float | None
    reset_s: float
    has_previous: bool


@dataclass
class EpisodeControl:
    """The episode keys' effects, shared by the recorder (its pacer thread) and the run."""

    plan: EpisodePlan
    on_previous: Callable[[str], None] | None = None
    ended_by: str | None = None  # the episode key that ended this episode, if one did
    previous_marks: list[str] = field(default_factory=list)

    def reset_over(self, elapsed_ns: int) -> bool:
        """Whether the reset before this episode has run its time."""
        return elapsed_ns >= self.plan.reset_s * 1e9

    def episode_over(self, recorded_s: float) -> bool:
        """Whether this episode has recorded its ``--episode-seconds``."""
        return self.plan.seconds is not None and recorded_s >= self.plan.seconds - 1e-9

    def key(self, action: str, *, in_reset: bool) -> bool:
        """Apply an episode key; True when it ends this episode (the recorder then stops)."""
        if in_reset:
            if action == "end" or not self.plan.has_previous:
                log.info("episode key %s ignored before the episode starts", action)
                return False
            self.previous_marks.append(action)
            log.info("previous episode marked: %s", action)
            if self.on_previous is not None:
                self.on_previous(action)
            return False
        self.ended_by = action
        return True

    @property
    def previous_discarded(self) -> bool:
        """Whether the player discarded the previous episode during this one's reset."""
        return bool(self.previous_marks) and self.previous_marks[-1] == "discard"
