"""The recorder's stop: every step runs, whatever the steps before it did.

A stop can come at any moment of a recording, its start-up included, and often not alone: when
a ``demo`` is killed its recorder gets SIGINT while its Xvfb gets SIGTERM, so the capture source,
the target window and the input listeners may all fail as they are closed. A step that raised
used to end the clean-up there, before the session writer had finished the open chunk: its
journal stayed open and ``meta.json`` said ``recording`` (docs/reliability.md, section 2). Here
each step's failure is logged and the next step runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

__all__ = ["Step", "run_steps"]

log = logging.getLogger(__name__)

# (what it stops, how): e.g. ("the capture source", source.close)
Step = tuple[str, Callable[[], object]]


def run_steps(steps: Sequence[Step]) -> list[Exception]:
    """Run every step in order; a step that raises is logged and the next one still runs.

    Returns the exceptions raised, in order. Only :class:`Exception` is caught: a
    ``KeyboardInterrupt`` (a library caller without a stop handler) still ends the stop.
    """
    failed: list[Exception] = []
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            log.warning("while stopping: closing %s failed (%s); the session is finished "
                        "all the same", what, exc or type(exc).__name__)
            log.debug("closing %s failed", what, exc_info=True)
            failed.append(exc)
    return failed
