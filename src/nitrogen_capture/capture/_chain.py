"""Windows' ``auto`` capture: Desktop Duplication, then WGC, then GDI, and the switch between them.

:func:`choose` tries each backend of the chain for real (open, one grab, close: the existing
one-frame try) and keeps the first that delivers; it says what it chose, and why each earlier
backend was refused, in exactly one log line (INFO when the first one works, WARNING otherwise):

    capture: Desktop Duplication refused (could not open output 0: E_NOTIMPL (0x80004001));
    Windows Graphics Capture refused (...): using GDI (mss)

The chosen source comes back wrapped in a :class:`ChainSource`, which also fails over while
recording: when a grab raises a backend's *unavailability* (a :class:`CaptureError` carrying a
one-line ``short``, raised once the library's own recovery, e.g. DXCam 0.3's re-creation after
``DXGI_ERROR_ACCESS_LOST``, gave up), it opens the next backend of the chain on the grabbing
thread, grabs one frame of the same target and, when that frame has the recording's size, hands
it on as the frame of this tick. The recorder never learns which backend grabbed: its frames keep
one size (the writer would otherwise start a new chunk) and its OS times keep coming.

Why a wrapper and not the recorder: the chain's order, what counts as a refusal and the wording
belong with the backends (this package); the recorder stays one loop over one
:class:`FrameSource`, the same for every backend and for ``record --check``. A backend asked for
by name is never wrapped: its error ends the recording as before.

What happened goes to ``meta.json`` ``capture.choice`` (docs/format.md): ``asked``, ``tried``
(the refused backends and their ``short``) and ``switches`` (``frame``, ``from``, ``to``,
``reason``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import CaptureError, ConfigError, DependencyError, PlatformError
from .base import CaptureTarget, Frame, FrameSource, FrameStamp, Region

__all__ = ["LABELS", "REFUSALS", "ChainSource", "choose", "short_reason", "try_source"]

log = logging.getLogger("nitrogen_capture.capture")  # the line users know, not this module's

#: How the line names each backend of the chain.
LABELS: dict[str, str] = {"dxgi": "Desktop Duplication", "wgc": "Windows Graphics Capture",
                          "gdi": "GDI (mss)"}
#: What refuses a backend in the chain (anything else is a bug and propagates). ConfigError
#: too: a region across two monitors is no single DXGI output's, and GDI grabs it whole.
REFUSALS: tuple[type[Exception], ...] = (CaptureError, DependencyError, ConfigError,
                                         PlatformError)
_MAX_SHORT = 160

Make = Callable[[str, CaptureTarget], FrameSource]


def short_reason(exc: BaseException) -> str:
    """The one-line reason of a refusal: the error's ``short``, else a shortened message."""
    short = getattr(exc, "short", None)
    if isinstance(short, str) and short:
        return short
    text = str(exc) or type(exc).__name__
    package = re.search(r"needs the '([^']+)' package", text)
    if isinstance(exc, DependencyError) and package:
        return f"'{package.group(1)}' is not installed"
    if isinstance(exc, DependencyError) and "not installed in this build" in text:
        return "not installed in this build"
    text = text.splitlines()[0]
    return text if len(text) <= _MAX_SHORT else text[:_MAX_SHORT - 3] + "..."


def label(name: str) -> str:
    """The backend's name in the chain's line (its registry name when it has no label)."""
    return LABELS.get(name, name)


def try_source(source: FrameSource) -> None:
    """Open ``source``, grab one frame and close it; raises what the backend raises."""
    try:
        source.open()
        source.grab()
    finally:
        source.close()


def _refusals(tried: Sequence[dict[str, str]]) -> list[str]:
    return [f"{label(t['backend'])} refused ({_unnamed(t['backend'], t['refused'])})"
            for t in tried]


def _unnamed(name: str, reason: str) -> str:
    """``reason`` without a leading name of its backend, which the line says just before it."""
    prefix = label(name) + " "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


def choose(chain: Sequence[str], target: CaptureTarget, make: Make,
           try_one: Callable[[FrameSource], None] = try_source) -> ChainSource:
    """The first backend of ``chain`` that passes a one-frame try, as a :class:`ChainSource`.

    Logs one line naming the choice and each earlier refusal. The tried source is closed and a
    fresh, unopened one is returned: the recorder opens it on its grabbing thread.

    Raises:
        CaptureError: every backend refused (one line naming each reason).
    """
    tried: list[dict[str, str]] = []
    for i, name in enumerate(chain):
        try:
            try_one(make(name, target))
            source = make(name, target)
        except REFUSALS as exc:
            log.debug("capture backend %s refused", name, exc_info=True)
            tried.append({"backend": name, "refused": short_reason(exc)})
            continue
        if tried:
            log.warning("capture: %s: using %s", "; ".join(_refusals(tried)), label(name))
        else:
            log.info("capture: using %s", label(name))
        return ChainSource(source, chain[i + 1:], make, tried)
    raise CaptureError("no capture backend works here: " + "; ".join(_refusals(tried))
                       + "; pick one with --capture-backend or $NITROGEN_CAPTURE_BACKEND, "
                       "or use --source synthetic")


def is_unavailable(exc: BaseException) -> bool:
    """True for a backend's "cannot capture here any more" (a CaptureError with a ``short``).

    Not when the error says the *target* ended (``target_ended``: WGC's window closed or its
    monitor went): another backend would grab the desktop where the window was, so the recording
    ends as with a named backend.
    """
    short = getattr(exc, "short", None)
    if not isinstance(exc, CaptureError) or not isinstance(short, str) or not short:
        return False
    return not getattr(exc, "target_ended", False)


