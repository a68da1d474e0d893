"""The Wayland tier end to end: the demo game on the headless stack, recorded by the real CLI.

- a native Wayland game (``SDL_VIDEODRIVER=wayland``) on the 120 Hz output, recorded through the
  ScreenCast portal (``record --capture-backend pipewire``, cropped to the window's rectangle
  from sway): every frame's barcode read, none backwards, the rate on target, frame times from
  PipeWire;
- the game under XWayland found by ``--pid``, keys and clicks typed through wayvnc (a virtual
  keyboard and pointer, as a person's), recorded by the X11 listeners on the XWayland display:
  every press in the actions and in the game;
- hotkey pauses and focus gating (a native Wayland window takes the focus: what is typed there
  is not recorded, the session shows a focus pause);
- ``kill -9`` of ``record`` in the middle of a portal cast: ``merge`` recovers a valid session
  and the next recording casts again.

The judge is :func:`nitrogen_capture.demo.check.check_session`, as in the X11 tier
(tests/demo/test_e2e_x11.py). A test whose backend is not in this tree yet is an expected
failure naming the missing part (issue 23's branches land separately).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from wlstack import Stack

from e2e_fixtures import cli, wait_for_t0
from nitrogen_capture.capture import REGISTRY
from nitrogen_capture.demo.check import CheckReport, check_session
from nitrogen_capture.demo.player import TruthLog, make_script
from nitrogen_capture.session import validate_session
from nitrogen_capture.session.reader import SessionReader
from waiting import wait_until
from wlgame import (
    Vnc,
    VncPlayer,
    game_env,
    keysym,
    region_args,
    running_game,
    sway_window,
    swaymsg,
)

HAS_PIPEWIRE = "pipewire" in REGISTRY
HAS_FRAMETIMES = importlib.util.find_spec("nitrogen_capture.session.frametimes") is not None
needs_pipewire = pytest.mark.xfail(
    not HAS_PIPEWIRE, strict=False,
    reason="needs the pipewire capture backend (capture/_pipewire.py, issue 23's i23-pipewire)")

pytestmark = [pytest.mark.wayland, pytest.mark.slow, needs_pipewire]

SIZE = "1280x720"
LEAD_IN_S, TAIL_S = 0.8, 1.2  # quiet time after t0 and before --seconds ends (the demo's)
# The portal casts the whole 1280x720 output; the native tests record the window's top-left
# quarter (the game's overlay is there): the crop is exercised and the PNG work of a 2-core
# machine shared with other work stays a quarter.
CROP = (640, 360)


def _record(stack: Stack, out: Path, target: list[str], seconds: float, fps: int,
            *extra: str) -> subprocess.Popen[bytes]:
    env = {**stack.environ(), "SDL_AUDIODRIVER": "dummy",
           # The restore token goes with the test, never into ~/.local/state.
           "NITROGEN_CAPTURE_PORTAL_TOKEN": str(out.parent / "portal-token")}
    log = (out.parent / f"{out.name}.log").open("wb")
    try:
        return subprocess.Popen(
            cli("record", "--capture-backend", "pipewire", *target, "--out", str(out),
                "--fps", str(fps), "--seconds", f"{seconds:g}", "--start-immediately",
                "--status-interval", "0", *extra),
            env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def _finish(rec: subprocess.Popen[bytes], out: Path, timeout: float = 120) -> None:
    try:
        rec.wait(timeout=timeout)
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
    log = (out.parent / f"{out.name}.log").read_text(errors="replace")
    assert rec.returncode == 0, log[-3000:]


def _play(stack: Stack, vnc: Vnc, t0: int, seconds: float, seed: int,
          hotkeys: tuple[tuple[float, str], ...] = ()) -> TruthLog:
    """The demo's seeded script (keys and clicks, no motion) through wayvnc, inside the take."""
    length = seconds - LEAD_IN_S - TAIL_S - (time.monotonic_ns() - t0) / 1e9
    script = make_script(max(length, 0.5), seed, mouse=False, hotkeys=hotkeys)
    with VncPlayer(stack.env["DISPLAY"], vnc) as player:
        return player.play(script, start_ns=max(t0 + int(LEAD_IN_S * 1e9), time.monotonic_ns()))


def _report(out: Path, truth: TruthLog | None, game_log: Path) -> CheckReport:
    game = json.loads(game_log.read_text(encoding="utf-8"))
    return check_session(out, truth, game)


def _frames_ok(r: CheckReport) -> None:
    assert r.frames > 0
    assert r.frames == r.frames_on_disk == r.frames_counted
    assert r.barcodes_read == r.frames, r.problems
    assert r.barcodes_backwards == 0


