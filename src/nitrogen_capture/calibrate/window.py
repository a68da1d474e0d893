"""The calibration window: ``python -m nitrogen_capture.calibrate.window [--keys space,lmb]``.

A small pygame window that reacts to each press of a counted key or mouse button the moment the
event arrives: it increments a counter, switches its colour and redraws at once (no frame cap:
the loop blocks in ``pygame.event.wait`` and draws right after an event), so what the calibration
measures is the capture path, not a game loop's tick. The counter is drawn twice: as a barcode at
the top-left corner (:mod:`nitrogen_capture.barcode`, read back by :mod:`.measure`) and as digits
for the person (``calibrate --manual``).

Every counted press is also written to stdout as the new count, one line each (``calibrate
--manual`` follows the person's progress with it). ``--log FILE`` writes ``{"presses": N,
"clicks_ns": [...]}`` on exit (SIGTERM, SIGINT, the window closed).

``--sound on`` (``calibrate --audio``): the window also clicks as it flips
(:mod:`nitrogen_capture.demo.sound`), and ``clicks_ns`` holds when each click was started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from .. import barcode
from ..atomic import atomic_write
from ..demo.sound import SOUND_MODES, Clicker
from ..keylayout import canonical_key
from ..stopsignals import handling_stop_signals
from .measure import COUNTER_CELL

__all__ = ["CAPTION", "DEFAULT_KEYS", "WINDOW_SIZE", "main", "run_window"]

CAPTION = "NitroGen Capture latency calibration"
DEFAULT_KEYS: tuple[str, ...] = ("space", "lmb")
WINDOW_SIZE = (480, 200)
_COLOURS = ((40, 40, 160), (220, 140, 20))  # RGB, alternating with the counter's parity
_BUTTONS = {1: "lmb", 2: "mmb", 3: "rmb"}
_WAIT_MS = 100  # how often a blocked wait checks for SIGTERM


def _draw(pygame: Any, screen: Any, font: Any, count: int) -> None:
    w, h = screen.get_size()
    screen.fill(_COLOURS[count % 2])
    strip = np.zeros((COUNTER_CELL, barcode.barcode_width(COUNTER_CELL), 3), np.uint8)
    barcode.draw(strip, count % (1 << barcode.BITS), 0, 0, COUNTER_CELL)
    screen.blit(pygame.surfarray.make_surface(strip.transpose(1, 0, 2)), (0, 0))
    text = font.render(str(count), True, (255, 255, 255))
    screen.blit(text, text.get_rect(center=(w // 2, (h + COUNTER_CELL) // 2)))
    pygame.display.flip()


def run_window(keys: Sequence[str] = DEFAULT_KEYS, size: tuple[int, int] = WINDOW_SIZE,
               log_path: Path | None = None, sound: str = "off") -> int:
    """Run until closed or SIGTERM/SIGINT; returns the number of counted presses.

    ``sound``: one of :data:`~nitrogen_capture.demo.sound.SOUND_MODES` (a click per flip).
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    # The plain X11 framebuffer (XShmPutImage) draws in ~0.1 ms; a GL renderer under Xvfb is
    # Mesa's software rasteriser, milliseconds per update (demo/game.py measured it).
    os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
    import pygame

    counted = {canonical_key(k) for k in keys}
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    # Restored on the way out: a caller's own handlers come back (stopsignals.py).
    with handling_stop_signals(on_signal):
        pygame.display.init()
        pygame.font.init()
        clicker = Clicker(pygame, sound)
        clicks: list[int] = []
        count = 0
        try:
            screen = pygame.display.set_mode(size)
            pygame.display.set_caption(CAPTION)
            font = pygame.font.Font(None, 96)
            _draw(pygame, screen, font, count)
            while not stop:
                ev = pygame.event.wait(_WAIT_MS)
                if ev.type == pygame.QUIT:
                    break
                name = None
                if ev.type == pygame.KEYDOWN:
                    name = canonical_key(pygame.key.name(ev.key))
                elif ev.type == pygame.MOUSEBUTTONDOWN:
                    name = _BUTTONS.get(ev.button)
                if name in counted:
                    count += 1
                    if (t := clicker.click()) is not None:  # a click and a flip, both at once
                        clicks.append(t)
                    _draw(pygame, screen, font, count)  # at once: this is what is measured
                    sys.stdout.write(f"{count}\n")  # after drawing: calibrate --manual counts
                    sys.stdout.flush()
                elif ev.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED, pygame.NOEVENT):
                    # Idle too: a wlroots compositor casts a frame only when something is drawn,
                    # and a screencast that starts after the first draw would otherwise wait
                    # for a press that waits for its first frame (the Wayland tier's race).
                    _draw(pygame, screen, font, count)
        finally:
            clicker.close()
            pygame.display.quit()
            if log_path is not None:
                atomic_write(log_path, json.dumps({"presses": count,
                                                   "clicks_ns": clicks}).encode("utf-8"))
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m nitrogen_capture.calibrate.window``."""
    p = argparse.ArgumentParser(prog="python -m nitrogen_capture.calibrate.window",
                                description="The latency calibration window.")
    p.add_argument("--keys", default=",".join(DEFAULT_KEYS),
                   help="comma-separated keys/buttons that count (default space,lmb)")
    p.add_argument("--log", type=Path, default=None, help="write the press count here on exit")
    p.add_argument("--sound", choices=SOUND_MODES, default="off",
                   help="click on every counted press: off (default), on, auto (unless "
                        "SDL_AUDIODRIVER=dummy)")
    a = p.parse_args(argv)
    run_window([k for k in a.keys.split(",") if k.strip()], log_path=a.log, sound=a.sound)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
