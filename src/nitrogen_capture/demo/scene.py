"""The playable part of the demo game: a square that walks and jumps, an aim reticle, bullets.

Kept apart from the game loop (:mod:`nitrogen_capture.demo.game`) so the loop only deals with
events, timing, the truth overlay and the log. Drawing uses pygame primitives only; the scene
never paints into the overlay band at the top
(:func:`~nitrogen_capture.demo.markers.overlay_height`) so the truth cells stay readable.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Scene"]

_SPEED = 320.0  # px/s
_GRAVITY = 2400.0  # px/s^2
_JUMP = 900.0  # px/s
_BULLET_SPEED = 900.0


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

    def __post_init__(self) -> None:
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
        server's copying small.
        """
        surface.fill((40, 44, 52), pygame.Rect(0, self.top, self.width, self.height - self.top))
        pygame.draw.rect(surface, (90, 90, 90),
                         pygame.Rect(0, int(self.ground), self.width, self.height))
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
