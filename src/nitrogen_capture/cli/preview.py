"""``preview``: render a session as an MP4 with an input overlay plus a timing plot."""

from __future__ import annotations

import argparse
from typing import Any

from ..bounds import MAX_EVERY


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``preview``."""
    from ..preview import PreviewOptions
    from .args import add_common, field_default, path_arg

    def opt(name: str) -> Any:
        return field_default(PreviewOptions, name)

    p: argparse.ArgumentParser = sub.add_parser(
        "preview", help="write preview.mp4 (frames + input overlay) and timing.png",
        description="Check frame/input alignment by eye: preview.mp4 shows the frames of a span "
                    "with the held keys, mouse delta and gamepad state of each row, the row, "
                    "tick and time, and a red flash after a pause or dropped ticks; timing.png "
                    "plots frame intervals, their histogram and input activity per second.")
    p.add_argument("--root", required=True, type=path_arg, help="session directory")
    p.add_argument("--out", type=path_arg, default=None,
                   help="output folder (default: the session folder)")
    p.add_argument("--width", type=int, default=opt("width"),
                   help="video width in px, 64..7680 (default %(default)s)")
    p.add_argument("--start", type=float, default=opt("start_s"),
                   help="span start in seconds of session time since the first tick, pauses "
                        "included (timing.png's time axis), at most a week (default %(default)g)")
    p.add_argument("--seconds", type=float, default=opt("seconds"),
                   help="span length in seconds of session time, pauses included, more than "
                        "0 and at most a week (default %(default)g)")
    p.add_argument("--every", type=int, default=opt("every"),
                   help=f"keep every K-th frame, 1..{MAX_EVERY} (default %(default)s)")
    p.add_argument("--no-video", action="store_true", help="only write timing.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Write the preview files and print their paths."""
    from ..preview import write_preview
    from .progress import progress_callback

    # Progress goes to stderr so stdout keeps only the written paths.
    with progress_callback("rendering preview", enabled=not args.no_progress) as progress:
        result = write_preview(args.root, args.out, width=args.width, start_s=args.start,
                               seconds=args.seconds, every=args.every, video=not args.no_video,
                               progress=progress)
    if result.video is not None:
        hud = result.hud
        size = f", {hud.width}x{hud.height}" if hud is not None else ""
        print(f"{result.video}  ({len(result.rows)} frames{size})")
    print(result.timing)
    return 0
