"""``demo``: record the bundled demo game for real (private Xvfb, XTEST player) and check it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..demo.runner import DemoOptions

__all__ = ["add_demo_arguments", "add_parser", "options_from_args", "run"]

# Record flags the demo passes through unchanged: (flag, takes a value).
_RECORD_FLAGS: tuple[tuple[str, bool], ...] = (
    ("--frame-format", True), ("--chunk-size", True), ("--png-encoder", True),
    ("--encoder-workers", True), ("--queue-frames", True), ("--skip-late", False),
    ("--no-focus-pause", False), ("--video-encoder", True),
)


def _parse_size(text: str) -> tuple[int, int]:
    from ..demo.game import parse_size

    return parse_size(text)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``nitrogen-capture demo``; defaults are :class:`DemoOptions`'s."""
    from ..demo.runner import AUDIO_MODES, DemoOptions
    from ..demo.scene import SCENES
    from .args import field_default, path_arg

    def opt(name: str) -> Any:
        return field_default(DemoOptions, name)

    w, h = opt("size")
    parser.add_argument("--out", type=path_arg, required=True, help="new session directory")
    parser.add_argument("--seconds", type=float, default=opt("seconds"),
                        help="seconds of recording, record --seconds: pauses (focus lost) not "
                             "counted (%(default)g)")
    parser.add_argument("--fps", type=float, default=opt("fps"),
                        help="capture rate (%(default)g)")
    parser.add_argument("--size", type=_parse_size, default=(w, h),
                        help=f"game window size WxH ({w}x{h})")
    parser.add_argument("--visible", action="store_true",
                        help="play on the current DISPLAY instead of a private Xvfb")
    parser.add_argument("--seed", type=int, default=opt("seed"),
                        help="seed of the scripted player (0..2^32-1)")
    parser.add_argument("--grab", action="store_true",
                        help="the game grabs the pointer (relative mouse mode) throughout")
    parser.add_argument("--no-convert", action="store_true", help="skip the NitroGen export")
    parser.add_argument("--no-preview", action="store_true",
                        help="skip preview.mp4 and timing.png (written into OUT/demo/)")
    parser.add_argument("--layout", type=path_arg, default=opt("layout"), help="key layout TOML")
    parser.add_argument("--scene", choices=SCENES, default=opt("scene"),
                        help="the game's look: %(default)s (default) or textured (scrolling "
                             "noise and sprites, every frame differs: for encoder load)")
    parser.add_argument("--audio", choices=AUDIO_MODES, default=opt("audio"),
                        help="the game clicks on every press into a private PulseAudio null sink "
                             "and record --audio records it: %(default)s (default: when "
                             "pulseaudio is installed), on (required), off")
    rec = parser.add_argument_group("passed to record")
    for flag, takes_value in _RECORD_FLAGS:
        if takes_value:
            rec.add_argument(flag, default=None)
        else:
            rec.add_argument(flag, action="store_true")
    rec.add_argument("--record-arg", action="append", default=[], metavar="ARG",
                     help="any other record flag, repeatable (--record-arg=--max-frames=100)")


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    """Build :class:`~nitrogen_capture.demo.runner.DemoOptions` from parsed ``demo`` flags."""
    from ..demo.runner import DemoOptions

    extra: list[str] = []
    for flag, takes_value in _RECORD_FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if takes_value and value is not None:
            extra += [flag, str(value)]
        elif not takes_value and value:
            extra.append(flag)
    return DemoOptions(out=args.out, seconds=args.seconds, fps=args.fps, size=args.size,
                       visible=args.visible, seed=args.seed, grab=args.grab,
                       convert=not args.no_convert, layout=args.layout,
                       preview=not args.no_preview, scene=args.scene, audio=args.audio,
                       record_args=(*extra, *args.record_arg))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``demo``."""
    from .args import add_common

    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="record the bundled demo game and check the result against the truth",
        description="Start a private Xvfb (or use --visible), launch the demo game, record it "
                    "with the real recorder while a scripted player drives it through XTEST, "
                    "then merge, validate, convert and compare with the game's own truth.")
    add_demo_arguments(p)
    add_common(p)
    return p


def _check_record_flags(options: Any) -> None:
    """Check the record command line the demo will run, as record checks it, before Xvfb.

    The flags the demo passes on (``--chunk-size``, ``--record-arg`` ...) are record's: a bad
    one is a usage error now, not a failed recording after the game started.
    """
    from ..demo.runner import record_argv
    from . import build_parser, subcommand_parser
    from .record import _config

    record = subcommand_parser(build_parser(), "record")
    record.prog = "nitrogen-capture demo (the flags it passes to record)"
    _config(record.parse_args(record_argv(options, pid=1)[1:]))


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary; 0 when every check passed.

    SIGINT or SIGTERM stops the game, the recorder and Xvfb, prints one line and returns
    128 + the signal number.
    """
    from ..demo.runner import DemoInterrupted, format_summary, run_demo, stop_on_signals

    options = options_from_args(args)
    _check_record_flags(options)
    try:
        with stop_on_signals():
            result = run_demo(options)
    except DemoInterrupted as exc:
        print(f"nitrogen-capture demo: stopped by {exc.signal_name}: the game, the recorder "
              f"and Xvfb are stopped; the unchecked session is in {options.out}",
              file=sys.stderr)
        return 128 + exc.signum
    print(format_summary(result))
    return 0 if result.ok else 1
