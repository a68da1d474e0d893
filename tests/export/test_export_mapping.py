"""Action mapping of the NitroGen export: the 25-D order, the keymap, sticks, gamepad 1:1."""

from __future__ import annotations

import numpy as np
import pytest

from nitrogen_capture.binning import GAMEPAD_WIDTH
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.export.keymap import (
    NITROGEN_ACTIONS,
    action_names,
    default_keymap,
    load_keymap,
    map_rows,
)
from nitrogen_capture.keylayout import DEFAULT_KEYS, DEFAULT_LAYOUT, PAD_BUTTONS, KeyLayout

# docs/architecture.md 8.1, copied here by hand so a reordering in the code fails the test.
DESIGN_ORDER = [
    "BACK", "DPAD_DOWN", "DPAD_LEFT", "DPAD_RIGHT", "DPAD_UP", "EAST", "GUIDE", "LEFT_SHOULDER",
    "LEFT_THUMB", "LEFT_TRIGGER", "NORTH", "RIGHT_BOTTOM", "RIGHT_LEFT", "RIGHT_RIGHT",
    "RIGHT_SHOULDER", "RIGHT_THUMB", "RIGHT_TRIGGER", "RIGHT_UP", "SOUTH", "START", "WEST",
    "lx", "ly", "rx", "ry",
]

# The documented default keymap (docs/export.md): every one of the 28 default keys.
EXPECTED_SLOT = {
    "space": "SOUTH", "ctrl": "EAST", "c": "EAST", "e": "WEST", "r": "WEST", "f": "NORTH",
    "q": "LEFT_SHOULDER", "g": "RIGHT_SHOULDER", "shift": "LEFT_THUMB", "v": "RIGHT_THUMB",
    "lmb": "RIGHT_TRIGGER", "rmb": "LEFT_TRIGGER", "esc": "START", "p": "START",
    "enter": "START", "backspace": "BACK", "i": "BACK", "1": "DPAD_UP", "2": "DPAD_RIGHT",
    "3": "DPAD_DOWN", "4": "DPAD_LEFT", "t": "DPAD_UP", "x": "DPAD_DOWN", "z": "DPAD_LEFT",
}
STICK_KEYS = {"w": (0.0, -1.0), "s": (0.0, 1.0), "a": (-1.0, 0.0), "d": (1.0, 0.0)}


def one_key(key: str, n_keys: int = len(DEFAULT_KEYS)) -> np.ndarray:
    row = np.zeros((1, n_keys), np.int8)
    row[0, DEFAULT_LAYOUT.index(key)] = 1
    return row


def kb(actions: np.ndarray, mouse: np.ndarray | None = None, **kw: object) -> np.ndarray:
    mouse = np.zeros((len(actions), 2), np.float32) if mouse is None else mouse
    return map_rows(actions, mouse, None, DEFAULT_LAYOUT, **kw)  # type: ignore[arg-type]


def test_action_order_matches_design() -> None:
    assert list(NITROGEN_ACTIONS) == DESIGN_ORDER
    assert action_names("nitrogen", DEFAULT_LAYOUT) == DESIGN_ORDER
    assert action_names("raw", DEFAULT_LAYOUT) == [*DEFAULT_KEYS, "lx", "ly", "rx", "ry"]


def test_every_default_key_is_mapped() -> None:
    assert set(EXPECTED_SLOT) | set(STICK_KEYS) == set(DEFAULT_KEYS)


@pytest.mark.parametrize("key", sorted(EXPECTED_SLOT))
def test_each_key_to_its_slot(key: str) -> None:
    out = kb(one_key(key))[0]
    assert out[DESIGN_ORDER.index(EXPECTED_SLOT[key])] == 1.0
    assert out.sum() == 1.0  # nothing else lights up, sticks stay centred


@pytest.mark.parametrize("key", sorted(STICK_KEYS))
def test_wasd_to_left_stick_plus_y_down(key: str) -> None:
    out = kb(one_key(key))[0]
    assert tuple(out[21:23]) == STICK_KEYS[key]
    assert out[:21].sum() == 0 and tuple(out[23:]) == (0.0, 0.0)


