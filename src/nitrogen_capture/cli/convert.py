"""``convert``: a session to NitroGen training data (the original ``convert_to_nitrogen.py``).

Flags of the original tool are kept (``--root --out --img-size 256 --seq-len 16 --mouse-scale 300
--mouse-clip 1.0``); the rest are ours (docs/export.md). Each flag's ``dest`` is the
:class:`~nitrogen_capture.export.settings.ConvertSettings` field it fills, its default that field's
default and its choices the tuple the settings check against (``tests/cli/test_settings.py``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..audio.features import AUDIO_FEATURES
from ..bounds import MAX_LATENCY_MS
from ..export import formats
from ..export.keymap import ACTION_SPACES, MAX_MOUSE_SCALE
from ..export.settings import (
    ACTION_SOURCE_CHOICES,
    EPISODE_PER,
    INPUT_SOURCES,
    MAX_ACTION_HZ,
    MAX_IDLE_SECONDS,
    MAX_REPEAT_FRAMES,
    MAX_SHARD_FRAMES,
    MAX_STEPS,
    MIN_ACTION_HZ,
    MIN_IDLE_SECONDS,
    OBS_DTYPES,
    STATES,
    ConvertSettings,
)

__all__ = ["add_parser", "run", "settings_from_args"]


class _GivenInt(argparse.Action):
    """Store an int and note that the flag was given.

    ``--img-size``: --format lerobot keeps the capture size unless it is given.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_set", True)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``convert``."""
    from ..export.batch import BatchSettings
    from ..export.batch.engines import ENGINES
    from .args import add_common, field_default, path_arg

    def conv(name: str) -> Any:
        return field_default(ConvertSettings, name)

    def batch(name: str) -> Any:
        return field_default(BatchSettings, name)

    p: argparse.ArgumentParser = sub.add_parser(
        "convert", help="export a session to a NitroGen .pt (or the NitroGen dataset tree, or "
                        "a LeRobot dataset)",
        description="Build NitroGen training windows from a recorded session: obs (M, 3, H, W) "
                    "RGB, actions (M, T, D) and meta, streamed to disk with bounded memory.")
    p.add_argument("--root", action="append", type=path_arg,
                   help="session directory; repeat it, or add --recursive, to convert many "
                        "sessions into one output (--format lerobot: one episode each)")
    p.add_argument("--out", required=True, type=path_arg,
                   help="a *.pt file (with --shard-frames: the stem of the shards and the "
                        "index), or the output directory for --format nitrogen-dataset and "
                        "lerobot (lerobot: an existing dataset gets the episodes appended)")
    p.add_argument("--img-size", type=int, default=conv("img_size"), action=_GivenInt,
                   help="observation side in px, 8..4096 (%(default)s; --format lerobot: "
                        "the capture size unless given)")
    p.add_argument("--seq-len", type=int, default=conv("seq_len"),
                   help=f"action steps per window, T, 1..{MAX_STEPS} (%(default)s)")
    p.add_argument("--mouse-scale", type=float, default=conv("mouse_scale"),
                   help="mouse counts per step that make a full stick deflection, at most "
                        f"{MAX_MOUSE_SCALE} (%(default)g)")
    p.add_argument("--mouse-clip", type=float, default=conv("mouse_clip"),
                   help="mouse stick limit per axis, in (0, 1] (%(default)s)")
    p.add_argument("--action-space", choices=ACTION_SPACES, default=conv("action_space"),
                   help="nitrogen: the 25-D vector of the released model; raw: layout keys + "
                        "4 stick axes")
    p.add_argument("--action-shift", type=int, default=conv("action_shift"), action=_GivenInt,
                   help=f"steps between the observation and its first action, 0..{MAX_STEPS} "
                        "(default %(default)s: row i's action can show in frame i, so a policy "
                        "predicts from row i + 1, docs/calibration.md; released checkpoint: 3)")
    p.add_argument("--action-hz", type=float, default=conv("action_hz"),
                   help="re-bin actions from the raw events onto an exact grid at this rate, "
                        f"{MIN_ACTION_HZ:g}..{MAX_ACTION_HZ:g} Hz (NitroGen: 60); default: the "
                        "session's own per-frame rows")
    p.add_argument("--obs-dtype", choices=OBS_DTYPES, default=conv("obs_dtype"),
                   help="uint8 0-255 (the default; the loaders return float in [0, 1]) or "
                        "float32 in [0, 1] (the original tool's, 4x larger)")
    p.add_argument("--shard-frames", type=int, default=conv("shard_frames"),
                   help=f"windows per output file, at most {MAX_SHARD_FRAMES} (0 = one file); "
                        "writes <stem>-NNNNN.pt + <stem>.index.json")
    p.add_argument("--keymap", type=path_arg, default=conv("keymap"),
                   help="keyboard/mouse -> gamepad keymap TOML (default: the shipped one)")
    p.add_argument("--input-source", choices=INPUT_SOURCES, default=conv("input_source"),
                   help="auto: the gamepad when the session recorded one, else keyboard/mouse")
    p.add_argument("--format", choices=formats.names(), default=conv("format"),
                   help=formats.help_text())
    p.add_argument("--no-video", dest="video", action="store_false", default=conv("video"),
                   help="nitrogen-dataset: write no video.mp4")
    p.add_argument("--game", default=conv("game"),
                   help="nitrogen-dataset: the 'game' of metadata.json; lerobot: the game of the "
                        "default task")
    # --format lerobot (docs/export.md, "LeRobot").
    p.add_argument("--episode-per", choices=EPISODE_PER, default=conv("episode_per"),
                   help="lerobot: one episode per session, or per pause-free segment")
    p.add_argument("--repo-id", default=conv("repo_id"),
                   help="lerobot: the dataset's repo id (default: local/<out folder name>)")
    p.add_argument("--task", default=conv("task"),
                   help="lerobot: the task string of every episode (default: each session's "
                        "task label, else 'Play <game>' with the game from its meta.json)")
    p.add_argument("--fps", type=int, default=conv("fps"),
                   help="lerobot: frames (and actions) per second of the dataset (default: the "
                        "first session's target fps); frames are resampled, actions re-binned")
    p.add_argument("--state", choices=STATES, default=conv("state"),
                   help="lerobot: what observation.state holds: previous-action (the row "
                        "before's action, zeros on an episode's first row; the default), "
                        "held-keys (the layout's keys held going into the row) or none")
    p.add_argument("--workers", type=int, default=conv("workers"),
                   help="frame decode and resize threads, 1..32 (default: one per core, "
                        "%(default)s here)")
    p.add_argument("--overwrite", action="store_true", default=conv("overwrite"),
                   help="replace an existing output")
    p.add_argument("--latency-offset-ms", type=float, default=conv("latency_offset_ms"),
                   metavar="MS",
                   help=f"input-to-frame latency offset in ms within +-{MAX_LATENCY_MS:g}: "
                        "actions move MS later before they are paired with frames; overrides "
                        "the session's (meta.json latency_offset_ns), 0 turns it off "
                        "(docs/calibration.md)")
    p.add_argument("--include-discarded", action="store_true",
                   default=conv("include_discarded"),
                   help="convert sessions labelled discarded too (by default one given alone "
                        "is refused, and among several each is left out with one line)")
    p.add_argument("--action-source", choices=ACTION_SOURCE_CHOICES,
                   default=conv("action_source"),
                   help="a play rollout's rows to keep: all (default), human (the player's "
                        "takeovers; a session not a rollout is all human) or policy; the other "
                        "rows are left out like a pause (docs/export.md, \"Action source\")")
    p.add_argument("--audio-features", choices=AUDIO_FEATURES, default=conv("audio_features"),
                   help="pt: add per-window audio features of a session recorded with "
                        "--audio: logmel = audio_logmel (M, 64, t), the log-mel slice of the "
                        "frame period ending at each window's frame (docs/export.md, \"Audio "
                        "features\")")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Idle trimming (docs/export.md, "Idle trimming"): one rule with report's idle stretches.
    p.add_argument("--drop-idle-seconds", type=float, default=conv("drop_idle_seconds"),
                   metavar="N",
                   help="leave out stretches with no input for more than N s of session "
                        "time, pauses included (menus, AFK), "
                        f"{MIN_IDLE_SECONDS:g}..{MAX_IDLE_SECONDS:g}; no window spans a cut; "
                        "the cut stretches are recorded in the export's meta (default: keep all)")
    # Repeated frames (docs/export.md, "Repeated frames"): one rule, export/repeats.py.
    p.add_argument("--max-repeat-frames", type=int, default=conv("max_repeat_frames"),
                   metavar="N",
                   help="leave out what relies on more than N repeated frames in a row, "
                        f"0..{MAX_REPEAT_FRAMES}: .pt windows are dropped, the dataset tree "
                        "and lerobot cut those rows out (0: every repeated row); "
                        "default: keep all, marked")
    # Many sessions at once (docs/export.md, "Many sessions"): export/batch.
    p.add_argument("--recursive", action="store_true", default=batch("recursive"),
                   help="convert every session found under each --root")
    p.add_argument("--sessions", dest="session_list", type=path_arg,
                   default=batch("session_list"), metavar="FILE",
                   help="a text file of session paths, one a line (with or without --root); "
                        "a relative path is relative to the FILE's folder, not the working "
                        "directory")
    p.add_argument("--engine", choices=ENGINES, default=batch("engine"),
                   help="local: a process pool here (default); ray: Ray tasks")
    p.add_argument("--jobs", type=int, default=batch("jobs"),
                   help="sessions converted at once (processes, or Ray CPUs of a local Ray); "
                        "--workers threads are shared out among them (%(default)s here)")
    p.add_argument("--ray-address", default=batch("ray_address"),
                   help="join this Ray cluster (auto: the one `ray start` made here) instead "
                        "of starting a private local Ray")
    p.add_argument("--task-frames", type=int, default=batch("task_frames"),
                   help="pt: cut sessions into tasks of at most this many frames "
                        "(%(default)s)")
    p.add_argument("--keep-idle", action="store_true", default=batch("keep_idle"),
                   help="convert sessions with no input at all too (skipped by default)")
    add_common(p)
    return p


