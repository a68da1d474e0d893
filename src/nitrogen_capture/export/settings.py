"""The settings of a conversion: every flag of ``nitrogen-capture convert``, checked when built.

The fields' defaults are the flags' defaults (the CLI reads them from here; the original tool's
``--img-size 256 --seq-len 16 --mouse-scale 300 --mouse-clip 1.0`` among them) and the choice
tuples below are the flags' choices. A bad value raises
:class:`~nitrogen_capture.errors.ConfigError` naming the flag, with the field in ``setting``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..audio.features import AUDIO_FEATURES
from ..bounds import MAX_LATENCY_MS, number_check, text_check
from ..errors import ConfigError, check_settings
from .keymap import ACTION_SPACES, mouse_checks
from .latency import DEFAULT_ACTION_SHIFT

__all__ = [
    "ACTION_SOURCE_CHOICES",
    "EPISODE_PER",
    "FORMATS",
    "INPUT_SOURCES",
    "MAX_REPEAT_FRAMES",
    "MAX_STEPS",
    "OBS_DTYPES",
    "STATES",
    "ConvertSettings",
    "FormatLookup",
    "FormatRules",
    "pt_beside",
    "use_formats",
]

# --format: the built-in formats, in --format's order (export/formats/ registers one object
# each, in this order, and checks it). A format registered later is in formats.names(), which
# the check below (through use_formats) and the CLI's choices read.
FORMATS: tuple[str, ...] = ("pt", "nitrogen-dataset", "lerobot")
# --episode-per of --format lerobot: one episode per session, or per pause-free segment.
EPISODE_PER: tuple[str, ...] = ("session", "segment")
# --state of --format lerobot: what its observation.state holds (export/lerobot/state.py).
STATES: tuple[str, ...] = ("previous-action", "held-keys", "none")
# Sanity bounds (the messages name them): --seq-len and --action-shift count action steps,
# 4096 of them is over a minute at 60 Hz; a shard of 1,000,000 windows is far past any RAM.
MAX_STEPS = 4096
MAX_SHARD_FRAMES = 1_000_000
MIN_ACTION_HZ, MAX_ACTION_HZ = 1.0, 1000.0
OBS_DTYPES: tuple[str, ...] = ("float32", "uint8")
INPUT_SOURCES: tuple[str, ...] = ("auto", "keyboard", "gamepad")
# --action-source: a play rollout's rows to keep (export/action_source.py): both, or one source.
ACTION_SOURCE_CHOICES: tuple[str, ...] = ("all", "human", "policy")
# --drop-idle-seconds: shorter than a second would cut ordinary pauses in play; a day is any AFK.
MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = 1.0, 86400.0
# --max-repeat-frames: the longest run of repeated rows kept (export/repeats.py); 100,000 rows is
# over 27 minutes at 60 Hz, any real stall.
MAX_REPEAT_FRAMES = 100_000


class FormatRules(Protocol):
    """What the settings check asks of a format (an ``export.formats.ExportFormat``)."""

    @property
    def name(self) -> str:
        """The ``--format`` value."""

    @property
    def suffix(self) -> str | None:
        """The file suffix ``--out`` ends in (None: a directory)."""

    @property
    def many_roots(self) -> bool:
        """Whether several ``--root`` are one output of its own writer."""

    def checks(self, settings: ConvertSettings) -> list[tuple[bool, str, str]]:
        """The format's own settings checks."""


class FormatLookup(Protocol):
    """The format registry as the settings check sees it (``export.formats``)."""

    def names(self) -> tuple[str, ...]:
        """The registered formats' names, in ``--format``'s order."""

    def find(self, name: str) -> FormatRules | None:
        """The format ``name`` (None: none)."""

    def all_formats(self) -> tuple[FormatRules, ...]:
        """Every registered format."""


# The registry, handed in by export/formats/ when it is imported (the export package imports
# it first): the registry's formats import these settings, so these settings do not import it.
_formats: FormatLookup | None = None


def use_formats(lookup: FormatLookup) -> None:
    """Check ``format`` against ``lookup`` (export/formats/ calls this once, on import)."""
    global _formats
    _formats = lookup


def _registry() -> FormatLookup:
    if _formats is None:  # the export package always imports export/formats/ first
        raise RuntimeError("nitrogen_capture.export.formats is not imported")
    return _formats


