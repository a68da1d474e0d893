"""The demo game's task with a score (``--task chase``): steer the avatar onto a moving target.

The avatar is a blue square steered by the layout's movement keys (WASD or the arrows, diagonals
allowed); the target is a magenta square that bounces around the playfield (the area between the
truth overlay band and the gravel strip). Touching it is a **hit**: the score goes up by one and
the target respawns elsewhere, at least a quarter of the playfield away from the avatar, with a
new direction. Every random choice comes from one seeded generator, so a seed replays the same
targets for the same inputs.

Made to be learnt from a small picture: both squares are an eighth of the window's shorter side
(at 640x480 squashed to 64x64 the avatar is ~6x8 px), in saturated colours nothing else in the
scene uses (:data:`AVATAR_RGB`, :data:`TARGET_RGB`), on the flat scene's plain background. The
target moves at half the avatar's speed, so a player who steers straight at it always catches it.

The state lives in :class:`ChaseTask` (no pygame: the tests step it directly); :meth:`draw` paints
it, with the score as text, when the game runs with pygame.
"""

from __future__ import annotations

import math
import random
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AVATAR_RGB", "TARGET_RGB", "TASKS", "ChaseTask", "TaskCounters", "movement"]

TASKS: tuple[str, ...] = ("none", "chase")

AVATAR_RGB = (40, 120, 255)
TARGET_RGB = (235, 40, 200)
_SCORE_RGB = (250, 250, 250)
AVATAR_SPEED = 320.0  # px/s along each axis
TARGET_SPEED = 160.0  # px/s: half the avatar's, a straight chase always ends in a hit


def movement(held: Set[str]) -> tuple[int, int]:
    """The (dx, dy) in {-1, 0, 1} that the held movement keys ask for (+y down)."""
    dx = int("d" in held or "right" in held) - int("a" in held or "left" in held)
    dy = int("s" in held or "down" in held) - int("w" in held or "up" in held)
    return dx, dy


@dataclass(frozen=True)
class TaskCounters:
    """What the game's ``--log`` JSON says of the task (``task``): name, hits, seconds played.

    ``hits_ns``: when each hit happened, on :func:`nitrogen_capture.clock.now_ns` (the
    recorder's clock), so the hits inside a recording's span can be counted.
    """

    name: str
    hits: int
    seconds: float
    hits_ns: tuple[int, ...] = ()

    @property
    def hits_per_minute(self) -> float:
        """Hits per minute of game time (0 before any time passed)."""
        return self.hits * 60.0 / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the log's ``task`` key."""
        return {"name": self.name, "hits": self.hits, "seconds": round(self.seconds, 3),
                "hits_per_minute": round(self.hits_per_minute, 3), "hits_ns": list(self.hits_ns)}


@dataclass
class ChaseTask:
    """The chase task in window pixels; the playfield spans rows ``top`` to ``bottom``.

    ``x``/``y`` and ``tx``/``ty`` are the centres of the avatar and the target.
    """

    width: int
    top: int
    bottom: int
    seed: int = 0
    hits: int = 0
    seconds: float = 0.0
    hits_ns: list[int] = field(default_factory=list)  # filled by the caller, who has a clock
    x: float = 0.0
    y: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _font: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.bottom - self.top < 2 * self.side or self.width < 2 * self.side:
            raise ValueError(f"playfield {self.width}x{self.bottom - self.top} is too small "
                             f"for the chase task")
        self._rng.seed(self.seed)
        self.x, self.y = self.width / 4, (self.top + self.bottom) / 2
        self._respawn()

    @property
    def side(self) -> int:
        """Side of the avatar and of the target in px (an eighth of the shorter window side)."""
        return max(24, min(self.width, self.bottom) // 8)

    @property
    def counters(self) -> TaskCounters:
        """The score so far."""
        return TaskCounters("chase", self.hits, self.seconds, tuple(self.hits_ns))

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        h = self.side / 2
        return (min(max(x, h), self.width - h), min(max(y, self.top + h), self.bottom - h))

    def _respawn(self) -> None:
        h = self.side / 2
        far = min(self.width, self.bottom - self.top) / 4
        for _ in range(100):  # nearly always the first draw; the bound only ends the loop
            tx = self._rng.uniform(h, self.width - h)
            ty = self._rng.uniform(self.top + h, self.bottom - h)
            if math.hypot(tx - self.x, ty - self.y) >= far:
                break
        angle = self._rng.uniform(0, 2 * math.pi)
        self.tx, self.ty = tx, ty
        self.vx, self.vy = TARGET_SPEED * math.cos(angle), TARGET_SPEED * math.sin(angle)

    def touching(self) -> bool:
        """Whether the avatar's square overlaps the target's."""
        return abs(self.x - self.tx) < self.side and abs(self.y - self.ty) < self.side

    def update(self, dt: float, held: Set[str]) -> bool:
        """Advance ``dt`` seconds with the keys held now; True when this step scored a hit."""
        self.seconds += dt
        dx, dy = movement(held)
        self.x, self.y = self._clamp(self.x + dx * AVATAR_SPEED * dt,
                                     self.y + dy * AVATAR_SPEED * dt)
        h = self.side / 2
        tx, ty = self.tx + self.vx * dt, self.ty + self.vy * dt
        if not h <= tx <= self.width - h:  # bounce off the playfield's walls
            self.vx = -self.vx
        if not self.top + h <= ty <= self.bottom - h:
            self.vy = -self.vy
        self.tx, self.ty = self._clamp(tx, ty)
        if self.touching():
            self.hits += 1
            self._respawn()
            return True
        return False

    def draw(self, pygame: Any, surface: Any) -> list[Any]:
        """Paint the target, the avatar and the score; returns their rectangles."""
        s = self.side
        target = pygame.Rect(int(self.tx) - s // 2, int(self.ty) - s // 2, s, s)
        avatar = pygame.Rect(int(self.x) - s // 2, int(self.y) - s // 2, s, s)
        pygame.draw.rect(surface, TARGET_RGB, target)
        pygame.draw.rect(surface, AVATAR_RGB, avatar)
        if self._font is None:
            pygame.font.init()
            self._font = pygame.font.Font(None, 32)  # pygame's bundled font: no system fonts
        text = self._font.render(f"hits {self.hits}", True, _SCORE_RGB)
        score = surface.blit(text, (self.width - text.get_width() - 8, self.top + 6))
        return [target, avatar, score]
