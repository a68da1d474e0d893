"""The checks and figures of a ``play`` rollout, for ``validate`` (docs/format.md, "Rollouts").

The chunk check (:mod:`.chunkcheck`) already requires every rollout array of every chunk (the
reader's ``array_names()`` lists them for a rollout). Here, over the included chunks:

* ``action_source`` holds only 0 (human) and 1 (policy);
* ``play.stats`` ``policy_rows`` / ``human_rows`` equal the counts in the arrays;
* ``play.takeovers`` are ordered, each ends after it starts, none overlaps the next, and each lies
  within the session's time span (one frame period of slack at either end);
* who had control agrees with the takeovers, exactly as the recorder labels rows: a row covers
  ``(t[i-1], t[i]]`` (the first row one period before its frame) and is human when, and only
  when, that interval overlaps a takeover. A silent mislabel either way fails.

All of these are errors (a rollout that fails them would train on the wrong source), but in a
session crash repair recovered, counts and labels that disagree are warnings: its ``play``
figures and takeovers are those of the last ``meta.json`` written before the crash.
:func:`play_stats` gives ``validate --json``'s ``stats.play``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..rows import ACTION_SOURCES, SOURCE_HUMAN, SOURCE_POLICY
from .frames import ERROR, WARNING
from .meta_play import PlayInfo, Takeover

__all__ = ["control_problems", "play_stats", "rollout_problems", "row_spans"]

I64 = npt.NDArray[np.int64]


def row_spans(timestamps: npt.ArrayLike, period_ns: int) -> tuple[I64, I64]:
    """Each row's interval as inclusive integer ns ``[lo, hi]``: ``(t[i-1], t[i]]``.

    The first row's interval starts one ``period_ns`` before its frame.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    lo = np.empty_like(ts)
    if len(ts):
        lo[0] = ts[0] - period_ns + 1
        lo[1:] = ts[:-1] + 1
    return lo, ts


def _ends(takeovers: tuple[Takeover, ...], last_ns: int) -> I64:
    """Each takeover's end; one still open at the end runs to ``last_ns``."""
    return np.array([last_ns if t.end_ns is None else t.end_ns for t in takeovers], np.int64)


def control_problems(source: npt.NDArray[Any], timestamps: npt.ArrayLike,
                     takeovers: tuple[Takeover, ...], period_ns: int) -> list[str]:
    """Rows whose source disagrees with the takeovers (module docstring), as messages."""
    ts = np.asarray(timestamps, dtype=np.int64)
    if not len(ts):
        return []
    lo, hi = row_spans(ts, period_ns)
    starts = np.array([t.start_ns for t in takeovers], np.int64)
    ends = _ends(takeovers, max(int(ts[-1]), int(starts.max()) if len(starts) else 0))
    # (rows, takeovers) tables: a few thousand rows by a few takeovers.
    # A takeover [start, end) overlaps (t[i-1], t[i]] when start <= t[i] and end > t[i-1].
    overlaps = ((starts[None, :] <= hi[:, None]) & (lo[:, None] <= ends[None, :])).any(axis=1)
    out = []
    wrong = np.flatnonzero(overlaps & (source != SOURCE_HUMAN))
    if len(wrong):
        out.append(f"{len(wrong)} row(s) overlapping a takeover are not marked human (first "
                   f"merged row {int(wrong[0])}, t {int(ts[wrong[0]])} ns)")
    lonely = np.flatnonzero(~overlaps & (source == SOURCE_HUMAN))
    if len(lonely):
        out.append(f"{len(lonely)} human row(s) overlap no takeover in meta.json play.takeovers "
                   f"(first merged row {int(lonely[0])}, t {int(ts[lonely[0]])} ns)")
    return out


