#!/usr/bin/env bash
# Builds the isolated virtual environment that `make test-lerobot` loads our LeRobot export in
# (docs/export.md). LeRobot pins its own torch/opencv/av, which cannot share an environment with
# ours, so it lives apart under .cache/ (ignored by git) and is built once per machine: several GB
# of downloads the first time, nothing after.
set -euo pipefail

VENV="${LEROBOT_VENV:-.cache/lerobot-venv}"
# The newest lerobot that installs here, verified by `make test-lerobot`: 0.6.1 (torch 2.11) needs
# Python 3.12 and keeps its dataset code in the `dataset` extra and what `lerobot-train` needs
# (accelerate, wandb) in `training`, which pulls `dataset` in; the Diffusion policy's diffusers is
# the `diffusion` extra. On Python 3.11 the newest is 0.4.4 (torch 2.10), which has all of these
# in its base requirements. A Python 3.12 is used when there is one (on PATH, or pyenv's).
# torch comes from PyPI, whose Linux x86_64 wheels are the CUDA build (with its nvidia-* wheels,
# ~3 GB): the CPU build is not on PyPI, and lerobot pins a torch older than the CPU wheel that
# our own venv installs, so there is no way around it here; the tests run it on the CPU.
py312=""
for cand in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
  if "$cand" -c "" >/dev/null 2>&1; then py312="$cand"; break; fi
done
if [ -n "${LEROBOT_PYTHON:-}" ]; then
  PYTHON="$LEROBOT_PYTHON"
elif [ -n "$py312" ]; then
  PYTHON="$py312"
else
  PYTHON=python3.11
fi
if [ -z "${LEROBOT_SPEC:-}" ] && "$PYTHON" -c "import sys; sys.exit(sys.version_info < (3, 12))"; then
  SPEC="lerobot[training,diffusion]==0.6.1"
else
  SPEC="${LEROBOT_SPEC:-lerobot==0.4.4}"
fi

if [ -f "$VENV/.installed" ] && [ "$(cat "$VENV/.installed")" = "$SPEC" ]; then
  exit 0
fi
start=$(date +%s)
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "$SPEC"
echo "$SPEC" > "$VENV/.installed"
version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("lerobot"))')
echo "built $VENV with lerobot $version in $(( $(date +%s) - start )) s"
