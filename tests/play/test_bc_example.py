"""examples/train_bc.py and examples/bc_policy.py on a real ``.pt`` export of a small session.

The session is written by the test factory (tests/session_factory.py) and converted by the real
``convert --action-space raw``; the trainer runs in-process for two epochs (what it learns is the
loop demo's test, tests/play/test_loop_demo.py); the saved file loads as a per-frame policy.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from cli_run import run_cli
from session_factory import LAYOUT, make_session

torch = pytest.importorskip("torch", reason="the example trains with torch (an optional extra)")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> ModuleType:
    sys.path.insert(0, str(EXAMPLES))  # train_bc imports bc_policy from its folder
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    make_session(tmp_path / "s", (40,), merge=True, seed=3)
    out = tmp_path / "s.pt"
    run = run_cli(capsys, "convert", "--root", str(tmp_path / "s"), "--out", str(out),
                  "--action-space", "raw", "--img-size", "16", "--seq-len", "1", "--no-progress")
    assert run.code == 0, run.err
    return out


def test_train_then_load_as_a_policy(export: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    train_bc = _example("train_bc")
    weights = tmp_path / "bc.pt"
    code = train_bc.main([str(export), "--out", str(weights), "--keys", "w,a", "--epochs", "2",
                          "--json", str(tmp_path / "train.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("epoch ") == 2 and "weights in" in out
    bc_policy = _example("bc_policy")
    policy = bc_policy.load(weights=str(weights))
    assert policy.img_size == 16 and policy.keys == ("w", "a")
    row = policy(np.zeros((16, 16, 3), np.uint8))
    assert row.shape == (len(LAYOUT),) and row.dtype == np.float32
    assert set(np.unique(row)) <= {0.0, 1.0}
    assert row[[LAYOUT.keys.index("space"), LAYOUT.keys.index("lmb")]].tolist() == [0, 0]
    with pytest.raises(ValueError, match="trained on 16x16 RGB frames"):
        policy(np.zeros((64, 64, 3), np.uint8))


def test_trainer_refuses_bad_input_with_one_line(export: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    train_bc = _example("train_bc")
    out = str(tmp_path / "bc.pt")
    cases = [
        ([str(tmp_path / "nope.pt"), "--out", out], "no .pt export at"),
        ([str(export), "--out", out, "--keys", "w,zz"], "keys zz are not in the export's layout"),
    ]
    nitro = tmp_path / "n.pt"
    data = torch.load(export, weights_only=True)
    data["meta"]["action_space"] = "nitrogen"
    torch.save(data, nitro)
    cases.append(([str(nitro), "--out", out], "convert with --action-space raw"))
    for argv, message in cases:
        capsys.readouterr()
        assert train_bc.main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not Path(out).exists()


def test_policy_loader_refuses_other_files(export: Path, tmp_path: Path) -> None:
    bc_policy = _example("bc_policy")
    with pytest.raises(ValueError, match="no weights file"):
        bc_policy.load(weights=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match=r"not written by examples/train_bc\.py"):
        bc_policy.load(weights=str(export))  # a .pt export, not weights
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a torch file"):
        bc_policy.load(weights=str(junk))