def _takeover_problems(takeovers: tuple[Takeover, ...], first_ns: int, last_ns: int,
                       period_ns: int) -> list[str]:
    out = []
    for i, t in enumerate(takeovers):
        if t.end_ns is not None and t.end_ns < t.start_ns:
            out.append(f"takeover {i} ends ({t.end_ns}) before it starts ({t.start_ns})")
        if t.start_ns < first_ns - period_ns or (t.end_ns or t.start_ns) > last_ns + period_ns:
            out.append(f"takeover {i} ({t.start_ns}..{t.end_ns} ns) lies outside the session "
                       f"({first_ns}..{last_ns} ns)")
        if i and (takeovers[i - 1].end_ns is None or t.start_ns < takeovers[i - 1].start_ns
                  or t.start_ns < (takeovers[i - 1].end_ns or 0)):
            out.append(f"takeover {i} starts at {t.start_ns} ns, before takeover {i - 1} has "
                       "ended: takeovers must be ordered and must not overlap")
    return out


def rollout_problems(play: PlayInfo, source: npt.NDArray[Any], timestamps: npt.ArrayLike,
                     period_ns: int, *, whole: bool,
                     recovered: bool = False) -> list[tuple[str, str, str]]:
    """Every rollout problem as ``(level, where, message)``.

    ``source`` and ``timestamps`` are the included chunks' merged ``action_source`` and
    ``timestamps``; ``whole``: every chunk's rows are given (the counts of ``play.stats`` are
    compared only then). ``recovered``: crash repair settled the session (meta.json status
    ``recovered``): the figures were written before the crash, so counts that disagree are a
    warning, not an error.
    """
    out: list[tuple[str, str, str]] = []
    ts = np.asarray(timestamps, dtype=np.int64)
    bad = np.flatnonzero((source != SOURCE_HUMAN) & (source != SOURCE_POLICY))
    if len(bad):
        out.append((ERROR, "action_source", f"{len(bad)} row(s) hold a value other than 0 "
                    "(human) or "
                    f"1 (policy), first merged row {int(bad[0])}: {int(source[bad[0]])}"))
    counts = _counts(source)
    if whole:
        for name in ("policy_rows", "human_rows"):
            said = play.stats.get(name)
            if said is not None and said != counts[name]:
                out.append((WARNING if recovered else ERROR, "meta.json",
                            f"play.stats {name} is {said}, the action_source arrays hold "
                            f"{counts[name]}" + (" (written before the crash the session "
                                                 "was recovered from)" if recovered else "")))
    if len(ts):
        out += [(ERROR, "meta.json", m) for m in _takeover_problems(
            play.takeovers, int(ts[0]), int(ts[-1]), period_ns)]
        out += [(WARNING if recovered else ERROR, "action_source", m) for m in control_problems(
            source, ts, play.takeovers, period_ns)]
    return out


def _counts(source: npt.NDArray[Any]) -> dict[str, int]:
    return {"policy_rows": int(np.count_nonzero(source == SOURCE_POLICY)),
            "human_rows": int(np.count_nonzero(source == SOURCE_HUMAN))}


def play_stats(play: PlayInfo, source: npt.NDArray[Any],
               timestamps: npt.ArrayLike) -> dict[str, Any]:
    """``stats.play`` of ``validate``: row counts, takeovers and the measured figures.

    The rows of each source come from the arrays; ``takeover_s`` counts an open takeover to the
    last frame; ``latency_ms`` {p50, p99, max} and ``ready_share`` are meta.json's (None when
    not recorded).
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    last = int(ts[-1]) if len(ts) else 0
    starts = np.array([t.start_ns for t in play.takeovers], np.int64)
    ends = _ends(play.takeovers, max(last, int(starts.max()) if len(starts) else 0))
    return {**_counts(source), "takeovers": len(play.takeovers),
            "takeover_s": round(float((ends - starts).sum()) / 1e9, 3),
            "latency_ms": play.stats.get("latency_ms"),
            "ready_share": play.stats.get("ready_share"),
            "sources": list(ACTION_SOURCES)}
