"""X11: a small override-redirect window, drawn with core X, placed outside the capture.

The window has no title (window lookups never list it), ignores the pointer where the server
has the SHAPE extension (an empty input region: clicks go to what is below), is never managed
(override-redirect: no frame, no focus) and is raised above the other windows on every update.
It lives on its own display connection and its own thread: :meth:`X11Indicator.show` and
:meth:`~X11Indicator.avoid` store the newest values and wake the thread through a pipe. The
thread waits on the connection and that pipe, repaints on ``Expose`` (a window that covered it
went away) and when the text changes, and moves the window to the first free screen corner
(:func:`~.place.corner_spot`). When the capture covers every corner it unmaps the window and
logs one warning: X11 cannot keep a window out of a grab, so there is then nowhere to draw.
Any X failure ends the thread with one warning; the recording goes on without an indicator.
A window dragged onto the indicator's corner can grab it until the move is noticed (the recorder
re-reads the window every 0.5 s, the feed posts it within 0.25 s), then the indicator moves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from typing import Any

from ..capture.base import Region
from ..errors import PlatformError
from ..xdisplay import open_x11_display
from .base import BACKGROUND, TEXT_COLOUR, Indicator, IndicatorState, dot_colour, label
from .place import corner_spot

__all__ = ["X11Indicator"]

log = logging.getLogger(__name__)

# Bold and large first; every X server has "fixed" (6x13).
_FONTS = ("-misc-fixed-bold-r-normal--18-*-*-*-*-*-iso8859-1", "9x15bold", "fixed")
_PAD = 6
_POLL_S = 1.0  # the longest the thread sleeps between two looks at the connection
WM_CLASS = "nitrogen-capture-indicator"


class X11Indicator(Indicator):
    """The indicator window on X display ``display`` (None: ``$DISPLAY``)."""

    name = "x11"

    def __init__(self, display: str | None = None) -> None:
        self._d: Any = open_x11_display(display, "the X11 indicator")
        root = self._d.screen().root
        geo = root.get_geometry()
        self.screen = Region(0, 0, int(geo.width), int(geo.height))
        self.window: Any = None
        self.spot: tuple[int, int] | None = None  # where it is shown (None: not shown)
        self.paints = 0  # how often it was drawn (tests)
        self.no_place_logged = False
        self._state: IndicatorState | None = None
        self._region: Region | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        if sys.platform != "win32":  # (this module runs on X11 only; mypy checks both)
            os.set_blocking(self._wake_w, False)
        self._setup()
        self._thread = threading.Thread(target=self._run, daemon=True, name="indicator-x11")
        self._thread.start()

    # -- any thread ---------------------------------------------------------------------------
    def show(self, state: IndicatorState) -> None:
        """Post ``state``; the indicator thread draws it."""
        with self._lock:
            self._state = state
        self._wake()

    def avoid(self, region: Region | None) -> None:
        """Post the captured rectangle; the window moves to a corner clear of it."""
        with self._lock:
            self._region = region
        self._wake()

    def close(self) -> None:
        """Destroy the window and close the connection (waits up to 2 s for the thread)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake()
        self._thread.join(timeout=2.0)

    def _wake(self) -> None:
        with self._lock:  # never a write to a closed (and perhaps reused) descriptor
            if self._wake_w < 0:
                return
            with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
                os.write(self._wake_w, b"x")

    # -- the indicator thread -----------------------------------------------------------------
    def _setup(self) -> None:
        from Xlib import X

        d = self._d
        screen = d.screen()
        cmap = screen.default_colormap

        pixels: dict[tuple[int, int, int], int] = {}

        def pixel(rgb: tuple[int, int, int]) -> int:
            if rgb not in pixels:  # one round trip per colour, not per paint
                r, g, b = rgb
                pixels[rgb] = int(cmap.alloc_color(r * 257, g * 257, b * 257).pixel)
            return pixels[rgb]

        self._pixel = pixel
        self._font = None
        for name in _FONTS:
            font = d.open_font(name)
            try:
                font.query()  # an unknown font fails here (open_font is asynchronous)
            except Exception:
                continue
            self._font = font
            break
        if self._font is None:
            raise PlatformError("the indicator found no X font (not even 'fixed')")
        info = self._font.query()
        self._ascent, self._descent = int(info.font_ascent), int(info.font_descent)
        self._char_w = max(1, int(info.max_bounds.character_width))
        self.window = screen.root.create_window(
            self.screen.right - 10, 0, 10, 10, 0, screen.root_depth, X.InputOutput,
            X.CopyFromParent, background_pixel=pixel(BACKGROUND), override_redirect=True,
            event_mask=X.ExposureMask)
        self.window.set_wm_class(WM_CLASS, WM_CLASS)
        try:  # clicks pass through (an empty input shape)
            from Xlib.ext import shape

            if d.has_extension("SHAPE"):
                self.window.shape_rectangles(shape.SO.Set, shape.SK.Input, 0, 0, 0, [])
        except Exception as exc:
            log.debug("indicator: no empty input shape (%s)", exc)
        self._gc = self.window.create_gc(font=self._font, foreground=pixel(TEXT_COLOUR),
                                         background=pixel(BACKGROUND))
        d.flush()

    def _run(self) -> None:
        shown: tuple[IndicatorState | None, Region | None] = (None, None)
        text = ""
        try:
            while not self._closed.is_set():
                expose = self._events()
                with self._lock:
                    now = (self._state, self._region)
                if now != shown:
                    state, region = now
                    if state is not None:
                        before = (text, dot_colour(shown[0]) if shown[0] else None, shown[1])
                        text = label(state)
                        self._place(text, region)  # (raises it above the others again)
                        if (text, dot_colour(state), region) != before:  # no flicker 4x/s
                            self._paint(state, text)
                    shown = now
                elif expose and shown[0] is not None and self.spot is not None:
                    self._paint(shown[0], text)
                self._d.flush()
                ready, _, _ = select.select([self._d.fileno(), self._wake_r], [], [], _POLL_S)
                if self._wake_r in ready:
                    os.read(self._wake_r, 4096)
        except Exception as exc:  # the X server went away: the recording goes on
            log.warning("indicator: stopped (%s)", exc)
        finally:
            self._teardown()

    def _events(self) -> bool:
        """Read the pending events; True when the window was (partly) uncovered."""
        from Xlib import X

        expose = False
        while self._d.pending_events():
            ev = self._d.next_event()
            if ev.type == X.Expose and ev.count == 0:
                expose = True
        return expose

    def _place(self, text: str, region: Region | None) -> None:
        from Xlib import X

        h = self._ascent + self._descent + 2 * _PAD
        w = h + len(text) * self._char_w + 2 * _PAD
        spot = corner_spot(self.screen, (w, h), region) if region is not None else None
        if spot is None:
            if self.spot is not None:
                self.window.unmap()
            if region is not None and not self.no_place_logged:
                self.no_place_logged = True
                log.warning("indicator: the capture (%s) leaves no screen corner free on this "
                            "%dx%d X screen, and X11 cannot keep a window out of a grab: no "
                            "indicator is drawn (the status line still shows the state)",
                            " ".join(map(str, region.to_list())), self.screen.width,
                            self.screen.height)
            self.spot = None
            return
        self.window.configure(x=spot[0], y=spot[1], width=w, height=h, stack_mode=X.Above)
        if self.spot is None:
            self.window.map()
        self.spot = spot

    def _paint(self, state: IndicatorState, text: str) -> None:
        if self.spot is None:
            return
        geo = self.window.get_geometry()
        w, h = int(geo.width), int(geo.height)
        gc = self._gc
        gc.change(foreground=self._pixel(BACKGROUND))
        self.window.fill_rectangle(gc, 0, 0, w, h)
        dot = h - 2 * _PAD
        gc.change(foreground=self._pixel(dot_colour(state)))
        self.window.fill_arc(gc, _PAD, _PAD, dot, dot, 0, 360 * 64)
        gc.change(foreground=self._pixel(TEXT_COLOUR))
        self.window.draw_text(gc, _PAD + dot + _PAD, _PAD + self._ascent, text)
        self.paints += 1

    def _teardown(self) -> None:
        try:
            if self.window is not None:
                self.window.destroy()
            self._d.close()
        except Exception as exc:
            log.debug("indicator: closing the display: %s", exc)
        with self._lock:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_w = -1
