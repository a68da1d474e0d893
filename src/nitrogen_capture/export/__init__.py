"""Exports of a recorded session: the NitroGen ``.pt``, the NitroGen dataset chunk tree, a loader.

``convert(settings)`` runs the conversion chosen by ``settings.format`` (a
:class:`ConvertSettings`, from :mod:`.settings`); ``load(path)`` and
:class:`NitrogenDataset` read a ``.pt`` export (or its shards) back. Importing this package
imports no torch, pyarrow or PyAV: each is imported by the function that needs it.
"""

from __future__ import annotations

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
from .nitrogen import ConvertResult, Progress, SizeNote, convert_pt
from .settings import FORMATS, INPUT_SOURCES, OBS_DTYPES, ConvertSettings
from .source import FreeBytes, disk_free
from .windows import WindowPlan, plan_windows

__all__ = [
    "ACTION_SPACES",
    "FORMATS",
    "INPUT_SOURCES",
    "NITROGEN_ACTIONS",
    "OBS_DTYPES",
    "ConvertResult",
    "ConvertSettings",
    "Keymap",
    "NitrogenDataset",
    "WindowPlan",
    "action_names",
    "convert",
    "default_keymap",
    "load",
    "load_keymap",
    "map_rows",
    "plan_windows",
]


def convert(settings: ConvertSettings, *, progress: Progress | None = None,
            free_bytes: FreeBytes = disk_free, size_note: SizeNote | None = None) -> ConvertResult:
    """Convert a session as ``settings`` says (``.pt`` or ``nitrogen-dataset``).

    ``size_note(bytes, path)`` is called with the estimated output size before a ``.pt`` export
    writes anything (the dataset tree does not call it).
    """
    if settings.format == "lerobot":
        from .lerobot.writer import convert_lerobot

        return convert_lerobot(settings, progress=progress, free_bytes=free_bytes)
    if settings.format == "nitrogen-dataset":
        from .dataset_tree import convert_dataset

        return convert_dataset(settings, progress=progress, free_bytes=free_bytes)
    return convert_pt(settings, progress=progress, free_bytes=free_bytes, size_note=size_note)