def test_diagonals_are_unit_length_and_opposites_cancel() -> None:
    rows = np.concatenate([one_key("w") + one_key("d"), one_key("s") + one_key("a"),
                           one_key("a") + one_key("d")])
    out = kb(rows)
    h = np.sqrt(0.5)
    np.testing.assert_allclose(out[0, 21:23], [h, -h], rtol=1e-6)
    np.testing.assert_allclose(out[1, 21:23], [-h, h], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out[:2, 21:23], axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(out[2, 21:23], [0.0, 0.0])


def test_arrows_drive_left_stick_when_in_layout() -> None:
    layout = KeyLayout(("up", "right", "z"), name="arrows")
    acts = np.array([[1, 1, 0]], np.int8)
    out = map_rows(acts, np.zeros((1, 2)), None, layout)
    np.testing.assert_allclose(out[0, 21:23], [np.sqrt(0.5), -np.sqrt(0.5)], rtol=1e-6)


def test_mouse_scale_clip_and_sign() -> None:
    acts = np.zeros((4, len(DEFAULT_KEYS)), np.int8)
    mouse = np.array([[150, -60], [-900, 900], [30, 0], [0, 0]], np.float32)
    out = kb(acts, mouse, mouse_scale=300.0, mouse_clip=1.0)
    np.testing.assert_allclose(out[0, 23:], [0.5, -0.2], rtol=1e-6)  # +x right, +y down kept
    np.testing.assert_allclose(out[1, 23:], [-1.0, 1.0])  # clipped
    out = kb(acts, mouse, mouse_scale=100.0, mouse_clip=0.25)
    np.testing.assert_allclose(out[:, 23:], [[0.25, -0.25], [-0.25, 0.25], [0.25, 0], [0, 0]])
    assert np.all(out[:, 21:23] == 0)


def test_right_face_aliases_and_guide_stay_zero() -> None:
    everything = np.ones((1, len(DEFAULT_KEYS)), np.int8)
    out = kb(everything, np.array([[1e6, -1e6]], np.float32))[0]
    for name in ("RIGHT_BOTTOM", "RIGHT_LEFT", "RIGHT_RIGHT", "RIGHT_UP", "GUIDE"):
        assert out[DESIGN_ORDER.index(name)] == 0.0
    assert np.all(np.abs(out[21:]) <= 1.0)


def test_gamepad_maps_one_to_one() -> None:
    pad = np.zeros((len(PAD_BUTTONS) + 1, GAMEPAD_WIDTH), np.float32)
    for i in range(len(PAD_BUTTONS)):
        pad[i, i] = 1.0
    pad[-1, 17:] = [0.5, -0.25, -1.0, 0.75]  # lx ly rx ry, already +y down
    keys = np.zeros((len(pad), len(DEFAULT_KEYS)), np.int8)
    keys[:, DEFAULT_LAYOUT.index("space")] = 1  # keyboard is ignored for a pad session
    out = map_rows(keys, np.full((len(pad), 2), 500.0), pad, DEFAULT_LAYOUT)
    for i, name in enumerate(PAD_BUTTONS):
        assert out[i, DESIGN_ORDER.index(name.upper())] == 1.0
        assert out[i, :21].sum() == 1.0
    np.testing.assert_allclose(out[-1, 21:], [0.5, -0.25, -1.0, 0.75])
    assert out[-1, :21].sum() == 0


def test_raw_space_keys_then_sticks() -> None:
    acts = one_key("w") + one_key("lmb")
    out = map_rows(acts, np.array([[300.0, 0.0]]), None, DEFAULT_LAYOUT, space="raw")
    assert out.shape == (1, 32)
    np.testing.assert_array_equal(out[0, :28], acts[0].astype(np.float32))
    np.testing.assert_allclose(out[0, 28:], [0.0, -1.0, 1.0, 0.0])


def test_custom_keymap_file(tmp_path) -> None:
    p = tmp_path / "km.toml"
    p.write_text('name = "mine"\n[buttons]\nspace = ["EAST", "NORTH"]\n'
                 '[right_stick]\nup = ["i"]\n[mouse]\nstick = "none"\n')
    km = load_keymap(p)
    out = map_rows(one_key("space") + one_key("i"), np.array([[900.0, 0.0]]), None,
                   DEFAULT_LAYOUT, keymap=km)[0]
    assert out[DESIGN_ORDER.index("EAST")] == out[DESIGN_ORDER.index("NORTH")] == 1.0
    assert out[DESIGN_ORDER.index("SOUTH")] == 0.0
    np.testing.assert_allclose(out[21:], [0, 0, 0, -1])  # mouse ignored, i pushes right stick up


@pytest.mark.parametrize("text, match", [
    ('[buttons]\nspace = "JUMP"\n', "unknown button slot"),
    ('[buttons]\nspace = "RIGHT_UP"\n', "never used"),
    ('[mouse]\nstick = "middle"\n', "mouse.stick"),
    ("[buttons\n", "not valid TOML"),
])
def test_bad_keymaps(tmp_path, text: str, match: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_keymap(p)


def test_bad_mouse_parameters() -> None:
    acts = np.zeros((1, len(DEFAULT_KEYS)), np.int8)
    with pytest.raises(ConfigError, match="mouse-clip"):
        kb(acts, mouse_clip=1.5)
    with pytest.raises(ConfigError, match="mouse-scale"):
        kb(acts, mouse_scale=0.0)
    assert default_keymap().name == "default"
