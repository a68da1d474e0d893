"""The bundled demo game: ``python -m nitrogen_capture.demo.game [--size 1280x720] [--fps 60]``.

A small pygame game that reacts to the default layout's keys and the mouse (WASD/arrows walk,
space jumps, shift runs, the mouse moves an aim reticle by relative motion, lmb shoots, rmb
recolours) and draws its own truth into every frame (:mod:`nitrogen_capture.demo.markers`): its
frame number, its total key-press counter and one held/not-held cell per layout key. Tests read
that truth back from captured pixels and compare it with what the recorder logged.

A key is shown as held while it is down, and also for ``--latch-ms`` after each press: a tap
shorter than a frame would otherwise never reach the screen, while the recorder (which latches
presses inside a frame interval) does log it.

F9 toggles the pointer grab (SDL relative mouse mode, where motion comes from XInput2 raw events);
``--grab-after S`` grabs after S seconds. ``--log FILE`` writes, on exit and on SIGTERM, a JSON of
what the game saw: per-key press counts, relative motion sums (all / while grabbed), the frame
count and per-frame records (frame number, drawn marker mask, monotonic ns of the state the
mask shows: taken right after the frame's events were processed), the keys and buttons it sees
held when it ends (``held_at_exit``: what a policy that stopped must not leave behind) and, with
``--task chase`` (:mod:`nitrogen_capture.demo.task`), the task's counters (``task``: name, hits,
seconds of game time, hits per minute, the ``now_ns`` time of each hit; null without a
task). ``--seed`` seeds the task.

``--sound auto|on|off`` (:mod:`nitrogen_capture.demo.sound`): a 5 ms click on every key or button
press the game sees, when sound is available (``auto``: unless ``SDL_AUDIODRIVER=dummy``); the
log's ``clicks_ns`` holds the ``now_ns`` time each click was started (empty when silent).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..clock import now_ns
from ..keylayout import DEFAULT_LAYOUT, KeyLayout, canonical_key, load_layout
from . import markers
from .scene import SCENES, Scene, prewarm
from .sound import SOUND_MODES, Clicker
from .task import TASKS, TaskCounters

__all__ = ["CAPTION", "GAME_LABEL", "GRAB_TOGGLE_KEY", "main", "parse_size", "run_game"]

log = logging.getLogger(__name__)

CAPTION = "NitroGen Capture demo game"
# The game label (meta.json labels.game) of the demo's recordings: its process is python3.
GAME_LABEL = "nitrogen-demo"
GRAB_TOGGLE_KEY = "f9"
_MOUSE_BUTTONS = {1: "lmb", 2: "mmb", 3: "rmb", 8: "mb4", 9: "mb5"}


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``1280x720``)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from exc
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return w, h


def _key_names(pygame: Any) -> dict[int, str]:
    """Key codes of pygame whose pygame name differs from our canonical key name."""
    return {
        pygame.K_SPACE: "space", pygame.K_LSHIFT: "shift", pygame.K_RSHIFT: "shift",
        pygame.K_LCTRL: "ctrl", pygame.K_RCTRL: "ctrl", pygame.K_LALT: "alt",
        pygame.K_RALT: "alt", pygame.K_BACKSPACE: "backspace", pygame.K_ESCAPE: "esc",
        pygame.K_RETURN: "enter", pygame.K_KP_ENTER: "enter", pygame.K_UP: "up",
        pygame.K_DOWN: "down", pygame.K_LEFT: "left", pygame.K_RIGHT: "right",
    }


class _Truth:
    """What the game saw, written as JSON by ``--log``."""

    def __init__(self, layout: KeyLayout, latch_ns: int) -> None:
        self.layout = layout
        self.latch_ns = latch_ns
        self.presses: dict[str, int] = {k: 0 for k in layout.keys}
        self.other_presses: dict[str, int] = {}
        self.rel_all = [0, 0]
        self.rel_grabbed = [0, 0]
        self.grab_changes: list[tuple[int, bool]] = []
        self.frames: list[int] = []
        self.masks: list[int] = []
        self.times: list[int] = []
        self.held_at_exit: list[str] = []
        self.task: TaskCounters | None = None
        self.clicks_ns: list[int] = []

    @property
    def total_presses(self) -> int:
        return sum(self.presses.values())

    def count_press(self, name: str) -> None:
        if name in self.presses:
            self.presses[name] += 1
        else:
            self.other_presses[name] = self.other_presses.get(name, 0) + 1

    def write(self, path: Path) -> None:
        data = {
            "layout": list(self.layout.keys),
            "frames": len(self.frames),
            "latch_ns": self.latch_ns,
            "presses": self.presses,
            "total_presses": self.total_presses,
            "other_presses": self.other_presses,
            "mouse_rel_all": self.rel_all,
            "mouse_rel_grabbed": self.rel_grabbed,
            "grab_changes": [[t, g] for t, g in self.grab_changes],
            "held_at_exit": self.held_at_exit,
            "task": None if self.task is None else self.task.to_json(),
            "clicks_ns": self.clicks_ns,
            "records": {"frame": self.frames, "held_mask": self.masks, "t_ns": self.times},
        }
        atomic_write(path, json.dumps(data).encode("utf-8"))  # a reader never sees half a log


def run_game(size: tuple[int, int] = (1280, 720), fps: float = 60.0, seconds: float = 0.0,
             log_path: Path | None = None, grab_after: float | None = None,
             latch_ms: float = 20.0, layout: KeyLayout = DEFAULT_LAYOUT,
             scene: str = "flat", task: str = "none", seed: int = 0,
             sound: str = "auto") -> int:
    """Run the game until the window is closed, SIGTERM/SIGINT, or ``seconds`` elapsed.

    ``scene``: ``flat`` or ``textured`` (:mod:`nitrogen_capture.demo.scene`); ``task``: ``none``
    or ``chase`` (:mod:`nitrogen_capture.demo.task`), seeded by ``seed``; ``sound``: one of
    :data:`~nitrogen_capture.demo.sound.SOUND_MODES` (the click on every press).
    """
    if scene not in SCENES:
        raise SystemExit(f"--scene must be one of {', '.join(SCENES)}, got {scene}")
    if task not in TASKS:
        raise SystemExit(f"--task must be one of {', '.join(TASKS)}, got {task}")
    if sound not in SOUND_MODES:
        raise SystemExit(f"--sound must be one of {', '.join(SOUND_MODES)}, got {sound}")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    # SDL would otherwise back the window surface with an OpenGL renderer, which under Xvfb is
    # Mesa's software rasteriser: ~5 ms of CPU per update even for a 10x10 rect. The plain X11
    # framebuffer (XShmPutImage) costs ~0.1 ms and leaves the CPU to the recorder.
    # SDL's Wayland driver has no such framebuffer and fails set_mode with it: a native Wayland
    # run (SDL_VIDEODRIVER=wayland) keeps SDL's renderer.
    if os.environ.get("SDL_VIDEODRIVER", "").strip().lower() != "wayland":
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
    import pygame

    width, height = size
    need = markers.overlay_width(len(layout))
    if width < need or height < markers.overlay_height() + 80:
        raise SystemExit(f"--size {width}x{height} is too small: the game needs at least "
                         f"{need}x{markers.overlay_height() + 80}")
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True  # the loop ends at the next frame and writes the log

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if scene == "textured":
        prewarm(width, height)  # before the window exists: its first frame must come at once
    pygame.display.init()
    clicker = Clicker(pygame, sound)
    try:
        # SDL2's X11 driver sets _NET_WM_PID (and WM_CLASS) on its windows itself.
        screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(CAPTION)
        return _loop(pygame, screen, layout, fps, seconds, log_path, grab_after,
                     int(latch_ms * 1e6), lambda: stop, scene, task, seed, clicker)
    finally:
        clicker.close()
        pygame.display.quit()


def _loop(pygame: Any, screen: Any, layout: KeyLayout, fps: float, seconds: float,
          log_path: Path | None, grab_after: float | None, latch_ns: int,
          stopped: Any, look: str = "flat", task: str = "none", seed: int = 0,
          clicker: Clicker | None = None) -> int:
    names = _key_names(pygame)
    truth = _Truth(layout, latch_ns)
    width, height = screen.get_size()
    band_h = markers.overlay_height()
    scene = Scene(width, height, band_h, look=look, seed=seed, task=task)
    scene.prepare(pygame)  # the textured background, before the first frame
    overlay = np.zeros((band_h, width, 3), np.uint8)
    band = pygame.Rect(0, 0, width, band_h)
    last_dirty: list[Any] = []
    # The frame is pushed whole when the window system lost what the window showed (another
    # window over it went away: an expose), else only what changed (below).
    exposed = {getattr(pygame, name) for name in ("VIDEOEXPOSE", "WINDOWEXPOSED")
               if hasattr(pygame, name)}
    repaint = True  # the first frame
    held: set[str] = set()
    last_press: dict[str, int] = {}
    grabbed = False
    clock = pygame.time.Clock()
    start = now_ns()
    frame = 0

    def set_grab(on: bool) -> None:
        nonlocal grabbed
        # Hidden cursor + grab puts SDL2 in relative mouse mode (XInput2 raw motion on X11).
        pygame.mouse.set_visible(not on)
        pygame.event.set_grab(on)
        grabbed = on
        truth.grab_changes.append((now_ns(), on))

    def on_key(name: str, pressed: bool) -> bool:
        """Track a key or button; returns ``pressed`` (so the caller reacts to presses only)."""
        if not pressed:
            held.discard(name)
            return False
        truth.count_press(name)
        held.add(name)
        last_press[name] = now_ns()
        if clicker is not None and (t := clicker.click()) is not None:
            truth.clicks_ns.append(t)
        return True

    try:
        while not stopped():
            now = now_ns()
            if seconds and now - start >= seconds * 1e9:
                break
            if grab_after is not None and not grabbed and now - start >= grab_after * 1e9:
                grab_after = None
                set_grab(True)
            rel = [0, 0]
            fire = jump = False
            for ev in pygame.event.get():
                if ev.type == pygame.QUIT:
                    return 0
                if ev.type in exposed:
                    repaint = True
                if ev.type in (pygame.KEYDOWN, pygame.KEYUP):
                    name = names.get(ev.key) or canonical_key(pygame.key.name(ev.key))
                    if on_key(name, ev.type == pygame.KEYDOWN):
                        jump |= name == "space"
                        if name == GRAB_TOGGLE_KEY:
                            set_grab(not grabbed)
                elif ev.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
                    name = _MOUSE_BUTTONS.get(ev.button, f"mb{ev.button}")
                    if on_key(name, ev.type == pygame.MOUSEBUTTONDOWN):
                        fire |= name == "lmb"
                elif ev.type == pygame.MOUSEMOTION:
                    rel[0] += ev.rel[0]
                    rel[1] += ev.rel[1]
            truth.rel_all[0] += rel[0]
            truth.rel_all[1] += rel[1]
            if grabbed:
                truth.rel_grabbed[0] += rel[0]
                truth.rel_grabbed[1] += rel[1]
            scene.update(clock.get_time() / 1000.0, held, (rel[0], rel[1]), fire, jump)
            if scene.chase is not None and len(scene.chase.hits_ns) < scene.chase.hits:
                scene.chase.hits_ns.append(now_ns())  # this frame scored
            now = now_ns()
            mask = 0
            for k, key in enumerate(layout.keys):
                if key in held or now - last_press.get(key, -latch_ns - 1) <= latch_ns:
                    mask |= 1 << k
            frame += 1
            truth.frames.append(frame)
            truth.masks.append(mask)
            truth.times.append(now)  # the state the mask shows is the state at `now`
            overlay[:] = 0
            markers.draw_overlay(overlay, frame, truth.total_presses, mask, len(layout))
            screen.blit(pygame.surfarray.make_surface(overlay.transpose(1, 0, 2)), (0, 0))
            dirty = scene.draw(pygame, screen, held)
            if repaint:
                pygame.display.flip()
                repaint = False
            else:  # only what changed: the overlay band and the moving parts, old and new
                pygame.display.update([band, *dirty, *last_dirty])
            last_dirty = dirty
            clock.tick(fps)
    finally:
        if log_path is not None:
            # Presses and releases already queued when the stop came still reached the game:
            # held_at_exit is what it holds once they are in (a release sent just before a
            # SIGTERM must not read as a stuck key).
            for ev in pygame.event.get((pygame.KEYDOWN, pygame.KEYUP, pygame.MOUSEBUTTONDOWN,
                                        pygame.MOUSEBUTTONUP)):
                if ev.type in (pygame.KEYDOWN, pygame.KEYUP):
                    on_key(names.get(ev.key) or canonical_key(pygame.key.name(ev.key)),
                           ev.type == pygame.KEYDOWN)
                else:
                    on_key(_MOUSE_BUTTONS.get(ev.button, f"mb{ev.button}"),
                           ev.type == pygame.MOUSEBUTTONDOWN)
            truth.held_at_exit = sorted(held)
            truth.task = None if scene.chase is None else scene.chase.counters
            truth.write(log_path)
            log.info("demo game log written to %s (%d frames)", log_path, frame)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m nitrogen_capture.demo.game``."""
    p = argparse.ArgumentParser(prog="python -m nitrogen_capture.demo.game",
                                description="NitroGen Capture's demo game (truth overlay).")
    p.add_argument("--size", type=parse_size, default=(1280, 720), help="WxH (default 1280x720)")
    p.add_argument("--fps", type=float, default=60.0, help="frame rate cap (default 60)")
    p.add_argument("--seconds", type=float, default=0.0, help="quit after S seconds (0 = never)")
    p.add_argument("--log", type=Path, default=None, help="write the truth JSON here on exit")
    p.add_argument("--grab-after", type=float, default=None, metavar="S",
                   help=f"grab the pointer after S seconds ({GRAB_TOGGLE_KEY} toggles it)")
    p.add_argument("--latch-ms", type=float, default=20.0,
                   help="show a pressed key as held for at least this long (default 20)")
    p.add_argument("--layout", type=Path, default=None, help="layout TOML (default: built in)")
    p.add_argument("--scene", choices=SCENES, default="flat",
                   help="flat = plain background (default); textured = scrolling noise and "
                        "sprites, every frame differs (~1 MB per 720p PNG)")
    p.add_argument("--task", choices=TASKS, default="none",
                   help="none (default); chase = steer the blue square onto the magenta one "
                        "with WASD/arrows, hits counted on screen and in --log")
    p.add_argument("--seed", type=int, default=0, help="seed of the task's target (default 0)")
    p.add_argument("--sound", choices=SOUND_MODES, default="auto",
                   help="a click on every press: auto (default: unless SDL_AUDIODRIVER=dummy), "
                        "on, off")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    layout = load_layout(a.layout) if a.layout else DEFAULT_LAYOUT
    return run_game(a.size, a.fps, a.seconds, a.log, a.grab_after, a.latch_ms, layout,
                    a.scene, a.task, a.seed, a.sound)


if __name__ == "__main__":
    raise SystemExit(main())
