"""The pipewire capture backend against the real headless stack: portal, PipeWire, GStreamer.

A native Wayland client (pygame, ``SDL_VIDEODRIVER=wayland``) draws its frame number as a
barcode (nitrogen_capture.barcode) at a known place; :class:`PipeWireSource` grabs a region
around it through the real ScreenCast portal (xdg-desktop-portal + portal-wlr) and PipeWire.
Every grab must read, the numbers never go backwards, a repeat (same PipeWire sequence) shows
the same number, and the compositor's time of each frame is on our clock and before the grab.
``record --capture-backend pipewire`` then writes a session whose meta.json names the portal's
node, and the restore token is stored, reused and, with ``--portal-reset``, not used.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wlstack import Stack

from nitrogen_capture.barcode import barcode_width, decode
from nitrogen_capture.capture.base import Region
from wlgame import BARCODE_CELL, BARCODE_X, BARCODE_Y, barcode_client

pytestmark = pytest.mark.wayland

X, Y, CELL = BARCODE_X, BARCODE_Y, BARCODE_CELL



@pytest.fixture
def client(wayland_stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    """The barcode client, drawing until the test ends."""
    with barcode_client(wayland_stack.environ()) as proc:
        yield proc


@pytest.fixture
def stack_env(wayland_stack: Stack, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process and its children talk to the stack; the token file is this test's."""
    env = {**wayland_stack.env, "NITROGEN_CAPTURE_PORTAL_TOKEN": str(tmp_path / "token")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_frames_of_a_wayland_client_read_in_order_with_compositor_times(
        client: subprocess.Popen[bytes], stack_env: dict[str, str]) -> None:
    from nitrogen_capture.capture import get_capture_backend

    region = Region(X - CELL, Y - CELL, X + barcode_width(CELL) + CELL, Y + 3 * CELL)
    t0 = time.perf_counter()
    source = get_capture_backend("pipewire", region=region)
    grabs: list[tuple[int | None, int | None, int | None, int]] = []
    with source:  # opens: the portal dance and the pipeline
        opened = time.perf_counter()
        source.warm_up()
        first = time.perf_counter()
        period, end = 1 / 60, time.monotonic() + 3.0
        costs = []
        while time.monotonic() < end:
            a = time.perf_counter()
            frame = source.grab()
            costs.append(time.perf_counter() - a)
            now = time.monotonic_ns()
            stamp = source.last_stamp()
            assert stamp is not None and frame.shape == (region.height, region.width, 3)
            grabs.append((decode(frame, CELL, CELL, CELL), stamp.seq, stamp.os_ns, now))
            time.sleep(max(0.0, period - (time.perf_counter() - a)))
        details = dict(source.details)
    unread = sum(v is None for v, *_ in grabs)
    assert not unread, f"{unread} of {len(grabs)} grabs did not read"
    values = [v for v, *_ in grabs if v is not None]
    assert not [(a, b) for a, b in itertools.pairwise(values) if b < a]  # never backwards
    for (v1, s1, o1, _), (v2, s2, o2, _) in itertools.pairwise(grabs):
        assert s2 is not None and s1 is not None and s2 >= s1
        if s2 == s1:  # a repeat: the same frame, the same time
            assert (v2, o2) == (v1, o1)
    lags = sorted((now - os_ns) / 1e6 for _, _, os_ns, now in grabs if os_ns is not None)
    assert len(lags) == len(grabs) and lags[0] >= 0 and lags[-1] < 1000
    assert details["source_type"] in ("monitor", "window") and details["node_id"] > 0
    assert details["stamp_clock"] == "monotonic" and details["stream_size"] == [1280, 720]
    costs.sort()
    new = len({s for _, s, _, _ in grabs})
    print(f"open {1e3 * (opened - t0):.0f} ms, first frame {1e3 * (first - opened):.0f} ms; "
          f"{len(grabs)} grabs, {new} new frames, {source.repeated_grabs} repeats; grab "
          f"median {1e3 * costs[len(costs) // 2]:.2f} ms; frame age at grab median "
          f"{lags[len(lags) // 2]:.1f} ms, p95 {lags[int(0.95 * len(lags))]:.1f} ms")


def _record(out: Path, env: dict[str, str], *flags: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "nitrogen_capture", "record", "--capture-backend", "pipewire",
           "--region", "0", "0", "640", "360", "--fps", "30", "--seconds", "1",
           "--start-immediately", "--cue", "none", "--indicator", "none", "--out", str(out),
           *flags]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    meta: dict[str, Any] = json.loads((out / "meta.json").read_text())
    return meta


def test_record_through_the_portal_keeps_and_resets_the_restore_token(
        client: subprocess.Popen[bytes], stack_env: dict[str, str], tmp_path: Path) -> None:
    token = Path(stack_env["NITROGEN_CAPTURE_PORTAL_TOKEN"])
    first = _record(tmp_path / "s1", stack_env)
    capture = first["capture"]
    assert capture["backend"] == "pipewire" and capture["size"] == [640, 360]
    assert capture["details"]["node_id"] > 0 and capture["details"]["portal_version"] >= 4
    assert capture["details"]["restore_token_used"] is False
    if not capture["details"]["restore_token_stored"]:
        pytest.fail("the portal gave no restore token (portal-wlr 0.7 with frontend 1.16 does)")
    kept = token.stat().st_ino
    second = _record(tmp_path / "s2", stack_env)
    assert second["capture"]["details"]["restore_token_used"] is True
    # The token Start returned was stored again (a new file: written atomically); the portal
    # frontend 1.16 hands back the same text, other portals a new one.
    assert second["capture"]["details"]["restore_token_stored"] is True
    assert token.stat().st_ino != kept
    third = _record(tmp_path / "s3", stack_env, "--portal-reset")
    assert third["capture"]["details"]["restore_token_used"] is False
    assert token.exists()
