"""Per-frame audio features for the ``.pt`` export: a log-mel slice ending at each frame's time.

numpy only (no torchaudio or librosa): a Hann-windowed STFT and an HTK mel filterbank. For a frame
captured at session time ``t`` the slice covers the audio *before* ``t`` (what had been heard when
the frame was grabbed): ``frames`` STFT frames of ``n_fft`` samples, hop ``hop``, the last one
ending at sample ``round(t * rate)`` (docs/export.md, "Audio features"). ``frames`` is the
window (default one frame period) in hops, at least 1. Channels are mixed to mono; samples
outside the recording are silence. Values are ``ln(power + 1e-10)`` of the mel bands, the power
of samples scaled to [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..session.audio_store import SessionAudio

__all__ = ["AUDIO_FEATURES", "LogMelSpec", "logmel", "logmel_blocks", "mel_filterbank", "mono"]

AUDIO_FEATURES: tuple[str, ...] = ("logmel",)  # --audio-features choices
_EPS = 1e-10
_BLOCK = 256  # frames computed at once (bounded memory: 256 x frames x n_fft floats)


def _hz_to_mel(f: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0))


def _mel_to_hz(m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0))


def mel_filterbank(rate: int, n_fft: int, n_mels: int) -> npt.NDArray[np.float32]:
    """Triangular HTK-mel filters ``(n_mels, n_fft // 2 + 1)`` from 0 Hz to ``rate / 2``.

    A low band narrower than the FFT's bin spacing would catch no bin: it takes the bin nearest
    its centre instead, so no band is constant.
    """
    bins = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(rate / 2)), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - bins[None, :]) / np.maximum(hi - mid, 1e-9)
    fb = np.clip(np.minimum(up, down), 0.0, None)
    for m in np.flatnonzero(fb.sum(axis=1) == 0):
        fb[m, int(np.argmin(np.abs(bins - mid[m, 0])))] = 1.0
    return fb.astype(np.float32)


@dataclass(frozen=True)
class LogMelSpec:
    """The log-mel settings of one export (all derived from the rate and the window).

    Attributes:
        rate: the session audio's rate.
        window_s: the audio each frame's slice covers, seconds before its time.
        n_mels: mel bands.
        n_fft: STFT length: the power of two nearest above 25 ms.
        hop: STFT hop, ``n_fft // 4``.
        frames: STFT frames per slice, ``ceil(window_s * rate / hop)``, at least 1.
    """

    rate: int
    window_s: float
    n_mels: int = 64
    n_fft: int = 0
    hop: int = 0
    frames: int = 0

    @classmethod
    def make(cls, rate: int, window_s: float, n_mels: int = 64) -> LogMelSpec:
        """The spec for ``rate`` and ``window_s`` (n_fft, hop and frames derived)."""
        n_fft = 1 << max(6, math.ceil(math.log2(0.025 * rate)))
        hop = n_fft // 4
        return cls(rate, window_s, n_mels, n_fft, hop, max(1, math.ceil(window_s * rate / hop)))

    def to_json(self) -> dict[str, Any]:
        """For the export's meta (docs/export.md, "Audio features")."""
        return {"kind": "logmel", "rate": self.rate, "window_s": self.window_s,
                "n_mels": self.n_mels, "n_fft": self.n_fft, "hop": self.hop,
                "frames": self.frames, "window": "hann", "mel": "htk, 0 Hz to rate/2",
                "value": "ln(power + 1e-10)", "ends_at": "the frame's timestamp"}


def mono(audio: SessionAudio) -> npt.NDArray[np.float32]:
    """The session audio mixed to one channel, scaled to [-1, 1]."""
    return np.asarray(audio.samples.mean(axis=1, dtype=np.float32) / 32768.0, np.float32)


def logmel(audio: SessionAudio, t_ns: npt.ArrayLike, spec: LogMelSpec,
           fb: npt.NDArray[np.float32] | None = None,
           mixed: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
    """float32 ``(len(t_ns), n_mels, frames)``: the slice ending at each time (ns since t0).

    ``fb`` (:func:`mel_filterbank`) and ``mixed`` (:func:`mono`) may be passed in, computed once
    for many calls.
    """
    fb = mel_filterbank(spec.rate, spec.n_fft, spec.n_mels) if fb is None else fb
    ends = audio.sample_at(np.asarray(t_ns, dtype=np.int64)).reshape(-1)
    mono_ = mono(audio) if mixed is None else mixed
    # (n, frames, n_fft) sample indices: frame j ends hop * (frames - 1 - j) before the time.
    back = spec.hop * np.arange(spec.frames - 1, -1, -1, dtype=np.int64)
    idx = ends[:, None, None] - back[None, :, None] - spec.n_fft \
        + np.arange(spec.n_fft, dtype=np.int64)[None, None, :]
    ok = (idx >= 0) & (idx < len(mono_))
    x = np.where(ok, mono_[np.clip(idx, 0, max(len(mono_) - 1, 0))] if len(mono_) else 0.0, 0.0)
    spectrum = np.fft.rfft(x * np.hanning(spec.n_fft).astype(np.float32), axis=-1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    mel = power @ fb.T  # (n, frames, n_mels)
    return np.ascontiguousarray(np.log(mel + _EPS).transpose(0, 2, 1), dtype=np.float32)


def logmel_blocks(audio: SessionAudio, t_ns: npt.NDArray[np.int64], spec: LogMelSpec
                  ) -> Iterator[npt.NDArray[np.float32]]:
    """:func:`logmel` of ``t_ns`` one slice at a time, computed :data:`_BLOCK` at once."""
    fb, mixed = mel_filterbank(spec.rate, spec.n_fft, spec.n_mels), mono(audio)
    for a in range(0, len(t_ns), _BLOCK):
        yield from logmel(audio, t_ns[a:a + _BLOCK], spec, fb, mixed)
