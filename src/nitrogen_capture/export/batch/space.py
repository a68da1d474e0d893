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
from ..nitrogen import pt_size_estimate
from ..settings import ConvertSettings

__all__ = ["batch_needs", "disk_full_error", "is_disk_full", "tree_bytes"]

_NITROGEN_DIM = 25  # the action width of --action-space nitrogen, for an estimate


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


def _prior(cs: ConvertSettings, frames: int) -> int:
    """Bytes of the parts of ``frames`` frames, before any part was measured."""
    if cs.format == "pt":
        return pt_size_estimate(frames, cs.img_size, cs.obs_dtype, cs.seq_len, _NITROGEN_DIM)
    if cs.format == "lerobot":
        from ..lerobot.writer import _VIDEO_BYTES_PER_PIXEL as per_pixel

        w, h = cs.frame_size or (1280, 720)
        return int(frames * (w * h * per_pixel + 200))
    from ..dataset_tree import _VIDEO_BYTES_PER_PIXEL as per_pixel

    return int(frames * (64 + (1280 * 720 * per_pixel if cs.video else 0)))


def batch_needs(cs: ConvertSettings, staging: Path, frames_done: int, frames_left: int) -> int:
    """About how many more bytes the batch needs: the parts still to write, and the merge.

    Measured on the parts already staged when there are some (bytes per frame), else the
    formats' own estimates. A ``.pt`` merge copies every part into the output, so it needs
    their size once more; the trees move or hard-link the parts' files.
    """
    staged = tree_bytes(staging)
    more = (staged * frames_left // frames_done if frames_done > 0 and staged > 0
            else _prior(cs, frames_left))
    return more + (staged + more if cs.format == "pt" else 0)
