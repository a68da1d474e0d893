"""``--policy nitrogen://HOST:PORT``: NitroGen's model server as a :class:`~.policy_base.Policy`.

As NitroGen's own ``scripts/play.py`` does: ``info`` once for the server's settings, frames of
256x256 RGB (the whole window squashed with INTER_AREA: ``play`` resizes to :attr:`frame_size`),
and each predicted chunk executed step by step at 60 Hz, every step held for
``action_downsample_ratio`` ticks (so one step lasts ``ratio / 60`` s). Each 25-float step
(``buttons`` then ``j_left``, ``j_right``) is mapped for the output by :mod:`.mapping`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import PolicyError
from .action import ActionChunk
from .mapping import make_mapper, settings_keymap
from .nitrogen_client import NitroGenClient
from .policy_base import Policy, PolicySettings

__all__ = ["CONTROL_HZ", "IMAGE_SIZE", "MAX_STEPS", "NitroGenPolicy"]

CONTROL_HZ = 60.0  # play.py's env_fps: one action per 1/60 s
IMAGE_SIZE = 256  # play.py's preprocess_img: cv2.resize(frame, (256, 256), INTER_AREA)
MAX_STEPS = 1024  # a chunk longer than this is not NitroGen's (the released one has 18)
_BUTTONS = 21
_JSON_TYPES = (str, int, float, bool, type(None))


def _size_from_info(info: dict[str, Any], address: str) -> int:
    # The released server's info names no image size; a server that adds one is obeyed.
    size = info.get("image_size", IMAGE_SIZE)
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]:
        size = size[0]
    if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 4096:
        raise PolicyError(f"{address} info gives image_size {size!r}: expected a side in "
                          "8..4096")
    return size


def _ratio_from_info(info: dict[str, Any], address: str) -> int:
    ratio = info.get("action_downsample_ratio", 1)
    if isinstance(ratio, float) and ratio.is_integer():
        ratio = int(ratio)
    if not isinstance(ratio, int) or isinstance(ratio, bool) or not 1 <= ratio <= 60:
        raise PolicyError(f"{address} info gives action_downsample_ratio {ratio!r}: expected "
                          "an integer in 1..60")
    return ratio


def _rows(pred: dict[str, Any], key: str, width: int, address: str) -> npt.NDArray[np.float64]:
    value = pred.get(key)
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise PolicyError(f"{address} predicted no {key!r} array (got {type(value).__name__})")
    arr = np.asarray(value, dtype=np.float64)
    # serve.py squeezes its (1, N, D) tensors: a one-step chunk arrives as (D,).
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width or not 1 <= arr.shape[0] <= MAX_STEPS:
        raise PolicyError(f"{address} predicted {key!r} of shape {arr.shape}: expected "
                          f"(N, {width}) with N in 1..{MAX_STEPS}")
    if not np.isfinite(arr).all():
        raise PolicyError(f"{address} predicted {key!r} with values that are not finite")
    return arr


def pred_to_vectors(pred: dict[str, Any], address: str) -> npt.NDArray[np.float64]:
    """NitroGen's ``pred`` dict as ``(N, 25)`` rows (buttons, j_left, j_right), checked."""
    buttons = _rows(pred, "buttons", _BUTTONS, address)
    left = _rows(pred, "j_left", 2, address)
    right = _rows(pred, "j_right", 2, address)
    if not len(buttons) == len(left) == len(right):
        raise PolicyError(f"{address} predicted chunks of different lengths: buttons "
                          f"{len(buttons)}, j_left {len(left)}, j_right {len(right)}")
    return np.concatenate([buttons, np.clip(left, -1, 1), np.clip(right, -1, 1)], axis=1)


class NitroGenPolicy(Policy):
    """NitroGen's model server, reached at ``nitrogen://HOST:PORT`` (module docstring)."""

    name = "nitrogen"

    def __init__(self, settings: PolicySettings, host: str, port: int) -> None:
        self.settings = settings
        self._mapper = make_mapper(settings.output_kind, settings_keymap(settings.keymap),
                                   settings.layout, settings.mouse_scale)
        self.client = NitroGenClient(host, port, timeout_s=settings.timeout_s)
        try:
            self.info = self.client.info()
            size = _size_from_info(self.info, self.client.address)
            self.ratio = _ratio_from_info(self.info, self.client.address)
        except BaseException:
            self.client.close()
            raise
        self.frame_size = (size, size)
        self.step_s = self.ratio / CONTROL_HZ

    def describe(self) -> dict[str, Any]:
        """Address, the server's JSON-safe ``info`` values, image size and action rate."""
        info = {str(k): v for k, v in self.info.items()
                if isinstance(v, _JSON_TYPES) and not (isinstance(v, float) and
                                                       not math.isfinite(v))}
        return {"kind": self.name, "address": self.client.address, "info": info,
                "image_size": list(self.frame_size or ()), "action_hz": 1.0 / self.step_s,
                "output_kind": self.settings.output_kind}

    def act(self, frame_rgb: npt.NDArray[np.uint8]) -> ActionChunk:
        """Ask the server for a chunk; each of its steps mapped for the output."""
        pred = self.client.predict(frame_rgb)
        vectors = pred_to_vectors(pred, self.client.address)
        steps = tuple(self._mapper.nitrogen(v) for v in vectors.tolist())
        return ActionChunk(steps, self.step_s, extra={"pred": pred})

    def reset(self) -> None:
        """Clear the server's history (NitroGen's ``reset``)."""
        self.client.reset()

    def close(self) -> None:
        """Close the connection."""
        self.client.close()
