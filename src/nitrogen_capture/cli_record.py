"""``record`` (the original ``capture_logger.py`` flags) and ``windows``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .capture import BACKENDS as CAPTURE_BACKENDS
from .inputs import BACKENDS as INPUT_BACKENDS


def add_parser(sub: Any) -> None:
    """Register ``record`` and ``windows``."""
    from .cli import add_common

    p = sub.add_parser("record", help="record a game window (frames + input)",
                       description="Record frames at a locked FPS plus keyboard, mouse and "
                                   "gamepad input into a chunked session directory. Starts "
                                   "paused: F8 toggles, F6 or Ctrl+T resume, F7 or Ctrl+P pause.")
    p.add_argument("--out", type=Path, help="new session directory")
    p.add_argument("--fps", type=float, default=30.0, help="target capture rate (default 30)")
    tgt = p.add_argument_group("target (one of)")
    tgt.add_argument("--process-name", help="executable name, e.g. Game.exe or game")
    tgt.add_argument("--window-title", help="substring of the window title")
    tgt.add_argument("--pid", type=int, help="process id owning the window")
    tgt.add_argument("--region", type=int, nargs=4, metavar=("L", "T", "R", "B"),
                     help="fixed desktop region: left top right bottom")
    tgt.add_argument("--monitor", type=int, help="monitor / output index")
    tgt.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                     help="how long to wait for the window to appear (default 10)")
    p.add_argument("--chunk-size", type=int, default=500, help="frames per chunk (default 500)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0 = no limit)")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after S seconds (0 = no limit)")
    p.add_argument("--skip-late", action="store_true",
                   help="skip whole missed periods instead of re-anchoring the schedule")
    p.add_argument("--start-immediately", action="store_true",
                   help="record from the start instead of waiting for a resume hotkey")
    p.add_argument("--status-interval", type=float, default=1.0,
                   help="seconds between status updates (0 = off)")
    p.add_argument("--debug-list-windows", action="store_true",
                   help="list visible windows (title, PID, process, geometry) and exit")
    p.add_argument("--source", choices=("screen", "synthetic"), default="screen",
                   help="synthetic = test pattern + scripted input, no display needed "
                        "(implies --start-immediately)")
    p.add_argument("--capture-backend", choices=CAPTURE_BACKENDS, default="auto")
    p.add_argument("--input-backend", choices=INPUT_BACKENDS, default="auto")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic source/script")
    p.add_argument("--layout", type=Path, help="key layout TOML (a 'keys' list)")
    p.add_argument("--frame-format", choices=("png", "video"), default="png",
                   help="png = one PNG per frame (default); video = H.264 in one MKV per chunk")
    p.add_argument("--video-crf", type=int, default=18,
                   help="H.264 quality of --frame-format video, 0..51, lower = better "
                        "(default 18)")
    p.add_argument("--video-preset", default="ultrafast",
                   help="libx264 speed preset of --frame-format video (default ultrafast)")
    p.add_argument("--png-encoder", choices=("auto", "fpng", "opencv"), default="auto")
    p.add_argument("--encoder-workers", type=int, default=2, help="encoder processes")
    p.add_argument("--queue-frames", type=int, default=32,
                   help="frames that may wait for the encoder before frames are dropped")
    p.add_argument("--no-focus-pause", action="store_true",
                   help="keep capturing frames while the window is not focused "
                        "(input is still only recorded while it is)")
    p.add_argument("--gamepad", action="store_true", help="record a gamepad too")
    p.add_argument("--gamepad-backend", choices=("auto", "xinput", "sdl"), default="auto",
                   help="auto: XInput on Windows, SDL2 elsewhere; sdl reads PlayStation pads "
                        "on Windows")
    add_common(p)
    p.set_defaults(handler=run_record)

    w = sub.add_parser("windows", help="list visible windows (same as record "
                                       "--debug-list-windows)")
    add_common(w)
    w.set_defaults(handler=run_windows)


def run_windows(args: argparse.Namespace) -> int:
    """Print the window table."""
    from .targets import format_window_table, get_window_backend

    backend = get_window_backend()
    try:
        print(format_window_table(backend.list_windows()))
    finally:
        backend.close()
    return 0


def _config(args: argparse.Namespace) -> Any:
    from .capture.base import Region
    from .config import RecordConfig, TargetSpec
    from .errors import ConfigError
    from .keylayout import DEFAULT_LAYOUT, load_layout

    if args.out is None:
        raise ConfigError("--out is required (a new session directory)")
    synthetic = args.source == "synthetic"
    chosen = [n for n in ("process_name", "window_title", "pid", "region")
              if getattr(args, n) is not None]
    if len(chosen) > 1:
        raise ConfigError("give only one of --process-name, --window-title, --pid, --region")
    region = Region(*args.region) if args.region else None
    spec = TargetSpec(process_name=args.process_name, window_title=args.window_title,
                      pid=args.pid, region=region, monitor=args.monitor, wait_s=args.wait)
    return RecordConfig(
        out=args.out, target=spec, fps=args.fps, chunk_size=args.chunk_size,
        max_frames=args.max_frames, max_seconds=args.seconds, skip_late=args.skip_late,
        start_immediately=args.start_immediately or synthetic,
        capture_backend="synthetic" if synthetic else args.capture_backend,
        input_backend="scripted" if synthetic and args.input_backend == "auto"
        else args.input_backend,
        seed=args.seed, layout=load_layout(args.layout) if args.layout else DEFAULT_LAYOUT,
        frame_format=args.frame_format, png_encoder=args.png_encoder,
        video_crf=args.video_crf, video_preset=args.video_preset,
        encoder_workers=args.encoder_workers, queue_frames=args.queue_frames,
        status_interval=args.status_interval, focus_pause=not args.no_focus_pause,
        gamepad=args.gamepad, gamepad_backend=args.gamepad_backend)


def run_record(args: argparse.Namespace) -> int:
    """Record until a limit, Ctrl+C or SIGTERM; print a summary."""
    if args.debug_list_windows:
        return run_windows(args)
    from .record import build_recorder
    from .record.status import StatusLine

    config = _config(args)
    recorder = build_recorder(config)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        recorder.stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    status = StatusLine(recorder, config.status_interval, sys.stderr)
    if not config.start_immediately:
        print("paused: focus the game and press F8 (or F6 / Ctrl+T) to start recording; "
              "F7 or Ctrl+P pauses, Ctrl+C stops", file=sys.stderr)
    stop_status = threading.Event()
    status_thread = threading.Thread(target=status.run, args=(stop_status,), daemon=True)
    status_thread.start()
    try:
        result = recorder.run()
    finally:
        stop_status.set()
        status_thread.join()
        for s, h in previous.items():
            signal.signal(s, h)
    meta = result.meta
    c = meta.counters
    print(f"recorded {result.frames} frames in {result.chunks} chunk(s) to {result.out} "
          f"({meta.fps_achieved} fps of {meta.fps_target:g} target, "
          f"{c.dropped_ticks} dropped ticks, {c.late_frames} late, "
          f"{c.events} input events; stopped: {result.stop_reason})")
    return 0
