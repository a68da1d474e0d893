"""Reading a :class:`~nitrogen_capture.audio.base.AudioSource` in the pulse tests and bench.

Every loop here is bounded by a deadline that is a margin (a loaded two-core machine), and ends on
its condition: enough samples, an error, a process gone.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from nitrogen_capture.audio.base import AudioSource

MARGIN_S = 20.0


def first_block(source: AudioSource, timeout: float = MARGIN_S) -> npt.NDArray[np.int16]:
    """The first non-empty read (an idle null sink starts delivering after up to ~2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        block = source.read()
        if block is not None and len(block):
            return block
    raise AssertionError(f"no audio within {timeout:g} s")


def read_samples(source: AudioSource, n: int,
                 timeout: float = MARGIN_S) -> npt.NDArray[np.int16]:
    """At least ``n`` samples (per channel) read from ``source``."""
    got: list[npt.NDArray[np.int16]] = []
    total = 0
    deadline = time.monotonic() + timeout
    while total < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {total} of {n} samples within {timeout:g} s")
        block = source.read()
        if block is not None:
            got.append(block)
            total += len(block)
    return np.concatenate(got)


def peak_hz(mono: npt.NDArray[np.floating], rate: int) -> float:
    """The strongest frequency of ``mono``."""
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])


def tone(hz: float, seconds: float, rate: int, amplitude: float = 8000.0
         ) -> npt.NDArray[np.int16]:
    """A mono sine, int16."""
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def locate(recorded: npt.NDArray[np.floating], signal: npt.NDArray[np.floating]) -> int:
    """Where ``signal`` starts in ``recorded`` (cross-correlation through the FFT)."""
    n = len(recorded) + len(signal)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(signal, size)), size)
    return int(np.argmax(corr[:len(recorded) - len(signal) + 1]))
