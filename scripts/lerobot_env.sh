#!/usr/bin/env bash
# Builds the isolated virtual environment that `make test-lerobot` loads our LeRobot export in
# (docs/export.md). LeRobot pins its own torch/opencv/av, which cannot share an environment with
# ours, so it lives apart under .cache/ (ignored by git) and is built once per machine: several GB
# of downloads the first time, nothing after.
set -euo pipefail

VENV="${LEROBOT_VENV:-.cache/lerobot-venv}"
PYTHON="${LEROBOT_PYTHON:-python3.11}"
# The newest lerobot that installs on Python 3.11 (0.5 and later need 3.12), verified by
# `make test-lerobot`: 0.4.4 (torch 2.10.0, torchvision 0.25.0, torchcodec 0.10.0).
SPEC="${LEROBOT_SPEC:-lerobot==0.4.4}"

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