def test_native_wayland_game_recorded_through_the_portal(tmp_path: Path,
                                                         wayland_stack: Stack) -> None:
    # 30 fps: on a two-core machine shared with other work 60 fps drops ticks (the output
    # still runs at 120 Hz: the compositor offers 120 frames a second, the game draws 60).
    out, fps, seconds = tmp_path / "session", 30, 8.0
    with running_game(wayland_stack, tmp_path / "game.json", "--size", SIZE, "--fps", "60",
                      native=True) as game:
        window = sway_window(wayland_stack, game.pid, game)
        assert window["shell"] == "xdg_shell"  # native Wayland, not XWayland
        rec = _record(wayland_stack, out, region_args(window, CROP), seconds, fps,
                      "--input-backend", "none")
        _finish(rec, out)
    r = _report(out, None, tmp_path / "game.json")
    _frames_ok(r)
    assert abs(r.fps_achieved / r.fps_target - 1) <= 0.01, (r.fps_achieved, r.dropped_ticks)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["capture"]["backend"] == "pipewire"
    assert tuple(meta["capture"]["size"]) == CROP
    report = validate_session(out)
    assert report.ok, report.errors
    print(f"native Wayland at 120 Hz, recorded at {fps} fps: {r.frames} frames, "
          f"{r.barcodes_read} barcodes read, {r.barcodes_backwards} backwards, "
          f"{r.fps_achieved:.3f} fps, frame times: {meta['capture'].get('frame_time_source')}")


@pytest.mark.xfail(not HAS_PIPEWIRE or not HAS_FRAMETIMES, strict=False,
                   reason="needs per-frame OS times (session/frametimes.py, i23-frametimes)")
def test_portal_frames_carry_pipewire_times(tmp_path: Path, wayland_stack: Stack) -> None:
    out = tmp_path / "session"
    with running_game(wayland_stack, tmp_path / "game.json", "--size", SIZE, "--fps", "60",
                      native=True) as game:
        window = sway_window(wayland_stack, game.pid, game)
        _finish(_record(wayland_stack, out, region_args(window, CROP), 4.0, 30,
                        "--input-backend", "none"), out)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["capture"]["frame_time_source"] == "pipewire-pts"
    arrays = SessionReader(out).merged_arrays()
    ts, os_ts, repeated = arrays["timestamps"], arrays["os_timestamps"], arrays["repeated"]
    known = os_ts != np.iinfo(np.int64).min
    assert known.all(), int((~known).sum())
    assert (np.diff(os_ts) >= 0).all()
    # The compositor copied each new frame before the recorder took it, and not long before
    # (a repeat's age is how long nothing new came, not a latency: docs/format.md).
    lag = (ts - os_ts)[~repeated]
    assert len(lag) > 0.5 * len(ts), (len(lag), len(ts))  # the game draws 60 new frames a second
    spread = np.percentile(lag, [0, 50, 100])
    assert lag.min() >= -2_000_000 and np.median(lag) < 100_000_000, spread
    print(f"frame times pipewire-pts: capture latency p50 {np.median(lag) / 1e6:.1f} ms, "
          f"{int(repeated.sum())} repeats of {len(ts)} rows")


