"""Write small ``play`` rollouts by hand (docs/format.md, "Rollouts") for the read-side tests.

A rollout is a session of :func:`tests.session_factory.make_session` (synthetic frames, events
binned by the recorder's rule) plus, per chunk, the rollout arrays (``action_source``,
``policy_actions``, ``policy_mouse`` and with a gamepad output ``policy_gamepad``) and meta.json
``play``. Like the session factory it is independent of the writer: the tests of validate,
report and the exporters check against the format document, not the writer's code.

Usage::

    b = make_rollout(tmp_path / "r", sources="PPPPHHHPPPPP")  # P policy, H human, per row
    b.source            # (N,) int8, 0 human / 1 policy
    b.takeovers         # derived from the human runs unless given
    make_rollout(..., merge=True)   # merged files too, as merge writes them
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nitrogen_capture.rows import SOURCE_HUMAN, SOURCE_POLICY
from nitrogen_capture.session.paths import SessionPaths
from session_factory import Built, make_session

__all__ = ["Rollout", "make_rollout", "parse_sources", "takeovers_of"]

POLICY_INFO = {"spec": "tests:policy", "name": "test-policy", "frame_size": [16, 12]}


@dataclass
class Rollout:
    """What :func:`make_rollout` wrote: the session (:class:`Built`) and the rollout's parts."""

    built: Built
    source: np.ndarray  # (N,) int8
    policy_actions: np.ndarray  # (N, K) int8
    policy_mouse: np.ndarray  # (N, 2) float32
    policy_gamepad: np.ndarray | None  # (N, 21) float32 with a gamepad output
    takeovers: list[dict[str, Any]]
    play: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.built.root

    @property
    def timestamps(self) -> np.ndarray:
        return self.built.timestamps


def parse_sources(sources: str | np.ndarray | list[int], n: int) -> np.ndarray:
    """Per-row sources from ``"PPHH.."`` (P policy, H human) or a 0/1 sequence, length ``n``."""
    if isinstance(sources, str):
        arr = np.array([SOURCE_POLICY if c == "P" else SOURCE_HUMAN for c in sources], np.int8)
    else:
        arr = np.asarray(sources, dtype=np.int8)
    if len(arr) != n:
        raise ValueError(f"{len(arr)} sources for {n} rows")
    return arr


def takeovers_of(source: np.ndarray, timestamps: np.ndarray,
                 by: str = "input") -> list[dict[str, Any]]:
    """The takeovers a correct ``play`` writes for ``source``: one per run of human rows.

    A row covers ``(t[i-1], t[i]]``; a run of human rows ``a..b`` is a takeover from just after
    ``t[a-1]`` (or ``t[a]`` for the first row) to ``t[b]`` (None when the run ends the rollout).
    """
    out: list[dict[str, Any]] = []
    n = len(source)
    i = 0
    while i < n:
        if source[i] != SOURCE_HUMAN:
            i += 1
            continue
        j = i
        while j + 1 < n and source[j + 1] == SOURCE_HUMAN:
            j += 1
        start = int(timestamps[i - 1]) + 1 if i else int(timestamps[0])
        out.append({"start_ns": start, "end_ns": None if j == n - 1 else int(timestamps[j]),
                    "by": by})
        i = j + 1
    return out


