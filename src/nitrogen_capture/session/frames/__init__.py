"""Frame stores: one class per ``frame_format`` kind of meta.json, chosen once by the registry.

>>> store = open_frame_store(root, meta.frame_format)  # doctest: +SKIP
>>> store.location(1), store.count_on_disk(1)              # doctest: +SKIP

:class:`~.base.FrameStore` is the protocol (write side for the recorder, read side for the
reader, repair, validate and export); :data:`FRAME_STORES` names the implementations. Adding a
codec or container is one module here, its tests and one line in :data:`FRAME_STORES`
(docs/format.md, "Adding a frame store"). Importing this package loads numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import SessionFormatError
from .._check import JsonObject
from ..meta_parts import FrameFormat
from ._mkv import MkvStore
from ._png import PngFolderStore
from .base import ERROR, INFO, WARNING, EncodeSettings, Finding, Frame, FrameStore, Size

__all__ = ["DEFAULT_KIND", "ERROR", "FRAME_STORES", "INFO", "WARNING", "EncodeSettings", "Finding",
           "Frame",
           "FrameStore", "MkvStore", "PngFolderStore", "Size", "frame_store_class",
           "open_frame_store"]

FRAME_STORES: dict[str, type[FrameStore]] = {
    PngFolderStore.kind: PngFolderStore,
    MkvStore.kind: MkvStore,
}
# Sessions without a frame_format entry predate it: they are the original PNG layout.
DEFAULT_KIND = PngFolderStore.kind


def frame_store_class(kind: str) -> type[FrameStore]:
    """The store registered for ``kind``; SessionFormatError naming the value otherwise."""
    try:
        return FRAME_STORES[kind]
    except KeyError:
        raise SessionFormatError(
            f"frame_format kind {kind!r} is not one this tool reads "
            f"({', '.join(FRAME_STORES)}): upgrade nitrogen-capture") from None


def open_frame_store(root: Path, frame_format: FrameFormat | Mapping[str, Any]) -> FrameStore:
    """The frame store of the session at ``root`` for its meta.json ``frame_format``.

    A plain mapping (the JSON object) is checked as :meth:`FrameFormat.from_json` checks it.
    """
    if not isinstance(frame_format, FrameFormat):
        frame_format = FrameFormat.from_json(JsonObject(dict(frame_format), "frame_format",
                                                        "frame_format"))
    return frame_store_class(frame_format.kind)(Path(root), frame_format)
