"""What a person says about a session: ``meta.json`` ``labels``.

The game, free-form notes and the controller (since the first labelled sessions), and for
collection days (``record --episodes``, docs/format.md "labels") the task the player was given,
the episode's outcome and free-form tags. ``label`` edits them afterwards; ``sessions`` filters
on them; every export carries the task and the outcome (docs/export.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._check import JsonObject

__all__ = ["CONTROLLERS", "MAX_LABEL_CHARS", "MAX_NOTES_CHARS", "MAX_TAGS", "MAX_TAG_CHARS",
           "MAX_TASK_CHARS", "OUTCOMES", "Labels", "default_controller", "default_game",
           "tag_problem"]

# The controllers a session may be labelled with (docs/format.md, "labels"); the exporters map
# them to their own vocabularies (docs/export.md).
CONTROLLERS: tuple[str, ...] = ("keyboard", "xbox", "ps")
# How an episode ended, as the player marked it. "discarded" keeps the data (nothing is ever
# deleted) but every export leaves the session out unless asked (docs/export.md).
OUTCOMES: tuple[str, ...] = ("success", "failure", "discarded")
MAX_LABEL_CHARS = 200  # a game name
MAX_NOTES_CHARS = 4000  # free-form notes: a paragraph, not a file
MAX_TASK_CHARS = 1000  # a task: an instruction a policy may be conditioned on, not an essay
MAX_TAGS = 32
MAX_TAG_CHARS = 64


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` is not a tag, or None when it is one.

    A tag is 1..64 printable characters with no comma (commas separate tags on the command line)
    and no spaces at either end.
    """
    if not tag or tag != tag.strip():
        return "must be non-empty with no spaces at either end"
    if len(tag) > MAX_TAG_CHARS:
        return f"must be at most {MAX_TAG_CHARS} characters"
    if "," in tag or not tag.isprintable():
        return "must be printable, without commas"
    return None


@dataclass(frozen=True)
class Labels:
    """What a person says about a session.

    ``game`` None means unknown (a region or synthetic recording has no process to name it).
    ``task`` "" means none was given (the exports then say ``Play <game>``); ``outcome`` None
    means not marked; ``tags`` are free-form, kept sorted and unique.
    """

    game: str | None = None
    notes: str = ""
    controller: str = "keyboard"
    task: str = ""
    outcome: str | None = None
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``labels`` object of meta.json."""
        return {"game": self.game, "notes": self.notes, "controller": self.controller,
                "task": self.task, "outcome": self.outcome, "tags": list(self.tags)}

    @classmethod
    def from_json(cls, o: JsonObject) -> Labels:
        """Parse and check (bounded strings, a known controller and outcome, valid tags)."""
        game = o.text("game", None, nullable=True)
        notes = o.text("notes", "")
        task = o.text("task", "")
        if game is not None and not (game.strip() and len(game) <= MAX_LABEL_CHARS):
            o.fail(o.path("game"), f"must be 1..{MAX_LABEL_CHARS} characters or null", game)
        if len(notes) > MAX_NOTES_CHARS:
            o.fail(o.path("notes"), f"must be at most {MAX_NOTES_CHARS} characters", notes)
        if len(task) > MAX_TASK_CHARS:
            o.fail(o.path("task"), f"must be at most {MAX_TASK_CHARS} characters", task)
        tags = o.strs("tags", ())
        if len(tags) > MAX_TAGS:
            o.fail(o.path("tags"), f"must hold at most {MAX_TAGS} tags", list(tags))
        for tag in tags:
            if (problem := tag_problem(tag)) is not None:
                o.fail(o.path("tags"), f"each tag {problem}", tag)
        return cls(game, notes, o.text("controller", "keyboard", choices=CONTROLLERS), task,
                   o.text("outcome", None, nullable=True, choices=OUTCOMES),
                   tuple(sorted(set(tags))))

    @property
    def discarded(self) -> bool:
        """Whether the player discarded this episode (exports leave it out by default)."""
        return self.outcome == "discarded"

    def describe(self) -> str:
        """``game G, controller C; task T; outcome O; tags a,b; notes: N`` (one line)."""
        notes = " ".join(self.notes.split())
        task = " ".join(self.task.split())
        return (f"game {self.game or '(unknown)'}, controller {self.controller}"
                + (f"; task: {task}" if task else "")
                + (f"; outcome {self.outcome}" if self.outcome else "")
                + (f"; tags {','.join(self.tags)}" if self.tags else "")
                + (f"; notes: {notes}" if notes else ""))


# Suffixes of executables that are not part of a game's name (``Game.exe`` -> ``Game``). Only
# these: ``python3.12`` or ``Half.Life`` keep their dots.
_EXE_SUFFIXES = (".exe", ".x86_64", ".x86", ".bin", ".app", ".sh")


def default_game(target: dict[str, Any]) -> str | None:
    """The game of a window target: its executable name without extension (None without one)."""
    process = target.get("process")
    if not isinstance(process, str) or not process.strip():
        return None  # a region, a monitor or the synthetic source: no process to name the game
    name = process.strip()
    for suffix in _EXE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[:-len(suffix)]
            break
    return name[:MAX_LABEL_CHARS]


def default_controller(gamepad: bool) -> str:
    """``xbox`` when a gamepad was recorded (XInput reports Xbox layout), else ``keyboard``."""
    return "xbox" if gamepad else "keyboard"
