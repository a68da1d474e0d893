"""Discarded episodes: kept on disk, left out of every export unless asked.

A session whose ``labels.outcome`` is ``discarded`` (``label --outcome discarded``, or a
``record --episodes`` discard key) holds data the player rejected. ``convert`` of that one
session is refused in one line; among several sessions (LeRobot's repeated ``--root``, a batch)
it is left out with one line each, and the others are converted. ``--include-discarded``
(``ConvertSettings.include_discarded``) converts them like any other (docs/export.md).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..errors import ExportError, NitrogenCaptureError
from ..session.meta import SessionMeta
from ..session.paths import SessionPaths
from .settings import ConvertSettings

__all__ = ["DISCARDED_REASON", "drop_discarded", "is_discarded"]

log = logging.getLogger(__name__)

# Why a discarded session is not converted (a batch's summary shows it as the skip reason).
DISCARDED_REASON = "discarded (labels outcome): --include-discarded converts it"


def is_discarded(root: Path) -> bool:
    """Whether session ``root`` is labelled discarded.

    False when its meta.json cannot be read: the converter then says what is wrong with it.
    """
    try:
        return SessionMeta.load(SessionPaths(root).meta).effective_labels.discarded
    except (NitrogenCaptureError, OSError):
        return False


def drop_discarded(settings: ConvertSettings) -> ConvertSettings:
    """``settings`` without its discarded sessions (each left out with a warning line).

    Raises:
        ExportError: every session given is discarded (one line; nothing is written).
    """
    if settings.include_discarded:
        return settings
    roots = (settings.root, *settings.more_roots)
    kept = [r for r in roots if not is_discarded(r)]
    if len(kept) == len(roots):
        return settings
    if not kept:
        which = f"session {roots[0]} is" if len(roots) == 1 else \
            f"all {len(roots)} sessions given are"
        raise ExportError(f"{which} discarded (labels outcome): nothing to convert; "
                          "--include-discarded converts discarded sessions too")
    for r in roots:
        if r not in kept:
            log.warning("left out %s: %s", r, DISCARDED_REASON)
    return dataclasses.replace(settings, root=kept[0], more_roots=tuple(kept[1:]))
