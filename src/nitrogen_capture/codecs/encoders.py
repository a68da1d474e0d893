"""Video encoders of ``--frame-format video``: a table of specs, a real probe, and the choice.

``--video-encoder`` names one of :data:`ENCODERS` or ``auto``. Each :class:`EncoderSpec` maps
our two settings, ``--video-crf`` (0..51, lower = better) and ``--video-preset`` (libx264's
names), onto the encoder's own FFmpeg options as FFmpeg documents them:

- ``libx264``: ``crf``, ``preset`` as given.
- ``h264_nvenc`` / ``hevc_nvenc`` / ``av1_nvenc``: ``rc vbr`` with ``cq`` = crf and ``b 0``
  (constant quality, no bitrate cap), ``preset p1..p7`` (ultrafast -> p1 ... veryslow -> p7).
  ``cq 0`` means "automatic" to NVENC, so crf 0 becomes cq 1.
- ``h264_qsv``: ``global_quality`` = crf, ``preset`` veryfast..veryslow; frames as ``nv12``.
- ``h264_amf``: ``rc cqp`` with ``qp_i`` / ``qp_p`` = crf, ``quality`` speed / balanced /
  quality; frames as ``nv12``.
- ``h264_vaapi``: needs its frames in a VAAPI surface pool (``vaapi_device`` plus ``hwupload``
  in FFmpeg's command line). PyAV exposes neither a hardware frames context for an encoder nor
  a hardware device for its filter graphs, so this package cannot feed it: its probe always
  fails with that reason and ``auto`` moves on.
- ``libsvtav1``: ``crf`` = crf (its scale is 0..63, so the same number is a little better
  quality than x264's), ``preset`` 10 (ultrafast) .. 2 (veryslow).

Every encoder runs with ``max_b_frames = 0`` where the encoder has B-frames, so packet order is
frame order (crash recovery copies a prefix of packets; AV1 has no reordering between temporal
units). Frames are padded to an even size (:mod:`.h264`, the odd-size rule) for all of them.

Hardware encoders are written against FFmpeg's documented options and are verified only on a
machine with such hardware; without it their probe fails and ``auto`` falls back to libx264.

:func:`probe` opens a real codec context and encodes one small frame: a name in
``av.codecs_available`` says only that FFmpeg was built with the wrapper, not that a GPU, driver
or runtime is there. :func:`choose` resolves ``--video-encoder``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..errors import ConfigError

__all__ = ["AUTO_ORDER", "ENCODERS", "ENCODER_NAMES", "Choice", "EncoderSpec", "choose",
           "probe"]

_PRESET_INDEX = {"ultrafast": 0, "superfast": 1, "veryfast": 2, "faster": 3, "fast": 4,
                 "medium": 5, "slow": 6, "slower": 7, "veryslow": 8}


def _pick(preset: str, values: tuple[str, ...]) -> str:
    """The value at ``preset``'s place in libx264's 9 presets (``values`` has 9 entries)."""
    return values[_PRESET_INDEX.get(preset, 0)]


def _x264(crf: int, preset: str) -> dict[str, str]:
    return {"crf": str(crf), "preset": preset}


_NVENC_PRESETS = ("p1", "p1", "p2", "p3", "p4", "p4", "p5", "p6", "p7")


def _nvenc(crf: int, preset: str) -> dict[str, str]:
    return {"rc": "vbr", "cq": str(max(1, crf)), "b": "0",
            "preset": _pick(preset, _NVENC_PRESETS)}


_QSV_PRESETS = ("veryfast", "veryfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow")


def _qsv(crf: int, preset: str) -> dict[str, str]:
    return {"global_quality": str(max(1, crf)), "preset": _pick(preset, _QSV_PRESETS)}


_AMF_QUALITY = ("speed", "speed", "speed", "speed", "balanced", "balanced", "quality",
                "quality", "quality")


def _amf(crf: int, preset: str) -> dict[str, str]:
    return {"rc": "cqp", "qp_i": str(crf), "qp_p": str(crf),
            "quality": _pick(preset, _AMF_QUALITY)}


def _vaapi(crf: int, preset: str) -> dict[str, str]:
    return {"rc_mode": "CQP", "qp": str(max(1, crf))}


_SVT_PRESETS = ("10", "10", "9", "8", "7", "6", "5", "4", "2")


def _svtav1(crf: int, preset: str) -> dict[str, str]:
    return {"crf": str(crf), "preset": _pick(preset, _SVT_PRESETS)}


_VAAPI_REASON = "PyAV cannot give it VAAPI hardware frames (no vaapi_device/hwupload)"


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder: FFmpeg codec name, the stream's codec, its input pixel format, its options.

    ``unsupported``: a reason this package cannot drive the encoder through PyAV at all (its
    probe fails with it without trying).
    """

    name: str
    codec: str  # the stream's codec family: h264, hevc or av1
    pix_fmt: str
    map_options: Callable[[int, str], dict[str, str]]
    b_frames: bool = True  # has an max_b_frames setting to force to 0
    hardware: bool = True
    unsupported: str | None = None

    def options(self, crf: int, preset: str) -> dict[str, str]:
        """The encoder's FFmpeg options for our crf / preset."""
        return self.map_options(crf, preset)

    def settings(self, crf: int, preset: str) -> dict[str, Any]:
        """What meta.json records: codec, pixel format and the options given to FFmpeg."""
        return {"encoder": self.name, "codec": self.codec, "pix_fmt": self.pix_fmt,
                "options": self.options(crf, preset)}


