"""The diffing and bookkeeping of :class:`ActionOutput`, with a backend that records its calls."""

from __future__ import annotations

import pytest

from nitrogen_capture.events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL
from nitrogen_capture.keylayout import KeyLayout
from nitrogen_capture.play.action import NOTHING, Action
from nitrogen_capture.play.output import OUTPUTS, output_kind
from nitrogen_capture.play.output.base import AXIS_EPSILON, ActionOutput
from nitrogen_capture.rows import PAD_BUTTONS

LAYOUT = KeyLayout(("w", "a", "space", "lmb", "wheel_up", "wheel_down"))
NB = len(PAD_BUTTONS)


class Recorder(ActionOutput):
    """Every primitive call, in order."""

    name = "recorder"

    def __init__(self, kind: str = "keyboard") -> None:
        super().__init__(LAYOUT)
        self.kind = kind
        self.calls: list[tuple[object, ...]] = []

    def _key(self, key: str, down: bool) -> None:
        self.calls.append(("key", key, down))

    def _move(self, dx: int, dy: int) -> None:
        self.calls.append(("move", dx, dy))

    def _wheel(self, axis: str, steps: float) -> None:
        self.calls.append(("wheel", axis, steps))

    def _pad(self, state: list[float], changed: list[int]) -> None:
        self.calls.append(("pad", tuple(state), tuple(changed)))


def test_applying_the_same_action_twice_sends_nothing_the_second_time() -> None:
    out = Recorder()
    first = out.apply(Action.of({"w", "lmb"}))
    assert [(e.device, e.code, e.value) for e in first] == [(BUTTON, "lmb", 1.0),
                                                           (KEY, "w", 1.0)]
    out.calls.clear()
    assert out.apply(Action.of({"w", "lmb"})) == [] and out.calls == []


def test_only_the_differences_are_sent_releases_first() -> None:
    out = Recorder()
    out.apply(Action.of({"w", "a"}))
    out.calls.clear()
    out.apply(Action.of({"a", "space"}))
    assert out.calls == [("key", "w", False), ("key", "space", True)]
    assert out.held == {"a", "space"}


def test_nothing_releases_all_and_release_all_is_idempotent() -> None:
    out = Recorder()
    out.apply(Action.of({"w", "space", "lmb"}))
    out.calls.clear()
    released = out.apply(NOTHING)
    assert sorted(e.code for e in released) == ["lmb", "space", "w"]
    assert all(e.value == 0.0 for e in released) and out.held == frozenset()
    assert out.release_all() == [] and out.calls == [("key", k, False)
                                                     for k in ("lmb", "space", "w")]


def test_release_all_survives_a_dead_backend() -> None:
    out = Recorder()
    out.apply(Action.of({"w"}))

    def dead(key: str, down: bool) -> None:
        raise OSError("gone")

    out._key = dead  # type: ignore[method-assign]
    assert out.release_all() == [] and out.held == frozenset()


def test_sub_count_motion_is_carried_to_the_next_step() -> None:
    out = Recorder()
    events = []
    for step in [(0.4, -0.4), (0.4, -0.4), (0.4, -0.4), (-2.7, 0.0)]:
        events += out.apply(Action.of(mouse=step))
    assert [c for c in out.calls if c[0] == "move"] == [("move", 1, -1), ("move", -2, 0)]
    assert [(e.code, e.value) for e in events if e.device == MOTION] == [
        ("dx", 1.0), ("dy", -1.0), ("dx", -2.0)]


def test_keys_outside_the_layout_are_never_sent() -> None:
    out = Recorder()
    assert out.apply(Action.of({"z", "f12", "shift"})) == []
    assert out.calls == [] and out.held == frozenset()


def test_wheel_keys_are_a_step_each_time_never_held() -> None:
    out = Recorder()
    out.apply(Action.of({"wheel_up"}))
    sent = out.apply(Action.of({"wheel_up", "wheel_down"}))
    assert out.calls == [("wheel", "dy", 1.0), ("wheel", "dy", -1.0), ("wheel", "dy", 1.0)]
    assert [(e.device, e.value) for e in sent] == [(WHEEL, -1.0), (WHEEL, 1.0)]
    assert out.held == frozenset()


def pad(buttons: set[str] = frozenset(), axes: tuple[float, ...] = (0, 0, 0, 0)) -> Action:
    return Action.of(pad=[1.0 if b in buttons else 0.0 for b in PAD_BUTTONS] + list(axes))


def test_pad_epsilon_clamp_and_threshold() -> None:
    out = Recorder("gamepad")
    out.apply(pad({"south"}, (0.5, 0.0, 0.0, 0.0)))
    out.calls.clear()
    assert out.apply(pad({"south"}, (0.5 + AXIS_EPSILON / 2, 0.0, 0.0, 0.0))) == []
    sent = out.apply(pad({"south"}, (0.5, 0.0, 2.0, 0.0)))  # clamped to 1
    assert [(e.device, e.code, e.value) for e in sent] == [(PAD_AXIS, "rx", 1.0)]
    raw = list(pad().pad or ())
    raw[PAD_BUTTONS.index("south")] = 0.6  # >= 0.5 is held
    raw[PAD_BUTTONS.index("east")] = 0.4
    sent = out.apply(Action.of(pad=raw))
    assert [e for e in sent if e.device == PAD_BUTTON] == []
    assert out.held == {"south"}
    assert out.apply(Action.of({"w"})) == []  # no pad in the action: nothing for a pad


def test_pad_release_all_neutralises_everything() -> None:
    out = Recorder("gamepad")
    out.apply(pad({"north", "dpad_up"}, (0.5, -0.5, 0.0, 1.0)))
    sent = out.release_all()
    assert {e.code for e in sent} == {"north", "dpad_up", "lx", "ly", "ry"}
    assert all(e.value == 0.0 for e in sent) and out.held == frozenset()
    assert out.calls[-1][1] == (0.0,) * (NB + 4)


@pytest.mark.parametrize("name, kind", [("xtest", "keyboard"), ("sendinput", "keyboard"),
                                        ("uinput", "gamepad"), ("vigem", "gamepad")])
def test_every_registered_output_exists_with_its_kind(name: str, kind: str) -> None:
    import importlib

    module, cls, registered = OUTPUTS[name]
    backend = getattr(importlib.import_module(module, "nitrogen_capture.play.output"), cls)
    assert issubclass(backend, ActionOutput)
    assert backend.kind == registered == kind == output_kind(name) and backend.name == name
