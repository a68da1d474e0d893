"""``record --episodes``: a collection run, one session per episode (README, "Collection runs").

Each episode is a session of its own under ``--out-dir``, named
``<game>/<run date>-<run time>-<NNN>`` (``NNN`` counts the recordings of the run, re-recordings
included, so names never clash and sort in recording order). Its task, outcome and place in the
run are in its ``meta.json`` (``labels`` and ``episode``, docs/format.md) from the moment it
starts, so a crash leaves every finished episode merged and labelled and the open one
recoverable by ``merge`` like any session.

Between episodes the player resets the game: the next episode's recorder is built at once and
waits paused (reason ``reset``) for ``--reset-seconds`` or the start hotkey. The episode keys
(F9 success, F10 failure, F11 discard and re-record, F12 end unmarked; keylayout.EPISODE_ACTIONS)
end the episode being recorded, or, during a reset, mark the one just finished
(record/episode.py). Ctrl+C or SIGTERM ends the run after the current episode is saved.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bounds import MAX_SECONDS, number_check

if TYPE_CHECKING:
    from ..config import RecordConfig
    from ..keylayout import KeyLayout
    from ..record import Recorder
    from ..record.indicate import IndicatorFeed
    from ..session.meta_episode import EpisodeInfo
    from ..session.meta_preflight import PreflightInfo

__all__ = ["MAX_EPISODES", "RunSettings", "add_arguments", "run_episodes", "run_settings",
           "wants_run"]

MAX_EPISODES = 100_000
MAX_TASKS_BYTES = 1_000_000
# How each key's mark is stored as the episode's outcome (labels.OUTCOMES; "end": none).
_OUTCOME = {"success": "success", "failure": "failure", "discard": "discarded", "end": None}
# Stop reasons after which the run goes on to the next episode; any other (Ctrl+C, SIGTERM, the
# window closed, an error) ends the run.
_EPISODE_ENDS = ("episode time", "max frames", "max seconds", "max wall seconds")


@dataclass(frozen=True)
class RunSettings:
    """A collection run's settings.

    ``count`` episodes (None: until stopped) of ``seconds`` of recording each (None: until an
    episode key), with ``reset_s`` between them, under ``out_dir``. ``tasks`` are the episodes'
    task texts in order; they cycle when there are fewer than episodes (empty: no task).
    """

    out_dir: Path
    count: int | None
    seconds: float | None
    reset_s: float
    tasks: tuple[str, ...]

    def task(self, index: int) -> str:
        """The task of episode ``index`` (1-based)."""
        return self.tasks[(index - 1) % len(self.tasks)] if self.tasks else ""


def add_arguments(p: Any) -> None:
    """The run's flags on ``record``."""
    from .args import path_arg

    g = p.add_argument_group(
        "collection runs", "record many episodes, each a session under --out-dir; keys: F9 "
        "ends an episode as a success, F10 as a failure, F11 discards it and records it again, "
        "F12 ends it unmarked; during a reset they mark the episode just finished")
    g.add_argument("--out-dir", type=path_arg, metavar="DIR",
                   help="folder for the run's sessions, named <game>/<date>-<time>-<NNN> "
                        "(instead of --out)")
    g.add_argument("--episodes", type=int, metavar="N",
                   help="episodes to record (0: until Ctrl+C); needs --out-dir")
    g.add_argument("--episode-seconds", type=float, metavar="S",
                   help="seconds of recording per episode (pauses do not count; default: "
                        "until an episode key)")
    g.add_argument("--reset-seconds", type=float, default=5.0, metavar="S",
                   help="wall-clock seconds between episodes to reset the game, not recorded "
                        "(the start hotkey ends it early; default 5)")
    g.add_argument("--task", help="the task of every episode (stored in meta.json labels, "
                                  "the LeRobot task text)")
    g.add_argument("--tasks", dest="tasks_file", type=path_arg, metavar="FILE",
                   help="a text file with one task per line: episode n takes line n (cycling)")


