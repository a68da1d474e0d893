"""The playable part of the demo game: a square that walks and jumps, an aim reticle, bullets.

With a task (``--task chase``, :mod:`nitrogen_capture.demo.task`) the square is the task's
avatar instead: it moves in two dimensions and chases a target; reticle and bullets are not drawn,
so the picture holds only what the task needs.

Kept apart from the game loop (:mod:`nitrogen_capture.demo.game`) so the loop only deals with
events, timing, the truth overlay and the log. The scene never paints into the overlay band at
the top (:func:`~nitrogen_capture.demo.markers.overlay_height`) so the truth cells stay readable.

Two looks (``--scene``):

- ``flat`` (default): a plain background and pygame primitives. Frames compress to almost
  nothing, and only the moving parts are pushed to the screen. The ground is a gravel strip
  that scrolls at a steady speed, so consecutive frames always differ somewhere like a game's
  (a scene where only a small square moves reads as a frozen camera to dataset checkers such as
  physlint's ``video.frozen_frames``, docs/export.md); its columns repeat down the strip, so it
  still compresses to almost nothing.
- ``textured``: a scrolling multi-scale noise background with textured sprites drifting over
  it, so that every frame differs and compresses like a real game (~1 MB per 1280x720 PNG),
  for measuring what the encoders cost. The noise is computed once (:func:`noise_tile`: four
  octaves of periodic value noise, 256 down to 4 px, in a tile larger than the window so no
  row repeats within a frame; ~0.3 s at start, :meth:`Scene.prepare`); a frame is then a
  handful of blits at a scroll offset, about a millisecond of CPU at 720p.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .task import TASKS, ChaseTask

__all__ = ["SCENES", "Scene", "noise_tile", "prewarm", "render_frames"]

SCENES: tuple[str, ...] = ("flat", "textured")

_SPEED = 320.0  # px/s
_GRAVITY = 2400.0  # px/s^2
_JUMP = 900.0  # px/s
_BULLET_SPEED = 900.0
_GROUND_SPEED = 240.0  # px/s: the flat scene's gravel scrolls by >= 1 px a frame up to 240 fps


@dataclass
class _Bullet:
    x: float
    y: float
    vx: float
    vy: float


@dataclass
class Scene:
    """Game state in window pixels. ``top`` is the first row below the overlay band."""

    width: int
    height: int
    top: int
    x: float = 0.0
    y: float = 0.0
    vy: float = 0.0
    aim_x: float = 0.0
    aim_y: float = 0.0
    bullets: list[_Bullet] = field(default_factory=list)
    look: str = "flat"
    seed: int = 0
    t: float = 0.0  # seconds of game time (what the backgrounds scroll with)
    task: str = "none"
    chase: ChaseTask | None = field(default=None, repr=False)  # the ``chase`` task's state
    _textured: _Textured | None = field(default=None, repr=False)
    _gravel: Any = field(default=None, repr=False)  # the flat scene's ground strip (a Surface)

    def __post_init__(self) -> None:
        if self.look not in SCENES:
            raise ValueError(f"scene must be one of {', '.join(SCENES)}, got {self.look!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.task == "chase":
            self.chase = ChaseTask(self.width, self.top, int(self.ground), seed=self.seed)
        self.x = self.width / 2
        self.y = self.ground
        self.aim_x, self.aim_y = self.width / 2, (self.top + self.height) / 2

    @property
    def ground(self) -> float:
        """The y of the player's feet when standing."""
        return self.height - 40.0

    def update(self, dt: float, held: Set[str], rel: tuple[int, int], fire: bool,
               jump: bool) -> None:
        """Advance by ``dt`` seconds with the keys held now, mouse motion and fire/jump edges."""
        self.t += dt
        if self.chase is not None:
            self.chase.update(dt, held)
        dx = (("d" in held or "right" in held) - ("a" in held or "left" in held))
        dy = (("s" in held or "down" in held) - ("w" in held or "up" in held))
        speed = _SPEED * (1.8 if "shift" in held else 1.0)
        self.x = min(max(self.x + dx * speed * dt, 20.0), self.width - 20.0)
        if jump and self.y >= self.ground:
            self.vy = -_JUMP
        self.vy += _GRAVITY * dt
        self.y = min(self.y + self.vy * dt + dy * 40.0 * dt, self.ground)
        if self.y >= self.ground:
            self.vy = 0.0
        self.aim_x = min(max(self.aim_x + rel[0], 0.0), self.width - 1.0)
        self.aim_y = min(max(self.aim_y + rel[1], float(self.top)), self.height - 1.0)
        if fire:
            vx, vy = self.aim_x - self.x, self.aim_y - (self.y - 20)
            norm = max((vx * vx + vy * vy) ** 0.5, 1e-6)
            self.bullets.append(_Bullet(self.x, self.y - 20, vx / norm * _BULLET_SPEED,
                                        vy / norm * _BULLET_SPEED))
        for b in self.bullets:
            b.x += b.vx * dt
            b.y += b.vy * dt
        self.bullets = [b for b in self.bullets
                        if 0 <= b.x < self.width and self.top <= b.y < self.height][-64:]

    def draw(self, pygame: Any, surface: Any, held: Set[str]) -> list[Any]:
        """Draw the scene below the overlay band; returns the rectangles of the moving parts.

        The caller pushes only those (and last frame's) to the screen, which keeps the X
        server's copying small. The textured scene changes everywhere: it returns the whole
        area below the overlay band.
        """
        area = pygame.Rect(0, self.top, self.width, self.height - self.top)
        if self.look == "textured":
            self.prepare(pygame)
            assert self._textured is not None
            clip = surface.get_clip()
            surface.set_clip(area)  # nothing of the scene reaches the overlay band
            try:
                self._textured.draw(pygame, surface, area, self.t)
                self._draw_actors(pygame, surface, held)
            finally:
                surface.set_clip(clip)
            return [area]
        surface.fill((40, 44, 52), area)
        return [self._draw_gravel(pygame, surface), *self._draw_actors(pygame, surface, held)]

    def _draw_gravel(self, pygame: Any, surface: Any) -> Any:
        """The flat scene's ground: random grey columns, scrolled by game time; its rect."""
        depth = self.height - int(self.ground)
        if self._gravel is None:
            # Stones of 3 to 12 px in six greys: runs that PNG's filters and deflate squeeze.
            rng = np.random.default_rng(self.seed + 1)
            runs = rng.integers(3, 13, size=2 * self.width)
            greys = rng.choice(np.arange(60, 200, 28, dtype=np.uint8), size=len(runs))
            column = np.repeat(greys, runs)[:2 * self.width]
            strip = np.repeat(column[:, None, None], depth, axis=1).repeat(3, axis=2)
            self._gravel = pygame.surfarray.make_surface(strip)  # (x, y, rgb)
        shift = int(self.t * _GROUND_SPEED) % self.width
        rect = pygame.Rect(0, int(self.ground), self.width, depth)
        surface.blit(self._gravel, rect, pygame.Rect(shift, 0, self.width, depth))
        return rect

    def prepare(self, pygame: Any) -> None:
        """Build the textured scene's background and sprites now, not at the first frame.

        Call after the window is open (the surfaces take its pixel format). Flat: nothing.
        """
        if self.look == "textured" and self._textured is None:
            self._textured = _Textured(pygame, self.width, self.height, self.seed)

    def _draw_actors(self, pygame: Any, surface: Any, held: Set[str]) -> list[Any]:
        if self.look == "textured":
            pygame.draw.rect(surface, (90, 90, 90),
                             pygame.Rect(0, int(self.ground), self.width, self.height))
        if self.chase is not None:
            return self.chase.draw(pygame, surface)
        colour = (230, 80, 60) if "rmb" in held else (80, 170, 230)
        body = pygame.Rect(int(self.x) - 20, int(self.y) - 40, 40, 40)
        pygame.draw.rect(surface, colour, body)
        dirty = [body]
        for b in self.bullets:
            dirty.append(pygame.draw.circle(surface, (250, 220, 90), (int(b.x), int(b.y)), 4))
        ax, ay = int(self.aim_x), int(self.aim_y)
        pygame.draw.circle(surface, (240, 240, 240), (ax, ay), 12, 2)
        pygame.draw.line(surface, (240, 240, 240), (ax - 16, ay), (ax + 16, ay))
        pygame.draw.line(surface, (240, 240, 240), (ax, ay - 16), (ax, ay + 16))
        dirty.append(pygame.Rect(ax - 17, ay - 17, 35, 35))
        return dirty


