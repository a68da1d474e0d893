"""Outside validators on our LeRobot exports: ``lerobot-doctor`` and ``physlint``.

    python scripts/lerobot_validators.py VENV DATASET [DATASET ...]

Runs both validators (installed in VENV by scripts/validators_env.sh) on each dataset, prints
every rule with its verdict, and fails when a rule that applies to a game recording does not
pass. The rules that assume a robot are listed in :data:`NOT_APPLICABLE` with the reason, by
name, as docs/export.md ("LeRobot", "Outside validators") lists them; every other rule must pass,
the structural and temporal ones, the video's decode and frozen-frames checks included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

# (validator, rule) -> why it does not apply to a game recording.
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("lerobot-doctor", "Action Quality"):
        "buttons are 0 or 1 and sit at 0 most of the time, which it reads as a clipped actuator",
    ("lerobot-doctor", "Training Readiness"):
        "its state, action and image checks pass; it reads an unused button's zero spread as a "
        "normalization hazard (LeRobot's normalization adds an epsilon: make test-lerobot trains "
        "ACT and Diffusion on it with finite losses) and 25 action dimensions as unusually many",
    ("lerobot-doctor", "Anomaly Detection"):
        "buttons a player did not touch are 'stuck actuators'; a constant frame_is_repeat "
        "(no repeated frame, a clean recording) is a 'broken sensor'",
    ("lerobot-doctor", "Data Distribution"):
        "unused buttons have zero variance and a rare press is an 'outlier'",
    ("lerobot-doctor", "Per-Episode Summary"):
        "a summary of the rules above (actions that do not change between frames)",
}


def physlint(venv: Path, dataset: Path, work: Path) -> dict[str, str]:
    """Rule id -> status (``passed``, ``failed``, ``not_run``, ...)."""
    report = work / f"{dataset.name}-physlint.json"
    subprocess.run([str(venv / "bin" / "physlint"), "check", str(dataset), "--json-output",
                    str(report)], cwd=work, check=False, capture_output=True)
    doc = json.loads(report.read_text(encoding="utf-8"))
    return {r["rule_id"]: r["status"] for r in doc["results"]}


def doctor(venv: Path, dataset: Path) -> dict[str, str]:
    """Check name -> severity (``PASS``, ``WARN``, ``FAIL``)."""
    out = subprocess.run([str(venv / "bin" / "lerobot-doctor"), "check", str(dataset), "--json"],
                         check=False, capture_output=True, text=True).stdout
    return {c["name"]: c["severity"] for c in json.loads(out)["checks"]}


def main(argv: list[str]) -> int:
    """Validate each dataset; 0 when every applicable rule passed."""
    venv, datasets = Path(argv[0]).absolute(), [Path(a).absolute() for a in argv[1:]]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="validators-") as tmp:
        for ds in datasets:
            verdicts = [("physlint", rule, status, status in ("passed", "not_run"))
                        for rule, status in physlint(venv, ds, Path(tmp)).items()]
            verdicts += [("lerobot-doctor", name, sev, sev == "PASS")
                         for name, sev in doctor(venv, ds).items()]
            for tool, rule, status, ok in verdicts:
                why = NOT_APPLICABLE.get((tool, rule))
                if why is not None:
                    mark = "n/a "
                elif ok:
                    mark = "ok  "
                else:
                    mark, failed = "FAIL", failed + 1
                print(f"{mark} {ds.name}: {tool} {rule}: {status}"
                      + (f" (not applicable: {why})" if why and not ok else ""))
    print(f"outside validators: {failed} applicable rule(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