def wants_run(args: argparse.Namespace) -> bool:
    """Whether the command line asks for a collection run."""
    return (getattr(args, "out_dir", None) is not None
            or getattr(args, "episodes", None) is not None)


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The run's settings, checked (one line per problem, ConfigError)."""
    from ..config import check_task
    from ..errors import ConfigError, check_settings
    from ..inputfiles import read_input_text

    if args.out is not None:
        raise ConfigError("--out and --out-dir are exclusive: a run names its sessions itself",
                          setting="out_dir")
    if args.out_dir is None:
        raise ConfigError("--episodes needs --out-dir (the folder for the run's sessions)",
                          setting="out_dir")
    if args.check:
        raise ConfigError("--check records nothing: leave out --episodes and --out-dir",
                          setting="episodes")
    count = 1 if args.episodes is None else args.episodes
    checks = [number_check(count, "episodes", "--episodes", 0, MAX_EPISODES),
              number_check(args.reset_seconds, "reset_seconds", "--reset-seconds", 0,
                           MAX_SECONDS)]
    if args.episode_seconds is not None:
        checks.append(number_check(args.episode_seconds, "episode_seconds",
                                   "--episode-seconds", 0, MAX_SECONDS, lo_open=True))
    check_settings(checks)
    if args.task is not None and args.tasks_file is not None:
        raise ConfigError("--task and --tasks are exclusive", setting="task")
    tasks: tuple[str, ...] = ()
    if args.task is not None:
        check_task(args.task, "--task")
        tasks = (args.task,)
    elif args.tasks_file is not None:
        text = read_input_text(args.tasks_file, what="--tasks", max_bytes=MAX_TASKS_BYTES)
        tasks = tuple(line.strip() for line in text.splitlines() if line.strip())
        if not tasks:
            raise ConfigError(f"--tasks {args.tasks_file} holds no task (one per line)",
                              setting="tasks")
        for n, task in enumerate(tasks, 1):
            check_task(task, f"--tasks line {n}")
    return RunSettings(args.out_dir, count or None, args.episode_seconds, args.reset_seconds,
                       tasks)


