"""Frozen settings for recording, checked when built.

The CLI parses flags into a :class:`RecordConfig`; library users build one directly. The fields'
defaults are the flags' defaults: ``nitrogen-capture record`` reads them from here (and
``tests/cli/test_settings.py`` fails if a flag drifts). Every check raises
:class:`~nitrogen_capture.errors.ConfigError` with the bad value, what is allowed, the field's
flag in the message and the field's name in ``setting``. Every number must be finite and within
a sane upper bound (:func:`~nitrogen_capture.bounds.number_check`; the constants below and the
flags' help name them): ``nan``/``inf`` never reach the recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .audio.base import AudioSettings
from .bounds import (
    MAX_LATENCY_MS,
    MAX_SECONDS,
    UINT32_MAX,
    choice_check,
    format_number,
    number_check,
    text_check,
)
from .capture.base import MAX_REGION_SIDE, Region
from .cues import CUE_BACKENDS
from .encoderpool.priority import ENCODER_PRIORITIES
from .errors import ConfigError, check_settings
from .indicator import INDICATOR_BACKENDS
from .keylayout import CHORD_PREFIX, DEFAULT_LAYOUT, KeyLayout, pretty_key
from .session.frames import FRAME_STORES, EncodeSettings
from .session.labels import (
    CONTROLLERS,
    MAX_LABEL_CHARS,
    MAX_NOTES_CHARS,
    MAX_TAGS,
    MAX_TASK_CHARS,
    OUTCOMES,
    tag_problem,
)
from .session.meta_latency import LatencyInfo

__all__ = ["FRAME_FORMATS", "MIN_FPS", "WINDOW_FIELDS", "RecordConfig", "TargetSpec",
           "check_labels"]

# The frame stores' registry names them (session/frames): a new store is a new choice.
FRAME_FORMATS: tuple[str, ...] = tuple(FRAME_STORES)
# The slowest capture rate: one frame per 1000 s (a slower one is not a recording; 1e-300 would
# overflow the pacer's nanosecond period).
MIN_FPS = 0.001
# Sanity bounds of the record flags (the messages name them).
MAX_CHUNK_SIZE = 100_000  # frames per chunk (about 7 min at 240 fps)
MAX_FRAMES = 1_000_000_000  # --max-frames (48 days at 240 fps)
MAX_QUEUE_FRAMES = 1024  # each queued frame is held in memory: 6 MB at 1080p
MAX_SYNTHETIC_REPEAT = 1_000_000  # --synthetic-repeat: every Nth synthetic frame repeats
MAX_STATUS_INTERVAL = 3600.0
MIN_STATUS_INTERVAL = 0.1
MAX_MONITOR = 63
# The fields that pick a window; given together, a window must match all of them.
WINDOW_FIELDS: tuple[str, ...] = ("process_name", "window_title", "pid")


_OK = (True, "", "")


def check_labels(game: str | None, notes: str | None, controller: str | None, *,
                 task: str | None = None, outcome: str | None = None,
                 tags: tuple[str, ...] = ()) -> None:
    """Check the session labels of ``record`` and ``label`` (None: not given).

    ``task`` may be empty (``label --task ""`` clears it); ``outcome`` is one of
    :data:`~nitrogen_capture.session.labels.OUTCOMES`; ``tags`` are the tags to add or remove.
    """
    check_settings([
        (game is None or (bool(game.strip()) and len(game) <= MAX_LABEL_CHARS), "game",
         f"--game must be 1..{MAX_LABEL_CHARS} characters, got {len(game or '')}"),
        text_check(game, "game", "--game"),
        (notes is None or len(notes) <= MAX_NOTES_CHARS, "notes",
         f"--notes must be at most {MAX_NOTES_CHARS} characters, got {len(notes or '')}"),
        text_check(notes, "notes", "--notes"),
        choice_check(controller, "controller", "--controller", CONTROLLERS),
        *_task_checks(task),
        choice_check(outcome, "outcome", "--outcome", OUTCOMES),
        (len(tags) <= MAX_TAGS, "tags", f"--tag: at most {MAX_TAGS} tags, got {len(tags)}"),
        *(_tag_check(tag) for tag in tags),
    ])


def _tag_check(tag: str) -> tuple[bool, str, str]:
    ok, setting, message = text_check(tag, "tags", "--tag")
    if not ok:
        return ok, setting, message
    problem = tag_problem(tag)
    return problem is None, "tags", f"--tag {tag!r} {problem}"


def check_task(task: str, flag: str = "--task") -> None:
    """Check a task text (``record --task``, a ``--tasks`` line, ``label --task``)."""
    check_settings(_task_checks(task, flag))


def _task_checks(task: str | None, flag: str = "--task") -> list[tuple[bool, str, str]]:
    return [(task is None or len(task) <= MAX_TASK_CHARS, "task",
             f"{flag} must be at most {MAX_TASK_CHARS} characters, got {len(task or '')}"),
            text_check(task, "task", flag)]


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
        checks = [
            number_check(self.wait_s, "wait_s", "--wait", 0, MAX_SECONDS, note=" seconds"),
            number_check(self.pid, "pid", "--pid", 1, UINT32_MAX, interval=True,
                         note=" (a process id)") if self.pid is not None else _OK,
            number_check(self.monitor, "monitor", "--monitor", 0, MAX_MONITOR)
            if self.monitor is not None else _OK,
        ]
        if self.region is not None:
            r = self.region
            checks.append((max(r.size) <= MAX_REGION_SIDE, "region",
                           f"--region {' '.join(map(str, r.to_list()))} is {r.width}x{r.height} "
                           f"px: each side must be at most {MAX_REGION_SIDE}"))
        check_settings(checks)

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
        portal_reset: on Wayland, ignore the portal's stored restore token so its picker shows
            again, and store the new one (``--portal-reset``).
        seed: seed of the synthetic source and scripted input timeline.
        synthetic_repeat: the synthetic source repeats the frame before at every Nth grab, as a
            compositor with nothing new does (0: never; ``--synthetic-repeat``).
        layout: the keys that become action columns, and the recorder's hotkeys: refused
            (ConfigError) when no hotkey starts a recording that starts paused, or a pause key
            has no resume key (:meth:`~nitrogen_capture.keylayout.Hotkeys.recording_problem`).
        frame_format: ``png`` (default, the original layout) or ``video``.
        png_encoder: ``auto`` (fpng when installed), ``fpng`` or ``opencv``.
        video_crf / video_preset: libx264 quality (0..51, lower is better) and speed preset of
            ``video`` storage (checked by :class:`~nitrogen_capture.codecs.video.VideoSettings`).
        video_encoder: ``auto`` or an encoder of :data:`~nitrogen_capture.codecs.encoders.
            ENCODERS` for ``video`` storage; probed when recording starts (an explicit one
            that cannot encode here is a ConfigError, ``auto`` falls back to libx264).
        encoder_workers: encoder processes (frames are never encoded on the capture thread).
        encoder_priority: the encoders' CPU priority policy (:mod:`~nitrogen_capture.encoderpool.
            priority`): ``fair`` (together as much as one normal-priority thread), ``normal``
            or ``low`` (niceness 10).
        queue_frames: bound of the frame queue; a full queue drops the frame and counts it.
        status_interval: seconds between status updates (0 disables the status line).
        focus_pause: pause while the target window is not focused.
        gamepad: record a gamepad (``gamepad_chunk_NNN.npy``).
        gamepad_backend: ``auto`` (XInput on Windows, SDL elsewhere), ``xinput`` or ``sdl``.
        max_seconds: stop after this many seconds of recording (0 = no limit): paused time
            (the wait for the first hotkey, a hotkey pause, focus lost) does not count.
        max_wall_seconds: stop after this many seconds from the start, paused or not (0 = no
            limit): the bound of an unattended run.
        merge: after a clean stop, ``nitrogen-capture record`` merges the chunks into the
            dataset files (:func:`~nitrogen_capture.session.merge_session`); the
            :class:`~nitrogen_capture.record.Recorder` itself only writes chunks.
        game / notes / controller: the session's labels (meta.json ``labels``). ``game`` None
            is the window's executable name without extension (unset for a region);
            ``controller`` None is ``xbox`` with ``gamepad``, else ``keyboard``.
        cue: how start/pause/resume/stop are signalled (:data:`~nitrogen_capture.cues.
            CUE_BACKENDS`: ``sound``, ``notify`` or ``none``).
        indicator: the on-screen recording indicator that is never in the data
            (:data:`~nitrogen_capture.indicator.INDICATOR_BACKENDS`: ``auto``, ``x11``,
            ``win32`` or ``none``); the ``record`` command shows it, not the Recorder.
        chord_hotkeys: keep the layout's Ctrl chord hotkeys; False drops them from ``layout``
            (its ``hotkeys``), so Ctrl+T / Ctrl+P are plain keys and Ctrl is never held back.
        latency_offset_ms: the input-to-frame latency offset stored as ``meta.json``
            ``latency_offset_ns`` (None: not calibrated; docs/calibration.md), within
            +-:data:`~nitrogen_capture.bounds.MAX_LATENCY_MS`. ``record --latency-profile FILE``
            fills it from a calibration profile, ``--latency-offset-ms`` by hand.
        latency: how the offset was obtained (``meta.json`` ``latency``); None without one.
        audio: record the game's sound (``record --audio``; docs/audio.md); None: no audio.
    """

    out: Path
    target: TargetSpec = field(default_factory=TargetSpec)
    fps: float = 30.0
    chunk_size: int = 500
    max_frames: int = 0
    skip_late: bool = False
    start_immediately: bool = False
    capture_backend: str = "auto"
    portal_reset: bool = False
    input_backend: str = "auto"
    seed: int = 0
    synthetic_repeat: int = 0
    layout: KeyLayout = DEFAULT_LAYOUT
    frame_format: str = "png"
    png_encoder: str = "auto"
    video_crf: int = 18
    video_preset: str = "ultrafast"
    video_encoder: str = "auto"
    encoder_workers: int = 2
    encoder_priority: str = "fair"
    queue_frames: int = 64
    status_interval: float = 1.0
    focus_pause: bool = True
    gamepad: bool = False
    gamepad_backend: str = "auto"
    max_seconds: float = 0.0
    max_wall_seconds: float = 0.0
    merge: bool = True
    game: str | None = None
    notes: str = ""
    controller: str | None = None
    cue: str = "sound"
    indicator: str = "auto"
    chord_hotkeys: bool = True
    latency_offset_ms: float | None = None
    latency: LatencyInfo | None = None
    audio: AudioSettings | None = None

    @property
    def latency_offset_ns(self) -> int | None:
        """:attr:`latency_offset_ms` in ns (what meta.json stores)."""
        ms = self.latency_offset_ms
        return None if ms is None else round(ms * 1e6)

    def __post_init__(self) -> None:
        check_labels(self.game, self.notes, self.controller)
        if isinstance(self.out, str) and not self.out.strip():
            raise ConfigError("--out must name a session directory, got an empty path",
                              setting="out")
        object.__setattr__(self, "out", Path(self.out))
        status = self.status_interval
        check_settings([
            number_check(self.fps, "fps", "--fps", 0, 240, lo_open=True, interval=True),
            number_check(self.fps, "fps", "--fps", MIN_FPS, 240,
                         note=" (one frame per 1000 s)"),
            number_check(self.chunk_size, "chunk_size", "--chunk-size", 1, MAX_CHUNK_SIZE),
            number_check(self.max_frames, "max_frames", "--max-frames", 0, MAX_FRAMES,
                         note=" (0 = unlimited)"),
            number_check(self.max_seconds, "max_seconds", "--seconds", 0, MAX_SECONDS,
                         note=" seconds (0 = unlimited)"),
            number_check(self.max_wall_seconds, "max_wall_seconds", "--wall-seconds", 0,
                         MAX_SECONDS, note=" seconds (0 = unlimited)"),
            (self.frame_format in FRAME_FORMATS, "frame_format",
             f"--frame-format must be one of {', '.join(FRAME_FORMATS)}, "
             f"got {self.frame_format}"),
            number_check(self.encoder_workers, "encoder_workers", "--encoder-workers", 1, 32,
                         interval=True),
            (self.encoder_priority in ENCODER_PRIORITIES, "encoder_priority",
             f"--encoder-priority must be one of {', '.join(ENCODER_PRIORITIES)}, "
             f"got {self.encoder_priority}"),
            number_check(self.queue_frames, "queue_frames", "--queue-frames", 1,
                         MAX_QUEUE_FRAMES, note=" (queued frames are held in memory)"),
            (status == 0 or number_check(status, "", "", MIN_STATUS_INTERVAL,
                                         MAX_STATUS_INTERVAL)[0], "status_interval",
             f"--status-interval must be 0 (off) or in [{MIN_STATUS_INTERVAL:g}, "
             f"{MAX_STATUS_INTERVAL:g}] seconds, got {format_number(status)}"),
            number_check(self.seed, "seed", "--seed", 0, UINT32_MAX, interval=True),
            number_check(self.synthetic_repeat, "synthetic_repeat", "--synthetic-repeat", 0,
                         MAX_SYNTHETIC_REPEAT, interval=True, note=" (0 = never)"),
            (self.cue in CUE_BACKENDS, "cue",
             f"--cue must be one of {', '.join(CUE_BACKENDS)}, got {self.cue}"),
            (self.indicator in INDICATOR_BACKENDS, "indicator",
             f"--indicator must be one of {', '.join(INDICATOR_BACKENDS)}, "
             f"got {self.indicator}"),
            number_check(self.latency_offset_ms, "latency_offset_ms", "--latency-offset-ms",
                         -MAX_LATENCY_MS, MAX_LATENCY_MS, interval=True, note=" ms")
            if self.latency_offset_ms is not None else _OK,
        ])
        dropped = [] if self.chord_hotkeys else [
            pretty_key(CHORD_PREFIX + key) for key in self.layout.hotkeys.chords]
        if dropped:
            object.__setattr__(self, "layout", self.layout.with_hotkeys(
                self.layout.hotkeys.without_chords()))
        # Refused before anything opens: a recording these hotkeys cannot start (it would wait
        # paused and keep nothing) or a pause they cannot end (docs/architecture.md 5.2).
        problem = self.layout.hotkeys.recording_problem(start_paused=not self.start_immediately)
        if problem:
            note = f" (--no-chord-hotkeys dropped {' / '.join(dropped)})" if dropped else ""
            raise ConfigError(f"hotkeys of layout '{self.layout.name}'{note}: {problem}",
                              setting="layout")
        # The store's own settings: --video-crf / --video-preset / --video-encoder for video (a
        # png recording ignores them and, by design, does not check them;
        # tests/session/test_video_storage.py).
        FRAME_STORES[self.frame_format].check_settings(self.encoding)

    @property
    def encoding(self) -> EncodeSettings:
        """What the frame store reads of these settings (it never sees the rest)."""
        return EncodeSettings(self.frame_format, self.fps, self.png_encoder, self.video_crf,
                              self.video_preset, self.video_encoder)
