"""The sound track of ``preview.mp4``: the session audio under each frame it shows (docs/audio.md).

Output frame ``k`` of the preview shows merged row ``rows[k]``, captured at ``timestamps[row]``;
its sound is the session audio from that time for one output frame. Within a *stretch* (rows whose
times follow the output rate, no pause, no dropped tick) the audio is taken continuously, on the
stretch's step from its rows' median offset, so frame jitter (or one late grab) neither chops nor
shifts the sound; a stretch ends where an interval is off the step by more than half of it (a
pause, a gap), and the sound jumps with the picture. When the preview plays slower than real
time (a session faster than 60 fps) the sound is slowed by the same factor (nearest sample: a
lower pitch, still under its frame).

Encoded as AAC (FFmpeg's native encoder, in every PyAV build) at the session's rate: the MP4
muxer writes the encoder's priming as an edit list, so sample 0 plays at time 0 with frame 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from ..session.audio_store import SessionAudio

__all__ = ["AUDIO_CODEC", "AudioTrack", "SpanSound"]

AUDIO_CODEC = "aac"


class SpanSound:
    """The samples under each output frame of a preview span (see the module docstring).

    Args:
        audio: the session's merged audio.
        times_ns: the capture time of each output frame's row (ns since ``clock.t0_ns``).
        rate: the preview's output frame rate.
        session_step_s: session seconds between two output frames (``every / fps``).
    """

    def __init__(self, audio: SessionAudio, times_ns: Sequence[int] | npt.NDArray[np.int64],
                 rate: Fraction, session_step_s: float) -> None:
        self.audio = audio
        self.rate = rate
        times = np.asarray(times_ns, dtype=np.int64)
        self.speed = session_step_s * float(rate)  # session seconds per output second
        step_ns = session_step_s * 1e9
        # Stretches: a new one where an interval is off the step by more than half a step (a
        # pause, dropped ticks). Each stretch runs on the step from its median offset, so one
        # late grab (often the first) does not shift the sound of the whole stretch.
        breaks = np.abs(np.diff(times) - step_ns) > step_ns / 2
        self._anchor = np.zeros(len(times), np.int64)
        self._t0 = np.zeros(len(times), np.float64)
        starts = [0, *(np.flatnonzero(breaks) + 1).tolist(), len(times)]
        for a, b in itertools.pairwise(starts):
            self._anchor[a:b] = a
            self._t0[a:b] = float(np.median(times[a:b] - np.arange(b - a) * step_ns))

    def bounds(self, k: int) -> tuple[int, int]:
        """Output samples ``[a, b)`` of output frame ``k``."""
        per = self.audio.rate / float(self.rate)
        return round(k * per), round((k + 1) * per)

    def frame(self, k: int) -> npt.NDArray[np.int16]:
        """The int16 ``(n, channels)`` samples played under output frame ``k``."""
        a, b = self.bounds(k)
        k0 = int(self._anchor[k])
        j0 = self.bounds(k0)[0]
        s0 = float(self._t0[k0]) * self.audio.rate / 1e9
        src = np.round(s0 + (np.arange(a, b) - j0) * self.speed).astype(np.int64)
        out = np.zeros((b - a, self.audio.channels), np.int16)
        ok = (src >= 0) & (src < len(self.audio.samples))
        out[ok] = self.audio.samples[src[ok]]
        return out


class AudioTrack:
    """An AAC stream added to an open container, fed one block of int16 samples at a time."""

    def __init__(self, container: Any, rate: int, channels: int) -> None:
        import av

        self._av = av
        self.layout = "mono" if channels == 1 else "stereo"
        self.rate = rate
        self.stream: Any = container.add_stream(AUDIO_CODEC, rate=rate, layout=self.layout)
        self.stream.time_base = Fraction(1, rate)
        self._container = container
        self.samples = 0

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        """Encode the next samples (PyAV re-blocks them to the encoder's frame size)."""
        if not len(samples):
            return
        frame = self._av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.int16).reshape(1, -1), format="s16",
            layout=self.layout)
        frame.sample_rate = self.rate
        frame.pts = self.samples
        self.samples += len(samples)
        for packet in self.stream.encode(frame):
            self._container.mux(packet)

    def flush(self) -> None:
        """Drain the encoder (before the container closes)."""
        for packet in self.stream.encode(None):
            self._container.mux(packet)
