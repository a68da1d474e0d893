#!/usr/bin/env bash
# Builds the environment of the outside LeRobot validators `make test-lerobot` runs on our exports
# (lerobot-doctor, physlint; docs/export.md, "Outside validators"): once per machine, under .cache/
# (ignored by git). Neither needs LeRobot or torch, so they live apart from the LeRobot venv.
set -euo pipefail

VENV="${VALIDATORS_VENV:-.cache/validators-venv}"
SPEC="lerobot-doctor==0.2.0 physlint[video]==0.4.0"
if [ -f "$VENV/.installed" ] && [ "$(cat "$VENV/.installed")" = "$SPEC" ]; then
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# shellcheck disable=SC2086  # two requirement specs
"$VENV/bin/pip" install -q $SPEC
echo "$SPEC" > "$VENV/.installed"