ENCODERS: Mapping[str, EncoderSpec] = {s.name: s for s in (
    EncoderSpec("libx264", "h264", "yuv420p", _x264, hardware=False),
    EncoderSpec("h264_nvenc", "h264", "yuv420p", _nvenc),
    EncoderSpec("hevc_nvenc", "hevc", "yuv420p", _nvenc),
    EncoderSpec("h264_qsv", "h264", "nv12", _qsv),
    EncoderSpec("h264_amf", "h264", "nv12", _amf),
    EncoderSpec("h264_vaapi", "h264", "vaapi", _vaapi, unsupported=_VAAPI_REASON),
    EncoderSpec("av1_nvenc", "av1", "yuv420p", _nvenc),
    EncoderSpec("libsvtav1", "av1", "yuv420p", _svtav1, b_frames=False, hardware=False),
)}
ENCODER_NAMES: tuple[str, ...] = ("auto", *ENCODERS)
# What ``auto`` tries, in order; libx264 is the fallback.
AUTO_ORDER: tuple[str, ...] = ("h264_nvenc", "h264_qsv", "h264_amf", "h264_vaapi")
FALLBACK = "libx264"


def quiet_native_logs() -> None:
    """Keep SVT-AV1's banner (a dozen lines on stderr per stream) to its errors."""
    os.environ.setdefault("SVT_LOG", "1")


def configure(cc: Any, spec: EncoderSpec, crf: int, preset: str) -> None:
    """Set an encoder's codec context (pixel format, no B-frames, options) before it opens."""
    cc.pix_fmt = spec.pix_fmt
    if spec.b_frames:
        cc.max_b_frames = 0
    cc.options = spec.options(crf, preset)


def probe(name: str, width: int = 256, height: int = 144, *, crf: int = 18,
          preset: str = "ultrafast") -> str | None:
    """Open ``name`` for real and encode one small frame; None when it works, else why not."""
    spec = ENCODERS.get(name)
    if spec is None:
        return f"unknown encoder (one of {', '.join(ENCODERS)})"
    if spec.unsupported:
        return spec.unsupported
    try:
        import av
    except ImportError:
        return "PyAV is not installed (pip install 'nitrogen-capture[video]')"
    if name not in av.codecs_available:
        return "not in this FFmpeg build"
    quiet_native_logs()
    w, h = width + (width & 1), height + (height & 1)
    try:
        cc: Any = av.CodecContext.create(name, "w")
        cc.width, cc.height = w, h
        cc.time_base = Fraction(1, 30)
        cc.framerate = Fraction(30)
        configure(cc, spec, crf, preset)
        cc.open()
        frame = av.VideoFrame(w, h, spec.pix_fmt)
        for plane in frame.planes:  # a defined picture (mid grey), not uninitialised memory
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = 0
        packets = [*cc.encode(frame), *cc.encode(None)]
    except Exception as exc:  # av raises FFmpegError subclasses, ValueError, OSError ...
        # FFmpeg's own words ("Operation not permitted"), without PyAV's repeat of the options.
        text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
        return f"{type(exc).__name__}: {text}"
    if not any(p.size for p in packets):
        return "opened but produced no packet"
    return None


@dataclass(frozen=True)
class Choice:
    """The encoder to use and, when ``auto`` fell back, the one line saying why (else None)."""

    spec: EncoderSpec
    fallback_reason: str | None = None


def choose(requested: str, width: int = 256, height: int = 144, *, crf: int = 18,
           preset: str = "ultrafast") -> Choice:
    """Resolve ``--video-encoder``: ``auto`` probes :data:`AUTO_ORDER` then uses libx264.

    An explicit encoder that fails its probe is a ConfigError (one line, exit 2).
    """
    if requested != "auto":
        if requested not in ENCODERS:
            raise ConfigError(f"--video-encoder must be one of {', '.join(ENCODER_NAMES)}, "
                              f"got {requested}", setting="video_encoder")
        why = probe(requested, width, height, crf=crf, preset=preset)
        if why is not None:
            raise ConfigError(f"--video-encoder {requested} cannot encode on this machine: "
                              f"{why}", setting="video_encoder")
        return Choice(ENCODERS[requested])
    failures: list[tuple[str, str]] = []
    for name in AUTO_ORDER:
        why = probe(name, width, height, crf=crf, preset=preset)
        if why is None:
            return Choice(ENCODERS[name])
        failures.append((name, why))
    why = probe(FALLBACK, width, height, crf=crf, preset=preset)
    if why is not None:
        tried = "; ".join(f"{n}: {w}" for n, w in [*failures, (FALLBACK, why)])
        raise ConfigError(f"--frame-format video: no encoder works here ({tried})",
                          setting="video_encoder")
    line = (f"video encoder: {'; '.join(f'{n} unavailable ({w})' for n, w in failures)}; "
            f"using {FALLBACK}")
    return Choice(ENCODERS[FALLBACK], line)