def settings_from_args(args: argparse.Namespace) -> ConvertSettings:
    """The settings of parsed ``convert`` flags (checked when built: a ConfigError)."""
    roots = args.root or [args.session_list]  # a batch's root is unused: its sessions are listed
    return ConvertSettings(
        root=roots[0], out=args.out, img_size=args.img_size, seq_len=args.seq_len,
        mouse_scale=args.mouse_scale, mouse_clip=args.mouse_clip, action_space=args.action_space,
        action_shift=args.action_shift, action_shift_set=getattr(args, "action_shift_set", False),
        action_hz=args.action_hz, obs_dtype=args.obs_dtype,
        shard_frames=args.shard_frames, keymap=args.keymap, input_source=args.input_source,
        format=args.format, overwrite=args.overwrite, workers=args.workers,
        video=args.video, game=args.game, more_roots=_lerobot_more_roots(args),
        episode_per=args.episode_per, repo_id=args.repo_id, task=args.task, fps=args.fps,
        img_size_set=getattr(args, "img_size_set", False), state=args.state,
        drop_idle_seconds=args.drop_idle_seconds, latency_offset_ms=args.latency_offset_ms,
        max_repeat_frames=args.max_repeat_frames, include_discarded=args.include_discarded,
        action_source=args.action_source, audio_features=args.audio_features)


