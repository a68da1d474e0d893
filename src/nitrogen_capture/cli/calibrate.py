"""``calibrate``: measure the input-to-frame latency of this machine (docs/calibration.md).

Each flag's ``dest`` is the :class:`~nitrogen_capture.calibrate.CalibrationOptions` field it
fills and its default that field's default; ``--save`` belongs to the command only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "format_report", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``calibrate``."""
    from ..calibrate.runner import MAX_COUNT, CalibrationOptions
    from ..capture import BACKENDS as CAPTURE_BACKENDS
    from ..capture import CAPTURE_HELP
    from ..inputs import BACKENDS as INPUT_BACKENDS
    from .args import add_common, field_default, path_arg

    def opt(name: str) -> Any:
        return field_default(CalibrationOptions, name)

    p: argparse.ArgumentParser = sub.add_parser(
        "calibrate", help="measure the delay from an input event to the first frame showing it",
        description="Open a small window that changes colour and counts on every press, press "
                    "keys and click in it (XTEST on X11, SendInput on Windows; --manual: you "
                    "press), record it with the real recorder and report how long after each "
                    "event's timestamp the first captured frame shows it (p50/p90/max in ms and "
                    "frames). --save FILE keeps the result for record --latency-profile.")
    p.add_argument("--fps", type=float, default=opt("fps"),
                   help="capture rate to calibrate at, 1..240 (default %(default)g)")
    p.add_argument("--count", type=int, default=opt("count"),
                   help=f"presses to inject (or make), 1..{MAX_COUNT} (default %(default)s)")
    p.add_argument("--manual", action="store_true", default=opt("manual"),
                   help="press space yourself instead of injected input")
    p.add_argument("--timeout", dest="timeout_s", type=float, default=opt("timeout_s"),
                   metavar="SECONDS", help="--manual: how long to wait for the presses, by "
                                          "the wall clock (default %(default)g)")
    p.add_argument("--save", type=path_arg, metavar="FILE",
                   help="write the result (JSON) for record --latency-profile FILE")
    p.add_argument("--keep-session", type=path_arg, default=opt("keep_session"), metavar="DIR",
                   help="keep the calibration recording in DIR (a new directory)")
    p.add_argument("--seed", type=int, default=opt("seed"),
                   help="seed of the random press phases (default: a new one each run)")
    p.add_argument("--capture-backend", choices=CAPTURE_BACKENDS, default=opt("capture_backend"),
                   metavar="NAME", help=CAPTURE_HELP)
    p.add_argument("--portal-reset", action="store_true", default=opt("portal_reset"),
                   help="Wayland (pipewire capture): show the screen-cast portal's picker again")
    p.add_argument("--input-backend", choices=INPUT_BACKENDS, default=opt("input_backend"))
    p.add_argument("--audio", action="store_true", default=opt("audio"),
                   help="the window also clicks on every press and the recording has the "
                        "default output's sound: report the audio-to-event offset too")
    add_common(p)
    return p


def format_report(result: Any) -> list[str]:
    """The report lines of a :class:`~nitrogen_capture.calibrate.CalibrationResult`."""
    m, prof = result.measurement, result.profile
    lines = []
    if prof is not None:
        lags = sorted(prof.row_lags)
        lo, hi = prof.offset_run_ms
        lines += [
            f"calibrated at {prof.fps:g} fps ({prof.method}; capture {prof.capture_backend}, "
            f"input {prof.input_backend}): {prof.injected} presses, {prof.logged} logged, "
            f"{prof.seen} seen in a frame ({m.frames} frames, {m.unreadable} unreadable)",
            f"delay from the event's timestamp to the first frame showing it: "
            f"{prof.stats.describe()}",
            f"row lag (rows between the row carrying the action and the first row showing it): "
            f"p50 {lags[len(lags) // 2]}, max {lags[-1]}",
            f"offset: {prof.offset_ms:.1f} ms ({prof.aligned(prof.offset_ns)}/{prof.seen} "
            f"events land in the row of the first frame showing them; "
            f"{prof.aligned(0)}/{prof.seen} with no offset; any offset in {lo:.1f}..{hi:.1f} ms "
            "aligns as many)",
        ]
        if prof.audio_offset_ms is not None and result.audio is not None:
            a = result.audio
            lines.append(f"audio-to-event offset (the window's click in the recorded sound): "
                         f"{a.offset}; {a.clicks_found}/{a.presses} clicks found"
                         + ("" if a.output is None else f"; after the click's start {a.output}"))
        if m.stamped_late:
            lines.append(f"{m.stamped_late} press(es) showed in a frame before the recorder's "
                         "timestamp of them (its input thread ran late: a busy machine)")
    lines += [f"PROBLEM: {p}" for p in result.problems]
    return lines


def run(args: argparse.Namespace) -> int:
    """Calibrate, print the report, save it; 0 when every press was logged and seen."""
    from ..calibrate import CalibrationOptions, run_calibration
    from ..calibrate.profile import check_save_path
    from ..errors import ConfigError

    if args.save is not None:  # before a minute of work
        if not args.save.parent.is_dir():
            raise ConfigError(f"--save {args.save}: the folder {args.save.parent} does not "
                              "exist", setting="save")
        check_save_path(args.save)
    if args.keep_session is not None:  # as record --out, before the window opens
        from ..record import check_new_session_dir

        check_new_session_dir(args.keep_session, "--keep-session")
    from ..capture import canonical_backend
    from ..desktop import choose_paths, detect_desktop

    # The calibration window is an X11 one (XWayland on a Wayland desktop): `auto` says its path.
    paths = choose_paths(detect_desktop(), capture_backend=canonical_backend(args.capture_backend),
                         input_backend=args.input_backend, target_shell="x11")
    if paths.line is not None:
        print(paths.line, file=sys.stderr, flush=True)
    args.capture_backend, args.input_backend = paths.capture_backend, paths.input_backend
    options = CalibrationOptions(
        fps=args.fps, count=args.count, manual=args.manual, timeout_s=args.timeout_s,
        keep_session=args.keep_session, seed=args.seed, capture_backend=args.capture_backend,
        portal_reset=args.portal_reset, input_backend=args.input_backend, audio=args.audio)
    result = run_calibration(options, say=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(format_report(result)))
    if not result.ok or result.profile is None:
        print("nitrogen-capture calibrate: error: the calibration failed (see PROBLEM above)"
              + ("; nothing saved" if args.save else ""), file=sys.stderr)
        return 1
    if args.save is not None:
        result.profile.save(args.save)
        print(f"saved {args.save}: record with --latency-profile {args.save}")
    return 0