# (feature size in px, amplitude).
# Tuned so a 1280x720 frame is ~1 MB as PNG (tests/demo/test_demo_scene.py): the 4 px octave is
# what costs bytes; per-pixel grain on top would double them.
_OCTAVES: tuple[tuple[int, float], ...] = ((256, 1.0), (64, 0.55), (16, 0.35), (4, 0.1))
_TILE_STEP = 512


def _periodic_upsample(grid: npt.NDArray[np.float32], cell: int) -> npt.NDArray[np.float32]:
    """Bicubic upsampling of ``grid`` (gy, gx, 3) by ``cell`` px, wrapping at the edges.

    The result (gy * cell, gx * cell, 3) tiles seamlessly (OpenCV: ~10 ms for 2048x1536).
    """
    import cv2

    gy, gx = grid.shape[:2]
    pad = 2  # bicubic reads two cells either side
    wrapped = cv2.copyMakeBorder(grid, pad, pad, pad, pad, cv2.BORDER_WRAP)
    big = cv2.resize(wrapped, ((gx + 2 * pad) * cell, (gy + 2 * pad) * cell),
                     interpolation=cv2.INTER_CUBIC)
    return np.asarray(big[pad * cell:(pad + gy) * cell, pad * cell:(pad + gx) * cell],
                      dtype=np.float32)


