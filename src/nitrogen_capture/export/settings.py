"""The settings of a conversion: every flag of ``nitrogen-capture convert``, checked when built.

The fields' defaults are the flags' defaults (the CLI reads them from here; the original tool's
``--img-size 256 --seq-len 16 --mouse-scale 300 --mouse-clip 1.0`` among them) and the choice
tuples below are the flags' choices. A bad value raises
:class:`~nitrogen_capture.errors.ConfigError` naming the flag, with the field in ``setting``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .keymap import ACTION_SPACES

__all__ = ["FORMATS", "INPUT_SOURCES", "OBS_DTYPES", "ConvertSettings"]

FORMATS: tuple[str, ...] = ("pt", "nitrogen-dataset")
OBS_DTYPES: tuple[str, ...] = ("float32", "uint8")
INPUT_SOURCES: tuple[str, ...] = ("auto", "keyboard", "gamepad")


@dataclass(frozen=True)
class ConvertSettings:
    """Every parameter of a conversion (the flags of ``nitrogen-capture convert``).

    ``action_hz`` None keeps the session's own per-frame rows; a rate re-bins the raw events onto
    an exact grid starting at each observation's capture time. ``shard_frames`` 0 writes one file.
    """

    root: Path
    out: Path
    img_size: int = 256
    seq_len: int = 16
    mouse_scale: float = 300.0
    mouse_clip: float = 1.0
    action_space: str = "nitrogen"
    action_shift: int = 0
    action_hz: float | None = None
    obs_dtype: str = "float32"
    shard_frames: int = 0
    keymap: Path | None = None
    input_source: str = "auto"
    format: str = "pt"
    overwrite: bool = False
    workers: int = 2
    video: bool = True
    game: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "out", Path(self.out))
        checks = [
            (8 <= self.img_size <= 4096, "img_size",
             f"--img-size must be in 8..4096, got {self.img_size}"),
            (self.seq_len >= 1, "seq_len", f"--seq-len must be >= 1, got {self.seq_len}"),
            (self.mouse_scale > 0, "mouse_scale",
             f"--mouse-scale must be > 0, got {self.mouse_scale:g}"),
            (0 < self.mouse_clip <= 1, "mouse_clip",
             f"--mouse-clip must be in (0, 1] (sticks live in [-1, 1]), got {self.mouse_clip:g}"),
            (self.action_shift >= 0, "action_shift",
             f"--action-shift must be >= 0, got {self.action_shift}"),
            (self.action_hz is None or 0 < self.action_hz <= 1000, "action_hz",
             f"--action-hz must be in (0, 1000], got {self.action_hz}"),
            (self.shard_frames >= 0, "shard_frames",
             f"--shard-frames must be >= 0 (0 = one file), got {self.shard_frames}"),
            (1 <= self.workers <= 32, "workers", f"--workers must be in 1..32, got {self.workers}"),
        ]
        for setting, allowed in (("action_space", ACTION_SPACES), ("obs_dtype", OBS_DTYPES),
                                 ("input_source", INPUT_SOURCES), ("format", FORMATS)):
            value = getattr(self, setting)
            flag = "--" + setting.replace("_", "-")
            checks.append((value in allowed, setting,
                           f"{flag} must be one of {', '.join(allowed)}, got {value!r}"))
        for ok, setting, message in checks:
            if not ok:
                raise ConfigError(message, setting=setting)

    def params(self) -> dict[str, Any]:
        """The parameters as plain data, for the export's meta."""
        return {"img_size": self.img_size, "seq_len": self.seq_len,
                "mouse_scale": self.mouse_scale, "mouse_clip": self.mouse_clip,
                "action_space": self.action_space, "action_shift": self.action_shift,
                "action_hz": self.action_hz, "obs_dtype": self.obs_dtype,
                "shard_frames": self.shard_frames, "input_source": self.input_source,
                "format": self.format}
