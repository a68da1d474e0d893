"""Pad actions -> keys/mouse (the keymap backwards) and -> a virtual pad's state."""

from __future__ import annotations

import pytest

from nitrogen_capture.errors import ConfigError, PolicyError
from nitrogen_capture.export.keymap import NITROGEN_BUTTONS, Keymap, default_keymap
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, KeyLayout
from nitrogen_capture.play.mapping import PadToKeys, PadToPad, make_mapper, pad_to_nitrogen
from nitrogen_capture.rows import PAD_BUTTONS

SLOT = {n: i for i, n in enumerate(NITROGEN_BUTTONS)}
LAYOUT = KeyLayout(keys=(*DEFAULT_LAYOUT.keys, "up", "down", "left", "right"), name="arrows")


def vec(buttons: tuple[str, ...] = (), left: tuple[float, float] = (0, 0),
        right: tuple[float, float] = (0, 0)) -> list[float]:
    v = [0.0] * 25
    for b in buttons:
        v[SLOT[b]] = 1.0
    v[21:] = [*left, *right]
    return v


@pytest.fixture
def keys() -> PadToKeys:
    return PadToKeys(default_keymap(), DEFAULT_LAYOUT, mouse_scale=300.0)


def test_buttons_press_the_first_layout_key_of_their_slot(keys: PadToKeys) -> None:
    step = keys.nitrogen(vec(("SOUTH", "EAST", "RIGHT_TRIGGER", "LEFT_SHOULDER")))
    # EAST is ctrl and c in the keymap: ctrl comes first; LEFT_SHOULDER is q (not wheel_down)
    assert step.keys == {"space", "ctrl", "lmb", "q"} and step.mouse == (0.0, 0.0)


@pytest.mark.parametrize(("left", "pressed"), [
    ((0.0, -1.0), {"w"}), ((1.0, 0.0), {"d"}), ((0.7071, 0.7071), {"s", "d"}),
    ((-0.7071, -0.7071), {"w", "a"}), ((0.5, 0.0), set()), ((0.51, -0.49), {"d"}),
])
def test_left_stick_presses_direction_keys_past_half(keys: PadToKeys,
                                                      left: tuple[float, float],
                                                      pressed: set[str]) -> None:
    assert keys.nitrogen(vec(left=left)).keys == pressed


def test_right_stick_becomes_mouse_counts_scaled_and_clipped() -> None:
    step = PadToKeys(default_keymap(), DEFAULT_LAYOUT, mouse_scale=100.0).nitrogen(
        vec(right=(0.25, -3.0)))
    assert step.mouse == (25.0, -100.0) and step.keys == frozenset()


def test_no_mouse_when_the_keymap_mouse_drives_no_stick() -> None:
    keymap = Keymap(buttons=(("space", "SOUTH"),), mouse_stick="none")
    assert PadToKeys(keymap, DEFAULT_LAYOUT).nitrogen(vec(right=(1, 1))).mouse == (0.0, 0.0)


def test_unmapped_slots_and_keys_outside_the_layout_are_dropped(keys: PadToKeys) -> None:
    assert "GUIDE" in keys.unmapped_slots and "SOUTH" not in keys.unmapped_slots
    assert keys.nitrogen(vec(("GUIDE", "RIGHT_UP"))).keys == frozenset()
    # The default layout has no arrow keys: the stick uses w a s d; with arrows first, arrows.
    arrows = Keymap(buttons=(), sticks={"left": {"up": ("up", "w")}})
    assert PadToKeys(arrows, LAYOUT).nitrogen(vec(left=(0, -1))).keys == {"up"}
    assert PadToKeys(arrows, DEFAULT_LAYOUT).nitrogen(vec(left=(0, -1))).keys == {"w"}


def test_a_gamepad_row_reads_by_button_name(keys: PadToKeys) -> None:
    row = [0.0] * 21
    row[PAD_BUTTONS.index("south")] = 1.0
    row[PAD_BUTTONS.index("dpad_up")] = 1.0
    row[17:] = [-1.0, 0.0, 0.5, 0.5]
    step = keys.pad(row)
    assert step.keys == {"space", "1", "a"} and step.mouse == (150.0, 150.0)
    assert pad_to_nitrogen(row)[SLOT["SOUTH"]] == 1.0


def test_a_gamepad_output_keeps_the_pad_state() -> None:
    step = PadToPad().nitrogen(vec(("WEST", "RIGHT_LEFT", "START"), left=(0.3, 0.9),
                                   right=(-2, 0)))
    assert step.pad is not None and step.keys == frozenset()
    on = {PAD_BUTTONS[i] for i, v in enumerate(step.pad[:17]) if v}
    assert on == {"west", "start"}  # RIGHT_LEFT has no dataset button
    assert step.pad[17:] == pytest.approx((0.3, 0.9, -1.0, 0.0))  # +y down kept, clipped


def test_bad_vectors_and_settings_are_one_line() -> None:
    with pytest.raises(PolicyError, match="a NitroGen action has 25 values, got 24"):
        PadToPad().nitrogen([0.0] * 24)
    with pytest.raises(PolicyError, match="not finite"):
        PadToPad().pad([float("nan")] * 21)
    with pytest.raises(ConfigError, match="--mouse-scale"):
        PadToKeys(default_keymap(), DEFAULT_LAYOUT, mouse_scale=0)
    with pytest.raises(ConfigError, match="keyboard or a gamepad"):
        make_mapper("joystick", default_keymap(), DEFAULT_LAYOUT, 300)
