"""A synthetic audio source: a click track on its own, deliberately drifting, clock.

It needs no sound server, so the audio path (stamps, clock fit, cuts, chunk files, crash
recovery, merge, exports) runs anywhere. The "device" produces sample ``k`` at
``t_open + k / (rate * (1 + drift_ppm / 1e6))`` on the monotonic clock: a device clock that runs
fast or slow, as real ones do. Every ``click_s`` seconds of device time it plays a 5 ms 2 kHz
click; :meth:`SyntheticAudio.click_times_ns` says when each was produced, so a test checks where
the merged audio put it. The source string takes options, ``;``-separated::

    drift_ppm=300;click_s=0.5;vanish_s=3;rate_s=4;stall_s=2

``vanish_s``: ``read`` raises AudioError once that many seconds after opening (the device went
away; the reopened stream works). ``rate_s``: the same, as a format change. ``stall_s``: the
device delivers nothing for 1 s from then (a suspended sink), then resumes where its clock is.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from ..clock import now_ns
from ..errors import AudioError, ConfigError
from .base import AudioDevice, AudioSettings, AudioSource

__all__ = ["SyntheticAudio"]

_OPTIONS = ("drift_ppm", "click_s", "vanish_s", "rate_s", "stall_s")
CLICK_HZ = 2000.0
CLICK_MS = 5.0


def _options(source: str) -> dict[str, float]:
    opts: dict[str, float] = {"drift_ppm": 0.0, "click_s": 0.5}
    if source in ("default", "synthetic"):
        return opts
    for part in source.split(";"):
        key, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or key.strip() not in _OPTIONS or not np.isfinite(number) or number < -1e4:
            raise ConfigError(f"synthetic --audio-source takes {'=N;'.join(_OPTIONS)}=N, got "
                              f"{source!r}", setting="audio_source")
        opts[key.strip()] = number
    if opts["click_s"] <= 0:
        raise ConfigError("synthetic --audio-source click_s must be > 0", setting="audio_source")
    return opts


class SyntheticAudio(AudioSource):
    """See the module docstring."""

    name = "synthetic"

    def __init__(self, settings: AudioSettings) -> None:
        super().__init__(settings)
        self.options = _options(settings.source)
        self._t_open = 0
        self._produced = 0  # samples delivered since open
        self._failed: set[str] = set()
        self.opened = 0
        self.device = {"id": "synthetic", "name": "synthetic click track", "kind": "monitor"}

    @classmethod
    def list_devices(cls) -> list[AudioDevice]:
        """The one synthetic device."""
        return [AudioDevice("synthetic", "synthetic click track", "monitor", "synthetic", True)]

    @property
    def device_rate(self) -> float:
        """Samples per second of the device's clock as the monotonic clock counts them."""
        return self.settings.rate * (1.0 + self.options["drift_ppm"] / 1e6)

    def open(self) -> None:
        """Start the device clock now."""
        self._t_open = now_ns()
        self._produced = 0
        self.opened += 1

    def _due(self, now: int) -> int:
        """Samples the device has produced by ``now``."""
        return int((now - self._t_open) * self.device_rate / 1e9)

    def _fail_if(self, key: str, elapsed_s: float, what: str) -> None:
        at = self.options.get(key)
        if at is not None and key not in self._failed and elapsed_s >= at:
            self._failed.add(key)
            raise AudioError(f"synthetic audio device {what}")

    def read(self) -> npt.NDArray[np.int16] | None:
        """The samples produced since the last read (waits for one block at most)."""
        s = self.settings
        target = self._produced + s.block_frames
        due_ns = self._t_open + int(target * 1e9 / self.device_rate)
        wait = (due_ns - now_ns()) / 1e9
        if wait > 0:
            time.sleep(min(wait, 2 * s.block_ms / 1000))
        now = now_ns()
        elapsed = (now - self._t_open) / 1e9
        self._fail_if("vanish_s", elapsed, "went away")
        self._fail_if("rate_s", elapsed, "changed its sample rate")
        stall = self.options.get("stall_s")
        if stall is not None and stall <= elapsed < stall + 1.0:
            return None
        due = self._due(now)
        if due <= self._produced:
            return None
        if stall is not None and elapsed >= stall + 1.0 and "stall" not in self._failed:
            self._failed.add("stall")  # a suspended sink resumes at its clock: samples lost
            self._produced = max(self._produced, self._due(self._t_open + int(
                (stall + 1.0) * 1e9)) - s.block_frames)
        block = self._render(self._produced, due)
        self._produced = due
        return block

    def _render(self, start: int, end: int) -> npt.NDArray[np.int16]:
        """Device samples ``[start, end)``: quiet noise plus the clicks that fall in them."""
        s = self.settings
        k = np.arange(start, end, dtype=np.int64)
        rng = np.random.default_rng(start)
        mono = rng.normal(0.0, 40.0, len(k))
        period = max(1, round(self.options["click_s"] * s.rate))
        pos = k % period
        in_click = pos < int(CLICK_MS / 1000 * s.rate)
        mono[in_click] += 12000.0 * np.sin(2 * np.pi * CLICK_HZ * pos[in_click] / s.rate)
        out = np.clip(np.round(mono), -32768, 32767).astype(np.int16)
        return np.repeat(out[:, None], s.channels, axis=1)

    def click_times_ns(self, until_ns: int) -> list[int]:
        """Monotonic times the clicks of the current run started, up to ``until_ns``."""
        period = max(1, round(self.options["click_s"] * self.settings.rate))
        times: list[int] = []
        k = 0
        while True:
            t = self._t_open + int(k * 1e9 / self.device_rate)
            if t > until_ns:
                return times
            times.append(t)
            k += period

    def close(self) -> None:
        """Nothing to release."""

    def describe(self) -> dict[str, Any]:
        """Backend, device and the options it ran with."""
        return {**super().describe(), "options": dict(self.options)}
