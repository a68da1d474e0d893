r"""Train a tiny behaviour-cloning net on a ``.pt`` export: which movement keys to hold.

The export (docs/export.md, "The `.pt` file") pairs each frame with the actions after it::

    nitrogen-capture convert --root SESSION --out demo.pt --action-space raw --img-size 64 \\
        --seq-len 1 --action-shift 0
    python examples/train_bc.py demo.pt --out bc.pt
    nitrogen-capture play --policy examples/bc_policy.py:load --policy-arg weights=bc.pt ...

The net (:class:`bc_policy.TinyNet`) sees the frame and predicts, for each key of ``--keys``
(default ``w a s d``), whether it is held in the first action step of the window (the row
``--action-shift`` after the frame's), with a binary cross-entropy per key. A rollout of
``play`` (a scripted or trained policy) wants ``--action-shift 0``: its row i holds what the
policy chose from frame i. A person's recording wants the default 1 (docs/calibration.md).
``--mask-top ROWS`` blacks out a band at the top where the picture shows the keys held: with it
visible, a net learns to copy the held keys from the picture rather than to play (it scored
below random in the loop demo while agreeing with 100% of the held-out rows). The last
``--val-share`` of the windows (in time order, so no frame of it sits next to a training frame)
is held out, and each epoch prints the loss and how often all keys come out right on it.

CPU only; on 2 cores a 64x64 export of 3,000 frames trains 30 epochs in about a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bc_policy beside this file
from bc_policy import TinyNet, save


def _load(path: Path, keys: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """(obs uint8 (M, 3, S, S), targets float (M, len(keys)), meta) of the export at ``path``."""
    if not path.is_file():
        raise ValueError(f"no .pt export at {path}: make one with nitrogen-capture convert "
                         f"--action-space raw --img-size 64")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many kinds for a file that is not its own
        raise ValueError(f"{path} is not a .pt export: {exc}") from exc
    if not isinstance(data, dict) or not {"obs", "actions", "meta"} <= data.keys():
        raise ValueError(f"{path} is not a single-file .pt export (obs, actions, meta); a sharded "
                         f"export: convert without --shard-frames")
    meta = data["meta"]
    if meta.get("action_space") != "raw":
        raise ValueError(f"{path} has action space {meta.get('action_space')!r}: convert with "
                         f"--action-space raw (the layout's keys)")
    names = list(meta["action_names"])
    missing = [k for k in keys if k not in names]
    if missing:
        raise ValueError(f"keys {' '.join(missing)} are not in the export's layout "
                         f"({' '.join(names[:-4])})")
    obs, actions = data["obs"], data["actions"]
    if obs.dtype != torch.uint8 or obs.shape[0] < 10:
        raise ValueError(f"{path}: need at least 10 uint8 windows, got {tuple(obs.shape)} "
                         f"{obs.dtype} (convert with the default --obs-dtype uint8)")
    targets = actions[:, 0, [names.index(k) for k in keys]].float().clamp(0, 1)
    return obs, targets, meta


def train(path: Path, out: Path, keys: Sequence[str], epochs: int, batch: int, lr: float,
          val_share: float, seed: int, mask_top: int = 0) -> dict[str, Any]:
    """Train, save to ``out``, and return what happened (sizes, losses, time, accuracy)."""
    torch.manual_seed(seed)
    started = time.monotonic()
    obs, targets, meta = _load(path, keys)
    obs = obs.clone()  # into memory: every epoch reads it all (64x64: 12 kB a frame)
    m = obs.shape[0]
    n_val = max(1, int(m * val_share))
    train_idx = torch.arange(0, m - n_val)
    if not 0 <= mask_top < obs.shape[2]:
        raise ValueError(f"--mask-top {mask_top} must be below the frame's {obs.shape[2]} rows")
    model = TinyNet(len(keys), mask_top)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    # Keys are held a minority of the time: weigh positives up so "nothing held" is not the
    # easy answer.
    pos = targets[train_idx].mean(0).clamp(0.02, 0.98)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=(1 - pos) / pos)
    history: list[dict[str, float]] = []
    for epoch in range(epochs):
        model.train()
        perm = train_idx[torch.randperm(len(train_idx))]
        total = 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            loss = loss_fn(model(obs[idx].float() / 255), targets[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        acc, per_key = _accuracy(model, obs[m - n_val:], targets[m - n_val:])
        history.append({"epoch": epoch, "loss": total / len(perm), "val_all_keys_right": acc,
                        "val_per_key": dict(zip(keys, per_key, strict=True))})
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(perm):.4f}, held-out rows right: "
              f"{' '.join(f'{k} {v:.0%}' for k, v in zip(keys, per_key, strict=True))}, "
              f"all keys {acc:.0%}", flush=True)
    info = {"source": str(path), "windows": m, "train_windows": len(train_idx),
            "val_windows": n_val, "keys": list(keys), "epochs": epochs, "mask_top": mask_top,
            "seconds": round(time.monotonic() - started, 2), "history": history,
            "data_bytes": obs.numel()}
    layout = list(meta["action_names"])[:-4]  # raw: the layout's K keys, then lx ly rx ry
    save(out, model, keys, layout, int(obs.shape[-1]), info)
    return info


def _accuracy(model: TinyNet, obs: torch.Tensor,
              targets: torch.Tensor) -> tuple[float, list[float]]:
    """Share of rows with every key right, and of rows right per key."""
    model.eval()
    with torch.no_grad():
        right = (model(obs.float() / 255) > 0).float() == targets
    return float(right.all(dim=1).float().mean()), right.float().mean(dim=0).tolist()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python examples/train_bc.py EXPORT.pt --out WEIGHTS.pt``."""
    p = argparse.ArgumentParser(description="Train a tiny behaviour-cloning net on a .pt export "
                                            "(--action-space raw) to predict held keys.")
    p.add_argument("export", type=Path, help="the .pt of nitrogen-capture convert")
    p.add_argument("--out", type=Path, required=True, help="where to write the weights")
    p.add_argument("--keys", default="w,a,s,d", help="comma-separated keys to learn (w,a,s,d)")
    p.add_argument("--epochs", type=int, default=30, help="passes over the data (30)")
    p.add_argument("--batch", type=int, default=64, help="batch size (64)")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam's learning rate (0.005)")
    p.add_argument("--val-share", type=float, default=0.1,
                   help="share of windows held out, the last ones (0.1)")
    p.add_argument("--mask-top", type=int, default=0, metavar="ROWS",
                   help="black out the frame's top ROWS rows, in training and in play: where the "
                        "picture shows the keys held (the demo game's truth cells), a net learns "
                        "to copy them instead of playing (0)")
    p.add_argument("--seed", type=int, default=0, help="torch's seed (0)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    p.add_argument("--json", type=Path, default=None, help="also write the summary here")
    a = p.parse_args(argv)
    keys = [k.strip() for k in a.keys.split(",") if k.strip()]
    if not keys or a.epochs < 1 or a.batch < 1 or not 0 < a.val_share < 0.5 or a.lr <= 0:
        p.error("need keys, --epochs >= 1, --batch >= 1, --lr > 0 and 0 < --val-share < 0.5")
    torch.set_num_threads(max(1, a.threads))
    try:
        info = train(a.export, a.out, keys, a.epochs, a.batch, a.lr, a.val_share, a.seed,
                     a.mask_top)
    except ValueError as exc:
        print(f"train_bc: {exc}", file=sys.stderr)
        return 1
    print(f"trained on {info['train_windows']} windows in {info['seconds']:.1f} s; "
          f"weights in {a.out}")
    if a.json is not None:
        a.json.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