def _cores() -> int:
    """Cores this process may run on (its affinity where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


# --workers: frame decode threads, one per core by default (export/decode.py).
DEFAULT_WORKERS = max(1, min(32, _cores()))


@dataclass(frozen=True)
class ConvertSettings:
    """Every parameter of a conversion (the flags of ``nitrogen-capture convert``).

    ``action_hz`` None keeps the session's own per-frame rows; a rate re-bins the raw events onto
    an exact grid starting at each observation's capture time. ``shard_frames`` 0 writes one file.
    ``latency_offset_ms`` None applies the session's ``latency_offset_ns`` (if any); a value
    overrides it and 0 turns it off (:mod:`.latency`, docs/calibration.md).
    """

    root: Path
    out: Path
    img_size: int = 256
    seq_len: int = 16
    mouse_scale: float = 300.0
    mouse_clip: float = 1.0
    action_space: str = "nitrogen"
    # --action-shift: the default is the documented one (export/latency.py); action_shift_set
    # says it was given (the export's line on which shift it used says so).
    action_shift: int = DEFAULT_ACTION_SHIFT
    action_hz: float | None = None
    obs_dtype: str = "uint8"
    shard_frames: int = 0
    keymap: Path | None = None
    input_source: str = "auto"
    format: str = "pt"
    overwrite: bool = False
    workers: int = DEFAULT_WORKERS
    video: bool = True
    game: str | None = None
    # --drop-idle-seconds: leave out stretches with no input for more than this (session/idle.py)
    drop_idle_seconds: float | None = None
    # --max-repeat-frames: leave out what relies on a run of more repeated frames than this
    # (export/repeats.py; docs/export.md, "Repeated frames"); None keeps everything.
    max_repeat_frames: int | None = None
    # --format lerobot (docs/export.md, "LeRobot"): the sessions after the first (--root given
    # again), episodes per session or segment, the dataset's repo id and task, its frame rate
    # (default: the first session's target fps) and whether --img-size was given (without it
    # the frames keep the capture size).
    more_roots: tuple[Path, ...] = ()
    episode_per: str = "session"
    repo_id: str | None = None
    task: str | None = None
    fps: int | None = None
    img_size_set: bool = False
    # --format lerobot: the observation.state feature (export/lerobot/state.py): the row
    # before's action, the keys held going into the row, or none.
    state: str = "previous-action"
    latency_offset_ms: float | None = None
    action_shift_set: bool = False
    # --format lerobot in a batch: the dataset's frame size (w, h), fixed once for every part
    # (export/batch/lerobot.py; None: frame_size() decides).
    frame_size: tuple[int, int] | None = None
    # --include-discarded: convert sessions labelled discarded too (export/discarded.py).
    include_discarded: bool = False
    # --action-source: keep a play rollout's rows of both sources or of one (the other's rows
    # are left out like a pause; export/action_source.py). A session not a rollout is all human.
    action_source: str = "all"
    # --audio-features: per-window audio features in the .pt (audio/features.py; None: none).
    audio_features: str | None = None

    def __post_init__(self) -> None:
        for name in ("root", "out"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.strip():
                raise ConfigError(f"--{name} must name a path, got an empty one", setting=name)
            object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "more_roots", tuple(Path(r) for r in self.more_roots))
        checks = [
            number_check(self.img_size, "img_size", "--img-size", 8, 4096, interval=True),
            number_check(self.seq_len, "seq_len", "--seq-len", 1, MAX_STEPS),
            *mouse_checks(self.mouse_scale, self.mouse_clip),
            number_check(self.action_shift, "action_shift", "--action-shift", 0, MAX_STEPS),
            number_check(self.action_hz, "action_hz", "--action-hz", MIN_ACTION_HZ,
                         MAX_ACTION_HZ, interval=True, note=" Hz")
            if self.action_hz is not None else (True, "", ""),
            number_check(self.shard_frames, "shard_frames", "--shard-frames", 0,
                         MAX_SHARD_FRAMES, note=" (0 = one file)"),
            number_check(self.workers, "workers", "--workers", 1, 32, interval=True),
            number_check(self.drop_idle_seconds, "drop_idle_seconds", "--drop-idle-seconds",
                         MIN_IDLE_SECONDS, MAX_IDLE_SECONDS, interval=True, note=" seconds")
            if self.drop_idle_seconds is not None else (True, "", ""),
            text_check(self.game, "game", "--game"),
            number_check(self.max_repeat_frames, "max_repeat_frames", "--max-repeat-frames", 0,
                         MAX_REPEAT_FRAMES)
            if self.max_repeat_frames is not None else (True, "", ""),
            *_many_checks(self),
            number_check(self.latency_offset_ms, "latency_offset_ms", "--latency-offset-ms",
                         -MAX_LATENCY_MS, MAX_LATENCY_MS, interval=True, note=" ms")
            if self.latency_offset_ms is not None else (True, "", ""),
        ]
        for setting, allowed in (("action_space", ACTION_SPACES), ("obs_dtype", OBS_DTYPES),
                                 ("input_source", INPUT_SOURCES), ("format", _registry().names()),
                                 ("episode_per", EPISODE_PER), ("state", STATES),
                                 ("action_source", ACTION_SOURCE_CHOICES)):
            value = getattr(self, setting)
            flag = "--" + setting.replace("_", "-")
            checks.append((value in allowed, setting,
                           f"{flag} must be one of {', '.join(allowed)}, got {value!r}"))
        if self.audio_features is not None:
            checks += [(self.audio_features in AUDIO_FEATURES, "audio_features",
                        f"--audio-features must be one of {', '.join(AUDIO_FEATURES)}, got "
                        f"{self.audio_features!r}"),
                       (self.format == "pt", "audio_features",
                        f"--audio-features is for --format pt; --format {self.format} carries "
                        "the audio itself (docs/export.md, \"Audio\")")]
        fmt = _registry().find(self.format)
        suffix = fmt.suffix if fmt is not None else ""
        if suffix is None:
            checks.append((self.out.suffix.lower() != ".pt", "out",
                           f"--format {self.format} writes a directory, not a .pt file: "
                           f"give --out a directory name, got {self.out}"))
        elif suffix:
            checks.append((self.out.suffix.lower() == suffix, "out",
                           f"--format {self.format} writes a {suffix} file (with "
                           f"--shard-frames: <stem>-NNNNN{suffix} and <stem>.index.json): "
                           f"give --out a name ending in {suffix}, got {self.out}"))
        check_settings(checks)

    def params(self) -> dict[str, Any]:
        """The parameters as plain data, for the export's meta."""
        return {"img_size": self.img_size, "seq_len": self.seq_len,
                "mouse_scale": self.mouse_scale, "mouse_clip": self.mouse_clip,
                "action_space": self.action_space, "action_shift": self.action_shift,
                "action_hz": self.action_hz, "obs_dtype": self.obs_dtype,
                "shard_frames": self.shard_frames, "input_source": self.input_source,
                "format": self.format, "drop_idle_seconds": self.drop_idle_seconds,
                "latency_offset_ms": self.latency_offset_ms,
                "max_repeat_frames": self.max_repeat_frames,
                **({"audio_features": self.audio_features} if self.audio_features else {})}


