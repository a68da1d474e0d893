"""What ``nitrogen-capture play`` hangs on a recording (docs/play.md).

A rollout is recorded by the ordinary :class:`~.recorder.Recorder`; ``play`` gives it one
:class:`PlayHooks` and the recorder calls them at fixed points, so a recording with and without a
policy is the same code path:

* ``on_event``: every listener event, before the router filters it (the takeover gate);
* ``on_start``: the session clock's ``t0_ns``, before the first frame;
* ``on_frame``: every frame as grabbed, with its stamp (on the capture thread: must be quick);
* ``rows``: the writer thread reads each row's rollout values there when it bins the row;
* ``on_stopping``: first thing when the recording stops, while the listeners still record (the
  policy releases what it holds, and the release is recorded);
* ``on_finish``: fills ``meta.json`` ``play`` before the final write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..events import InputEvent
from ..session.meta import SessionMeta
from .pipeline import RolloutRows

__all__ = ["PlayHooks"]


@dataclass(frozen=True)
class PlayHooks:
    """The recorder's calls into ``play`` (see the module docstring)."""

    rows: RolloutRows
    on_event: Callable[[InputEvent], None]
    on_start: Callable[[int], None]
    on_frame: Callable[[npt.NDArray[np.uint8], int], None]
    on_stopping: Callable[[], None]
    on_finish: Callable[[SessionMeta], None]
