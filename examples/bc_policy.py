"""A behaviour-cloning policy for ``nitrogen-capture play``: frames in, held keys out.

``examples/train_bc.py`` trains :class:`TinyNet` on a ``.pt`` export and saves it; :func:`load`
turns the saved file into the per-frame callable a local policy is::

    nitrogen-capture play --policy examples/bc_policy.py:load --policy-arg weights=bc.pt ...

The callable gets the game window squashed to an ``(S, S, 3)`` uint8 RGB frame (S = the size the
net was trained on, ``--img-size`` of the export) and answers one row of the layout's K keys, 0/1:
the keys the net was trained on are held when their predicted probability passes ``threshold``;
every other key stays up. CPU only; one frame takes about a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = ["FORMAT", "TinyNet", "load"]

FORMAT = "nitrogen-capture.bc-example.v1"  # what load() checks before it trusts the file


class TinyNet(nn.Module):
    """(B, 3, S, S) float in [0, 1] -> (B, N) logits, one per trained key (~30k weights).

    Two channels holding each pixel's x and y (CoordConv) go in beside the colours: the task is
    "where is the target from the avatar", and a convolution alone has to learn positions from
    padding effects, which takes far more demonstrations than a few minutes of play gives.
    """

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(5, 16, kernel_size=5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            # Where things are is the whole task: keep a coarse map, no global pooling.
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(32 * 16, 64), nn.ReLU(),
            nn.Linear(64, outputs),
        )

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits of the trained keys."""
        b, _, h, w = obs.shape
        ys = torch.linspace(-1, 1, h, dtype=obs.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, dtype=obs.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        out: torch.Tensor = self.net(torch.cat([obs, xs, ys], dim=1))
        return out


def save(path: Path, model: TinyNet, keys: Sequence[str], layout: Sequence[str], img_size: int,
         info: dict[str, Any]) -> None:
    """Write the weights and what :func:`load` needs to use them."""
    torch.save({"format": FORMAT, "state_dict": model.state_dict(), "keys": list(keys),
                "layout": list(layout), "img_size": img_size, "info": info}, path)


def load(weights: str | Path, threshold: float | str = 0.5,
         ) -> Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.float32]]:
    """The per-frame policy of a file written by ``train_bc.py`` (``--policy-arg weights=PATH``).

    Raises ValueError with one line when the file is missing or is not such a file.
    """
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"no weights file at {path}: train one with examples/train_bc.py")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file that is not its own
        raise ValueError(f"{path} is not a torch file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} was not written by examples/train_bc.py")
    keys, layout, size = list(data["keys"]), list(data["layout"]), int(data["img_size"])
    model = TinyNet(len(keys))
    model.load_state_dict(data["state_dict"])
    model.eval()
    torch.set_num_threads(1)  # a 64x64 frame: threads cost more than they give, and play runs
    columns = [layout.index(k) for k in keys]
    cut = float(threshold)

    def policy(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        if frame.shape != (size, size, 3):
            raise ValueError(f"the policy was trained on {size}x{size} RGB frames, got "
                             f"{frame.shape}: pass --img-size {size}")
        obs = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            prob = torch.sigmoid(model(obs))[0].numpy()
        row = np.zeros(len(layout), np.float32)
        row[columns] = (prob > cut).astype(np.float32)
        return row

    policy.img_size = size  # type: ignore[attr-defined]  # what play may read to size frames
    policy.keys = tuple(keys)  # type: ignore[attr-defined]
    return policy