def noise_tile(width: int, height: int, seed: int = 0) -> npt.NDArray[np.uint8]:
    """A seamlessly tiling colour noise image (height, width, 3) uint8, RGB.

    ``width`` and ``height`` must be multiples of 256 (:data:`_OCTAVES`' largest feature).
    """
    if width % 256 or height % 256:
        raise ValueError(f"noise tile {width}x{height}: sides must be multiples of 256")
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), np.float32)
    for cell, amp in _OCTAVES:
        # Mostly shared across channels (brightness), partly per channel (hue).
        grey = rng.random((height // cell, width // cell, 1), dtype=np.float32)
        tint = rng.random((height // cell, width // cell, 3), dtype=np.float32)
        acc += amp * _periodic_upsample(0.7 * grey + 0.3 * tint, cell)
    acc /= sum(a for _, a in _OCTAVES)
    palette = np.array([0.55, 0.75, 0.5], np.float32)  # a greenish, earthy look
    img = (acc - 0.5) * 2.2 + 0.5  # stretch the contrast the averaging of octaves lost
    img = img * palette * 255 + np.array([20, 10, 25], np.float32)
    out: npt.NDArray[np.uint8] = np.clip(img, 0, 255).astype(np.uint8)
    return out


@dataclass
class _Sprite:
    surface: Any
    cx: float
    cy: float
    ax: float
    ay: float
    wx: float
    wy: float
    phase: float


def _tile_size(width: int, height: int) -> tuple[int, int]:
    """The background tile: wider and taller than the window, so nothing repeats in a frame."""
    return (width // _TILE_STEP + 2) * _TILE_STEP, (height // _TILE_STEP + 2) * _TILE_STEP


@functools.lru_cache(maxsize=2)
def _cached_tile(width: int, height: int, seed: int) -> npt.NDArray[np.uint8]:
    tile = noise_tile(width, height, seed)
    tile.flags.writeable = False  # shared by every caller
    return tile


def prewarm(width: int, height: int, seed: int = 0) -> None:
    """Compute the textured background (~0.3-0.5 s) before the game opens its window.

    A window mapped before its first frame shows nothing readable: a recorder that finds it at
    once would store frames without the truth overlay. The surfaces still need the window's
    pixel format, so only the numpy part happens here.
    """
    _cached_tile(*_tile_size(width, height), seed)


class _Textured:
    """The textured scene's precomputed background tile and sprites."""

    def __init__(self, pygame: Any, width: int, height: int, seed: int) -> None:
        tw, th = _tile_size(width, height)
        rgb = _cached_tile(tw, th, seed)
        self.tile = self._surface(pygame, rgb)
        self.tw, self.th = tw, th
        rng = np.random.default_rng(seed + 1)
        self.sprites: list[_Sprite] = []
        for k in range(12):
            side = int(rng.integers(36, 96))
            x0, y0 = int(rng.integers(0, tw - side)), int(rng.integers(0, th - side))
            tint = rng.uniform(0.5, 1.6, 3).astype(np.float32)
            patch = np.clip(rgb[y0:y0 + side, x0:x0 + side] * tint, 0, 255).astype(np.uint8)
            patch[:3], patch[-3:], patch[:, :3], patch[:, -3:] = 250, 250, 250, 250  # a rim
            self.sprites.append(_Sprite(
                self._surface(pygame, patch), float(rng.uniform(0.15, 0.85) * width),
                float(rng.uniform(0.35, 0.75) * height), float(rng.uniform(60, 0.3 * width)),
                float(rng.uniform(30, 0.2 * height)), float(rng.uniform(0.3, 1.4)),
                float(rng.uniform(0.3, 1.4)) * (1 if k % 2 else -1),
                float(rng.uniform(0, 2 * math.pi))))

    @staticmethod
    def _surface(pygame: Any, rgb: npt.NDArray[np.uint8]) -> Any:
        surf = pygame.surfarray.make_surface(rgb.transpose(1, 0, 2))
        # In the window's pixel format: a blit is then a plain copy.
        return surf.convert() if pygame.display.get_surface() is not None else surf

    def draw(self, pygame: Any, surface: Any, area: Any, t: float) -> None:
        """Blit the background scrolled to time ``t`` over ``area``, then the sprites."""
        ox = int(t * 97.0) % self.tw  # px/s: a slow pan right and down
        oy = int(t * 41.0) % self.th
        for dx in (0, self.tw):
            for dy in (0, self.th):
                surface.blit(self.tile, (area.left - ox + dx, area.top - oy + dy))
        for s in self.sprites:
            x = s.cx + s.ax * math.sin(s.wx * t + s.phase)
            y = s.cy + s.ay * math.sin(s.wy * t + 2 * s.phase)
            surface.blit(s.surface, (int(x) - s.surface.get_width() // 2,
                                     int(y) - s.surface.get_height() // 2))


def render_frames(width: int, height: int, n: int, *, look: str = "textured", fps: float = 60.0,
                  seed: int = 0) -> list[npt.NDArray[np.uint8]]:
    """``n`` frames of the demo game as BGR arrays, drawn off-screen (no window, no display).

    Each has the truth overlay (frame numbers 1..n, no presses, nothing held) over the scene
    advanced by ``1/fps`` a frame, with the player walking right: what a capture of the game
    would hold, for benchmarks (``bench/run.py --scene textured``) and tests. Needs pygame.
    """
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # stdout may be a JSON report
    import pygame

    from ..keylayout import DEFAULT_LAYOUT
    from . import markers

    band_h = markers.overlay_height()
    surface = pygame.Surface((width, height))
    scene = Scene(width, height, band_h, look=look, seed=seed)
    overlay = np.zeros((band_h, width, 3), np.uint8)
    out: list[npt.NDArray[np.uint8]] = []
    for frame in range(1, n + 1):
        scene.update(1.0 / fps, {"d"}, (3, 1), frame % 10 == 0, frame % 25 == 0)
        overlay[:] = 0
        markers.draw_overlay(overlay, frame, 0, 0, len(DEFAULT_LAYOUT))
        surface.blit(pygame.surfarray.make_surface(overlay.transpose(1, 0, 2)), (0, 0))
        scene.draw(pygame, surface, {"d"})
        rgb = pygame.surfarray.pixels3d(surface)
        out.append(np.ascontiguousarray(rgb.transpose(1, 0, 2)[:, :, ::-1]))
        del rgb  # unlocks the surface
    return out
