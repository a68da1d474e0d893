"""What reading the ``pulse`` backend costs: block arrival jitter and CPU per minute of audio.

    python bench/audio_pulse.py [--seconds 10] [--block-ms 10] [--rate 48000] [--channels 2]

Starts the tests' private PulseAudio server (tests/pulse_server.py: a null sink ``game``),
plays noise into it with ``pacat`` for the whole run (a game that plays sound: a busy sink),
and reads its monitor with :class:`~nitrogen_capture.audio._pulse.PulseSource` for
``--seconds`` of audio. Prints JSON: per block, the arrival time (monotonic, when ``read``
returned) against a straight line fitted to (samples so far, arrival): the residual's
p50/p99/max (ms) is the arrival jitter the clock fit sees; the inter-arrival p50/p99; the CPU
seconds per minute of audio of this process's threads (the reader and libpulse's mainloop
thread; not the thread feeding ``pacat``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test server

from nitrogen_capture.audio._pulse import PulseSource
from nitrogen_capture.audio.base import AudioSettings
from pulse_server import PulseServer


def _cpu(skip: int | None) -> float:
    """CPU seconds of this process's threads but ``skip`` (user + system)."""
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id != skip)


def measure(seconds: float, block_ms: int, rate: int, channels: int) -> dict[str, object]:
    """Run the measurement (see the module docstring)."""
    settings = AudioSettings(backend="pulse", rate=rate, channels=channels, block_ms=block_ms)
    noise = np.random.default_rng(1).normal(0, 3000, (int((seconds + 6) * 48000), 2))
    with PulseServer() as server, server.applied(), PulseSource(settings) as src:
        player = server.play(noise.astype(np.int16), 48000)
        while src.read() is None:  # an idle null sink starts delivering after up to ~2 s
            pass
        arrivals, counts, total, nones = [], [], 0, 0
        feeder = server._players[-1][1].native_id  # pacat's feeder thread is not the reader
        cpu0 = _cpu(feeder)
        while total < seconds * rate:
            block = src.read()
            if block is None:
                nones += 1
                continue
            arrivals.append(time.monotonic_ns())
            total += len(block)
            counts.append(total)
        cpu = _cpu(feeder) - cpu0
        player.kill()
    t = (np.array(arrivals) - arrivals[0]) / 1e6
    k = np.array(counts, dtype=np.float64)
    slope, icept = np.polyfit(k, t, 1)
    resid = np.abs(t - (slope * k + icept))
    gaps = np.diff(t)
    return {"seconds": seconds, "block_ms": block_ms, "rate": rate, "channels": channels,
            "blocks": len(arrivals), "empty_reads": nones,
            "samples_per_block_p50": float(np.median(np.diff(k))),
            "jitter_ms": {"p50": round(float(np.percentile(resid, 50)), 3),
                          "p99": round(float(np.percentile(resid, 99)), 3),
                          "max": round(float(resid.max()), 3)},
            "interarrival_ms": {"p50": round(float(np.percentile(gaps, 50)), 3),
                                "p99": round(float(np.percentile(gaps, 99)), 3)},
            "measured_rate": round(1000.0 / slope, 1),
            "cpu_s_per_audio_min": round(cpu / (total / rate) * 60, 3)}


def main() -> int:
    """Parse the flags, measure, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--block-ms", type=int, default=10)
    p.add_argument("--rate", type=int, default=48000)
    p.add_argument("--channels", type=int, default=2)
    a = p.parse_args()
    print(json.dumps(measure(a.seconds, a.block_ms, a.rate, a.channels), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
