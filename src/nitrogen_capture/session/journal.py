"""The chunk journal's records (docs/format.md, "Journal"): one typed record per line kind.

A chunk that is being recorded has a ``journal_chunk_NNN.jsonl``: one compact JSON object a
line, written by the session writer (:mod:`.writer`, fed by ``record/pipeline.py``) and read
back by crash repair (:mod:`.repair`). Both sides use these records, so the format is written
down once: :meth:`line` gives the exact bytes of a line (key order included), :func:`load_line`
and :func:`decode` read one back, checking it as data from disk.

A leaf module: it imports nothing of the session package.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..events import InputEvent

__all__ = ["BadLine", "ChunkRecord", "EventRecord", "FrameRecord", "JournalRecord",
           "PauseRecord", "ResumeRecord", "RolloutRecord", "StateRecord", "decode", "load_line"]

MAX_LINE = 1 << 16  # bytes: a journal line is a few hundred at most
_MAX_DEPTH = 8  # nesting of a journal line's JSON (a chunk line nests 2 deep)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_MAX_ROW = 1 << 40
_MAX_NAME = 64


class BadLine(ValueError):
    """A journal line that is not JSON, or does not hold what its kind needs."""


class _Record:
    """What every record has: its ``kind`` and its line."""

    kind: ClassVar[str]

    def fields(self) -> dict[str, Any]:
        """The line's fields after ``kind``, in the order they are written."""
        raise NotImplementedError

    def line(self) -> str:
        """The record as one journal line (compact JSON and a newline)."""
        return json.dumps({"kind": self.kind, **self.fields()}, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class ChunkRecord(_Record):
    """The first line: the chunk's number, first row and capture region and size.

    Read back, ``region`` and ``size`` are None when the line does not hold them as lists of 4
    and 2 integers (repair then takes the session's capture settings).
    """

    kind: ClassVar[str] = "chunk"
    chunk: int | None
    first_row: int | None
    region: list[int] | None
    size: list[int] | None

    def fields(self) -> dict[str, Any]:
        """``chunk``, ``first_row``, ``region``, ``size``."""
        return {"chunk": self.chunk, "first_row": self.first_row, "region": self.region,
                "size": self.size}


@dataclass(frozen=True)
class StateRecord(_Record):
    """The keys and buttons held when the chunk starts."""

    kind: ClassVar[str] = "state"
    held: list[str]

    def fields(self) -> dict[str, Any]:
        """``held``."""
        return {"held": self.held}


@dataclass(frozen=True)
class FrameRecord(_Record):
    """A frame captured into the chunk: its row in the chunk, its tick and time.

    When the source stamps frames (docs/format.md, "OS frame times") ``rep`` is whether it
    repeats the frame before and ``os`` its OS time (session-relative; null when the source gave
    none); both are left out otherwise (``rep`` None).
    """

    kind: ClassVar[str] = "frame"
    row: int
    index: int
    t: int
    os: int | None = None
    rep: bool | None = None

    def fields(self) -> dict[str, Any]:
        """``row``, ``index``, ``t`` (then ``os``, ``rep`` when stamped)."""
        out: dict[str, Any] = {"row": self.row, "index": self.index, "t": self.t}
        if self.rep is not None:
            out.update(os=self.os, rep=self.rep)
        return out


@dataclass(frozen=True)
class EventRecord(_Record):
    """One input event, session-relative time."""

    kind: ClassVar[str] = "event"
    event: InputEvent

    def fields(self) -> dict[str, Any]:
        """``t``, ``device``, ``code``, ``value``."""
        ev = self.event
        return {"t": ev.t_ns, "device": ev.device, "code": ev.code, "value": ev.value}


@dataclass(frozen=True)
class PauseRecord(_Record):
    """A pause starts (``reason``: what paused it)."""

    kind: ClassVar[str] = "pause"
    start_t: int
    start_tick: int
    reason: str

    def fields(self) -> dict[str, Any]:
        """``start_t``, ``start_tick``, ``reason``."""
        return {"start_t": self.start_t, "start_tick": self.start_tick, "reason": self.reason}


@dataclass(frozen=True)
class ResumeRecord(_Record):
    """The open pause ends."""

    kind: ClassVar[str] = "resume"
    end_t: int
    end_tick: int

    def fields(self) -> dict[str, Any]:
        """``end_t``, ``end_tick``."""
        return {"end_t": self.end_t, "end_tick": self.end_tick}


@dataclass(frozen=True)
class RolloutRecord(_Record):
    """A rollout row as binned (docs/format.md, "Rollouts").

    Who was in control of chunk row ``row`` (``src``, an ``ACTION_SOURCES`` index) and what the
    policy proposed: the layout
    indices of its keys (``keys``), its motion (``m``) and, with a gamepad output, its pad
    state (``pad``, 21 values; left out otherwise).
    """

    kind: ClassVar[str] = "rollout"
    row: int
    src: int
    keys: tuple[int, ...]
    m: tuple[float, float]
    pad: tuple[float, ...] | None = None

    def fields(self) -> dict[str, Any]:
        """``row``, ``src``, ``keys``, ``m`` (then ``pad``)."""
        out: dict[str, Any] = {"row": self.row, "src": self.src, "keys": list(self.keys),
                               "m": list(self.m)}
        if self.pad is not None:
            out["pad"] = list(self.pad)
        return out


JournalRecord = (ChunkRecord | StateRecord | FrameRecord | EventRecord | PauseRecord
                 | ResumeRecord | RolloutRecord)


def _reject_constant(name: str) -> Any:
    raise BadLine(f"{name} is not a number")


def load_line(raw: bytes) -> Any:
    """One journal line as JSON: too long, too deeply nested or NaN/Infinity is a ValueError."""
    if len(raw) > MAX_LINE:
        raise BadLine("line too long")
    depth = 0
    for ch in raw:  # brackets inside strings count too: a generous, cheap bound
        if ch in b"[{":
            depth += 1
            if depth > _MAX_DEPTH:
                raise BadLine("nested too deeply")
        elif ch in b"]}":
            depth -= 1
    return json.loads(raw, parse_constant=_reject_constant)


def _int(rec: dict[str, Any], key: str, lo: int = _INT64[0], hi: int = _INT64[1]) -> int:
    v = rec[key]
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise BadLine(f"{key} must be an integer in [{lo}, {hi}]")
    return v


def _num(rec: dict[str, Any], key: str) -> float:
    v = rec[key]
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(float(v)):
        raise BadLine(f"{key} must be a finite number")
    return float(v)


def _name(rec: dict[str, Any], key: str, default: str | None = None) -> str:
    v = rec.get(key, default) if default is not None else rec[key]
    if not isinstance(v, str) or len(v) > _MAX_NAME:
        raise BadLine(f"{key} must be a short string")
    return v


def _ints(value: object, length: int) -> list[int] | None:
    """A list of ``length`` integers, else None."""
    if (isinstance(value, list) and len(value) == length
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return value
    return None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chunk(rec: dict[str, Any]) -> ChunkRecord:
    # Nothing of it is required: a chunk line is only a hint (repair falls back to meta.json).
    return ChunkRecord(_opt_int(rec.get("chunk")), _opt_int(rec.get("first_row")),
                       _ints(rec.get("region"), 4), _ints(rec.get("size"), 2))


def _state(rec: dict[str, Any]) -> StateRecord:
    held = rec.get("held", [])
    if not isinstance(held, list) or not all(
            isinstance(k, str) and len(k) <= _MAX_NAME for k in held):
        raise BadLine("held must be a list of key names")
    return StateRecord(list(held))


def _frame(rec: dict[str, Any]) -> FrameRecord:
    os_t = rec.get("os")
    rep = rec.get("rep")
    if rep is not None and not isinstance(rep, bool):
        raise BadLine("rep must be true or false")
    return FrameRecord(_int(rec, "row", 0, _MAX_ROW), _int(rec, "index"), _int(rec, "t"),
                       None if os_t is None else _int(rec, "os"), rep)


def _event(rec: dict[str, Any]) -> EventRecord:
    return EventRecord(InputEvent(_int(rec, "t"), _name(rec, "device"), _name(rec, "code"),
                                  _num(rec, "value")))


def _pause(rec: dict[str, Any]) -> PauseRecord:
    return PauseRecord(_int(rec, "start_t"), _int(rec, "start_tick"),
                       _name(rec, "reason", "hotkey"))


def _resume(rec: dict[str, Any]) -> ResumeRecord:
    return ResumeRecord(_int(rec, "end_t"), _int(rec, "end_tick"))


def _floats(value: object, lo: int, hi: int) -> tuple[float, ...]:
    if (not isinstance(value, list) or not lo <= len(value) <= hi or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and abs(v) < 1e9 for v in value)):
        raise BadLine(f"must be a list of {lo}..{hi} finite numbers")
    return tuple(float(v) for v in value)


def _rollout(rec: dict[str, Any]) -> RolloutRecord:
    keys = rec.get("keys", [])
    if not isinstance(keys, list) or len(keys) > 1024 or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 1024 for k in keys):
        raise BadLine("keys must be a list of layout indices")
    m = _floats(rec.get("m"), 2, 2)
    pad = rec.get("pad")
    return RolloutRecord(_int(rec, "row", 0, _MAX_ROW), _int(rec, "src", 0, 1), tuple(keys),
                         (m[0], m[1]), None if pad is None else _floats(pad, 21, 21))


_DECODERS: dict[str, Callable[[dict[str, Any]], JournalRecord]] = {
    "chunk": _chunk, "state": _state, "frame": _frame, "event": _event, "pause": _pause,
    "resume": _resume, "rollout": _rollout}


def decode(rec: dict[str, Any]) -> JournalRecord | None:
    """The record a line's JSON object holds; None for a kind this version does not know.

    A line whose fields are missing, of the wrong type or out of range (times and ticks
    integers in int64 range, rows below 2**40, values finite, names short) raises
    :class:`BadLine` (or KeyError/TypeError/AttributeError for a malformed object).
    """
    decoder = _DECODERS.get(rec["kind"]) if isinstance(rec["kind"], str) else None
    return decoder(rec) if decoder is not None else None
