"""``record``: the original ``capture_logger.py`` flags (``windows`` is :mod:`.windows`).

Each flag that fills a setting has the field's name as ``dest``, the field's default
(:func:`~nitrogen_capture.cli.field_default` of :class:`RecordConfig` or :class:`TargetSpec`)
and, for a choice, the tuple the library checks against; ``tests/cli/test_settings.py`` holds them
together. ``--source``, ``--layout`` (a file, read into ``layout``) and ``--debug-list-windows``
belong to the command only.

After a clean stop (a limit, Ctrl+C / SIGINT, SIGTERM, the window closed) ``record`` merges the
session exactly as ``nitrogen-capture merge`` does, so it ends with the layout of
docs/format.md; ``--no-merge`` leaves only the chunks. A failed stop merges nothing: its error
already says to run ``merge``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal, get_args

from ..audio.base import AUDIO_RATES, AudioSettings
from ..audio.sources import AUDIO_BACKENDS
from ..bounds import MAX_LATENCY_MS, MAX_SECONDS
from ..capture import BACKENDS as CAPTURE_BACKENDS
from ..capture import CAPTURE_HELP, canonical_backend
from ..capture.base import MAX_REGION_SIDE
from ..codecs.encoders import ENCODER_NAMES
from ..codecs.png import PNG_ENCODERS
from ..codecs.video import X264_PRESETS
from ..config import (
    FRAME_FORMATS,
    MAX_CHUNK_SIZE,
    MAX_FRAMES,
    MAX_MONITOR,
    MAX_QUEUE_FRAMES,
    MAX_STATUS_INTERVAL,
    MIN_STATUS_INTERVAL,
    RecordConfig,
    TargetSpec,
)
from ..cues import CUE_BACKENDS
from ..encoderpool.priority import ENCODER_PRIORITIES
from ..indicator import INDICATOR_BACKENDS
from ..inputs import BACKENDS as INPUT_BACKENDS
from ..inputs._live import GAMEPAD_BACKENDS
from ..session.meta_parts import CONTROLLERS
from ..session.paths import run_merge
from ..stopsignals import handling_stop_signals
from .episodes import add_arguments as add_run_arguments
from .episodes import wants_run
from .recording import (
    merge_recorded,
    print_merged,
    record_with_status,
    summary_line,
)

if TYPE_CHECKING:
    from ..record import Recorder, RecordResult
    from ..session.meta_latency import LatencyInfo
    from ..session.meta_preflight import PreflightInfo

__all__ = ["SOURCES", "Source", "add_parser", "add_recording_arguments", "record_config", "run"]

# Where record takes its frames and input from: the screen, or the synthetic test source.
Source = Literal["screen", "synthetic"]
SOURCES: tuple[Source, ...] = get_args(Source)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``record``."""
    from .args import add_common

    p: argparse.ArgumentParser = sub.add_parser(
        "record", help="record a game window (frames + input)",
        description="Record frames at a locked FPS plus keyboard, mouse and gamepad input into "
                    "a chunked session directory, then merge it. Starts paused: by default F8 "
                    "toggles, F6 or Ctrl+T resume, F7 or Ctrl+P pause (remap them in the layout "
                    "TOML).")
    add_recording_arguments(p, preflight=True)
    add_run_arguments(p)
    add_common(p)
    return p


def add_recording_arguments(p: argparse.ArgumentParser, *, preflight: bool) -> None:
    """The flags of one recording: ``record``'s, and ``play``'s (which records its rollout).

    ``preflight``: also ``--check``, ``--adapt`` and ``--check-seconds`` (``record`` only).
    """
    from .args import field_default, path_arg

    def rec(name: str) -> Any:
        return field_default(RecordConfig, name)

    p.add_argument("--out", type=path_arg, help="new session directory")
    if preflight:
        _add_preflight_arguments(p)
    _add_session_arguments(p, rec)