def test_xwayland_game_with_input_through_wayvnc(tmp_path: Path, wayland_stack: Stack) -> None:
    out, seconds = tmp_path / "session", 9.0
    with running_game(wayland_stack, tmp_path / "game.json", "--size", SIZE, "--fps", "60",
                      "--latch-ms", "50", native=False) as game, \
            Vnc(wayland_stack.env["WAYVNC_SOCKET"]) as vnc:
        window = sway_window(wayland_stack, game.pid, game)
        assert window["shell"] == "xwayland" and window["focused"]
        r_ = window["rect"]
        vnc.pointer(r_["x"] + r_["width"] // 2, r_["y"] + r_["height"] // 2)  # before the take
        rec = _record(wayland_stack, out, ["--pid", str(game.pid)], seconds, 30,
                      "--input-backend", "pynput")
        try:
            truth = _play(wayland_stack, vnc, wait_for_t0(out / "meta.json", rec, 60),
                          seconds, seed=3)
        finally:
            _finish(rec, out)
    r = _report(out, truth, tmp_path / "game.json")
    _frames_ok(r)
    assert truth.total_presses >= 10
    assert r.presses_injected == truth.total_presses
    assert r.presses_injected == r.presses_events == r.presses_actions == r.presses_game
    assert r.key_mismatches == {}
    assert r.alignment >= 0.98, (r.alignment, r.alignment_rows, r.frames_game_stalled)
    print(f"XWayland + wayvnc: {truth.total_presses} presses sent, {r.presses_events} recorded, "
          f"{r.presses_actions} in the actions, {r.presses_game} counted by the game; "
          f"alignment {r.alignment:.3f}")


_DECOY = """
import sys, threading, pygame
pygame.display.init()
screen = pygame.display.set_mode((320, 240))
pygame.display.set_caption("not the game")
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
clock = pygame.time.Clock()
while not done.is_set():
    pygame.event.pump()
    screen.fill((255, 255, 255))
    pygame.display.flip()
    clock.tick(30)
"""


def _focus(stack: Stack, pid: int) -> None:
    swaymsg(stack, f"[pid={pid}]", "focus")
    wait_until(lambda: sway_window(stack, pid)["focused"], f"PID {pid} focused", 10)


def test_pauses_and_focus_gating(tmp_path: Path, wayland_stack: Stack) -> None:
    out, seconds = tmp_path / "session", 10.0
    with running_game(wayland_stack, tmp_path / "game.json", "--size", SIZE, "--fps", "60",
                      native=False) as game, \
            Vnc(wayland_stack.env["WAYVNC_SOCKET"]) as vnc:
        sway_window(wayland_stack, game.pid, game)
        rec = _record(wayland_stack, out, ["--pid", str(game.pid)], seconds, 30,
                      "--input-backend", "pynput")
        decoy = None
        try:
            wait_for_t0(out / "meta.json", rec, 60)

            def tap(keys: str) -> None:
                for k in keys.split():
                    vnc.key(keysym(k), True)
                    time.sleep(0.03)  # a person's key hold, not a wait for something
                    vnc.key(keysym(k), False)
                    time.sleep(0.03)

            time.sleep(LEAD_IN_S)
            tap("w a")
            time.sleep(0.4)
            tap("f7")  # pause
            time.sleep(0.4)
            tap("e q")  # not recorded: paused
            time.sleep(0.4)
            tap("f6")  # resume
            time.sleep(0.4)
            tap("s")
            # A native Wayland window takes the focus: the XWayland listeners must not record.
            decoy = subprocess.Popen([sys.executable, "-c", _DECOY], stdin=subprocess.PIPE,
                                     env=game_env(wayland_stack, native=True))
            sway_window(wayland_stack, decoy.pid, decoy)
            _focus(wayland_stack, decoy.pid)
            time.sleep(0.5)
            tap("z x c v")
            time.sleep(0.5)
            _focus(wayland_stack, game.pid)
            time.sleep(0.5)
            tap("r f")
        finally:
            if decoy is not None:
                assert decoy.stdin is not None
                decoy.stdin.close()
                decoy.wait(timeout=30)
            _finish(rec, out)
    reader = SessionReader(out)
    ev = reader.merged_arrays()["events"]
    presses = ev[np.isin(ev["device"], ["key", "button"]) & (ev["value"] > 0)]
    assert sorted(presses["code"].tolist()) == ["a", "f", "r", "s", "w"]
    reasons = [p.reason for p in reader.pauses]
    assert "hotkey" in reasons and "focus" in reasons, reader.pauses
    assert validate_session(out).ok


def test_kill_9_during_a_portal_cast_recovers_and_casts_again(tmp_path: Path,
                                                              wayland_stack: Stack) -> None:
    out = tmp_path / "killed"
    with running_game(wayland_stack, tmp_path / "game.json", "--size", SIZE, "--fps", "60",
                      native=True) as game:
        window = sway_window(wayland_stack, game.pid, game)
        rec = _record(wayland_stack, out, region_args(window, CROP), 60.0, 30,
                      "--input-backend", "none", "--chunk-size", "30")
        children: list[psutil.Process] = []
        try:
            wait_for_t0(out / "meta.json", rec, 60)
            # A few chunks of 30 frames under way: a real take, not a start-up.
            wait_until(lambda: len(list((out / "frames").glob("chunk_*"))) >= 3,
                       "three chunks of frames", 60, proc=rec)
            children = psutil.Process(rec.pid).children(recursive=True)
            os.kill(rec.pid, signal.SIGKILL)
            rec.wait(timeout=30)
        finally:
            if rec.poll() is None:
                rec.kill()
                rec.wait()
        assert rec.returncode == -signal.SIGKILL
        wait_until(lambda: not [c for c in children if c.is_running()
                                and c.status() != psutil.STATUS_ZOMBIE],
                   "the killed recorder's children gone", 30, ignore=(psutil.Error,))
        merged = subprocess.run(cli("merge", "--root", str(out), "--no-progress"),
                                capture_output=True, text=True, timeout=300)
        assert merged.returncode == 0, merged.stdout + merged.stderr
        assert validate_session(out).ok
        r = check_session(out)
        assert r.frames >= 30 and r.barcodes_read == r.frames and r.barcodes_backwards == 0
        # The portal closed the dead client's session: a new recording casts again.
        again = tmp_path / "again"
        _finish(_record(wayland_stack, again, region_args(window, CROP), 3.0, 30,
                        "--input-backend", "none"), again)
    r2 = check_session(again)
    _frames_ok(r2)
    print(f"kill -9 after {r.frames} frames: merged and valid; the next take {r2.frames} frames")
