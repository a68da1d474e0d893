"""A full disk during a batch: told apart from a damaged session, and said in one line.

A task that runs out of space is not a failed session (the next one would fail the same way):
its report says ``disk_full`` and the driver stops the batch with one
:class:`~nitrogen_capture.errors.DiskSpaceError` line naming the folder, about how much more
the batch needs and how much is free (the line every command gives, diskspace.py). The
finished parts are kept for the rerun; the merge and the manifest report a full disk the same
way (docs/export.md, "Many sessions").
"""

from __future__ import annotations

import os
from pathlib import Path

from ...diskspace import disk_full_error, is_disk_full
from .. import formats
from ..settings import ConvertSettings

__all__ = ["batch_needs", "disk_full_error", "is_disk_full", "tree_bytes"]


def _used(path: str) -> int:
    """Disk space a file or folder takes (its blocks where the OS says, else its size)."""
    st = os.lstat(path)
    blocks = getattr(st, "st_blocks", None)  # not on Windows
    return int(blocks) * 512 if blocks is not None else int(st.st_size)


def tree_bytes(path: Path) -> int:
    """Disk space of everything under ``path``, folders too (0 when it is missing)."""
    total = 0
    for top, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                total += _used(os.path.join(top, name))
            except OSError:  # removed meanwhile
                continue
    return total


def batch_needs(cs: ConvertSettings, staging: Path, frames_done: int, frames_left: int) -> int:
    """About how many more bytes the batch needs: the parts still to write, and the merge.

    Measured on the parts already staged when there are some (bytes per frame), else the
    format's own estimate (``part_bytes``). A merge that copies the parts (``.pt``) needs their
    size once more; the trees move or hard-link the parts' files.
    """
    fmt = formats.get(cs.format)
    staged = tree_bytes(staging)
    more = (staged * frames_left // frames_done if frames_done > 0 and staged > 0
            else fmt.part_bytes(cs, frames_left))
    return more + (staged + more if fmt.merge_copies else 0)
