"""The target on a Wayland desktop that names no windows: whatever the portal's dialog picked.

GNOME and KDE tell a program neither where a native Wayland window is nor the screen's layout
(no sway IPC; X11 on XWayland sees XWayland windows only). Recording there without ``--region``
and without window flags, :func:`picks_stream` says the portal decides, and
:func:`picked_target` opens the portal session (the dialog), so the recording's target is the
picked stream whole, ``CaptureTarget.of_stream(node, Region(0, 0, w, h))``; the pipewire source
reads that same session (``PipeWireConfig.picked``).

Focus: nothing tells whether the picked window has the keyboard, so input from devices that
see every window (evdev, X11 listeners) would include keys typed elsewhere. The privacy rule
holds by refusing such input before the dialog opens (:func:`check_input_allowed`); the target
also says ``focus_known = False``, which the evdev backend refuses on its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..capture.base import CaptureTarget, Region
from ..desktop import Desktop, detect_desktop
from ..errors import InputError
from .base import Target

if TYPE_CHECKING:
    from ..capture._portalpick import PickedStream
    from ..config import RecordConfig

__all__ = ["PickedStreamTarget", "check_input_allowed", "picked_target", "picks_stream"]

# Input backends that read no real device, so cannot record keys meant for other windows.
SAFE_INPUT = ("none", "scripted")


def _named(name: str, env_var: str, env: Mapping[str, str]) -> str:
    return (env.get(env_var, "").strip().lower() or "auto") if name == "auto" else name


def picks_stream(config: RecordConfig, desktop: Desktop | None = None,
                 env: Mapping[str, str] | None = None) -> bool:
    """Whether this recording's target is the portal's pick.

    So on a Wayland desktop without sway's IPC, with the pipewire backend, no window flags, no
    ``--region`` and no ``--monitor``.
    """
    env = os.environ if env is None else env
    desktop = detect_desktop(env) if desktop is None else desktop
    spec = config.target
    return (desktop.is_wayland and not desktop.sway_socket and not spec.is_window
            and spec.region is None and spec.monitor is None
            and _named(config.capture_backend, "NITROGEN_CAPTURE_BACKEND", env) == "pipewire")


def check_input_allowed(config: RecordConfig, desktop: Desktop,
                        env: Mapping[str, str] | None = None) -> None:
    """Refuse input that could hold other windows' keys when the portal picks (privacy).

    Raises:
        InputError: an input backend other than ``none`` (or the ``scripted`` fake).
    """
    env = os.environ if env is None else env
    name = _named(config.input_backend, "NITROGEN_INPUT_BACKEND", env)
    if name not in SAFE_INPUT:
        raise InputError(
            f"{desktop.describe()}: the portal's dialog decides what is recorded and nothing "
            "tells whether the picked window has focus, so input (" + name + ") would include "
            "keys typed into other windows (privacy): record frames only with "
            "--input-backend none, or give --region, or record a window the compositor "
            "reports (sway, XWayland)")


class PickedStreamTarget(Target):
    """The portal's picked stream, whole; owns the open session until the recording's end."""

    focus_known = False  # no compositor tells it: the evdev backend refuses (privacy)

    def __init__(self, picked: PickedStream) -> None:
        self.picked = picked

    def region(self) -> Region:
        """``(0, 0, w, h)`` of the stream's size now."""
        return Region.from_xywh(0, 0, *self.picked.size)

    def is_focused(self) -> bool:
        """Always True: frames are never paused for focus (input is refused instead)."""
        return True

    def capture_target(self) -> CaptureTarget:
        """The picked PipeWire node showing :meth:`region`."""
        return CaptureTarget.of_stream(self.picked.node_id, self.region())

    def describe(self) -> dict[str, Any]:
        """Facts for meta.json: ``backend`` ``portal`` and what was ``picked``."""
        return {"kind": "stream", "backend": "portal", "picked": self.picked.describe(),
                "region": self.region().to_list()}

    def close(self) -> None:
        """End the portal session (the source's close may have done it already)."""
        self.picked.close()


def picked_target(config: RecordConfig, desktop: Desktop | None = None, *,
                  say: Callable[[str], None] | None = None,
                  portal: Callable[[int], Any] | None = None) -> PickedStreamTarget:
    """Check the input is allowed, open the portal's dialog and return the picked target.

    ``say`` gets the one line naming what the dialog decided; ``portal`` builds the portal
    session (tests).

    Raises:
        InputError: :func:`check_input_allowed`.
        DependencyError, PlatformError, CaptureError: the portal refused or was cancelled.
    """
    from ..capture._portalpick import PickedStream

    desktop = detect_desktop() if desktop is None else desktop
    check_input_allowed(config, desktop)
    picked = PickedStream(reset=config.portal_reset, portal=portal)
    width, height = picked.size
    if say is not None:
        say(f"{desktop.describe()}: the portal's dialog decides what is recorded "
            f"({width}x{height} stream, node {picked.node_id})")
    return PickedStreamTarget(picked)