class ChainSource(FrameSource):
    """The backend ``auto`` chose, and the rest of its chain to fail over to while recording.

    ``name``, ``details`` and the OS stamps are the current backend's; :attr:`choice` is what
    ``meta.json`` stores as ``capture.choice``.
    """

    def __init__(self, source: FrameSource, rest: Sequence[str], make: Make,
                 tried: Sequence[dict[str, str]], asked: str = "auto") -> None:
        self._inner = source
        super().__init__(source.target)
        self.name = source.name
        self._use_stamps_of(source)
        self._rest = list(rest)
        self._make = make
        self._asked = asked
        self._tried = list(tried)
        self.switches: list[dict[str, Any]] = []
        self._delivered = 0  # frames handed out since the warm-up: a switch's frame number
        # Added to the current backend's sequence numbers, so that they go on from the last
        # backend's: its first frame must not look like a repeat of the frame before.
        self._seq_shift = 0

    @property
    def inner(self) -> FrameSource:
        """The backend grabbing now."""
        return self._inner

    @property  # type: ignore[override]
    def details(self) -> dict[str, Any]:
        """The current backend's ``details`` (they change as it runs)."""
        return self._inner.details

    @details.setter
    def details(self, value: dict[str, Any]) -> None:
        del value  # FrameSource.__init__ sets {}: the chain's details are its backend's

    @property
    def choice(self) -> dict[str, Any]:
        """``meta.json`` ``capture.choice``: asked, the refused backends, the switches."""
        return {"asked": self._asked, "tried": [dict(t) for t in self._tried],
                "switches": [dict(s) for s in self.switches]}

    def _use_stamps_of(self, source: FrameSource) -> None:
        # stamp_source is a backend's class constant; the chain's is its current backend's.
        vars(self)["stamp_source"] = source.stamp_source

    # -- FrameSource hooks ---------------------------------------------------------------------
    def _open(self) -> None:
        self._inner.open()

    def warm_up(self) -> None:
        """The backend's own warm-up (a failover in it happens before frame 0)."""
        self._ready()
        try:
            self._inner.warm_up()
        except CaptureError as exc:
            if not is_unavailable(exc):
                raise
            self._switch(exc)
        self._delivered = 0

    def _grab(self) -> Frame:
        return self._grab_with(lambda source: source.grab())

    def _grab_raw(self) -> Frame:
        return self._grab_with(lambda source: source.grab_raw())

    def last_stamp(self) -> FrameStamp | None:
        """The current backend's stamp of the last frame (its numbers going on after a switch)."""
        stamp = self._inner.last_stamp()
        if stamp is None or stamp.seq is None or not self._seq_shift:
            return stamp
        return FrameStamp(stamp.os_ns, stamp.seq + self._seq_shift)

    def set_region(self, region: Region) -> None:
        """Follow the window; the current backend follows it too."""
        super().set_region(region)
        self._inner.set_region(region)

    def _close(self) -> None:
        self._inner.close()

    # -- failover ------------------------------------------------------------------------------
    def _grab_with(self, grab: Callable[[FrameSource], Frame]) -> Frame:
        try:
            frame = grab(self._inner)
        except CaptureError as exc:
            if not is_unavailable(exc):
                raise
            frame = self._switch(exc)
        self._delivered += 1
        return frame

    def _switch(self, failure: CaptureError) -> Frame:
        """Close the failed backend and open the next one that grabs a frame of this size.

        Raises:
            CaptureError: ``failure`` itself (with the refusals added) when none does.
        """
        old, reason, before = self._inner, short_reason(failure), self.last_stamp()
        try:
            old.close()
        except Exception:  # a lost device may fail to release: it is being replaced anyway
            log.debug("closing the failed %s source", old.name, exc_info=True)
        refused: list[dict[str, str]] = []
        while self._rest:
            name = self._rest.pop(0)
            try:
                source, frame = self._open_next(name)
            except REFUSALS as exc:
                refused.append({"backend": name, "refused": short_reason(exc)})
                continue
            self._take(source, old.name, reason, refused)
            after = source.last_stamp()
            self._seq_shift = 0
            if before is not None and before.seq is not None and after is not None \
                    and after.seq is not None:
                self._seq_shift = before.seq + 1 - after.seq
            return frame
        self._tried.extend(refused)
        raise CaptureError(f"{failure}; no other capture backend works: "
                           + ("; ".join(_refusals(refused)) or "none left in the chain")) \
            from failure

    def _open_next(self, name: str) -> tuple[FrameSource, Frame]:
        source = self._make(name, self.target)
        try:
            source.open()
            frame = source.grab_raw()
            got = (int(frame.shape[1]), int(frame.shape[0]))
            if got != self.region.size:
                raise CaptureError(f"its frame is {got[0]}x{got[1]}, the recording's "
                                   f"{self.region.width}x{self.region.height}")
        except BaseException:
            try:
                source.close()
            except Exception:
                log.debug("closing the refused %s source", name, exc_info=True)
            raise
        return source, frame

    def _take(self, source: FrameSource, old: str, reason: str,
              refused: list[dict[str, str]]) -> None:
        self._inner, self.name = source, source.name
        self._use_stamps_of(source)
        self.switches.append({"frame": self._delivered, "from": old, "to": source.name,
                              "reason": reason})
        self._tried.extend(refused)
        also = "".join(f"; {r}" for r in _refusals(refused))
        log.warning("capture: %s failed at frame %d (%s)%s: switched to %s", label(old),
                    self._delivered, _unnamed(old, reason), also, label(source.name))
