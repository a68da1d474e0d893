"""What the recorder captures: a window it follows, or a fixed region.

The recorder only talks to a :class:`Target`:

* :meth:`Target.region` - the region to grab now (the window's **client area** for windows);
* :meth:`Target.refresh` - re-resolve the geometry (window moved/resized) and return the new
  region, or ``None`` when the window is gone;
* :meth:`Target.is_focused` - whether the target has the keyboard focus *now* (called at event
  time by the input router, so it must be cheap and thread-safe);
* :meth:`Target.describe` - facts for ``meta.json``;
* :meth:`Target.capture_target` - what a capture backend is given (a region, or a window by
  handle for backends that grab windows themselves).

Window lookup backends (``_x11.py``, ``_win32.py``, ``_sway.py``) subclass :class:`WindowBackend`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ..capture.base import CaptureTarget, Region

__all__ = ["FixedRegionTarget", "Target", "WindowBackend", "WindowInfo", "x11_window_id"]


@dataclass(frozen=True)
class WindowInfo:
    """One top-level window as a window backend sees it."""

    window_id: int
    title: str
    pid: int | None
    process: str | None
    region: Region | None  # client area in desktop pixels; None when unmapped/minimised
    focused: bool = False
    # Wayland compositors (sway) say more: the shell (``xdg_shell`` for a native Wayland
    # window, ``xwayland``) and the app id (a native window's, or an XWayland one's X11 class).
    shell: str | None = None
    app_id: str | None = None
    x11_window: int | None = None  # an XWayland window's X11 id (its window_id is sway's)

    def to_dict(self) -> dict[str, Any]:
        """Facts for meta.json and --debug-list-windows (shell and app id when known)."""
        facts: dict[str, Any] = {
            "window_id": self.window_id,
            "title": self.title,
            "pid": self.pid,
            "process": self.process,
            "region": self.region.to_list() if self.region else None,
        }
        if self.shell is not None:
            facts["shell"] = self.shell
        if self.app_id is not None:
            facts["app_id"] = self.app_id
        if self.x11_window is not None:
            facts["x11_window"] = self.x11_window
        return facts


class Target(ABC):
    """A capture target the recorder follows."""

    @abstractmethod
    def region(self) -> Region:
        """The region to grab now."""

    def refresh(self) -> Region | None:
        """Re-resolve the geometry; ``None`` when the target is gone. Default: unchanged."""
        return self.region()

    def is_focused(self) -> bool:
        """Whether input goes to the target now. A fixed region is always 'focused'."""
        return True

    def describe(self) -> dict[str, Any]:
        """Facts for meta.json."""
        return {"kind": "region", "region": self.region().to_list()}

    def capture_target(self) -> CaptureTarget:
        """What the capture backend grabs now (default: :meth:`region`)."""
        return CaptureTarget.of_region(self.region())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release OS connections (default: nothing)."""


class FixedRegionTarget(Target):
    """A fixed desktop region (``--region``) or a whole monitor; never moves, always focused."""

    def __init__(self, region: Region, monitor: int | None = None) -> None:
        self._region = region
        self.monitor = monitor

    def region(self) -> Region:
        """The fixed region."""
        return self._region

    def describe(self) -> dict[str, Any]:
        """Facts for meta.json."""
        return {"kind": "region", "region": self._region.to_list(), "monitor": self.monitor}


class WindowBackend(ABC):
    """Platform window lookup: list windows, find one, read geometry and focus."""

    name: str = "windows"

    @abstractmethod
    def list_windows(self) -> list[WindowInfo]:
        """Visible top-level windows."""

    @abstractmethod
    def geometry(self, window_id: int) -> Region | None:
        """Client area of ``window_id`` in desktop pixels, ``None`` if gone or unmapped."""

    @abstractmethod
    def focused_window(self) -> int | None:
        """The window that has keyboard focus (top-level id), if known."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the display connection (default: nothing)."""


def x11_window_id(target: Target, what: str, fallback: str) -> int:
    """The X11 id of ``target``'s window, for XTEST injection (focus, pointer).

    A window found through sway's IPC carries its XWayland X id apart (its ``window_id`` is
    sway's); a native Wayland one has none, and XTEST cannot reach it.

    Args:
        target: the target to inject into.
        what: the window in the message (``the calibration target``).
        fallback: what to do instead, said when the window is a native Wayland one.

    Raises:
        TargetError: a native Wayland window, or a target that is not a window.
    """
    from ..errors import TargetError

    info = getattr(target, "info", None)
    window_id = getattr(target, "window_id", None)
    if info is not None and info.shell is not None:
        window_id = info.x11_window
        if window_id is None:
            raise TargetError(f"{what} is a native Wayland window: XTEST cannot press into it; "
                              f"{fallback}")
    if window_id is None:
        raise TargetError(f"{what} is not a window: cannot focus it")
    return int(window_id)