def _add_preflight_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true",
                   help="record nothing: grab and encode a few seconds of the real target with "
                        "the game running and say whether this size, rate and format will hold "
                        "on this machine, and which would (exit 1 when the chosen one will not)")
    p.add_argument("--adapt", action="store_true",
                   help="run the --check measurement first and record at the highest rate that "
                        "holds for this size and format (never higher than --fps; the storage "
                        "is kept); meta.json's preflight says what was measured and chosen")
    p.add_argument("--check-seconds", type=float, default=3.0, metavar="S",
                   help="how long --check (or --adapt) grabs, 1..60 (default %(default)s)")


def _add_session_arguments(p: argparse.ArgumentParser, rec: Any) -> None:
    from .args import field_default, path_arg

    p.add_argument("--fps", type=float, default=rec("fps"),
                   help="target capture rate, 0.001..240 (default %(default)g)")
    tgt = p.add_argument_group("target", "a window (its flags narrow each other) or a region")
    tgt.add_argument("--process-name", default=field_default(TargetSpec, "process_name"),
                     help="executable name, e.g. Game.exe or game")
    tgt.add_argument("--window-title", default=field_default(TargetSpec, "window_title"),
                     help="substring of the window title")
    tgt.add_argument("--pid", type=int, default=field_default(TargetSpec, "pid"),
                     help="process id owning the window (1..2^32-1)")
    tgt.add_argument("--region", type=int, nargs=4, metavar=("L", "T", "R", "B"),
                     default=field_default(TargetSpec, "region"),
                     help="fixed desktop region: left top right bottom (int32 coordinates, "
                          f"each side 1..{MAX_REGION_SIDE} px)")
    tgt.add_argument("--monitor", type=int, default=field_default(TargetSpec, "monitor"),
                     help=f"monitor / output index (0..{MAX_MONITOR})")
    tgt.add_argument("--wait", dest="wait_s", type=float, metavar="SECONDS",
                     default=field_default(TargetSpec, "wait_s"),
                     help="how long to wait for the window to appear, at most a week "
                          "(default %(default)g)")
    p.add_argument("--chunk-size", type=int, default=rec("chunk_size"),
                   help=f"frames per chunk, 1..{MAX_CHUNK_SIZE} (default %(default)s)")
    p.add_argument("--max-frames", type=int, default=rec("max_frames"),
                   help=f"stop after N frames, at most {MAX_FRAMES} (0 = no limit)")
    p.add_argument("--seconds", dest="max_seconds", type=float, default=rec("max_seconds"),
                   metavar="SECONDS",
                   help="stop after SECONDS of recording, paused time not counted (the wait "
                        f"for the first hotkey, pauses, focus lost), at most {MAX_SECONDS} "
                        "(a week; 0 = no limit)")
    p.add_argument("--wall-seconds", dest="max_wall_seconds", type=float,
                   default=rec("max_wall_seconds"), metavar="SECONDS",
                   help="stop SECONDS after the start by the wall clock, paused or not (an "
                        f"unattended run's bound), at most {MAX_SECONDS} (0 = no limit)")
    p.add_argument("--skip-late", action="store_true", default=rec("skip_late"),
                   help="skip whole missed periods instead of re-anchoring the schedule")
    p.add_argument("--start-immediately", action="store_true",
                   default=rec("start_immediately"),
                   help="record from the start instead of waiting for a resume hotkey")
    p.add_argument("--status-interval", type=float, default=rec("status_interval"),
                   help=f"seconds between status updates, {MIN_STATUS_INTERVAL:g}.."
                        f"{MAX_STATUS_INTERVAL:g} (0 = off; default %(default)g)")
    p.add_argument("--no-merge", dest="merge", action="store_false", default=rec("merge"),
                   help="leave only the chunks; merge later with nitrogen-capture merge")
    p.add_argument("--debug-list-windows", action="store_true",
                   help="list visible windows (title, PID, process, geometry) and exit")
    p.add_argument("--source", choices=SOURCES, default=SOURCES[0],
                   help="synthetic = test pattern + scripted input, no display needed "
                        "(implies --start-immediately)")
    p.add_argument("--capture-backend", choices=CAPTURE_BACKENDS, default=rec("capture_backend"),
                   metavar="NAME", help=CAPTURE_HELP)
    p.add_argument("--portal-reset", action="store_true", default=rec("portal_reset"),
                   help="Wayland (pipewire capture): show the screen-cast portal's picker again "
                        "instead of reusing the screen or window picked last time")
    p.add_argument("--input-backend", choices=INPUT_BACKENDS, default=rec("input_backend"))
    p.add_argument("--seed", type=int, default=rec("seed"),
                   help="seed of the synthetic source/script (0..2^32-1)")
    p.add_argument("--synthetic-repeat", type=int, metavar="N", default=rec("synthetic_repeat"),
                   help="the synthetic source repeats the frame before at every Nth grab "
                        "(stored as repeated frames; 0 = never, the default)")
    # A file read into the `layout` setting; no file means the field's default layout.
    p.add_argument("--layout", dest="layout_file", type=path_arg, metavar="FILE",
                   help="key layout TOML (a 'keys' list)")
    p.add_argument("--frame-format", choices=FRAME_FORMATS, default=rec("frame_format"),
                   help="png = one PNG per frame (default); video = H.264 in one MKV per chunk")
    p.add_argument("--video-crf", type=int, default=rec("video_crf"),
                   help="H.264 quality of --frame-format video, 0..51, lower = better "
                        "(default %(default)s)")
    p.add_argument("--video-preset", choices=X264_PRESETS, default=rec("video_preset"),
                   metavar="PRESET",
                   help="libx264 speed preset of --frame-format video: %(choices)s "
                        "(default %(default)s)")
    p.add_argument("--video-encoder", choices=ENCODER_NAMES, default=rec("video_encoder"),
                   metavar="ENC",
                   help="encoder of --frame-format video: %(choices)s (default %(default)s: "
                        "the first hardware encoder that opens here, else libx264)")
    p.add_argument("--png-encoder", choices=PNG_ENCODERS, default=rec("png_encoder"))
    p.add_argument("--encoder-workers", type=int, default=rec("encoder_workers"),
                   help="encoder processes, 1..32 (default %(default)s)")
    p.add_argument("--encoder-priority", choices=ENCODER_PRIORITIES,
                   default=rec("encoder_priority"),
                   help="the encoders' CPU priority beside the game: fair (together as much as "
                        "one normal thread, the original tool's encoding thread), normal, or "
                        "low (the game first; frames drop when the machine is busy) (default "
                        "%(default)s)")
    p.add_argument("--queue-frames", type=int, default=rec("queue_frames"),
                   help="frames that may wait for the encoder before frames are dropped, "
                        f"1..{MAX_QUEUE_FRAMES} (default %(default)s)")
    p.add_argument("--no-focus-pause", dest="focus_pause", action="store_false",
                   default=rec("focus_pause"),
                   help="keep capturing frames while the window is not focused "
                        "(input is still only recorded while it is)")
    p.add_argument("--gamepad", action="store_true", default=rec("gamepad"),
                   help="record a gamepad too")
    p.add_argument("--gamepad-backend", choices=GAMEPAD_BACKENDS, default=rec("gamepad_backend"),
                   help="auto: XInput on Windows, SDL2 elsewhere; sdl reads PlayStation pads "
                        "on Windows")
    lab = p.add_argument_group("labels", "stored in meta.json; edit later with "
                                         "nitrogen-capture label")
    lab.add_argument("--game", default=rec("game"),
                     help="the game (default: the window's executable name without extension)")
    lab.add_argument("--notes", default=rec("notes"), help="free-form notes")
    lab.add_argument("--controller", choices=CONTROLLERS, default=rec("controller"),
                     help="the controller played with (default: xbox with --gamepad, "
                          "else keyboard)")
    p.add_argument("--cue", choices=CUE_BACKENDS, default=rec("cue"),
                   help="signal start/pause/resume/stop: sound (a short tone), notify (a "
                        "desktop notification) or none (default %(default)s)")
    p.add_argument("--indicator", choices=INDICATOR_BACKENDS, default=rec("indicator"),
                   help="a small always-on-top mark (REC 00:42, PAUSED) that is never in the "
                        "data: x11 places it outside the captured rectangle (not drawn when "
                        "the capture covers the whole screen), win32 excludes it from capture; "
                        "auto picks the one for this system (default %(default)s)")
    p.add_argument("--no-chord-hotkeys", dest="chord_hotkeys", action="store_false",
                   default=rec("chord_hotkeys"),
                   help="drop the Ctrl chord hotkeys (Ctrl+T, Ctrl+P): they become plain keys")
    snd = p.add_argument_group("audio", "the game's sound on the same clock (docs/audio.md)")
    snd.add_argument("--audio", action="store_true", default=False,
                     help="record the sound the game plays (the monitor of its output on "
                          "Linux, WASAPI loopback on Windows)")
    snd.add_argument("--audio-source", default=AudioSettings.source, metavar="SOURCE",
                     help="default (the output the game plays to), a device id or part of its "
                          "name (nitrogen-capture audio-sources lists them) (default "
                          "%(default)s)")
    snd.add_argument("--audio-backend", choices=AUDIO_BACKENDS, default=AudioSettings.backend,
                     help="auto: pulse on Linux (PulseAudio or PipeWire), wasapi on Windows; "
                          "synthetic: a generated click track (default %(default)s; synthetic "
                          "with --source synthetic)")
    snd.add_argument("--audio-rate", type=int, default=AudioSettings.rate, metavar="HZ",
                     help=f"samples per second, one of {', '.join(map(str, AUDIO_RATES))} "
                          "(default %(default)s)")
    snd.add_argument("--audio-channels", type=int, default=AudioSettings.channels,
                     metavar="N", help="1 or 2 (default %(default)s)")
    lat = p.add_argument_group(
        "latency", "the input-to-frame latency offset stored in meta.json and applied by every "
                   "exporter (docs/calibration.md); give one of the two")
    lat_x = lat.add_mutually_exclusive_group()
    lat_x.add_argument("--latency-profile", dest="latency_profile_file", type=path_arg,
                       metavar="FILE", help="a nitrogen-capture calibrate --save file")
    lat_x.add_argument("--latency-offset-ms", type=float, default=rec("latency_offset_ms"),
                       metavar="MS", help=f"the offset by hand, in ms within "
                                          f"+-{MAX_LATENCY_MS:g} (0 = none)")


