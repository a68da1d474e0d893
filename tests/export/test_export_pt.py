"""The .pt export: layout, obs pixels, uint8 vs float, shards + index, loader, disk check, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from markers import HAS_TORCH, needs_torch
from nitrogen_capture.binning import GAMEPAD_WIDTH
from nitrogen_capture.cli import main
from nitrogen_capture.errors import ConfigError, DiskSpaceError, ExportError, OutputError
from nitrogen_capture.export import (
    NITROGEN_ACTIONS,
    ConvertSettings,
    NitrogenDataset,
    convert,
    load,
    map_rows,
)
from session_factory import LAYOUT, frame_image, make_session

if HAS_TORCH:  # the tests that use it are marked needs_torch
    import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    return make_session(tmp_path_factory.mktemp("s") / "sess", (8, 7, 5))


def expected_obs(row: int, size: int) -> np.ndarray:
    small = cv2.resize(frame_image(row), (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)


@needs_torch
def test_float_export_layout_and_content(session, tmp_path: Path) -> None:
    out = tmp_path / "o.pt"
    res = convert(ConvertSettings(root=session.root, out=out, seq_len=4, img_size=8,
                                  obs_dtype="float32"))
    data = torch.load(out, weights_only=True)
    m = 20 - 1 - 4 + 1  # 20 rows, the default --action-shift 1: frame i, rows from i + 1 on
    assert res.windows == m and res.files == [out]
    assert res.shift_note is not None and res.shift_note.startswith("action shift 1 (the default")
    obs, acts, meta = data["obs"], data["actions"], data["meta"]
    assert obs.shape == (m, 3, 8, 8) and obs.dtype == torch.float32
    assert acts.shape == (m, 4, 25) and acts.dtype == torch.float32
    assert float(obs.min()) >= 0.0 and float(obs.max()) <= 1.0
    np.testing.assert_allclose(obs[5].numpy(), expected_obs(5, 8) / 255.0, atol=1e-6)
    mapped = map_rows(session.actions, session.mouse_deltas, None, LAYOUT)
    np.testing.assert_array_equal(acts[5].numpy(), mapped[6:10])
    assert meta["params"]["action_shift"] == 1
    assert meta["action_names"] == list(NITROGEN_ACTIONS)
    assert meta["action_space"] == "nitrogen" and meta["source"]["session"] == "sess"
    assert meta["params"]["img_size"] == 8 and meta["params"]["mouse_scale"] == 300.0
    assert meta["params"]["keymap"]["name"] == "default"
    assert meta["windows"]["row"] == list(range(m))
    assert meta["windows"]["chunk"][:9] == [1] * 8 + [2]
    assert meta["windows"]["t_ns"] == session.timestamps[:m].tolist()
    assert not list(tmp_path.glob("*.partial"))


@needs_torch
def test_uint8_is_the_same_pixels_four_times_smaller(session, tmp_path: Path) -> None:
    f32, u8 = tmp_path / "f.pt", tmp_path / "u.pt"
    convert(ConvertSettings(root=session.root, out=f32, seq_len=2, img_size=32,
                            obs_dtype="float32"))
    convert(ConvertSettings(root=session.root, out=u8, seq_len=2, img_size=32))  # the default
    a, b = torch.load(f32, weights_only=True), torch.load(u8, weights_only=True)
    assert b["obs"].dtype == torch.uint8 and b["meta"]["obs"]["range"] == "0-255"
    np.testing.assert_array_equal(b["obs"].numpy(), np.rint(a["obs"].numpy() * 255))
    obs_f = a["obs"].numel() * 4
    assert u8.stat().st_size < f32.stat().st_size - 0.7 * obs_f


@needs_torch
def test_shards_and_index_load_back(session, tmp_path: Path) -> None:
    whole = tmp_path / "whole.pt"
    convert(ConvertSettings(root=session.root, out=whole, seq_len=3, img_size=8,
                            obs_dtype="uint8", action_shift=0))
    out = tmp_path / "sh.pt"
    res = convert(ConvertSettings(root=session.root, out=out, seq_len=3, img_size=8,
                                  obs_dtype="uint8", shard_frames=5, action_shift=0))
    m = 20 - 3 + 1
    assert res.index == tmp_path / "sh.index.json" and len(res.files) == 4
    assert [p.name for p in res.files] == [f"sh-{k:05d}.pt" for k in range(4)]
    index = json.loads(res.index.read_text())
    assert index["total_windows"] == m
    assert [s["num_windows"] for s in index["shards"]] == [5, 5, 5, 3]
    assert [s["first_window"] for s in index["shards"]] == [0, 5, 10, 15]
    doc = load(out)  # --out of a sharded run resolves to its index
    assert doc["total_windows"] == m and doc["shards"][1]["path"] == res.files[1]
    last = load(res.files[3])
    assert last["meta"]["first_window"] == 15 and last["meta"]["windows"]["row"] == [15, 16, 17]
    ds, ref = NitrogenDataset(res.index), NitrogenDataset(whole)
    assert len(ds) == len(ref) == m
    for i in (0, 4, 5, 12, m - 1, -1):
        (o1, a1), (o2, a2) = ds[i], ref[i]
        assert o1.dtype == torch.float32 and torch.equal(o1, o2) and torch.equal(a1, a2)
    with pytest.raises(IndexError):
        ds[m]
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False)
    obs, acts = next(iter(loader))
    assert obs.shape == (8, 3, 8, 8) and acts.shape == (8, 3, 25)


@needs_torch
def test_mmap_load_and_weights_only(session, tmp_path: Path) -> None:
    out = tmp_path / "o.pt"
    convert(ConvertSettings(root=session.root, out=out, seq_len=2, img_size=16))
    eager = torch.load(out, weights_only=True)
    mapped = load(out, mmap=True)
    assert torch.equal(eager["obs"], mapped["obs"])
    assert torch.equal(eager["actions"], mapped["actions"])


@needs_torch
def test_refuses_when_disk_too_small(session, tmp_path: Path) -> None:
    out = tmp_path / "o.pt"
    msg = r"needs about .* bytes.* only 1.0 KB \(1000 bytes\) is free"
    with pytest.raises(DiskSpaceError, match=msg):
        convert(ConvertSettings(root=session.root, out=out, seq_len=2),
                free_bytes=lambda p: 1000)
    assert not out.exists() and not list(tmp_path.iterdir())


@needs_torch
def test_refuses_existing_output_and_no_windows(session, tmp_path: Path) -> None:
    out = tmp_path / "o.pt"
    convert(ConvertSettings(root=session.root, out=out, seq_len=2, img_size=8))
    before = out.read_bytes()
    with pytest.raises(OutputError, match="already exists"):
        convert(ConvertSettings(root=session.root, out=out, seq_len=2, img_size=8))
    assert out.read_bytes() == before
    # --overwrite replaces this tool's own export...
    convert(ConvertSettings(root=session.root, out=out, seq_len=3, img_size=8, overwrite=True))
    assert load(out)["obs"].shape[0] == 17  # 20 - 1 (--action-shift) - 3 + 1
    # ...and nothing else, even with --overwrite: the file is left as it was (outputs.py).
    other = tmp_path / "notes.pt"
    other.write_bytes(b"x")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"not a NitroGen \.pt export written by"):
            convert(ConvertSettings(root=session.root, out=other, seq_len=2, img_size=8,
                                    overwrite=overwrite))
    assert other.read_bytes() == b"x"
    with pytest.raises(ExportError, match="no window of 30 steps"):
        convert(ConvertSettings(root=session.root, out=tmp_path / "b.pt", seq_len=30))


@pytest.mark.parametrize("kw, match", [
    ({"img_size": 0}, "img-size"), ({"seq_len": 0}, "seq-len"), ({"mouse_clip": 2.0}, "clip"),
    ({"action_shift": -1}, "shift"), ({"action_hz": 0.0}, "action-hz"),
    ({"obs_dtype": "float16"}, "obs-dtype"), ({"shard_frames": -1}, "shard"),
    ({"action_space": "xbox"}, "action-space"), ({"format": "zip"}, "format"),
])
def test_bad_settings(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ConvertSettings(root=Path("."), out=Path("o.pt"), **kw)  # type: ignore[arg-type]


@needs_torch
def test_cli_and_shim(session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.pt"
    rc = main(["convert", "--root", str(session.root), "--out", str(out), "--img-size", "8",
               "--seq-len", "16", "--mouse-scale", "300", "--mouse-clip", "1.0", "--no-progress"])
    said = capsys.readouterr().out
    assert rc == 0 and "4 windows" in said  # 20 - 1 (--action-shift) - 16 + 1
    assert said.splitlines()[-1].startswith("action shift 1 (the default: no latency offset")
    assert main(["convert", "--root", str(session.root), "--out", str(out), "--img-size", "8",
                 "--seq-len", "16", "--action-shift", "0", "--no-progress",
                 "--overwrite"]) == 0
    said = capsys.readouterr().out
    assert "5 windows" in said and said.splitlines()[-1].startswith(
        "action shift 0 (given with --action-shift; row i's action can show in frame i itself")
    assert main(["convert", "--root", str(session.root), "--out", str(out),
                 "--mouse-clip", "1.5"]) == 2
    assert "--mouse-clip must be in (0, 1]" in capsys.readouterr().err
    assert main(["convert", "--root", str(tmp_path / "nope"), "--out", str(out)]) == 1
    with pytest.raises(SystemExit) as exc:
        main(["convert", "--root", str(session.root), "--out", str(out), "--obs-dtype", "f16"])
    assert exc.value.code == 2
    shim = subprocess.run([sys.executable, str(REPO / "convert_to_nitrogen.py"), "--root",
                           str(session.root), "--out", str(tmp_path / "s.pt"), "--img-size", "8",
                           "--seq-len", "4", "--no-progress"], capture_output=True, text=True,
                          timeout=120)
    assert shim.returncode == 0, shim.stderr
    shimmed = load(tmp_path / "s.pt")
    assert shimmed["actions"].shape == (17, 4, 25)
    assert shimmed["obs"].dtype == torch.float32  # the original tool's obs, not convert's uint8


def test_import_is_light() -> None:
    code = ("import sys, nitrogen_capture.export, nitrogen_capture.cli.convert; "
            "print(sorted(m for m in ('torch', 'pyarrow', 'av') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@needs_torch
def test_gamepad_session_maps_one_to_one(tmp_path: Path) -> None:
    b = make_session(tmp_path / "pad", (6,), gamepad=True)
    pad = np.zeros((6, GAMEPAD_WIDTH), np.float32)
    pad[np.arange(6), np.arange(6)] = 1.0  # dpad_down, dpad_left, ..., left_thumb
    pad[:, 17:] = [0.5, -0.5, 0.25, 1.0]
    np.save(b.paths.chunk_array("gamepad", 1), pad)
    out = tmp_path / "o.pt"
    convert(ConvertSettings(root=b.root, out=out, seq_len=1, img_size=8, action_shift=0))
    data = torch.load(out, weights_only=True)
    acts = data["actions"][:, 0].numpy()
    names = ["DPAD_DOWN", "DPAD_LEFT", "DPAD_RIGHT", "DPAD_UP", "LEFT_SHOULDER", "LEFT_THUMB"]
    for i, name in enumerate(names):
        assert acts[i, NITROGEN_ACTIONS.index(name)] == 1.0 and acts[i, :21].sum() == 1.0
    np.testing.assert_allclose(acts[:, 21:], np.tile([0.5, -0.5, 0.25, 1.0], (6, 1)))
    assert data["meta"]["source"]["input"] == "gamepad" and data["meta"]["params"]["keymap"] is None
    with pytest.raises(ConfigError, match="recorded no gamepad"):
        convert(ConvertSettings(root=make_session(tmp_path / "kb", (4,)).root,
                                out=tmp_path / "x.pt", input_source="gamepad"))


@needs_torch
def test_a_killed_converts_half_file_is_removed_and_said(session, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "o.pt"
    half = tmp_path / ".o.pt.partial"
    half.write_bytes(b"PK half a zip")
    with caplog.at_level("WARNING"):
        convert(ConvertSettings(root=session.root, out=out, seq_len=2, img_size=8))
    assert f"removed {half}, left by an interrupted convert" in caplog.text
    assert not half.exists() and load(out)["obs"].shape[0] == 18  # 20 - 1 - 2 + 1
