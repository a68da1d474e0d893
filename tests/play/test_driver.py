"""The driver's threads with a scripted policy and a recording output (no display).

Waits are on conditions (answers counted, ``on_end`` called), never on fixed sleeps; the only
figures asserted are those the scripted timing makes certain on a loaded machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from nitrogen_capture.errors import PolicyError
from nitrogen_capture.keylayout import DEFAULT_LAYOUT
from nitrogen_capture.play.action import Action, ActionChunk
from nitrogen_capture.play.driver import DriverSettings, PolicyDriver
from nitrogen_capture.play.output.base import ActionOutput
from nitrogen_capture.play.policy_base import Policy
from nitrogen_capture.play.rollout import RolloutLog
from nitrogen_capture.play.takeover import TakeoverGate
from waiting import wait_until


class Recording(ActionOutput):
    """Keeps every primitive call."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__(DEFAULT_LAYOUT)
        self.calls: list[tuple[str, bool]] = []

    def _key(self, key: str, down: bool) -> None:
        self.calls.append((key, down))


class Scripted(Policy):
    """Answers each frame with ``steps`` (after ``delay_s``), or raises ``fail`` at answer n."""

    name = "scripted"

    def __init__(self, steps: list[Action], step_s: float, delay_s: float = 0.0,
                 fail_at: int | None = None) -> None:
        self.steps, self.step_s, self.delay_s, self.fail_at = steps, step_s, delay_s, fail_at
        self.answered = 0

    def act(self, frame_rgb: npt.NDArray[np.uint8]) -> ActionChunk:
        assert frame_rgb.shape == (8, 8, 3) and frame_rgb.flags.c_contiguous
        if self.delay_s:
            time.sleep(self.delay_s)  # the model's own time, not a test wait
        if self.fail_at is not None and self.answered >= self.fail_at:
            raise PolicyError("the model server is gone")
        self.answered += 1
        return ActionChunk(tuple(self.steps), self.step_s)


@contextmanager
def driving(policy: Scripted, *, hz: float = 30.0, live: bool = True,
            ) -> Iterator[tuple[PolicyDriver, Recording, list[str]]]:
    """A started driver fed a frame every 1/hz s by a thread (the recorder's part)."""
    policy.frame_size = (8, 8)
    out, log, ended = Recording(), RolloutLog(DEFAULT_LAYOUT), []
    gate = TakeoverGate(log)
    drv = PolicyDriver(policy, out, gate, log, DriverSettings(action_hz=hz),
                       lambda: live, ended.append)
    stop = threading.Event()
    drv.frames_offered = 0  # type: ignore[attr-defined]

    def frames() -> None:
        raw = np.zeros((48, 64, 4), np.uint8)
        while not stop.wait(1 / hz):
            drv.on_frame(raw, time.monotonic_ns())
            drv.frames_offered += 1  # type: ignore[attr-defined]

    feeder = threading.Thread(target=frames, daemon=True)
    drv.start()
    feeder.start()
    try:
        yield drv, out, ended
    finally:
        stop.set()
        feeder.join()
        drv.stop()


def test_each_answer_is_applied_once_and_everything_released_at_the_end() -> None:
    policy = Scripted([Action.of({"w"}), Action.of({"w", "d"}), Action.of()], step_s=1 / 30)
    with driving(policy) as (drv, out, ended):
        wait_until(lambda: drv.stats.answers >= 10, "ten answers")
    assert ended == []
    assert drv.stats.steps_applied >= 10
    assert len(drv.stats.latencies_ns) <= drv.stats.answers
    assert all(lat > 0 for lat in drv.stats.latencies_ns)
    assert out.held == frozenset()  # stop() released what the last step held
    presses = sum(1 for _, down in out.calls if down)
    releases = sum(1 for _, down in out.calls if not down)
    assert presses == releases == drv.stats.presses_sent["w"] + drv.stats.presses_sent.get("d", 0)
    summary = drv.summary()
    assert summary["answers"] == drv.stats.answers and summary["latency_ms"]["max"] > 0


def test_a_slow_policy_makes_late_ticks() -> None:
    policy = Scripted([Action.of({"w"})], step_s=1 / 30, delay_s=0.25)
    with driving(policy) as (drv, _out, _ended):
        wait_until(lambda: drv.stats.answers >= 3, "three slow answers")
    # One step of 1/30 s per 0.25 s answer: at most about one tick in seven is covered.
    ticks = drv.stats.ticks_ready + drv.stats.ticks_late
    assert drv.stats.ticks_late > ticks / 2, drv.stats
    assert min(drv.stats.latencies_ns) >= 250_000_000


def test_a_policy_error_ends_the_run_once_with_its_line_and_releases() -> None:
    policy = Scripted([Action.of({"space"})], step_s=1 / 30, fail_at=3)
    with driving(policy) as (drv, out, ended):
        wait_until(lambda: ended, "the driver ending the run")
    assert ended == ["policy error: the model server is gone"]
    assert drv.error == "the model server is gone" and drv.stats.errors == 1
    assert out.held == frozenset()


def test_panic_ends_the_run_and_releases() -> None:
    policy = Scripted([Action.of({"w", "a"})], step_s=1 / 30)
    with driving(policy) as (drv, out, ended):
        wait_until(lambda: out.held == {"w", "a"}, "the policy holding W and A")
        drv.gate.panic.set()
        wait_until(lambda: ended, "the driver ending the run")
        assert out.held == frozenset()
    assert ended == ["panic"]


def test_nothing_is_sent_while_the_recording_is_paused_or_unfocused() -> None:
    policy = Scripted([Action.of({"w"})], step_s=1 / 30)
    with driving(policy, live=False) as (drv, out, _ended):
        wait_until(lambda: drv.frames_offered >= 15, "half a second of frames")  # type: ignore
    assert out.calls == [] and policy.answered == 0 and drv.stats.steps_applied == 0
    assert drv.stats.ticks_ready + drv.stats.ticks_late == 0  # not the policy's ticks to count
