"""``nitrogen-capture play``: run a policy in the live game and record the rollout (docs/play.md).

The target, rate, storage and hotkey flags are ``record``'s (a rollout is a recording); the
policy, output and control flags are this command's. Like ``record`` it starts paused: the
policy gets the game when the recording starts (F8 by default, or ``--start-immediately``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..stopsignals import handling_stop_signals
from .record import add_recording_arguments, record_config
from .recording import merge_recorded, print_merged, record_with_status, summary_line

if TYPE_CHECKING:
    from ..play.session import PlaySettings
    from ..session.meta_play import PlayInfo

__all__ = ["add_parser", "play_lines", "run"]

_SPACES = ("auto", "raw", "nitrogen", "pad")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``play``."""
    from ..play.output import OUTPUTS
    from .args import add_common, path_arg

    p: argparse.ArgumentParser = sub.add_parser(
        "play", help="run a policy in the game and record the rollout",
        description="Run a policy against a game window at a fixed rate and record the rollout "
                    "as a session: frames, the input that reached the game, and per row who "
                    "was in control (policy or human) and what the policy proposed. Any input "
                    "of yours takes control at once; it returns after --return-after seconds "
                    "without input or at the takeover key. The panic key stops the policy and "
                    "releases every key it holds. Starts paused, like record (F8 starts).")
    g = p.add_argument_group("policy")
    g.add_argument("--policy", required=True, metavar="SPEC",
                   help="nitrogen://HOST:PORT (NitroGen's model server), module:callable or "
                        "file.py:callable (a local policy), random or idle")
    g.add_argument("--policy-arg", dest="policy_args", action="append", default=[],
                   metavar="KEY=VALUE", help="keyword argument for a module:callable factory "
                                             "(repeatable)")
    g.add_argument("--policy-space", choices=_SPACES, default="auto",
                   help="how a local policy's rows read: raw (the layout's keys, then dx dy), "
                        "nitrogen (25 floats), pad (21 floats), auto by width (default auto)")
    g.add_argument("--img-size", type=int, default=64, metavar="N",
                   help="side of the square frame a local policy gets (default %(default)s; "
                        "NitroGen's server says its own)")
    g.add_argument("--action-hz", type=float, default=None, metavar="HZ",
                   help="actions applied per second (default: --fps)")
    g.add_argument("--policy-timeout", type=float, default=5.0, metavar="S",
                   help="longest wait for one answer before the server counts as dead "
                        "(default %(default)s)")
    g.add_argument("--keymap", type=path_arg, metavar="FILE",
                   help="keys <-> pad slots, as for convert (default: the shipped keymap)")
    g.add_argument("--mouse-scale", type=float, default=300.0, metavar="COUNTS",
                   help="mouse counts per full right-stick deflection (default %(default)g)")
    o = p.add_argument_group("output and control")
    o.add_argument("--output", choices=("auto", *OUTPUTS), default="auto",
                   help="where actions go: xtest (X11) or sendinput (Windows) keys and mouse, "
                        "uinput (Linux) or vigem (Windows, unmaintained driver) virtual pad; "
                        "auto = the keyboard output of this system")
    o.add_argument("--return-after", dest="quiet_s", type=float, default=2.0, metavar="S",
                   help="seconds without your input before control returns to the policy "
                        "(default %(default)g)")
    o.add_argument("--takeover-key", default="f10", metavar="KEY",
                   help="take control / give it back (default %(default)s; 'none' disables)")
    o.add_argument("--panic-key", default="f12", metavar="KEY",
                   help="stop the policy, release everything and end (default %(default)s)")
    add_recording_arguments(p, preflight=False)
    add_common(p)
    return p


def _key(text: str, flag: str) -> str | None:
    from ..errors import ConfigError
    from ..keylayout import canonical_key

    if text.lower() == "none":
        return None
    key = canonical_key(text)
    if not key:
        raise ConfigError(f"{flag} must name a key, got {text!r}")
    return key


