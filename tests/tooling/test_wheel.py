"""The built wheel works on its own: README's "build a wheel once and install it anywhere".

Builds the wheel from a copy of the tree (``pip wheel . --no-deps --no-build-isolation
--no-index``: the venv's setuptools and wheel, nothing downloaded, no ``build/`` or
``*.egg-info`` left in the clone), installs it with ``pip install --no-deps --target T``, then
runs it with ``PYTHONPATH=T`` from a directory outside the clone: the venv's site-packages still
provides the dependencies, but the package must come from T, not from the repo's editable
install, and every file of ``src/nitrogen_capture`` (modules and package data) must be in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "nitrogen_capture"
# Non-Python files the package needs at run time; a new one must be listed here and shipped.
DATA_FILES = {"py.typed", "data/default_keymap.toml", "data/cue_start.wav", "data/cue_pause.wav",
              "data/cue_stop.wav", "data/cue_losing.wav"}

pytestmark = pytest.mark.slow


def _source_files() -> set[str]:
    """Files of the package in the tree, as wheel paths, without caches."""
    return {f"nitrogen_capture/{p.relative_to(PKG).as_posix()}" for p in PKG.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 180) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of pyproject.toml, README.md and src/."""
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy2(ROOT / "pyproject.toml", tree)
    shutil.copy2(ROOT / "README.md", tree)
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(dist)], tree)
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name for w in wheels] == ["nitrogen_capture-0.1.0-py3-none-any.whl"], wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a bare target directory."""
    target = tmp_path_factory.mktemp("target")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
          "--target", str(target), str(wheel)], target.parent)
    return target


def _env(target: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(target)  # replaces the test run's src/ on the path
    env.pop("PYTHONHOME", None)
    return env


def test_wheel_ships_every_module_and_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    shipped = {n for n in names if n.startswith("nitrogen_capture/")}
    data = {n.removeprefix("nitrogen_capture/") for n in shipped if not n.endswith(".py")}
    print(f"wheel data files: {sorted(data)}")
    assert data == DATA_FILES
    assert _source_files() - shipped == set()
    assert "nitrogen_capture-0.1.0.dist-info/entry_points.txt" in names
    with zipfile.ZipFile(wheel) as zf:
        entry = zf.read("nitrogen_capture-0.1.0.dist-info/entry_points.txt").decode()
    assert "nitrogen-capture = nitrogen_capture.cli:main" in entry


def test_installed_wheel_imports_from_target_and_loads_its_data(
        installed: Path, tmp_path: Path) -> None:
    code = (
        "import nitrogen_capture, importlib.resources as r\n"
        "from nitrogen_capture.export import default_keymap\n"
        "print(nitrogen_capture.__file__)\n"
        "d = r.files('nitrogen_capture') / 'data'\n"
        "print(','.join(sorted(p.name for p in d.iterdir())))\n"
        "km = default_keymap()\n"
        "assert km.buttons and km.sticks, km\n"
        "print(km.name, len(km.buttons))\n"
    )
    out = _run([sys.executable, "-c", code], tmp_path, _env(installed)).splitlines()
    assert Path(out[0]).resolve().is_relative_to(installed.resolve()), out[0]
    assert out[1] == ",".join(sorted(f.removeprefix("data/") for f in DATA_FILES
                                     if f.startswith("data/"))), out


def test_installed_wheel_records_and_merges(installed: Path, tmp_path: Path) -> None:
    env = _env(installed)
    py = sys.executable
    assert "usage" in _run([py, "-m", "nitrogen_capture", "--help"], tmp_path, env).lower()
    _run([py, "-m", "nitrogen_capture", "record", "--source", "synthetic", "--out", "s1",
          "--fps", "30", "--max-frames", "20", "--chunk-size", "8", "--region", "0", "0", "64",
          "48", "--status-interval", "0", "--no-merge"], tmp_path, env)
    assert not (tmp_path / "s1" / "actions.npy").exists()
    _run([py, "-m", "nitrogen_capture", "merge", "--root", "s1"], tmp_path, env)
    _run([py, "-m", "nitrogen_capture", "validate", "--root", "s1"], tmp_path, env)
    check = ("import numpy as np, nitrogen_capture; "
             "print(nitrogen_capture.__file__, len(np.load('s1/actions.npy')))")
    where, frames = _run([py, "-c", check], tmp_path, env).split()
    assert Path(where).resolve().is_relative_to(installed.resolve()), where
    assert frames == "20"
