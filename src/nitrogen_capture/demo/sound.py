"""The click the demo game and the calibration window play on every press they see.

A 5 ms 2 kHz burst (generated here, the same shape as the synthetic audio source's clicks) played
through ``pygame.mixer`` with a 256-sample buffer, so the game's own output latency stays small
beside what is measured. ``--sound`` picks when: ``auto`` (the default) plays when
``SDL_AUDIODRIVER`` is not ``dummy`` (the tests and headless runs set it), ``on`` plays even
then (dropping ``dummy`` so SDL finds the sound server), ``off`` never. Without a usable device
the game goes on silent after one log line.

:meth:`Clicker.click` returns the :func:`~nitrogen_capture.clock.now_ns` time it started the
click: the game logs it (``clicks_ns``), which separates the game's and SDL's output latency
from the recorder's capture latency (docs/audio.md "Measured offset").
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..clock import now_ns

__all__ = ["CLICK_HZ", "CLICK_MS", "SOUND_MODES", "Clicker", "click_samples", "wants_sound"]

log = logging.getLogger(__name__)

SOUND_MODES: tuple[str, ...] = ("auto", "on", "off")
CLICK_HZ = 2000.0
CLICK_MS = 5.0
_RATE = 48000
_BUFFER = 256  # samples: ~5 ms of SDL's own buffering at 48 kHz
_AMPLITUDE = 12000


def click_samples(rate: int = _RATE, channels: int = 2) -> np.ndarray[Any, np.dtype[np.int16]]:
    """The click as int16 ``(n, channels)``: a sine burst starting at phase 0."""
    k = np.arange(int(rate * CLICK_MS / 1000))
    mono = np.round(_AMPLITUDE * np.sin(2 * np.pi * CLICK_HZ * k / rate)).astype(np.int16)
    return np.ascontiguousarray(np.repeat(mono[:, None], channels, axis=1))


def wants_sound(mode: str) -> bool:
    """Whether ``mode`` (:data:`SOUND_MODES`) asks for sound in this environment."""
    if mode == "off":
        return False
    dummy = os.environ.get("SDL_AUDIODRIVER", "").strip().lower() == "dummy"
    if mode == "on" and dummy:
        del os.environ["SDL_AUDIODRIVER"]  # before SDL's audio starts: let it find the server
        return True
    return not dummy


class Clicker:
    """Plays the click; silent when sound is off or no device opened (see the module docstring).

    ``pygame`` is the imported module (the caller imports it lazily); the mixer is independent
    of the display, so this may be built before or after the window.
    """

    def __init__(self, pygame: Any, mode: str = "auto") -> None:
        self._pygame = pygame
        self._sound: Any = None
        if not wants_sound(mode):
            return
        try:
            pygame.mixer.pre_init(_RATE, -16, 2, _BUFFER)
            pygame.mixer.init()
            rate, _, channels = pygame.mixer.get_init()
            self._sound = pygame.sndarray.make_sound(click_samples(rate, channels))
        except (pygame.error, ValueError, TypeError) as exc:
            log.warning("no sound (%s): the game runs silent", exc)
            self._sound = None
            return
        log.info("clicks on every press: %s at %d Hz, %d-sample buffer",
                 os.environ.get("SDL_AUDIODRIVER") or "SDL's default driver", rate, _BUFFER)

    @property
    def on(self) -> bool:
        """Whether clicks are played."""
        return self._sound is not None

    def click(self) -> int | None:
        """Start the click now; the time it was started (None: silent)."""
        if self._sound is None:
            return None
        t = now_ns()
        self._sound.play()
        return t

    def close(self) -> None:
        """Stop the mixer (idempotent)."""
        if self._sound is not None:
            self._sound = None
            self._pygame.mixer.quit()
