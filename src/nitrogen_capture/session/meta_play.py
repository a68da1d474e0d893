"""The ``play`` object of ``meta.json``: a rollout's policy, output, control rules and figures.

A session recorded by ``nitrogen-capture play`` is a normal session plus this object and the
rollout's row arrays (:data:`~nitrogen_capture.rows.PLAY_ARRAYS`; docs/format.md "Rollouts").
Every tool that reads a session reads a rollout; the ones that care (``report``, ``validate``,
the exporters' ``--action-source``) find it here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._check import JsonObject

__all__ = ["PlayInfo", "Takeover"]


@dataclass(frozen=True)
class Takeover:
    """One stretch where the player had control (ns since ``clock.t0_ns``).

    ``end_ns`` None: the rollout ended with the player in control. ``by``: ``input`` (the player
    pressed or moved something the policy did not send) or ``hotkey``.
    """

    start_ns: int
    end_ns: int | None
    by: str = "input"

    @property
    def duration_s(self) -> float | None:
        """Seconds the player held control (None while it still does)."""
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e9

    def to_json(self) -> dict[str, Any]:
        """The takeover's object in ``play.takeovers``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, o: JsonObject) -> Takeover:
        """Parse and check."""
        return cls(o.integer("start_ns"), o.integer("end_ns", None, nullable=True),
                   o.text("by", "input", choices=("input", "hotkey")))


@dataclass(frozen=True)
class PlayInfo:
    """What ``play`` ran and what it measured.

    Attributes:
        policy: the policy's identity and settings (:meth:`Policy.describe` plus ``spec``).
        output: ``{"name": "xtest", "kind": "keyboard"}``.
        action_hz: the rate actions were applied at.
        quiet_s: seconds without player input after which control returns to the policy.
        hotkeys: ``{"takeover": "f10", "panic": "f12"}``.
        takeovers: every stretch the player had control.
        stats: the measured figures (docs/play.md "What play measures"): ``answers``,
            ``answers_unused``, ``latency_ms`` {p50, p99, max} (frame grabbed -> first action
            applied), ``ticks``, ``late_ticks``, ``ready_share``, ``steps_applied``,
            ``events_sent``, ``presses_sent``, ``errors``, ``policy_rows``, ``human_rows``,
            ``player_events``; after a crash repair, ``rows_without_rollout``.
        ended: how the policy's part ended (``stopped``, ``panic``, ``policy error``...).
    """

    policy: dict[str, Any]
    output: dict[str, Any]
    action_hz: float
    quiet_s: float
    hotkeys: dict[str, str] = field(default_factory=dict)
    takeovers: tuple[Takeover, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    ended: str | None = None

    @property
    def pad_output(self) -> bool:
        """Whether the rollout drove a virtual gamepad (its rows carry ``policy_gamepad``)."""
        return self.output.get("kind") == "gamepad"

    def to_json(self) -> dict[str, Any]:
        """The ``play`` object of meta.json."""
        out = dataclasses.asdict(self)
        out["takeovers"] = [t.to_json() for t in self.takeovers]
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> PlayInfo:
        """Parse and check (the figures are kept as written: they are for people)."""
        policy, output, stats = (o.raw(k, {}) for k in ("policy", "output", "stats"))
        for key, value in (("policy", policy), ("output", output), ("stats", stats)):
            if not isinstance(value, dict):
                o.fail(key, "must be an object", value)
        hotkeys = o.labels("hotkeys") if "hotkeys" in o.data else {}
        return cls(policy, output, o.number("action_hz", lo=1e-3, hi=10_000),
                   o.number("quiet_s", lo=0), hotkeys,
                   tuple(Takeover.from_json(t) for t in o.objects("takeovers")),
                   stats, o.text("ended", None, nullable=True))
