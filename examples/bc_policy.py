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
    """(B, 3, S, S) float in [0, 1] -> (B, N) logits, one per trained key (~8k weights).

    Two small convolutions, then a spatial softmax (Levine et al., "End-to-end training of deep
    visuomotor policies", 2016): each feature map becomes the expected (x, y) of where it fires.
    The task is "where is the target from the avatar", and with the positions as features a
    few minutes of play are enough; a convolution with a dense head had to learn positions from
    the pixels' layout and stayed near chance on the same data.
    """

    def __init__(self, outputs: int, mask_top: int = 0, channels: int = 16) -> None:
        super().__init__()
        self.mask_top = mask_top
        self.features = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1),
        )
        self.head = nn.Sequential(nn.Linear(2 * channels, 64), nn.ReLU(), nn.Linear(64, outputs))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits of the trained keys."""
        b, _, _, w = obs.shape
        if self.mask_top:
            # A picture that shows the keys held (the demo game's truth cells, a game's input
            # HUD) lets a net copy them instead of playing: black them out (causal confusion).
            obs = torch.cat([obs.new_zeros(b, 3, self.mask_top, w), obs[:, :, self.mask_top:]],
                            dim=2)
        maps = self.features(obs)  # (B, C, h', w')
        c, fh, fw = maps.shape[1:]
        attention = torch.softmax(maps.flatten(2), dim=2).view(b, c, fh, fw)
        ys = torch.linspace(-1, 1, fh, dtype=obs.dtype).view(1, 1, fh, 1)
        xs = torch.linspace(-1, 1, fw, dtype=obs.dtype).view(1, 1, 1, fw)
        where = torch.cat([(attention * xs).sum((2, 3)), (attention * ys).sum((2, 3))], dim=1)
        out: torch.Tensor = self.head(where)
        return out


def save(path: Path, model: TinyNet, keys: Sequence[str], layout: Sequence[str], img_size: int,
         info: dict[str, Any]) -> None:
    """Write the weights and what :func:`load` needs to use them."""
    torch.save({"format": FORMAT, "state_dict": model.state_dict(), "keys": list(keys),
                "layout": list(layout), "img_size": img_size, "mask_top": model.mask_top,
                "info": info}, path)


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
    model = TinyNet(len(keys), int(data.get("mask_top", 0)))
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