def record_config(args: argparse.Namespace) -> RecordConfig:
    """The :class:`RecordConfig` of ``record``'s (or ``play``'s) command line, checked."""
    return _config(args)


def _config(args: argparse.Namespace) -> RecordConfig:
    from ..capture.base import Region
    from ..errors import ConfigError
    from ..keylayout import load_layout
    from .args import field_default

    if args.out is None and not getattr(args, "check", False) and not wants_run(args):
        raise ConfigError("--out is required (a new session directory), or --out-dir for a "
                          "collection run", setting="out")
    from ..bounds import number_check
    from ..errors import check_settings

    # checked whether or not --check is given: a bad value is never ignored
    check_settings([number_check(getattr(args, "check_seconds", 3.0), "check_seconds",
                                 "--check-seconds", 1, 60, interval=True, note=" seconds")])
    synthetic = args.source == "synthetic"
    spec = TargetSpec(process_name=args.process_name, window_title=args.window_title,
                      pid=args.pid, region=Region(*args.region) if args.region else None,
                      monitor=args.monitor, wait_s=args.wait_s)
    layout = (load_layout(args.layout_file) if args.layout_file
              else field_default(RecordConfig, "layout"))
    offset_ms, latency = _latency(args)
    return RecordConfig(
        out=args.out or Path("(check)"), target=spec, fps=args.fps, chunk_size=args.chunk_size,
        max_frames=args.max_frames, max_seconds=args.max_seconds,
        max_wall_seconds=args.max_wall_seconds, skip_late=args.skip_late,
        start_immediately=args.start_immediately or synthetic,
        # dxcam -> dxgi, mss -> gdi on Windows; a Windows-only name elsewhere: one line now
        capture_backend="synthetic" if synthetic else canonical_backend(args.capture_backend),
        portal_reset=args.portal_reset,
        input_backend="scripted" if synthetic and args.input_backend == "auto"
        else args.input_backend,
        seed=args.seed, synthetic_repeat=args.synthetic_repeat, layout=layout,
        frame_format=args.frame_format,
        png_encoder=args.png_encoder, video_crf=args.video_crf, video_preset=args.video_preset,
        video_encoder=args.video_encoder,
        encoder_workers=args.encoder_workers, encoder_priority=args.encoder_priority,
        queue_frames=args.queue_frames,
        status_interval=args.status_interval, focus_pause=args.focus_pause,
        gamepad=args.gamepad, gamepad_backend=args.gamepad_backend, merge=args.merge,
        game=args.game, notes=args.notes, controller=args.controller,
        cue=args.cue, chord_hotkeys=args.chord_hotkeys,
        indicator="none" if synthetic and args.indicator == "auto" else args.indicator,
        latency_offset_ms=offset_ms, latency=latency, audio=_audio(args, synthetic))


