"""The audio source base class: blocks of game sound, stamped on the recording's clock.

An :class:`AudioSource` is one backend (PulseAudio/PipeWire monitor, WASAPI loopback, the
synthetic test tone) behind the factory in :mod:`.sources`. The recorder's audio thread
(:mod:`nitrogen_capture.record.audio`) calls :meth:`AudioSource.read` in a loop and stamps each
block with :func:`~nitrogen_capture.clock.now_ns` the moment it returns: the *arrival* time. The
device's own clock runs at its own rate, so the session stores pairs (device sample index,
arrival time) and fits the mapping afterwards (:mod:`.clockmap`) instead of assuming the nominal
rate (docs/audio.md "Timing").

A backend delivers int16 samples at the rate and channel count it was opened with (the sound
server converts); a device that vanishes or changes format mid-stream raises
:class:`~nitrogen_capture.errors.AudioError` from ``read``, and the audio thread reopens it as a
new *run* of device samples (a new line in the clock fit).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..errors import check_settings

__all__ = [
    "AUDIO_CHANNELS",
    "AUDIO_RATES",
    "AudioBlock",
    "AudioDevice",
    "AudioSettings",
    "AudioSource",
    "to_int16",
]

AUDIO_RATES: tuple[int, ...] = (16000, 22050, 24000, 32000, 44100, 48000)
AUDIO_CHANNELS: tuple[int, ...] = (1, 2)
MAX_BLOCK_MS = 200


@dataclass(frozen=True)
class AudioSettings:
    """What ``record --audio`` asks of the sound server.

    Attributes:
        source: ``default`` (the monitor of the output the game plays to; on Windows the default
            render endpoint's loopback), a device id or a part of its name, or ``app:NAME``
            (an application's stream, where the backend can; docs/audio.md).
        backend: ``auto`` (``pulse`` on Linux, ``wasapi`` on Windows), or one of
            :data:`~.sources.AUDIO_BACKENDS` (``synthetic``: a generated click track, for tests).
        rate: samples per second stored (the server converts to it).
        channels: 1 or 2.
        block_ms: how much sound one read returns at most (latency of the stamps, not of the
            sound: the clock fit removes a constant delay's jitter, not the delay).
    """

    source: str = "default"
    backend: str = "auto"
    rate: int = 48000
    channels: int = 2
    block_ms: int = 10

    def __post_init__(self) -> None:
        check_settings((
            (self.rate in AUDIO_RATES, "audio_rate",
             f"--audio-rate must be one of {', '.join(map(str, AUDIO_RATES))}, got {self.rate}"),
            (self.channels in AUDIO_CHANNELS, "audio_channels",
             f"--audio-channels must be 1 or 2, got {self.channels}"),
            (1 <= self.block_ms <= MAX_BLOCK_MS, "block_ms",
             f"audio block_ms must be 1..{MAX_BLOCK_MS}, got {self.block_ms}"),
            (bool(self.source.strip()) and len(self.source) <= 512
             and self.source.isprintable(), "audio_source",
             f"--audio-source must be a device id, a part of a name or app:NAME, got "
             f"{self.source!r}"),
        ))

    @property
    def block_frames(self) -> int:
        """Samples (per channel) in one full block."""
        return max(1, self.rate * self.block_ms // 1000)


@dataclass(frozen=True)
class AudioBlock:
    """One read's worth of sound.

    ``samples`` is ``(n, channels)`` int16. ``t_ns`` is the monotonic clock when the read
    returned (the last sample's arrival); the audio thread stamps it, not the backend.
    """

    samples: npt.NDArray[np.int16]
    t_ns: int


@dataclass(frozen=True)
class AudioDevice:
    """What ``nitrogen-capture audio-sources`` lists.

    ``kind``: ``monitor`` (what an output plays: the game's sound), ``application`` (one
    program's stream), ``input`` (a microphone). ``id`` is what ``--audio-source`` takes.
    """

    id: str
    name: str
    kind: str
    backend: str
    default: bool = False
    details: str = ""

    def to_json(self) -> dict[str, Any]:
        """The device's object in ``audio-sources --json``."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "backend": self.backend,
                "default": self.default, "details": self.details}


class AudioSource(ABC):
    """One audio backend, opened for one recording (a context manager).

    Subclasses set :attr:`name` and implement :meth:`open`, :meth:`read` and :meth:`close`;
    the platform library is imported inside :meth:`open` (or the factory), never at import.
    """

    name: ClassVar[str] = "base"

    def __init__(self, settings: AudioSettings) -> None:
        self.settings = settings
        # What was opened: {"id": ..., "name": ..., "kind": ...}; meta.json audio.device.
        self.device: dict[str, Any] = {}

    @abstractmethod
    def open(self) -> None:
        """Connect and start the stream.

        Raises:
            AudioError: no sound server, no such device (the message lists what there is),
                or the device refuses the rate/channels.
        """

    @abstractmethod
    def read(self) -> npt.NDArray[np.int16] | None:
        """The samples that arrived since the last read, ``(n, channels)`` int16.

        Waits at most about two blocks; None when nothing came in that time (a stalled or
        suspended device: the audio thread counts the stall, it does not stop).

        Raises:
            AudioError: the device went away or changed format (the thread reopens it).
        """

    @abstractmethod
    def close(self) -> None:
        """Stop the stream and disconnect (idempotent, never raises on a lost device)."""

    @classmethod
    def list_devices(cls) -> list[AudioDevice]:
        """What this backend can record, the default first (``audio-sources``).

        Raises:
            AudioError: the sound server cannot be reached.
        """
        return []

    def describe(self) -> dict[str, Any]:
        """The source's entry in ``meta.json`` ``audio.source``."""
        return {"backend": self.name, **self.device}

    def __enter__(self) -> AudioSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_int16(samples: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Float samples in [-1, 1] (what most libraries give) as int16, clipped."""
    if samples.dtype == np.int16:
        return samples
    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype(np.int16)
