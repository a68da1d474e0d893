#!/usr/bin/env bash
# `make test-lerobot` (docs/export.md, "LeRobot"): two short synthetic recordings, converted with
# our CLI to a LeRobot v3.0 dataset, then loaded by LeRobot itself in its own environment
# (scripts/lerobot_env.sh, built once per machine) and checked by scripts/lerobot_check.py; the
# doc's LeRobot blocks run as written (scripts/lerobot_docs.py: ACT and Diffusion train on the
# CPU), and the outside validators check two exports (scripts/lerobot_validators.py).
set -euo pipefail

PY="${PY:-.venv/bin/python}"
VENV="${LEROBOT_VENV:-.cache/lerobot-venv}"
WORK="${LEROBOT_WORK:-.cache/lerobot-check}"
REPO_ID="nitrogen-capture/lerobot-check"

start=$(date +%s)
bash scripts/lerobot_env.sh
echo "lerobot environment: $VENV ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("lerobot", m.version("lerobot"))'), ready in $(( $(date +%s) - start )) s)"

rm -rf "$WORK"
mkdir -p "$WORK"
export SDL_AUDIODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1
# Episodes of at least 100 rows: lerobot-doctor's Episode Health warns when more than a tenth of
# the episodes are shorter than ACT's and Diffusion's action chunk of 100 (a busy machine that
# drops ticks can still cut one below it).
for seed in 1 2; do
  "$PY" -m nitrogen_capture record --source synthetic --out "$WORK/session-$seed" --fps 30 \
    --max-frames $(( 120 + 30 * seed )) --seed "$seed" --cue none --status-interval 0 >/dev/null
done
# Session 1 alone first, then both with --overwrite: what LeRobot loads is the dataset that
# replaced an older one (written beside it and swapped in), not only a first write.
"$PY" -m nitrogen_capture convert --format lerobot --root "$WORK/session-1" \
  --out "$WORK/dataset" --repo-id "$REPO_ID" --no-progress >/dev/null
"$PY" -m nitrogen_capture convert --format lerobot --root "$WORK/session-1" \
  --root "$WORK/session-2" --out "$WORK/dataset" --repo-id "$REPO_ID" --no-progress --overwrite
if compgen -G "$WORK/.dataset.*" >/dev/null; then
  echo "the --overwrite left a staging folder: $(ls -d "$WORK"/.dataset.*)" >&2
  exit 1
fi
"$PY" scripts/lerobot_expect.py "$WORK/dataset" "$WORK/expected.npz"
# LeRobot reads the local copy only: no hub, and the datasets cache stays under $WORK.
HF_HUB_OFFLINE=1 HF_HOME="$WORK/hf" PYTHONWARNINGS="ignore::UserWarning" \
  "$VENV/bin/python" scripts/lerobot_check.py \
  "$WORK/dataset" "$REPO_ID" "$WORK/expected.npz"

# docs/export.md's `--format lerobot` section as a reader follows it, in a folder of its own: its
# run blocks with our environment, then the LeRobot ones with LeRobot's (load the dataset, train
# ACT and Diffusion a few steps on the CPU). Each training run must log a finite loss every step.
HF_HUB_OFFLINE=1 HF_HOME="$WORK/hf" WANDB_MODE=disabled PYTHONWARNINGS="ignore::UserWarning" \
  "$PY" scripts/lerobot_docs.py "$VENV" "$WORK/docs"

# The outside validators (docs/export.md, "Outside validators"): lerobot-doctor and physlint on
# the dataset above (clean synthetic recordings) and on an export of a session that missed
# periods (dropped ticks, and periods hidden in the timestamps as sessions of earlier versions
# have them), cut to runs of at most 4 repeated rows. Every rule that applies to a game passes.
bash scripts/validators_env.sh
PYTHONPATH=tests "$PY" -c "
from pathlib import Path
from session_factory import make_session, moving_image
make_session(Path('$WORK/missed'), (120, 120), gaps={60: (3, None)}, hidden={150: 7, 200: 12},
             seed=3, image=moving_image)
"
"$PY" -m nitrogen_capture convert --format lerobot --root "$WORK/missed" \
  --out "$WORK/missed-dataset" --repo-id "$REPO_ID-missed" --max-repeat-frames 4 --no-progress
"$PY" scripts/lerobot_validators.py "${VALIDATORS_VENV:-.cache/validators-venv}" \
  "$WORK/dataset" "$WORK/missed-dataset"