def _audio(args: argparse.Namespace, synthetic: bool) -> AudioSettings | None:
    """``--audio``'s settings (checked even without ``--audio``: a bad value is never ignored)."""
    backend = ("synthetic" if synthetic and args.audio_backend == "auto"
               else args.audio_backend)
    settings = AudioSettings(source=args.audio_source, backend=backend, rate=args.audio_rate,
                             channels=args.audio_channels)
    return settings if args.audio else None


def _latency(args: argparse.Namespace) -> tuple[float | None, LatencyInfo | None]:
    """The offset (ms) and its ``meta.json`` ``latency`` part from the latency flags."""
    from ..session.meta_latency import LatencyInfo

    if args.latency_profile_file is not None:
        from ..calibrate.profile import LatencyProfile

        path = args.latency_profile_file
        prof = LatencyProfile.load(path)
        if abs(prof.fps - args.fps) > 1e-6:  # the offset is in ms: it still applies
            print(f"note: {path} was calibrated at {prof.fps:g} fps, this records at "
                  f"{args.fps:g}: calibrate at {args.fps:g} fps for this rate's own figures",
                  file=sys.stderr)
        st = prof.stats
        return prof.offset_ns / 1e6, LatencyInfo(
            "profile", str(Path(path).resolve()), prof.fps, round(st.p50_ms, 3),
            round(st.p90_ms, 3), round(st.max_ms, 3), prof.seen)
    if args.latency_offset_ms is not None:
        return args.latency_offset_ms, LatencyInfo("flag")
    return None, None


