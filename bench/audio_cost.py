"""What ``record --audio`` costs: CPU per minute (against the same recording without audio, in the
same run) and bytes per minute of game-like sound.

    python bench/audio_cost.py                 # 20 s per recording, 48 kHz stereo
    python bench/audio_cost.py --seconds 60

1. ``record --source synthetic`` twice, one after the other: without ``--audio`` (the baseline)
   and with ``--audio`` (the synthetic click track at 48 kHz stereo through the whole audio path:
   reads, stamps, cuts, ``.part`` writes with fsync, the FLAC of each chunk at its close). The
   process CPU (with its encoder processes) of each; the difference per minute is the audio's.
2. Game-like sound (chords that change every half second, filtered noise, clicks: not a flat
   tone, which FLAC would squeeze to nothing) through the store's FLAC: bytes and encode CPU per
   minute, beside the raw ``.part`` size.

JSON on stdout and in ``--out`` (default bench/results/audio_cost.json), a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def _record(out: Path, seconds: float, audio: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
           "--region", "0", "0", "640", "360", "--fps", "30", "--seconds", str(seconds),
           "--status-interval", "0", "--cue", "none", "--no-merge", "--out", str(out)]
    if audio:
        cmd += ["--audio", "--audio-rate", "48000", "--audio-channels", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu: dict[int, float] = {}
    while proc.poll() is None:  # children (encoder processes) end before the parent
        for p in [proc, *proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        time.sleep(0.2)
    meta = json.loads((out / "meta.json").read_text())
    return {"cpu_s": round(sum(cpu.values()), 2), "frames": meta["counters"]["frames_captured"],
            "audio_s": (meta.get("audio") or {}).get("stats", {}).get("recorded_s"),
            "audio_bytes": sum(f.stat().st_size for f in out.glob("audio_*"))}


def game_like(seconds: float, rate: int = 48000) -> np.ndarray:
    """Stereo int16: changing chords, band-limited noise, clicks (a game's mix, roughly)."""
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros((n, 2))
    step = rate // 2
    for a in range(0, n, step):
        seg = slice(a, a + step)
        for f in rng.choice([110, 147, 165, 196, 220, 262, 294, 330, 392, 440], 3):
            out[seg, 0] += 2500 * np.sin(2 * np.pi * f * t[seg])
            out[seg, 1] += 2500 * np.sin(2 * np.pi * f * 1.003 * t[seg] + 0.3)
    noise = rng.normal(0, 1500, (n, 2))
    kernel = np.ones(8) / 8
    out += np.stack([np.convolve(noise[:, c], kernel, "same") for c in range(2)], axis=1)
    for k in rng.integers(0, n - 500, int(seconds * 3)):
        out[k:k + 240] += rng.normal(0, 8000, (240, 2))
    return np.clip(out, -32768, 32767).astype(np.int16)


def flac_cost(seconds: float) -> dict[str, Any]:
    from nitrogen_capture.session.audio_store import write_flac

    samples = game_like(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.flac"
        t = time.process_time()
        size = write_flac(path, samples, 48000)
        cpu = time.process_time() - t
    per_min = 60 / seconds
    return {"flac_mb_per_min": round(size * per_min / 1e6, 2),
            "raw_mb_per_min": round(samples.nbytes * per_min / 1e6, 2),
            "flac_encode_cpu_s_per_min": round(cpu * per_min, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "audio_cost.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = _record(Path(tmp) / "base", args.seconds, audio=False)
        audio = _record(Path(tmp) / "audio", args.seconds, audio=True)
    per_min = 60 / args.seconds
    result = {"seconds": args.seconds, "without_audio": base, "with_audio": audio,
              "audio_cpu_s_per_min": round((audio["cpu_s"] - base["cpu_s"]) * per_min, 2),
              "stored_mb_per_min": round(audio["audio_bytes"] * per_min / 1e6, 2),
              **flac_cost(args.seconds)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"CPU: {base['cpu_s']} s without audio, {audio['cpu_s']} s with, over "
          f"{args.seconds:g} s: the audio costs {result['audio_cpu_s_per_min']} CPU-s per minute "
          f"({result['audio_cpu_s_per_min'] / 60:.1%} of a core)\n"
          f"bytes per minute of game-like sound, 48 kHz stereo: FLAC "
          f"{result['flac_mb_per_min']} MB (raw .part {result['raw_mb_per_min']} MB); FLAC "
          f"encode {result['flac_encode_cpu_s_per_min']} CPU-s per minute", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
