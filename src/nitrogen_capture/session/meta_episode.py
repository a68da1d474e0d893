"""The ``episode`` object of ``meta.json``: where a session stands in a ``record --episodes`` run.

Each episode of a collection run is its own session (docs/format.md "episode"): every tool that
reads one session reads an episode, a crash loses at most the episode being recorded, and
discarding or re-recording one never rewrites another. This object ties the run's sessions
together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ._check import JsonObject

__all__ = ["ENDINGS", "EpisodeInfo"]

# How an episode's recording ended: its --episode-seconds ran out, a key ended it (success,
# failure, discard or re-record), or the whole run was stopped (Ctrl+C, the window closed).
ENDINGS: tuple[str, ...] = ("time", "key", "stopped")


@dataclass(frozen=True)
class EpisodeInfo:
    """One episode of a run.

    ``run`` names the run (its folder under ``--out-dir`` and start time), shared by all its
    episodes; ``index`` counts from 1; ``count`` is the run's ``--episodes`` (None: until
    stopped); ``attempt`` is 1 for a first recording and 2, 3, ... for re-recordings of the same
    index (the earlier attempts are kept, marked discarded); ``ended`` says how recording ended.
    """

    run: str
    index: int
    count: int | None
    attempt: int = 1
    ended: str = "time"

    def to_json(self) -> dict[str, Any]:
        """The ``episode`` object of meta.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, o: JsonObject) -> EpisodeInfo:
        """Parse and check."""
        return cls(o.text("run"), o.integer("index", lo=1),
                   o.integer("count", None, lo=1, nullable=True), o.integer("attempt", 1, lo=1),
                   o.text("ended", "time", choices=ENDINGS))

    def describe(self) -> str:
        """``episode 2 of 5`` (``of 5`` left out for an unlimited run; ``, attempt 2``)."""
        of = f" of {self.count}" if self.count else ""
        again = f", attempt {self.attempt}" if self.attempt > 1 else ""
        return f"episode {self.index}{of}{again}"
