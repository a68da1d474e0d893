"""The report's "Policy rollout" part: what ``play`` ran, what it measured, who had control.

Only for a rollout (meta.json ``play``; docs/format.md, "Rollouts"). :func:`rollout_facts` gives
the rows of its table (the policy's identity, the output, latency p50/p99/max, the share of
ticks with an action ready in time, late ticks, the policy's answers and what was sent, rows of
each source), :func:`takeover_rows` the
takeovers (start, duration, by) and :func:`control_spans` the stretches each source had control
of, which the timeline plot draws as a band. The figures are the ones ``play`` measured and
stored; the row counts are ``validate``'s, from the arrays. Nothing here draws or escapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rows import ACTION_SOURCES
from ..session.meta_play import PlayInfo
from .facts import SessionReport

__all__ = ["control_spans", "rollout_facts", "takeover_rows"]


def _ms(v: Any) -> str:
    return f"{v:.1f} ms" if isinstance(v, int | float) else "-"


def _policy(play: PlayInfo) -> str:
    """The policy's identity: its spec and the settings it described, compactly."""
    p = dict(play.policy)
    spec = p.pop("spec", None)
    name = p.pop("name", None)
    head = " ".join(str(x) for x in (name, f"({spec})" if spec and name else spec) if x)
    rest = ", ".join(f"{k} {v}" for k, v in sorted(p.items()))
    return (head or "unknown") + (f"; {rest}" if rest else "")


def rollout_facts(rep: SessionReport) -> list[tuple[str, str]]:
    """``(name, value)`` rows of the rollout table (values not yet escaped); [] if no rollout."""
    play = rep.reader.meta.play
    if play is None:
        return []
    st, rows = play.stats, rep.stats.get("play") or {}
    lat = st.get("latency_ms") or {}
    ready = st.get("ready_share")
    out = play.output
    hotkeys = ", ".join(f"{k} {v}" for k, v in sorted(play.hotkeys.items())) or "-"
    return [
        ("policy", _policy(play)),
        ("output", f"{out.get('name', '?')} ({out.get('kind', '?')})"),
        ("action rate", f"{play.action_hz:g} Hz; control returns after {play.quiet_s:g} s "
                        f"without player input; hotkeys {hotkeys}"),
        ("latency", f"p50 {_ms(lat.get('p50'))}, p99 {_ms(lat.get('p99'))}, "
                    f"max {_ms(lat.get('max'))} (frame grabbed to action applied)"),
        ("ready in time", (f"{ready:.1%} of {st.get('ticks', '?')} ticks"
                           if isinstance(ready, int | float) else "-")),
        ("late ticks", str(st.get("late_ticks", "-"))),
        # the keys play writes; decisions / actions_sent: the names of meta_play's docstring
        ("answers", f"{st.get('answers', st.get('decisions', '-'))} "
                    f"({st.get('answers_unused', 0)} unused); steps applied "
                    f"{st.get('steps_applied', '-')}, input events sent "
                    f"{st.get('events_sent', st.get('actions_sent', '-'))}; "
                    f"errors {st.get('errors', '-')}"),
        ("rows", f"policy {rows.get('policy_rows', '-')}, human {rows.get('human_rows', '-')}"),
        ("takeovers", f"{len(play.takeovers)} ({rows.get('takeover_s', 0.0):.1f} s)"),
        ("ended", play.ended or "-"),
    ]


def takeover_rows(rep: SessionReport) -> list[tuple[str, str, str]]:
    """Each takeover as ``(start, duration, by)`` text, start in seconds since the first tick."""
    play = rep.reader.meta.play
    if play is None:
        return []
    return [(f"{t.start_ns / 1e9:.2f} s",
             "until the end" if t.duration_s is None else f"{t.duration_s:.2f} s", t.by)
            for t in play.takeovers]


def control_spans(rep: SessionReport) -> dict[str, list[tuple[float, float]]]:
    """Per source name, the ``(start_s, length_s)`` stretches its rows cover ({} if no rollout).

    Row ``i`` covers ``(t[i-1], t[i]]`` (the first row from its own frame); runs of one source are
    one stretch.
    """
    a = rep.series.arrays
    if rep.reader.meta.play is None or "action_source" not in a:
        return {}
    src = np.asarray(a["action_source"])
    t = rep.series.t_s
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in ACTION_SOURCES}
    if not len(t):
        return out
    starts = np.concatenate(([float(t[0])], t[:-1]))
    change = np.flatnonzero(np.diff(src)) + 1
    for lo, hi in zip(np.concatenate(([0], change)), np.concatenate((change, [len(src)])),
                      strict=True):
        value = int(src[lo])
        if 0 <= value < len(ACTION_SOURCES):
            begin = float(starts[lo])
            out[ACTION_SOURCES[value]].append((begin, float(t[hi - 1]) - begin))
    return out
