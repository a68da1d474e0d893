"""--policy parsing, module:callable loading (dotted, .py file, factory), spaces, random/idle."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.errors import ConfigError, PolicyError
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, KeyLayout
from nitrogen_capture.play.action import NOTHING
from nitrogen_capture.play.builtin import IdlePolicy, RandomPolicy
from nitrogen_capture.play.local import CallablePolicy
from nitrogen_capture.play.policies import load_policy
from nitrogen_capture.play.policy_base import PolicySettings

K = len(DEFAULT_LAYOUT)
FRAME = np.zeros((64, 64, 3), dtype=np.uint8)
POLICY_PY = '''
import numpy as np
K = {k}
SEEN = []

def rows(frame):
    SEEN.append(frame.shape)
    out = np.zeros((2, K + 2)); out[:, 0] = 1.0; out[1, K:] = (5, -3)
    return out

def load(**options):
    width = int(options.get("width", K))
    class Net:
        resets = 0
        def __call__(self, frame):
            return np.ones(width) * float(options.get("value", 1.0))
        def reset(self):
            Net.resets += 1
    return Net()

def bad(frame):
    return {{"not": "rows"}}

def boom(frame):
    raise RuntimeError("cuda went away")

NOT_CALLABLE = 3
'''


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "bc_policy.py"
    path.write_text(POLICY_PY.format(k=K))
    return path


def settings(spec: str, **kw: Any) -> PolicySettings:
    return PolicySettings(spec=spec, **kw)


@pytest.mark.parametrize("spec", ["", "nonsense", "http://x:1", ":load", "mod:"])
def test_bad_specs_list_the_forms(spec: str) -> None:
    with pytest.raises(ConfigError, match="nitrogen://HOST:PORT, random, idle or module:callable"):
        load_policy(settings(spec))


def test_py_file_callable_gives_raw_rows_with_mouse(policy_file: Path) -> None:
    policy = load_policy(settings(f"{policy_file}:rows", img_size=64, action_hz=20))
    assert isinstance(policy, CallablePolicy) and policy.frame_size == (64, 64)
    chunk = policy.act(FRAME)
    assert chunk.step_s == pytest.approx(0.05) and len(chunk.steps) == 2
    assert chunk.steps[0].keys == {DEFAULT_LAYOUT.keys[0]} and chunk.steps[1].mouse == (5, -3)
    assert policy.describe()["space"] == "raw"


def test_dotted_module_and_factory_with_options(policy_file: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(policy_file.parent))
    monkeypatch.delitem(sys.modules, "bc_policy", raising=False)
    policy = load_policy(settings("bc_policy:load", options={"width": "25", "value": "0"}))
    step = policy.act(FRAME).steps[0]
    assert step.keys == frozenset() and policy.describe()["space"] == "nitrogen"
    policy.reset()
    assert type(policy).__name__ == "CallablePolicy"
    assert policy.fn.resets == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("width", "space", "keys"), [(21, "pad", set()), (25, "nitrogen", {
    "space", "ctrl", "e", "f", "q", "g", "shift", "v", "lmb", "rmb", "esc", "backspace",
    "1", "2", "3", "4", "d", "s"}), (K, "raw", set(DEFAULT_LAYOUT.keys))])
def test_auto_space_by_width(policy_file: Path, width: int, space: str, keys: set[str]) -> None:
    policy = load_policy(settings(f"{policy_file}:load", options={"width": width}))
    step = policy.act(FRAME).steps[0]
    assert policy.describe()["space"] == space
    if space != "pad":
        assert step.keys == keys


def test_ambiguous_width_asks_for_the_space(policy_file: Path) -> None:
    layout = KeyLayout(keys=tuple("abcdefghijklmnopqrstuvwxy"), name="k25")
    policy = load_policy(settings(f"{policy_file}:load", layout=layout, options={"width": 25}))
    with pytest.raises(PolicyError, match="could be raw or nitrogen: pass --policy-space"):
        policy.act(FRAME)
    named = load_policy(settings(f"{policy_file}:load", layout=layout, space="raw",
                                 options={"width": 25}))
    assert named.act(FRAME).steps[0].keys == set(layout.keys)


def test_explicit_space_refuses_other_widths(policy_file: Path) -> None:
    policy = load_policy(settings(f"{policy_file}:load", space="pad", options={"width": 25}))
    with pytest.raises(PolicyError, match="space pad expects 21"):
        policy.act(FRAME)


@pytest.mark.parametrize(("name", "match"), [("bad", "returned a dict"),
                                             ("boom", "failed: RuntimeError: cuda went away")])
def test_bad_answers_are_one_line(policy_file: Path, name: str, match: str) -> None:
    policy = load_policy(settings(f"{policy_file}:{name}"))
    with pytest.raises(PolicyError, match=match) as err:
        policy.act(FRAME)
    assert "\n" not in str(err.value)


def test_bad_shapes_and_values(policy_file: Path) -> None:
    policy = load_policy(settings(f"{policy_file}:rows"))
    for answer, match in ((np.zeros((2, 3, 4)), "shape"), ([float("inf")] * K, "not finite"),
                          (np.zeros(7), "width 7")):
        policy.fn = lambda frame, a=answer: a  # type: ignore[attr-defined, misc]
        with pytest.raises(PolicyError, match=match):
            policy.act(FRAME)


@pytest.mark.parametrize(("spec", "match"), [
    ("no_such_module_xyz:f", "cannot import policy module no_such_module_xyz: "
                             "ModuleNotFoundError"),
    ("/nonexistent/p.py:f", "policy file /nonexistent/p.py does not exist"),
    ("{file}:missing", "missing does not exist"),
    ("{file}:NOT_CALLABLE", "NOT_CALLABLE is not callable"),
])
def test_import_errors_are_one_line(policy_file: Path, spec: str, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as err:
        load_policy(settings(spec.format(file=policy_file)))
    assert "\n" not in str(err.value)


def test_syntax_error_in_a_policy_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n")
    with pytest.raises(PolicyError, match=r"cannot import policy module .*SyntaxError"):
        load_policy(settings(f"{path}:f"))


def test_random_policy_is_deterministic_by_seed() -> None:
    def run(seed: int) -> list[frozenset[str]]:
        policy = load_policy(settings("random", seed=seed, action_hz=10))
        assert isinstance(policy, RandomPolicy)
        return [policy.act(FRAME).steps[0].keys for _ in range(40)]

    a, b, c = run(1), run(1), run(2)
    assert a == b and a != c
    assert set().union(*a) == {"w", "a", "s", "d", "space"}  # the default layout's movement
    assert 0 < sum(len(k) for k in a) < 40 * 5


def test_random_keys_option_and_its_errors() -> None:
    policy = load_policy(settings("random", options={"keys": "q, e"}))
    assert set().union(*(policy.act(FRAME).steps[0].keys for _ in range(30))) == {"q", "e"}
    with pytest.raises(ConfigError, match="up not in layout"):
        load_policy(settings("random", options={"keys": "w,up"}))


def test_random_on_a_gamepad_output_drives_the_pad() -> None:
    policy = load_policy(settings("random", output_kind="gamepad", seed=3))
    steps = [policy.act(FRAME).steps[0] for _ in range(20)]
    assert all(s.pad is not None and not s.keys for s in steps)
    assert any(s.pad[17] != 0 or s.pad[18] != 0 for s in steps if s.pad)  # wasd -> left stick


def test_idle_holds_nothing() -> None:
    policy = load_policy(settings("idle", action_hz=15))
    assert isinstance(policy, IdlePolicy)
    chunk = policy.act(FRAME)
    assert chunk.steps == (NOTHING,) and chunk.step_s == pytest.approx(1 / 15)
    pad = load_policy(settings("idle", output_kind="gamepad")).act(FRAME).steps[0]
    assert pad.pad == (0.0,) * 21


def test_settings_out_of_range_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="--action-hz"):
        load_policy(settings("idle", action_hz=0))
    with pytest.raises(ConfigError, match="--policy-space must be one of"):
        load_policy(settings("mod:f", space="keys"))