def _many_checks(s: ConvertSettings) -> list[tuple[bool, str, str]]:
    """The checks of the several-``--root`` formats' flags (lerobot), then the format's own."""
    many = [f.name for f in _registry().all_formats() if f.many_roots]
    fmt = _registry().find(s.format)
    checks: list[tuple[bool, str, str]] = [
        (not s.more_roots or (fmt is not None and fmt.many_roots), "root",
         f"--root is given {1 + len(s.more_roots)} times: only --format {' or '.join(many)} "
         "takes more than one session"),
        (s.repo_id is None or bool(s.repo_id.strip()), "repo_id", "--repo-id must not be empty"),
        (s.task is None or bool(s.task.strip()), "task", "--task must not be empty"),
        text_check(s.repo_id, "repo_id", "--repo-id"), text_check(s.task, "task", "--task"),
    ]
    if s.fps is not None:
        checks.append(number_check(s.fps, "fps", "--fps", 1, int(MAX_ACTION_HZ), note=" Hz"))
        checks.append((s.action_hz is None or s.action_hz == s.fps, "fps",
                       f"--fps {s.fps} and --action-hz {s.action_hz:g} differ: a LeRobot "
                       "dataset has one rate for frames and actions" if s.action_hz else ""))
    return checks + (fmt.checks(s) if fmt is not None else [])


def pt_beside(session: Path) -> Path:
    """The ``.pt`` a session's export is suggested to go to: ``<session>.pt`` beside its folder.

    Beside, not inside: convert refuses an output inside its input session. A folder named
    ``.`` or ``..`` (``record --out .``) is named by its absolute path first.
    """
    if session.name in ("", ".", ".."):
        session = Path(os.path.abspath(session))
    return session.with_name(session.name + ".pt")