def _lerobot_more_roots(args: argparse.Namespace) -> tuple[Path, ...]:
    """The sessions after the first for ``--format lerobot``'s own writer (one episode each).

    Several ``--root`` of another format (or with ``--recursive`` / ``--sessions`` / Ray) are a
    batch (``cli.batch.is_batch``), which lists its sessions itself.
    """
    from .batch import is_batch

    roots = args.root or []
    many = formats.get(args.format).many_roots
    return tuple(roots[1:]) if many and not is_batch(args) else ()


def _size_line(estimate: int, out: Path) -> None:
    from ..export.nitrogen import human_bytes

    print(f"writing ~{human_bytes(estimate)} to {out}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run a conversion from parsed flags; errors propagate as package exceptions."""
    from ..errors import ConfigError, SessionError
    from ..export import convert, load_keymap
    from .batch import is_batch, run_batch_cli

    if not args.root and not args.session_list:
        raise ConfigError("--root is required (or --sessions FILE)", setting="root")
    settings = settings_from_args(args)
    fmt = formats.get(settings.format)
    if settings.keymap is not None:
        load_keymap(settings.keymap)  # a bad --keymap file is a usage error, before any reading
    if is_batch(args):
        return run_batch_cli(args, settings)
    for root in (settings.root, *settings.more_roots):  # after the flags: usage errors first
        if not root.is_dir():
            raise SessionError(f"--root {root} is not a directory")
    t0 = time.perf_counter()
    if args.no_progress:
        result = convert(settings, size_note=_size_line)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        from .progress import progress_bar

        unit = fmt.progress_unit
        with progress_bar(TextColumn("convert"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[rate]}"), TimeRemainingColumn()) as bar:
            task = bar.add_task("convert", total=None, rate="")

            def progress(done: int, total: int) -> None:
                rate = done / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, completed=done, total=total, rate=f"{rate:.1f} {unit}/s")

            result = convert(settings, progress=progress, size_note=_size_line)
    dt = time.perf_counter() - t0
    what, where = fmt.wrote(result, settings)
    note = repeat_note(settings.format, result.repeats)
    print(f"wrote {what} to {where} in {dt:.1f} s ({result.frames / max(dt, 1e-9):.1f}/s)"
          + (f"; {note}" if note else ""))
    if result.shift_note is not None:
        print(result.shift_note)
    if result.idle is not None:
        idle = result.idle
        print(f"left out {idle['count']} idle stretch(es) of more than "
              f"{idle['drop_idle_seconds']:g} s: {idle['seconds']:.1f} s, "
              f"{idle['rows_dropped']} frames")
    cut = result.repeats.get("cut") if result.repeats else None
    if cut is not None:
        print(fmt.cut_line(cut))
    return 0


def repeat_note(fmt: str, repeats: dict[str, Any] | None) -> str:
    """The summary line's count of repeated frames (docs/export.md, "Repeated frames")."""
    if repeats is None:
        return ""
    return formats.get(fmt).repeat_note(repeats)
