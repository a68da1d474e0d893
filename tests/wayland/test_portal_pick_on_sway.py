"""Recording what the portal picked, against the real headless stack with sway's IPC hidden.

With ``SWAYSOCK`` unset the recorder cannot ask the compositor where anything is, as on GNOME
or KDE with a native Wayland game: without ``--region`` and window flags the portal's dialog
(portal-wlr: ``chooser_type=none``, output HEADLESS-1) decides, and the session is that output
whole. A native Wayland client (pygame, ``SDL_VIDEODRIVER=wayland``) draws its frame number as
a barcode at a known place; every recorded frame must be the whole output and read there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from wlstack import Stack

from nitrogen_capture.barcode import decode
from wlgame import BARCODE_CELL, BARCODE_X, BARCODE_Y, barcode_client

pytestmark = pytest.mark.wayland

X, Y, CELL = BARCODE_X, BARCODE_Y, BARCODE_CELL



@pytest.fixture
def no_ipc_env(wayland_stack: Stack, tmp_path: Path) -> dict[str, str]:
    """The stack's environment without sway's IPC socket; the token file is this test's."""
    env = wayland_stack.environ()
    env.pop("SWAYSOCK", None)
    env.pop("NITROGEN_CAPTURE_BACKEND", None)
    env.pop("NITROGEN_INPUT_BACKEND", None)
    env["NITROGEN_CAPTURE_PORTAL_TOKEN"] = str(tmp_path / "token")
    return env


@pytest.fixture
def client(no_ipc_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """The native Wayland barcode client, drawing until the test ends."""
    with barcode_client(no_ipc_env) as proc:
        yield proc


def _record(out: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "nitrogen_capture", "record", "--capture-backend", "pipewire",
           "--fps", "30", "--seconds", "1", "--start-immediately", "--cue", "none",
           "--indicator", "none", "--out", str(out), *flags]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


def test_record_without_region_records_the_picked_output_whole(
        client: subprocess.Popen[bytes], no_ipc_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "s1"
    done = _record(out, no_ipc_env, "--input-backend", "none")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines()
             if "the portal's dialog decides what is recorded" in line]
    assert len(lines) == 1 and lines[0].startswith("Wayland session"), done.stdout
    meta: dict[str, Any] = json.loads((out / "meta.json").read_text())
    details = meta["capture"]["details"]
    size = details["stream_size"]  # the output's size, as the portal said
    assert lines[0].endswith(f"({size[0]}x{size[1]} stream, node {details['node_id']})")
    target = meta["target"]
    assert target["backend"] == "portal" and target["kind"] == "stream"
    assert target["picked"]["node_id"] == details["node_id"]
    assert target["picked"]["source_type"] in ("monitor", "window")  # as the portal says
    assert meta["capture"]["size"] == size and target["region"] == [0, 0, *size]
    assert {tuple(c["size"]) for c in meta["chunks"]} == {tuple(size)}
    pngs = sorted((out / "frames").rglob("*.png"))
    assert len(pngs) >= 10, f"{len(pngs)} frames"
    values = []
    for png in pngs:
        frame = cv2.imread(str(png))
        assert frame is not None and frame.shape == (size[1], size[0], 3)  # the whole output
        values.append(decode(frame, X, Y, CELL))
    assert None not in values, f"{values.count(None)} of {len(values)} frames did not read"
    numbers = [v for v in values if v is not None]
    assert numbers == sorted(numbers)  # never backwards
    print(lines[0])
    print(f"{len(pngs)} frames of {size[0]}x{size[1]}, node {details['node_id']}, "
          f"barcodes {numbers[0]}..{numbers[-1]}")


def test_input_is_refused_when_the_portal_picks(client: subprocess.Popen[bytes],
                                                no_ipc_env: dict[str, str],
                                                tmp_path: Path) -> None:
    out = tmp_path / "s2"
    done = _record(out, no_ipc_env, "--input-backend", "pynput")
    assert done.returncode != 0
    message = done.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert "keys typed into other windows (privacy)" in message
    assert not (out / "meta.json").exists()
    print(message)