def _options(pairs: list[str]) -> dict[str, str]:
    from ..errors import ConfigError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"--policy-arg must look like KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def play_settings(args: argparse.Namespace, fps: float, layout: Any) -> PlaySettings:
    """The :class:`PlaySettings` of the command line, checked (one line per problem)."""
    from ..bounds import number_check
    from ..errors import check_settings
    from ..play.driver import DriverSettings
    from ..play.output import OutputSettings
    from ..play.policy_base import PolicySettings
    from ..play.session import PlaySettings

    hz = args.action_hz if args.action_hz is not None else fps
    check_settings([
        number_check(hz, "action_hz", "--action-hz", 0.1, 1000),
        number_check(args.img_size, "img_size", "--img-size", 8, 1024),
        number_check(args.policy_timeout, "timeout_s", "--policy-timeout", 0.05, 600),
        number_check(args.quiet_s, "quiet_s", "--return-after", 0, 3600),
        number_check(args.mouse_scale, "mouse_scale", "--mouse-scale", 1e-3, 1e6)])
    takeover, panic = _key(args.takeover_key, "--takeover-key"), _key(args.panic_key,
                                                                      "--panic-key")
    policy = PolicySettings(spec=args.policy, layout=layout, keymap=args.keymap,
                            img_size=args.img_size, action_hz=hz, timeout_s=args.policy_timeout,
                            mouse_scale=args.mouse_scale, space=args.policy_space,
                            seed=args.seed, options=_options(args.policy_args))
    return PlaySettings(policy, OutputSettings(args.output, layout),
                        DriverSettings(hz, args.quiet_s, takeover, panic))


def play_lines(play: PlayInfo) -> list[str]:
    """What ``play`` prints at the end: latency, answers on time, takeovers."""
    s = play.stats
    lat = s.get("latency_ms") or {}
    share = s.get("ready_share")
    lines = [f"policy: {play.policy.get('spec')} through {play.output.get('name')}; ended: "
             f"{play.ended}",
             f"latency (frame grabbed -> action applied): p50 {lat.get('p50', '-')} ms, "
             f"p99 {lat.get('p99', '-')} ms, max {lat.get('max', '-')} ms over "
             f"{s.get('answers', 0)} answers",
             f"action ready in time: {'-' if share is None else f'{share:.1%}'} of "
             f"{s.get('ticks', 0)} ticks ({s.get('late_ticks', 0)} late)",
             f"rows: {s.get('policy_rows', 0)} policy, {s.get('human_rows', 0)} human; "
             f"takeovers: {len(play.takeovers)}"]
    for t in play.takeovers:
        took = "until the end" if t.duration_s is None else f"{t.duration_s:.2f} s"
        lines.append(f"  takeover at {t.start_ns / 1e9:.2f} s by {t.by}: {took}")
    return lines


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    """Open the policy and the output, record with the policy driving, merge, print figures."""
    from ..play.session import build_play
    from ..record.autopaths import resolve_auto_paths

    config = resolve_auto_paths(record_config(args), lambda line: print(line, flush=True))
    settings = play_settings(args, config.fps, config.layout)
    with handling_stop_signals(_interrupt):  # while things open, Ctrl+C interrupts
        run_ = build_play(config, settings, say=lambda line: print(line, flush=True))
    recorder = run_.recorder

    def stop(signum: int, frame: FrameType | None) -> None:
        recorder.stop(signal.Signals(signum).name)

    with handling_stop_signals(stop):
        try:
            result = record_with_status(recorder, config)
        finally:
            run_.driver.stop(recorder.stop_reason)  # every way out releases what it holds
        print(summary_line(result), flush=True)
        if result.meta.play is not None:
            print("\n".join(play_lines(result.meta.play)), flush=True)
        if config.merge:
            with handling_stop_signals(_interrupt):
                print_merged(merge_recorded(config))
    if run_.driver.error is not None:
        print(f"nitrogen-capture play: error: the policy failed: {run_.driver.error}; the "
              f"session is kept in {config.out}", file=sys.stderr)
        return 1
    return 0