def _check(args: argparse.Namespace, config: RecordConfig) -> int:
    """``record --check``: the preflight's report; 0 when the chosen configuration holds."""
    from ..record.preflight import format_preflight, run_preflight

    with handling_stop_signals(_interrupt):
        report = run_preflight(config, args.check_seconds)
    *lines, verdict = format_preflight(report)
    print("\n".join(lines), flush=True)
    if report.chosen.holds:
        print(verdict)
        return 0
    print(f"nitrogen-capture record: {verdict}", file=sys.stderr)  # the one line a script reads
    return 1


def _adapt(args: argparse.Namespace,
           config: RecordConfig) -> tuple[RecordConfig, PreflightInfo]:
    """``record --adapt``: the preflight, then the highest rate that holds in this storage.

    The rate is chosen once, up front, and never changed during the recording: a session
    stays on one locked grid. Only a lower rate is chosen, never another storage (PNG to a
    lossy video would change what the data is).
    """
    import dataclasses

    from ..record.preflight import format_preflight, run_preflight

    report = run_preflight(config, args.check_seconds)
    *lines, _ = format_preflight(report)
    print("\n".join(lines), flush=True)
    info = report.adaptation()
    w, h = report.size
    if info.fps == config.fps and info.holds:
        print(f"adapt: {config.frame_format} at {config.fps:g} fps holds here: recording as "
              "asked", flush=True)
    elif info.holds:
        print(f"adapt: recording at {info.fps:g} fps instead of {config.fps:g} "
              f"({config.frame_format} at {config.fps:g} fps needs "
              f"{info.needed_cores['asked']:.2f} cores, {info.free_cores:.2f} were free)",
              flush=True)
    else:
        print(f"adapt: no rate holds for {config.frame_format} at {w}x{h} here: recording at "
              f"{config.fps:g} fps as asked, expect lost frames (a smaller region or "
              "another --frame-format would hold; see above)", flush=True)
    return dataclasses.replace(config, fps=info.fps), info


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    """Record until a limit, Ctrl+C, SIGTERM or the window closes; merge; print a summary."""
    if args.debug_list_windows:
        from . import windows

        return windows.run(args)
    from ..record import build_recorder
    from ..record.autopaths import resolve_auto_paths

    # On Wayland, `auto` becomes the portal's frames and XWayland's or evdev's input (one line).
    config = resolve_auto_paths(_config(args), lambda line: print(line, flush=True))
    if wants_run(args):
        from .episodes import run_episodes, run_settings

        run_settings(args)  # a bad run setting is refused before the --adapt measurement
        with handling_stop_signals(_interrupt):
            preflight = None
            if args.adapt:  # measured once: every episode of the run is on the same grid
                config, preflight = _adapt(args, config)
            return run_episodes(args, config, preflight)
    if args.check:
        return _check(args, config)
    # While the backends open Ctrl+C and SIGTERM interrupt; from the recording's start until
    # the merge begins they stop the recorder cleanly (_record_and_merge).
    with handling_stop_signals(_interrupt):
        adapted = None
        if args.adapt:
            config, adapted = _adapt(args, config)
        recorder = build_recorder(config, say=lambda line: print(line, flush=True))
        recorder.meta.preflight = adapted
        return _record_and_merge(recorder, config)


