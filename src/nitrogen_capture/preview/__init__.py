"""Look at a recording instead of reading it: ``preview.mp4`` with an input overlay, ``timing.png``.

:func:`write_preview` is what ``nitrogen-capture preview`` runs. The video shows a span of frames
with the row's held keys, mouse delta and gamepad state drawn beside them (see :mod:`.overlay`)
so alignment between frames and actions can be checked by eye; the PNG plots frame intervals and
input activity for the whole session (see :mod:`.timing`). Importing this package loads numpy
and OpenCV; PyAV is imported only when the video is encoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import existing_level, make_dirs, prune_empty
from ..bounds import MAX_EVERY, MAX_SECONDS, number_check
from ..errors import SessionError, check_settings
from ..marks import has_mark, png_mark, video_mark
from ..outputs import OutputKind, check_output
from ..session.reader import SessionReader
from .data import SessionSeries, gap_marks, load_series
from .overlay import Box, HudLayout, hud_layout
from .timing import TIMING_MARK
from .video import VIDEO_MARK, VideoSpan, select_span, write_video

__all__ = ["Box", "HudLayout", "PreviewOptions", "PreviewResult", "SessionSeries", "VideoSpan",
           "check_preview_options", "gap_marks", "hud_layout", "load_series", "select_span",
           "write_preview"]

VIDEO_NAME, TIMING_NAME = "preview.mp4", "timing.png"
# What preview writes (outputs.py); an MP4's tags sit in its index, at the end of the file.
PREVIEW_VIDEO = OutputKind("preview video",
                           lambda p: has_mark(p, video_mark(VIDEO_MARK), tail=1 << 20),
                           home_names=(VIDEO_NAME,))
TIMING_PLOT = OutputKind("timing plot", lambda p: has_mark(p, png_mark(TIMING_MARK)),
                         home_names=(TIMING_NAME,))


def check_preview_options(width: int, start_s: float, seconds: float, every: int) -> None:
    """Check the numbers of a preview (the ``preview`` flags); a bad one is a ConfigError.

    Width in 64..7680 px, span start in [0, a week], span length in (0, a week], ``every`` in
    1..1000; nan and inf are refused.
    """
    check_settings((
        number_check(width, "width", "--width", 64, 7680, interval=True, note=" px"),
        number_check(start_s, "start", "--start", 0, MAX_SECONDS, note=" seconds"),
        number_check(seconds, "seconds", "--seconds", 0, MAX_SECONDS, lo_open=True,
                     note=" seconds"),
        number_check(every, "every", "--every", 1, MAX_EVERY),
    ))


@dataclass(frozen=True)
class PreviewOptions:
    """The numbers of a preview (the ``preview`` flags), checked; the one place of their defaults.

    Attributes:
        width: video width in px, 64..7680.
        start_s: span start in seconds of session time since the first tick.
        seconds: span length in seconds of session time.
        every: keep every K-th frame.
    """

    width: int = 640
    start_s: float = 0.0
    seconds: float = 30.0
    every: int = 1

    def __post_init__(self) -> None:
        check_preview_options(self.width, self.start_s, self.seconds, self.every)


@dataclass(frozen=True)
class PreviewResult:
    """What :func:`write_preview` wrote.

    Attributes:
        video: path of the MP4 (None with ``video=False``).
        timing: path of the timing PNG.
        rows: merged rows shown in the video, in order.
        hud: the overlay geometry (output size and key boxes), None without a video.
        gaps: first rows after a pause or dropped ticks in the whole session, with labels.
    """

    video: Path | None
    timing: Path
    rows: tuple[int, ...]
    hud: HudLayout | None
    gaps: dict[int, str]


def write_preview(root: str | Path, out: str | Path | None = None, *,
                  width: int = PreviewOptions.width, start_s: float = PreviewOptions.start_s,
                  seconds: float = PreviewOptions.seconds, every: int = PreviewOptions.every,
                  video: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> PreviewResult:
    """Write ``preview.mp4`` and ``timing.png`` for the session at ``root`` into ``out``.

    ``out`` defaults to the session folder. The video covers capture times in
    ``[start_s, start_s + seconds)``, every ``every``-th frame, scaled to ``width`` px.

    Raises:
        ConfigError: a bad width/span (:func:`check_preview_options`; exit code 2 in the CLI).
        SessionError: ``root`` is not a directory; SessionFormatError for a damaged session.
        DependencyError: PyAV missing (``pip install 'nitrogen-capture[video]'``).
        DiskSpaceError: a file did not fit (one line, diskspace.py); each file is whole or
            absent, and a folder made for them and left empty is removed.
    """
    check_preview_options(width, start_s, seconds, every)
    root = Path(root)
    if not root.is_dir():
        raise SessionError(f"--root {root} is not a directory")
    out_dir = root if out is None else Path(out)
    # Both targets are checked before any work (outputs.py): never into another session,
    # over a session's own files, or over a file that is not this tool's preview.
    timing = check_output(out_dir / TIMING_NAME, TIMING_PLOT, label="--out", home=root)
    mp4 = check_output(out_dir / VIDEO_NAME, PREVIEW_VIDEO, label="--out", home=root) \
        if video else None
    keep = existing_level(out_dir)  # a folder made below it is removed again on a failure
    try:
        if not out_dir.is_dir():
            make_dirs(out_dir)
        reader = SessionReader(root)
        series = load_series(reader)
        span = select_span(series, start_s, seconds, every)
        from .timing import write_timing

        t = series.t_s
        write_timing(series, timing,
                     title=f"{root.name}: {reader.meta.effective_labels.describe()}",
                     span_s=(float(t[span.rows[0]]), float(t[span.rows[-1]])))
        hud = None
        if mp4 is not None:
            hud = write_video(reader, series, span, mp4, width=width, progress=progress)
    except BaseException:
        prune_empty(out_dir, keep)  # (a folder holding a finished timing.png stays)
        raise
    gaps = gap_marks(series.arrays["frame_indices"], series.arrays["timestamps"], series.pauses)
    return PreviewResult(mp4, timing, span.rows, hud, gaps)
