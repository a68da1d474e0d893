"""Convert a whole library of sessions at once, on this machine or on a Ray cluster.

``convert --root DIR --recursive`` (or several ``--root``, or ``--sessions FILE``) plans one task
per session (long ones cut into ``--task-frames`` stretches, :mod:`.plan`), runs the same task
function (:mod:`.tasks`) on a process pool or on Ray (:mod:`.engines`), keeps a resumable
manifest (:mod:`.manifest`, checked field by field by :mod:`.schema` and against the parts and
outputs on disk by :mod:`.reconcile`) and merges the parts into one output in a fixed order
(:mod:`.aggregate`), so every engine and worker count writes the same bytes. A full disk is one
line (:mod:`.space`). docs/export.md, "Many sessions". Ray is imported only when ``--engine ray``
runs.
"""

from __future__ import annotations

from .run import BatchProgress, BatchResult, BatchSettings, batch_paths, run_batch

__all__ = ["BatchProgress", "BatchResult", "BatchSettings", "batch_paths", "run_batch"]