def _record_and_merge(recorder: Recorder, config: RecordConfig) -> int:
    """Record, then merge: a Ctrl+C between the two is one more stop, and the merge runs.

    From the recorder's start until the merge begins the signals only stop the recorder (a
    stop of a stopped recording is nothing): a Ctrl+C just after the recording ended used to
    raise between the two and leave the session unmerged. Only the merge itself is interrupted.
    """
    def stop(signum: int, frame: FrameType | None) -> None:
        recorder.stop(signal.Signals(signum).name)

    report = None
    with handling_stop_signals(stop):
        result = record_with_status(recorder, config)  # a failed stop raises: no merge
        print(summary_line(result), flush=True)
        if not config.merge:
            print(f"not merged (--no-merge): {run_merge(config.out)} to write "
                  "actions.npy ... dataset.pt")
            return _display_lost(result)
        try:
            # Every merged file is replaced atomically: an interrupted merge leaves whole
            # files (or none), never torn ones, and rerunning merge completes them.
            with handling_stop_signals(_interrupt):
                report = merge_recorded(config)
        except KeyboardInterrupt as exc:
            if report is None:
                print(f"nitrogen-capture record: {str(exc) or 'SIGINT'} during the final merge: "
                      f"the recording is complete; {run_merge(config.out)} to write the merged "
                      "files", file=sys.stderr)
                return 130
        print_merged(report)
    return _display_lost(result)


def _display_lost(result: RecordResult) -> int:
    """1 with one line when the display went away under the recording (kept and merged)."""
    if result.stop_reason != "display lost":
        return 0
    print(f"nitrogen-capture record: error: the display went away during the recording; what "
          f"was recorded until then is finished in {result.out}", file=sys.stderr)
    return 1
