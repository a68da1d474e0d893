"""What a LeRobot conversion will write: the sessions, their episodes, the rate and frame size.

Each ``--root`` is opened as an :class:`~nitrogen_capture.export.source.ExportSource`. Its
pause-free segments (:meth:`ExportSource.segments`) each get an exact grid at the dataset's rate
from the segment's first frame, with the frame each row shows and whether it repeats the row
before's (:meth:`ExportSource.grid_parts`; ``--max-repeat-frames`` cuts long repeat runs out of
a segment's grid); an episode is a whole session (its segments' grids one after the other: a
pause is cut out, not shown as a frozen picture) or, with ``--episode-per segment``, one segment
(the parts of its grid one after the other). Rows are numbered ``frame_index = 0, 1, ...`` with
``timestamp = frame_index / fps``, the constant rate LeRobot assumes.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from ...errors import ExportError
from ...session.lock import check_not_locked
from ...session.paths import SessionPaths
from ..repeats import GridPart
from ..resample import GridResampler, step_ns
from ..source import ConvertSettings, ExportSource

__all__ = ["Episode", "Plan", "capture_size", "dataset_fps", "frame_size", "plan_episodes"]

log = logging.getLogger(__name__)


@dataclass
class Episode:
    """One episode: parts of a session's segment grids (:class:`GridPart`) and its task."""

    src: ExportSource
    res: GridResampler
    parts: list[GridPart]
    task: str

    @property
    def length(self) -> int:
        """Rows (frames) of the episode."""
        return sum(len(p.grid) for p in self.parts)


@dataclass
class Plan:
    """Every episode to write, in order, at ``fps``."""

    fps: int
    episodes: list[Episode] = field(default_factory=list)
    # What --max-repeat-frames cut, over every session (None without the flag).
    repeat_cut: dict[str, Any] | None = None

    @property
    def rows(self) -> int:
        """Rows over all episodes."""
        return sum(e.length for e in self.episodes)


def dataset_fps(settings: ConvertSettings, first: ExportSource) -> int:
    """The dataset's rate: ``--fps``, else ``--action-hz``, else the first session's target."""
    if settings.fps is not None:
        return settings.fps
    if settings.action_hz is not None:
        return int(settings.action_hz)
    meta = first.reader.meta
    rate = meta.fps_target or meta.fps_achieved
    if not rate:
        raise ExportError(f"session {settings.root} records no frame rate: pass --fps")
    fps = max(1, round(rate))
    if abs(fps - rate) > 1e-6:
        log.info("the dataset runs at %d fps (the session's target is %g fps)", fps, rate)
    return fps


def _task(settings: ConvertSettings, src: ExportSource) -> str:
    """``--task``, else the session's task label, else ``Play <game>``."""
    labels = src.reader.meta.effective_labels
    if settings.task:
        return settings.task
    if labels.task.strip():
        return labels.task
    game = settings.game or labels.game or src.settings.root.name
    return f"Play {game}"


def plan_episodes(settings: ConvertSettings) -> Plan:
    """Open every session and plan its episodes (nothing is written)."""
    roots = (settings.root, *settings.more_roots)
    if len(set(r.resolve() for r in roots)) != len(roots):
        raise ExportError("the same session is given twice as --root")
    sources: list[ExportSource] = []
    for root in roots:
        # A session being recorded or merged is refused (docs/format.md, "Lock").
        check_not_locked(SessionPaths(root), "convert")
        sources.append(ExportSource(dataclasses.replace(settings, root=root, more_roots=())))
    plan = Plan(fps=dataset_fps(settings, sources[0]))
    step = step_ns(plan.fps)
    for src in sources:
        parts, cut = src.grid_parts(step)
        if not parts:
            raise ExportError(f"session {src.settings.root} has no frames to export"
                              + (" but repeated ones (--max-repeat-frames)" if cut and cut["rows"]
                                 else ""))
        if cut is not None:
            so_far = plan.repeat_cut or {**cut, "stretches": 0, "rows": 0}
            plan.repeat_cut = {**so_far, "stretches": so_far["stretches"] + cut["stretches"],
                               "rows": so_far["rows"] + cut["rows"]}
        res, task = src.resampler(), _task(settings, src)
        if settings.episode_per == "session":
            groups = [parts]
        else:  # one episode per segment: the parts a repeat cut made stay together
            groups = [list(g) for _, g in groupby(parts, key=lambda p: p.first)]
        plan.episodes.extend(Episode(src, res, g, task) for g in groups)
    return plan


def frame_size(settings: ConvertSettings, plan: Plan,
               existing: dict[str, Any] | None) -> tuple[int, int]:
    """The dataset's frame size (w, h).

    A batch's fixed ``settings.frame_size``, else ``--img-size`` squared when given, else an
    existing dataset's, else the first session's capture size (:func:`capture_size`).
    """
    from .info import VIDEO_KEY

    if settings.frame_size is not None:
        return settings.frame_size
    if settings.img_size_set:
        return settings.img_size, settings.img_size
    if existing is not None and VIDEO_KEY in existing["features"]:
        h, w = existing["features"][VIDEO_KEY]["shape"][:2]
        return int(w), int(h)
    return capture_size(plan.episodes[0].src)


def capture_size(src: ExportSource) -> tuple[int, int]:
    """A session's capture size (w, h), rounded down to even (yuv420p subsamples chroma 2x2)."""
    size = src.frame_size
    if size is None:  # an old session without capture size in meta.json: ask a frame
        size = next(iter(src.iter_frames([0], lambda img: (img.shape[1], img.shape[0]))))
    w, h = size
    return max(2, w - w % 2), max(2, h - h % 2)
