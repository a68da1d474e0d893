"""Frozen settings for recording, checked when built.

The CLI parses flags into a :class:`RecordConfig`; library users build one directly. The fields'
defaults are the flags' defaults: ``nitrogen-capture record`` reads them from here (and
``tests/test_settings.py`` fails if a flag drifts). Every check raises
:class:`~nitrogen_capture.errors.ConfigError` with the bad value, what is allowed, the field's
flag in the message and the field's name in ``setting``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .capture.base import Region
from .errors import ConfigError
from .keylayout import DEFAULT_LAYOUT, KeyLayout
from .session.frames import FRAME_STORES

__all__ = ["FRAME_FORMATS", "WINDOW_FIELDS", "RecordConfig", "TargetSpec"]

# The frame stores' registry names them (session/frames): a new store is a new choice.
FRAME_FORMATS: tuple[str, ...] = tuple(FRAME_STORES)
# The fields that pick a window; given together, a window must match all of them.
WINDOW_FIELDS: tuple[str, ...] = ("process_name", "window_title", "pid")


def _check(checks: list[tuple[bool, str, str]]) -> None:
    """Raise a ConfigError for the first ``(ok, setting, message)`` that is not ok."""
    for ok, setting, message in checks:
        if not ok:
            raise ConfigError(message, setting=setting)


@dataclass(frozen=True)
class TargetSpec:
    """What to capture: a window (by process name, title or PID) or a fixed region.

    A window is picked by ``process_name``, ``window_title`` and/or ``pid``; given together they
    narrow each other (the window must match all, as
    :func:`~nitrogen_capture.targets.resolve_target` documents). ``region`` excludes them all:
    a target is a window or a region, never both (neither: the whole of ``monitor``).
    ``wait_s`` is how long to wait for the window to appear and be mapped.
    """

    process_name: str | None = None
    window_title: str | None = None
    pid: int | None = None
    region: Region | None = None
    monitor: int | None = None
    wait_s: float = 10.0

    def __post_init__(self) -> None:
        window = ["--" + name.replace("_", "-") for name in WINDOW_FIELDS
                  if getattr(self, name) is not None]
        if window and self.region is not None:
            raise ConfigError(f"give a window (--process-name, --window-title, --pid) or "
                              f"--region, not both: got {' and '.join(window)} and --region",
                              setting="region")
        _check([
            (self.wait_s >= 0, "wait_s", f"--wait must be >= 0 seconds, got {self.wait_s:g}"),
            (self.pid is None or self.pid > 0, "pid",
             f"--pid must be a positive process id, got {self.pid}"),
            (self.monitor is None or self.monitor >= 0, "monitor",
             f"--monitor must be >= 0, got {self.monitor}"),
        ])

    @property
    def is_window(self) -> bool:
        """True when a window is to be looked up (rather than a fixed region)."""
        return any(getattr(self, name) is not None for name in WINDOW_FIELDS)

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
        layout: the keys that become action columns.
        frame_format: ``png`` (default, the original layout) or ``video``.
        png_encoder: ``auto`` (fpng when installed), ``fpng`` or ``opencv``.
        video_crf / video_preset: libx264 quality (0..51, lower is better) and speed preset of
            ``video`` storage (checked by :class:`~nitrogen_capture.codecs.video.VideoSettings`).
        encoder_workers: encoder processes (frames are never encoded on the capture thread).
        queue_frames: bound of the frame queue; a full queue drops the frame and counts it.
        status_interval: seconds between status updates (0 disables the status line).
        focus_pause: pause while the target window is not focused.
        gamepad: record a gamepad (``gamepad_chunk_NNN.npy``).
        gamepad_backend: ``auto`` (XInput on Windows, SDL elsewhere), ``xinput`` or ``sdl``.
        max_seconds: stop after this many seconds (0 = no limit).
        merge: after a clean stop, ``nitrogen-capture record`` merges the chunks into the
            dataset files (:func:`~nitrogen_capture.session.merge_session`); the
            :class:`~nitrogen_capture.record.Recorder` itself only writes chunks.
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
    merge: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        _check([
            (0 < self.fps <= 240, "fps", f"--fps must be in (0, 240], got {self.fps:g}"),
            (self.chunk_size >= 1, "chunk_size",
             f"--chunk-size must be >= 1, got {self.chunk_size}"),
            (self.max_frames >= 0, "max_frames",
             f"--max-frames must be >= 0 (0 = unlimited), got {self.max_frames}"),
            (self.max_seconds >= 0, "max_seconds",
             f"--seconds must be >= 0, got {self.max_seconds:g}"),
            (self.frame_format in FRAME_FORMATS, "frame_format",
             f"--frame-format must be one of {', '.join(FRAME_FORMATS)}, "
             f"got {self.frame_format}"),
            (1 <= self.encoder_workers <= 32, "encoder_workers",
             f"--encoder-workers must be in 1..32, got {self.encoder_workers}"),
            (self.queue_frames >= 1, "queue_frames",
             f"--queue-frames must be >= 1, got {self.queue_frames}"),
            (self.status_interval >= 0, "status_interval",
             f"--status-interval must be >= 0, got {self.status_interval:g}"),
        ])
        FRAME_STORES[self.frame_format].check_settings(self)  # e.g. the video crf and preset
