"""The takeover gate on its own: which input is the player's, when control moves and returns.

Times are given explicitly (``poll(now)``), so nothing here waits on a clock.
"""

from __future__ import annotations

from nitrogen_capture.events import KEY, MOTION, PAD_AXIS, InputEvent
from nitrogen_capture.keylayout import DEFAULT_LAYOUT
from nitrogen_capture.play.rollout import RolloutLog
from nitrogen_capture.play.takeover import GRACE_NS, MOTION_SLACK, TakeoverGate

MS = 1_000_000


def gate(**kw: object) -> TakeoverGate:
    return TakeoverGate(RolloutLog(DEFAULT_LAYOUT), quiet_s=1.0, **kw)  # type: ignore[arg-type]


def key(t_ms: int, code: str, down: bool) -> InputEvent:
    return InputEvent(t_ms * MS, KEY, code, 1.0 if down else 0.0)


def test_what_the_output_sent_is_the_policys_whichever_comes_first() -> None:
    g = gate()
    g.sent([key(100, "w", True)])
    g.observe(key(101, "w", True))  # the echo after the report
    g.observe(key(200, "d", True))  # seen before its report ...
    g.sent([key(199, "d", True)])  # ... which came within the grace
    assert g.poll(400 * MS) and g.player_events == 0
    assert not g.log.player_in_control()


def test_an_unexplained_press_is_the_players_dated_at_the_press() -> None:
    g = gate()
    g.observe(key(100, "a", True))
    assert g.poll(100 * MS + GRACE_NS - 1)  # still within the grace: maybe the output's
    assert not g.poll(100 * MS + GRACE_NS)
    assert [t.start_ns for t in g.log.takeovers()] == [100 * MS]
    assert g.log.takeovers()[0].by == "input"


def test_control_returns_after_the_quiet_time_and_not_while_a_key_is_held() -> None:
    g = gate()
    g.observe(key(100, "a", True))
    assert not g.poll(300 * MS)
    assert not g.poll(5_000 * MS)  # a is still down: the player is still playing
    g.observe(key(6_000, "a", False))
    assert not g.poll(6_500 * MS)
    assert g.poll(7_000 * MS)  # 1 s of quiet after the release
    (t,) = g.log.takeovers()
    assert (t.start_ns, t.end_ns) == (100 * MS, 7_000 * MS)


def test_auto_repeat_of_a_held_key_is_not_input() -> None:
    g = gate()
    g.sent([key(0, "w", True)])
    g.observe(key(1, "w", True))
    for t in range(600, 1_000, 33):  # the X server repeats a held key
        g.observe(key(t, "w", True))
    assert g.poll(2_000 * MS) and g.player_events == 0


def test_motion_is_the_policys_up_to_what_it_sent() -> None:
    g = gate()
    g.sent([InputEvent(0, MOTION, "dx", 10.0)])
    g.observe(InputEvent(1 * MS, MOTION, "dx", 10.0 + MOTION_SLACK))
    assert g.poll(500 * MS)
    g.observe(InputEvent(600 * MS, MOTION, "dx", MOTION_SLACK + 1.0))  # nothing sent for it
    assert not g.poll(1_000 * MS)


def test_a_resting_stick_is_noise_and_a_pushed_one_is_the_player() -> None:
    g = gate()
    g.observe(InputEvent(0, PAD_AXIS, "lx", 0.1))
    assert g.poll(500 * MS)
    g.sent([InputEvent(600 * MS, PAD_AXIS, "lx", 0.8)])
    g.observe(InputEvent(601 * MS, PAD_AXIS, "lx", 0.8))
    assert g.poll(1_000 * MS)
    g.observe(InputEvent(1_100 * MS, PAD_AXIS, "ly", -0.9))
    assert not g.poll(1_500 * MS)


def test_the_takeover_key_holds_control_until_pressed_again() -> None:
    g = gate(takeover_key="f10")
    g.observe(key(100, "f10", True))
    g.observe(key(120, "f10", False))
    assert not g.poll(60_000 * MS)  # no quiet return while taken by the key
    g.observe(key(61_000, "f10", True))
    assert g.poll(61_100 * MS)
    (t,) = g.log.takeovers()
    assert (t.by, t.start_ns, t.end_ns) == ("hotkey", 100 * MS, 61_000 * MS)
    assert g.player_events == 0


def test_the_panic_key_sets_panic_and_recorder_hotkeys_are_not_play() -> None:
    g = gate(panic_key="f12", ignored_keys=frozenset({"f8"}))
    g.observe(key(100, "f8", True))  # starting the recording is not taking the game
    assert g.poll(500 * MS)
    g.observe(key(600, "f12", True))
    assert g.panic.is_set() and g.poll(1_000 * MS)


def test_input_to_another_window_and_the_focusing_warp_are_ignored() -> None:
    focused = [False]
    g = gate(is_focused=lambda: focused[0])
    g.observe(key(100, "a", True))  # typed elsewhere: not for the game, not kept
    assert g.poll(500 * MS)
    focused[0] = True
    g.ignore_until(800 * MS)
    g.observe(InputEvent(700 * MS, MOTION, "dx", 300.0))  # the output's pointer warp
    assert g.poll(1_000 * MS) and g.player_events == 0


def test_a_tap_shorter_than_the_grace_still_lets_control_return() -> None:
    g = gate()
    g.observe(key(100, "e", True))
    g.observe(key(150, "e", False))  # released before the press was judged
    assert not g.poll(300 * MS)
    assert g.poll(1_200 * MS)  # 1 s of quiet after the release: back to the policy
    (t,) = g.log.takeovers()
    assert (t.start_ns, t.end_ns) == (100 * MS, 1_200 * MS)
