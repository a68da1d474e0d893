"""Exports of a recorded session: the NitroGen ``.pt``, the NitroGen dataset tree, loaders.

``convert(settings)`` runs the conversion of the format ``settings.format`` names (a
:class:`ConvertSettings`, from :mod:`.settings`; the formats are in :mod:`.formats`);
``load(path)`` and :class:`NitrogenDataset` read a ``.pt`` export (or its shards) back;
:class:`StreamingDataset` gives the same windows decoded on demand from the session (or a
dataset tree), and :class:`DatasetTreeDataset` the windows of a ``nitrogen-dataset`` tree
(docs/loading.md).
Importing this package imports no torch, pyarrow or PyAV: each is imported by the function that
needs it.
"""

from __future__ import annotations

from . import formats
from .common import ConvertResult, Progress, SizeNote
from .keymap import (
    ACTION_SPACES,
    NITROGEN_ACTIONS,
    Keymap,
    action_names,
    default_keymap,
    load_keymap,
    map_rows,
)
from .loader import NitrogenDataset, load
from .settings import FORMATS, INPUT_SOURCES, OBS_DTYPES, ConvertSettings
from .source import FreeBytes, check_apart, disk_free
from .stream import StreamingDataset
from .treeload import DatasetTreeDataset
from .windows import WindowPlan, plan_windows

__all__ = [
    "ACTION_SPACES",
    "FORMATS",
    "INPUT_SOURCES",
    "NITROGEN_ACTIONS",
    "OBS_DTYPES",
    "ConvertResult",
    "ConvertSettings",
    "DatasetTreeDataset",
    "Keymap",
    "NitrogenDataset",
    "StreamingDataset",
    "WindowPlan",
    "action_names",
    "check_convert_output",
    "convert",
    "default_keymap",
    "load",
    "load_keymap",
    "map_rows",
    "plan_windows",
]


def check_convert_output(settings: ConvertSettings) -> None:
    """Refuse an ``--out`` that is not this format's to write (outputs.py), before any work.

    Inside a session or another dataset, a special file, a link, or something this tool did
    not write as this format: one line, nothing changed. Whether an existing export of ours may
    be replaced (``--overwrite``) is decided by each format, which knows its files.
    """
    formats.get(settings.format).check_output(settings)


def convert(settings: ConvertSettings, *, progress: Progress | None = None,
            free_bytes: FreeBytes = disk_free, size_note: SizeNote | None = None) -> ConvertResult:
    """Convert a session as ``settings`` says, with the format ``settings.format`` names.

    ``size_note(bytes, path)`` is called with the estimated output size before a ``.pt`` export
    writes anything (the dataset tree does not call it). A session labelled discarded is
    refused, or left out among several (:mod:`.discarded`), unless
    ``settings.include_discarded``.
    """
    from .discarded import drop_discarded

    settings = drop_discarded(settings)
    check_apart(settings.root, settings.out)  # the input is never inside the output, nor it
    check_convert_output(settings)
    return formats.get(settings.format).convert(settings, progress=progress,
                                                free_bytes=free_bytes, size_note=size_note)
