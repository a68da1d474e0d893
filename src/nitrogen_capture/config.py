"""Frozen settings for recording, checked when built.

The CLI parses flags into a :class:`RecordConfig`; library users build one directly. Every check
raises :class:`~nitrogen_capture.errors.ConfigError` with the bad value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .capture.base import Region
from .errors import ConfigError
from .keylayout import DEFAULT_LAYOUT, KeyLayout

__all__ = ["FRAME_FORMATS", "RecordConfig", "TargetSpec"]

FRAME_FORMATS: tuple[str, ...] = ("png", "video")


@dataclass(frozen=True)
class TargetSpec:
    """What to capture: a window (by process name, title or PID) or a fixed region.

    ``wait_s`` is how long to wait for the window to appear and be mapped.
    """

    process_name: str | None = None
    window_title: str | None = None
    pid: int | None = None
    region: Region | None = None
    monitor: int | None = None
    wait_s: float = 10.0

    def __post_init__(self) -> None:
        if self.wait_s < 0:
            raise ConfigError(f"--wait must be >= 0 seconds, got {self.wait_s:g}")
        if self.pid is not None and self.pid <= 0:
            raise ConfigError(f"--pid must be a positive process id, got {self.pid}")
        if self.monitor is not None and self.monitor < 0:
            raise ConfigError(f"--monitor must be >= 0, got {self.monitor}")

    @property
    def is_window(self) -> bool:
        """True when a window is to be looked up (rather than a fixed region)."""
        return any(v is not None for v in (self.process_name, self.window_title, self.pid))

    def describe(self) -> str:
        """Human description for messages."""
        if self.process_name:
            return f"process '{self.process_name}'"
        if self.window_title:
            return f"window title containing '{self.window_title}'"
        if self.pid:
            return f"PID {self.pid}"
        if self.region:
            return "region " + " ".join(map(str, self.region.to_list()))
        return f"monitor {self.monitor or 0}"


@dataclass(frozen=True)
class RecordConfig:
    """Everything a recording needs.

    Attributes:
        out: session directory (must not hold a session yet).
        fps: target capture rate.
        chunk_size: frames per chunk (the original default is 500).
        max_frames: stop after this many frames (0 = until Ctrl+C / SIGTERM).
        skip_late: skip whole missed periods instead of re-anchoring the schedule.
        start_immediately: record from the start instead of waiting for a resume hotkey.
        capture_backend / input_backend: backend names, ``auto`` to detect.
        seed: seed of the synthetic source and scripted input timeline.
        frame_format: ``png`` (default, the original layout) or ``video``.
        video_crf / video_preset: libx264 quality (0..51, lower is better) and speed preset of
            ``video`` storage (checked by :class:`~nitrogen_capture.codecs.video.VideoSettings`).
        encoder_workers: encoder processes (frames are never encoded on the capture thread).
        queue_frames: bound of the frame queue; a full queue drops the frame and counts it.
        status_interval: seconds between status updates (0 disables the status line).
        focus_pause: pause while the target window is not focused.
        gamepad: record a gamepad (``gamepad_chunk_NNN.npy``).
        gamepad_backend: ``auto`` (XInput on Windows, SDL elsewhere), ``xinput`` or ``sdl``.
    """

    out: Path
    target: TargetSpec = field(default_factory=TargetSpec)
    fps: float = 30.0
    chunk_size: int = 500
    max_frames: int = 0
    skip_late: bool = False
    start_immediately: bool = False
    capture_backend: str = "auto"
    input_backend: str = "auto"
    seed: int = 0
    layout: KeyLayout = DEFAULT_LAYOUT
    frame_format: str = "png"
    png_encoder: str = "auto"
    video_crf: int = 18
    video_preset: str = "ultrafast"
    encoder_workers: int = 2
    queue_frames: int = 64
    status_interval: float = 1.0
    focus_pause: bool = True
    gamepad: bool = False
    gamepad_backend: str = "auto"
    max_seconds: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if not 0 < self.fps <= 240:
            raise ConfigError(f"--fps must be in (0, 240], got {self.fps:g}")
        if self.chunk_size < 1:
            raise ConfigError(f"--chunk-size must be >= 1, got {self.chunk_size}")
        if self.max_frames < 0:
            raise ConfigError(f"--max-frames must be >= 0 (0 = unlimited), got {self.max_frames}")
        if self.max_seconds < 0:
            raise ConfigError(f"--seconds must be >= 0, got {self.max_seconds:g}")
        if self.frame_format not in FRAME_FORMATS:
            raise ConfigError(
                f"--frame-format must be one of {', '.join(FRAME_FORMATS)}, got {self.frame_format}"
            )
        if self.frame_format == "video":
            from .codecs.video import VideoSettings

            VideoSettings(self.fps, self.video_crf, self.video_preset)  # raises ConfigError
        if not 1 <= self.encoder_workers <= 32:
            raise ConfigError(f"--encoder-workers must be in 1..32, got {self.encoder_workers}")
        if self.queue_frames < 1:
            raise ConfigError(f"--queue-frames must be >= 1, got {self.queue_frames}")
        if self.status_interval < 0:
            raise ConfigError(f"--status-interval must be >= 0, got {self.status_interval:g}")
