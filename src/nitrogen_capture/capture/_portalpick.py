"""What the user picked in the portal's dialog: one open ScreenCast session, handed on.

On a Wayland desktop that tells nobody where windows are (GNOME, KDE: no sway IPC, the game no
XWayland window) and without ``--region``, the recording cannot name its region before the
portal answers: the portal's dialog decides what is recorded. :class:`PickedStream` runs the
portal's dance **once**, while the target is resolved (its stream's size sizes the frames and
the encoder), and the :class:`~nitrogen_capture.capture._pipewire.PipeWireSource` of the
recording then reads that same session (``PipeWireConfig.picked``): the dialog shows once, not
twice.

It stands in for :class:`~nitrogen_capture.capture._portal.ScreenCastPortal` towards the
source (``start``, ``ended``, ``close``); ``start`` hands out a duplicate of the PipeWire
remote's descriptor, which the source closes as its own, so the session's one stays valid
until :meth:`close` (the target's and the source's close both end it; the second does nothing).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from typing import Any

from ..errors import CaptureError
from ._portal import MONITOR, WINDOW, PortalGrant, PortalStream, ScreenCastPortal

__all__ = ["PickedStream"]

log = logging.getLogger(__name__)

_SOURCE_TYPES = {MONITOR: "monitor", WINDOW: "window"}


class PickedStream:
    """An open portal session whose first stream the user picked (a monitor or a window).

    Args:
        reset: ignore the stored restore token, so the dialog shows (``--portal-reset``).
        pick_timeout_s: how long the dialog may stay open.
        portal: builds the portal session from its source types (tests pass one on a fake bus).

    Raises (from the constructor, which runs the dance):
        DependencyError, PlatformError, CaptureError: as
            :meth:`~nitrogen_capture.capture._portal.ScreenCastPortal.start`; CaptureError too
            when the portal does not say the stream's size.
    """

    def __init__(self, *, reset: bool = False, pick_timeout_s: float = 300.0,
                 portal: Callable[[int], Any] | None = None) -> None:
        make = portal or (lambda types: ScreenCastPortal(types, reset=reset,
                                                         pick_timeout_s=pick_timeout_s))
        self._portal: Any = make(MONITOR | WINDOW)
        self._grant: PortalGrant | None = self._portal.start()
        self.stream: PortalStream = self._grant.streams[0]
        if self.stream.size is None or min(self.stream.size) <= 0:
            self.close()
            raise CaptureError(f"the ScreenCast portal did not say the size of the picked "
                               f"stream (node {self.stream.node_id}): give --region L T R B")
        self.size: tuple[int, int] = self.stream.size
        """The stream's frame size now: the portal's, then each new frame's (the source's)."""

    @property
    def node_id(self) -> int:
        """The picked stream's PipeWire node."""
        return self.stream.node_id

    @property
    def source_type(self) -> str | None:
        """``monitor`` or ``window`` as the portal said, else None."""
        return _SOURCE_TYPES.get(self.stream.source_type or 0)

    def describe(self) -> dict[str, Any]:
        """What was picked, for meta.json's ``target.picked``."""
        return {"node_id": self.node_id, "source_type": self.source_type,
                "size": list(self.stream.size or self.size),
                "position": list(self.stream.position) if self.stream.position else None}

    # -- the ScreenCastPortal face the source uses ----------------------------------------
    def start(self) -> PortalGrant:
        """The grant, with a duplicate of the remote's descriptor for the caller to close.

        Raises:
            CaptureError: the session was closed already (a second recording of one pick).
        """
        if self._grant is None:
            raise CaptureError("the portal session of the picked stream was closed: run the "
                               "recording again to pick")
        return dataclasses.replace(self._grant, fd=os.dup(self._grant.fd))

    def ended(self) -> str | None:
        """Why the cast ended, or None (the portal session's own check)."""
        return self._portal.ended() if self._portal is not None else None

    def close(self) -> None:
        """End the portal session and close the remote's descriptor; idempotent."""
        grant, self._grant = self._grant, None
        portal, self._portal = self._portal, None
        if portal is not None:
            portal.close()
        if grant is not None:
            try:
                os.close(grant.fd)
            except OSError as exc:
                log.debug("closing the picked stream's PipeWire remote fd: %s", exc)