def _slug(name: str) -> str:
    """``name`` as one safe folder name (letters, digits, ``._-``)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:64] or "session"


def _run_folder(settings: RunSettings, game: str | None) -> tuple[Path, str]:
    """(the run's folder, its stamp): ``<out-dir>/<game>`` and ``<date>-<time>``."""
    folder = settings.out_dir / _slug(game or "session")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base, n = stamp, 1
    while any(folder.glob(f"{stamp}-*")):  # a second run in the same second
        n += 1
        stamp = f"{base}.{n}"
    return folder, stamp


def _game(config: RecordConfig) -> str | None:
    """The run's game: ``--game``, else the target window's executable (labels.default_game)."""
    if config.game is not None:
        return config.game
    if not config.target.is_window:
        return None
    from ..session.labels import default_game
    from ..targets import resolve_target

    target = resolve_target(config.target, wait_s=config.target.wait_s)
    try:
        return default_game(target.describe())
    finally:
        target.close()


def _relabel(root: Path, outcome: str | None, *, set_outcome: bool,
             episode: EpisodeInfo | None = None) -> None:
    """Rewrite a finished episode's outcome (and episode object) under its session lock."""
    from ..session.meta import SessionMeta, rewrite_meta

    def change(meta: SessionMeta) -> None:
        if set_outcome:
            meta.labels = dataclasses.replace(meta.effective_labels, outcome=outcome)
        if episode is not None:
            meta.episode = episode

    rewrite_meta(root, change)


@dataclass
class _Cursor:
    """Where the run stands: the next recording's number, episode index and attempt."""

    seq: int = 0
    index: int = 1
    attempt: int = 1
    previous: Path | None = None
    previous_episode: EpisodeInfo | None = None


def run_episodes(args: argparse.Namespace, config: RecordConfig,
                 preflight: PreflightInfo | None = None) -> int:
    """Record the run's episodes one after another; 0 when every episode was saved.

    ``preflight``: what ``record --adapt`` measured before the run (stored in every episode).
    """
    from ..indicator import get_indicator
    from ..record.indicate import IndicatorFeed

    settings = run_settings(args)
    game = _game(config)
    folder, stamp = _run_folder(settings, game)
    layout = config.layout.with_hotkeys(config.layout.hotkeys.with_episode_keys())
    feed = IndicatorFeed(get_indicator(config.indicator), start_hint=layout.hotkeys.start_hint(),
                         episodes=settings.count)
    try:
        return _run(settings, config, layout, folder, stamp, feed, preflight)
    finally:
        feed.close()


def _run(settings: RunSettings, config: RecordConfig, layout: KeyLayout, folder: Path,
         stamp: str, feed: IndicatorFeed, preflight: PreflightInfo | None) -> int:
    """The run's loop (run_episodes holds its indicator open around it)."""
    from ..record import build_recorder
    from ..record.episode import EpisodeControl, EpisodePlan
    from ..session.meta_episode import EpisodeInfo
    from .recording import merge_recorded, record_with_status, shell_arg, summary_line

    run_id = f"{folder.name}/{stamp}"
    cur = _Cursor()
    lost = False
    kept = discarded = 0
    print(f"run {run_id}: {settings.count or 'unlimited'} episode(s) into {folder} "
          f"(keys: {layout.hotkeys.describe()}; Ctrl+C ends the run)", flush=True)
    while settings.count is None or cur.index <= settings.count:
        cur.seq += 1
        out = folder / f"{stamp}-{cur.seq:03d}"
        first = cur.previous is None
        ep_config = dataclasses.replace(
            config, out=out, layout=layout,
            start_immediately=config.start_immediately if first else True)
        plan = EpisodePlan(cur.index, settings.count, settings.seconds,
                           0.0 if first else settings.reset_s, not first)
        info = EpisodeInfo(run_id, cur.index, settings.count, cur.attempt)
        control = EpisodeControl(plan)
        recorder = build_recorder(ep_config, episode=control,
                                  say=lambda line: print(line, flush=True))
        prev_root, prev_info = cur.previous, cur.previous_episode

        def mark_previous(action: str, prev_root: Path | None = prev_root,
                          prev_info: EpisodeInfo | None = prev_info,
                          recorder: Recorder = recorder) -> None:
            # Runs on the pacer thread during the reset (no frames are being taken).
            if prev_root is None or prev_info is None:
                return
            _relabel(prev_root, _OUTCOME[action], set_outcome=True)
            print(f"{prev_info.describe()}: marked {_OUTCOME[action] or 'unmarked'} "
                  f"during the reset -> {prev_root}", flush=True)
            if action == "discard":  # this episode re-records the discarded one
                recorder.meta.episode = dataclasses.replace(
                    prev_info, attempt=prev_info.attempt + 1, ended="time")

        control.on_previous = mark_previous
        recorder.meta.labels = dataclasses.replace(
            recorder.meta.effective_labels, task=settings.task(info.index))
        recorder.meta.episode = info
        recorder.meta.preflight = preflight
        of = f"/{settings.count}" if settings.count else ""
        if not first and settings.reset_s > 0:
            print(f"RESET: episode {info.index}{of} starts in {settings.reset_s:g} s "
                  f"({layout.hotkeys.start_hint()} now; F9/F10/F11 mark the episode just "
                  "finished)", flush=True)
        result = record_with_status(recorder, ep_config, f"ep {info.index}{of}  ", feed, info.index)
        info = recorder.meta.episode or info  # a discard in the reset made it a re-recording
        if result.frames == 0:
            shutil.rmtree(out)  # nothing was recorded (stopped in the reset): no empty session
            print(f"episode {info.index}: nothing recorded; the run ends", flush=True)
            break
        ended = ("key" if control.ended_by else "time" if result.stop_reason in _EPISODE_ENDS
                 else "stopped")
        info = dataclasses.replace(info, ended=ended)
        outcome = _OUTCOME.get(control.ended_by or "end")
        _relabel(out, outcome, set_outcome=control.ended_by is not None, episode=info)
        print(summary_line(result), flush=True)
        print(f"{info.describe()}: {outcome or 'not marked'} -> {out}", flush=True)
        if config.merge:
            report = merge_recorded(ep_config)
            for note in (*report.notes, *(f"skipped chunk {i}: {why}" for i, why in
                                          report.skipped)):
                print(note)
            print(f"merged {report.frames} frames", flush=True)
        if control.previous_discarded:
            discarded += 1
            kept -= 1
        if outcome == "discarded":
            discarded += 1
            cur.attempt = info.attempt + 1
            cur.index = info.index
        else:
            kept += 1
            cur.index, cur.attempt = info.index + 1, 1
        cur.previous, cur.previous_episode = out, info
        if ended == "stopped":
            lost = result.stop_reason == "display lost"  # kept and merged; the run ends on it
            break
    print(f"run {run_id}: {kept} episode(s) kept, {discarded} discarded, in {folder}", flush=True)
    print(f"next:\n  nitrogen-capture sessions {shell_arg(str(folder))}\n"
          f"  nitrogen-capture report --root {shell_arg(str(folder))}", flush=True)
    if lost:
        print("nitrogen-capture record: error: the display went away during the run; the "
              f"episodes recorded until then are kept in {folder}", file=sys.stderr)
        return 1
    return 0