def make_rollout(root: Path, sources: str | np.ndarray | list[int] | None = None, *,
                 chunk_sizes: tuple[int, ...] = (5, 4, 3), takeovers: list[dict[str, Any]]
                 | None = None, stats: dict[str, Any] | None = None, gamepad: bool = False,
                 merge: bool = False, seed: int = 0, journal_rows: int | None = None,
                 **session: Any) -> Rollout:
    """Write a rollout at ``root``.

    Args:
        sources: per-row source (:func:`parse_sources`); default all policy.
        chunk_sizes: rows per chunk (as :func:`make_session`).
        takeovers: meta.json ``play.takeovers`` (default :func:`takeovers_of` the sources).
        stats: ``play.stats`` (default: consistent counts and fixed latency figures); keys given
            replace the defaults.
        gamepad: a gamepad output (``policy_gamepad`` and ``output.kind`` gamepad).
        merge: merge the session afterwards (merged files carry the rollout arrays).
        journal_rows: with ``open_last`` (a kill -9), how many of the open chunk's rows have
            their ``rollout`` journal line (default all; the writer journals a row a moment
            after its frame, so a crash can leave the last ones without).
        session: passed on to :func:`make_session` (``gaps``, ``fps``...).
    """
    built = make_session(root, chunk_sizes, gamepad=gamepad, seed=seed, **session)
    n, k = len(built.timestamps), len(built.layout.keys)
    source = (np.full(n, SOURCE_POLICY, np.int8) if sources is None
              else parse_sources(sources, n))
    rng = np.random.default_rng(seed + 1)
    pa = rng.integers(0, 2, (n, k)).astype(np.int8)
    pm = rng.integers(-4, 5, (n, 2)).astype(np.float32)
    pg = rng.uniform(-1, 1, (n, 21)).astype(np.float32) if gamepad else None
    paths = SessionPaths(root)
    meta = json.loads(paths.meta.read_text())
    arrays = {"action_source": source, "policy_actions": pa, "policy_mouse": pm}
    if pg is not None:
        arrays["policy_gamepad"] = pg
    for c in meta["chunks"]:
        sl = slice(c["first_row"], c["first_row"] + c["num_frames"])
        for stem, arr in arrays.items():
            np.save(paths.chunk_array(stem, c["index"]), arr[sl])
            c["files"][stem] = paths.chunk_array(stem, c["index"]).name
    if session.get("open_last"):
        _journal_rollout(paths, meta, chunk_sizes, arrays, journal_rows)
    tk = takeovers_of(source, built.timestamps) if takeovers is None else takeovers
    policy_rows = int((source == SOURCE_POLICY).sum())
    # the keys `play` writes (play/driver.py)
    play_stats = {"answers": policy_rows, "answers_unused": 0,
                  "latency_ms": {"p50": 12.5, "p99": 30.0, "max": 41.0}, "ticks": n,
                  "late_ticks": 1, "ready_share": 0.95, "steps_applied": policy_rows,
                  "events_sent": 2 * policy_rows, "errors": 0, "policy_rows": policy_rows,
                  "human_rows": n - policy_rows, "player_events": 0}
    play_stats.update(stats or {})
    play = {"policy": dict(POLICY_INFO),
            "output": {"name": "uinput" if gamepad else "xtest",
                       "kind": "gamepad" if gamepad else "keyboard"},
            "action_hz": 30.0, "quiet_s": 1.0, "hotkeys": {"takeover": "f10", "panic": "f12"},
            "takeovers": tk, "stats": play_stats, "ended": "stopped"}
    meta["play"] = play
    paths.meta.write_text(json.dumps(meta, indent=2))
    built.meta = meta
    if merge:
        from nitrogen_capture.session import merge_session

        merge_session(root)
    return Rollout(built, source, pa, pm, pg, tk, play)


def _journal_rollout(paths: SessionPaths, meta: dict[str, Any], chunk_sizes: tuple[int, ...],
                     arrays: dict[str, np.ndarray], rows: int | None) -> None:
    """Append the open last chunk's ``rollout`` journal lines (session/journal.py)."""
    idx, size = len(chunk_sizes), chunk_sizes[-1]
    first = sum(chunk_sizes[:-1])
    lines = []
    for r in range(size if rows is None else rows):
        rec: dict[str, Any] = {
            "kind": "rollout", "row": r, "src": int(arrays["action_source"][first + r]),
            "keys": [int(k) for k in np.flatnonzero(arrays["policy_actions"][first + r])],
            "m": [float(v) for v in arrays["policy_mouse"][first + r]]}
        if "policy_gamepad" in arrays:
            rec["pad"] = [float(v) for v in arrays["policy_gamepad"][first + r]]
        lines.append(json.dumps(rec) + "\n")
    with paths.journal(idx).open("a") as f:
        f.writelines(lines)
