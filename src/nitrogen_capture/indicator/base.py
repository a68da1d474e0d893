"""The indicator base class and the state it shows: what the recorder is doing, on screen.

A player in a full-screen game sees neither the terminal's status line nor, without an audio
player, hears the cues. The indicator is a small always-on-top mark (a coloured dot and a short
text: red ``REC 00:42  ep 2/5``, grey ``PAUSED``, blue ``RESET 0:05``) that is never in the
data: it is drawn outside the captured rectangle (X11) or excluded from every capture by the
system (Windows). :meth:`Indicator.show` only posts the newest state and returns at once; a
backend draws on its own thread, so the recorder's pacer never waits on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..capture.base import Region

__all__ = ["BACKGROUND", "DOT_COLOURS", "PHASES", "TEXT_COLOUR", "Indicator", "IndicatorState",
           "clock_text", "dot_colour", "label"]

# What the indicator can say: the recorder's phases (RecordStats.phase, with "paused" split
# out) and "reset", which an episode loop shows between two episodes.
PHASES: tuple[str, ...] = ("starting", "recording", "paused", "reset", "stopping")

# Colours (RGB). Chosen to be rare in games and absent from the bundled demo game (whose
# palette is in demo/scene.py), so the tests can scan recorded frames for them: the background
# and the dot colours must never appear in the data.
BACKGROUND = (18, 18, 23)
TEXT_COLOUR = (236, 236, 236)
DOT_COLOURS: dict[str, tuple[int, int, int]] = {
    "recording": (233, 19, 38),
    "losing": (255, 139, 3),  # recording, but losing frames (record/rates.py)
    "paused": (131, 131, 137),
    "reset": (33, 111, 254),
    "starting": (201, 171, 7),
    "stopping": (201, 171, 7),
}
_WORDS = {"starting": "STARTING", "recording": "REC", "paused": "PAUSED", "reset": "RESET",
          "stopping": "STOPPING"}


@dataclass(frozen=True)
class IndicatorState:
    """One state of the indicator.

    Attributes:
        phase: one of :data:`PHASES`.
        episode: the episode being recorded (1-based), None outside an episode loop.
        episodes: how many episodes there will be; None is unlimited.
        elapsed_s: seconds of this phase (the recording's, or the reset's).
        losing: the recording is losing frames (an amber dot and ``LOSING FRAMES``).
        text: a short addition (the pause's reason, how to start).
    """

    phase: str
    episode: int | None = None
    episodes: int | None = None
    elapsed_s: float = 0.0
    losing: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"indicator phase must be one of {', '.join(PHASES)}, "
                             f"got {self.phase!r}")


def clock_text(seconds: float) -> str:
    """``mm:ss`` under an hour, ``h:mm:ss`` from then on (negative and nan read as 0)."""
    s = int(seconds) if seconds == seconds and seconds > 0 else 0
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def label(state: IndicatorState) -> str:
    """The indicator's text: ``REC 00:42  ep 2/5``, ``PAUSED  focus``, ``RESET 00:05``."""
    parts = [_WORDS[state.phase]]
    if state.phase in ("recording", "reset"):
        parts[0] += " " + clock_text(state.elapsed_s)
    if state.episode is not None:
        parts.append(f"ep {state.episode}" + (f"/{state.episodes}" if state.episodes else ""))
    if state.losing and state.phase == "recording":
        parts.append("LOSING FRAMES")
    if state.text:
        parts.append(state.text)
    return "  ".join(parts)


def dot_colour(state: IndicatorState) -> tuple[int, int, int]:
    """The dot's colour for ``state`` (RGB)."""
    if state.losing and state.phase == "recording":
        return DOT_COLOURS["losing"]
    return DOT_COLOURS[state.phase]


class Indicator:
    """Shows the recording state to the player; this base class shows nothing (``none``).

    :meth:`show` and :meth:`avoid` may be called from any thread and return at once.
    """

    name = "none"

    def show(self, state: IndicatorState) -> None:
        """Show ``state`` (the newest one wins; nothing waits for it to be drawn)."""

    def avoid(self, region: Region | None) -> None:
        """The captured desktop rectangle, which the indicator must never cover."""

    def close(self) -> None:
        """Remove the indicator (idempotent)."""
