"""``nitrogen-capture demo``: record the bundled game for real and check the result.

Steps (every one through the same doors a user takes):

1. start a private Xvfb (unless ``--visible``: then the current ``$DISPLAY`` is used);
2. launch the demo game (:mod:`nitrogen_capture.demo.game`) as a subprocess, find its window by
   PID, move the pointer into it and focus it (there is no window manager under Xvfb);
3. run ``python -m nitrogen_capture record --pid PID ...`` with the live backends (mss, pynput +
   XInput2 raw motion) as a subprocess;
4. once the recorder's ``meta.json`` names its clock origin, play the scripted input through
   XTEST (:mod:`nitrogen_capture.demo.player`), keeping clear of the first and last moments;
5. after the recorder stopped (``--seconds``) and merged, stop the game, then ``validate`` and
   ``convert`` (unless ``--no-convert``);
6. compare everything with the truth (:mod:`nitrogen_capture.demo.check`);
7. write ``preview.mp4`` and ``timing.png`` (:func:`nitrogen_capture.preview.write_preview`,
   unless ``--no-preview``).

Sound (``--audio auto``, the default): before step 2 a private PulseAudio with a null sink starts
(:mod:`.soundserver`); the game clicks on every press into it and ``record --audio`` records its
monitor, and the check reports the audio-to-event offset (:mod:`.audiocheck`). Without
``pulseaudio`` the demo runs silent and says so in one line (``--audio on`` makes that an error).

The truth files (player log, game log, recorder output) and the preview are stored in
``<out>/demo/``; the NitroGen export beside the session, in ``<out>.pt``
(:func:`~nitrogen_capture.export.settings.pt_beside`).
:func:`format_summary` follows every figure with a line saying what it means.

Stopping: inside :func:`stop_on_signals` (``nitrogen-capture demo`` runs in it) the first SIGINT
or SIGTERM raises :class:`DemoInterrupted` and later ones are ignored, so the clean-up runs to
its end: the recorder gets SIGINT (its clean stop), the game SIGTERM, then Xvfb is stopped, each
killed when it does not stop in time. Every process is started through
:func:`~nitrogen_capture.demo.xvfb.spawn`, so none can be started and then forgotten. A demo
killed with ``kill -9`` runs no clean-up: the kernel then sends each of them its stop signal
(Linux, :func:`~nitrogen_capture.lifeline.tied_command`), and the next run removes its working
folder (:mod:`nitrogen_capture.scratch`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ..bounds import UINT32_MAX, choice_check, number_check
from ..clock import now_ns
from ..errors import AudioError, ConfigError, NitrogenCaptureError, PlatformError, check_settings
from ..export.settings import pt_beside
from ..keylayout import DEFAULT_LAYOUT, load_layout
from ..lifeline import tied_command
from ..scratch import scratch_dir
from ..stopsignals import handling_stop_signals
from ..xdisplay import no_display_message
from .audiocheck import audio_lines
from .check import CheckReport, check_session
from .game import GAME_LABEL, GRAB_TOGGLE_KEY
from .player import Player, TruthLog, make_script
from .scene import SCENES
from .soundserver import SoundServer
from .xvfb import interrupt, spawn, xvfb

__all__ = [
    "DemoInterrupted", "DemoOptions", "DemoResult", "Started", "format_summary", "record_argv",
    "run_demo", "stop_on_signals",
]

log = logging.getLogger(__name__)

_LEAD_IN_S = 0.8  # after the recorder's t0, before the first injected event
_TAIL_S = 0.8  # quiet time before the recorder's --seconds ends
_RECORDER_STOP_S = 60.0  # a clean stop merges the session: seconds for a long recording
_GAME_STOP_S = 10.0
_PREVIEW_SPAN_S = 3660.0  # the whole recording: --seconds is at most an hour
AUDIO_MODES: tuple[str, ...] = ("auto", "on", "off")


class DemoInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the demo (everything it started is stopped when this leaves)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into :class:`DemoInterrupted`; ignore later ones.

    Later signals are ignored so that a second Ctrl+C cannot cut the clean-up short and leave
    the game, the recorder or Xvfb running (each clean-up step has its own time limit). Main
    thread only, like every signal handler.
    """
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            interrupt(DemoInterrupted(signum))  # held back while a child is being started

    with handling_stop_signals(handler):
        yield


@dataclass(frozen=True)
class DemoOptions:
    """Settings of one demo run.

    Attributes:
        out: new session directory.
        seconds: recording length (the scripted input fills it minus ~1.6 s).
        fps: capture rate; game_fps: the game's frame cap.
        size: game window (and Xvfb screen) size.
        visible: use the current ``$DISPLAY`` instead of a private Xvfb.
        display: use this X display (e.g. the tests' shared Xvfb) instead of starting one.
        record_args: extra flags for ``record`` (``--frame-format video`` ...).
        seed: seed of the scripted input.
        grab: the game grabs the pointer (SDL relative mouse mode) for the whole recording. The
            player toggles it with the game's F9 *after* moving the pointer into the window: a
            grab taken before that warp would count the warp as relative motion.
        hotkeys: (seconds after the script start, hotkey name) to inject, e.g. ``(2.0, "f7")``.
        convert: run ``convert`` after merge and validate.
        preview: write ``preview.mp4`` and ``timing.png`` into ``<out>/demo/``.
        scene: the game's look, ``flat`` or ``textured`` (every frame differs and weighs ~1 MB
            as a 720p PNG: for runs where encoder load matters).
        audio: ``auto`` (record the game's clicks through a private sound server when
            ``pulseaudio`` is installed), ``on`` (an error without it) or ``off``.
    """

    out: Path
    seconds: float = 20.0
    fps: float = 30.0
    size: tuple[int, int] = (1280, 720)
    visible: bool = False
    display: str | None = None
    record_args: tuple[str, ...] = ()
    seed: int = 0
    game_fps: float = 60.0
    grab: bool = False
    hotkeys: tuple[tuple[float, str], ...] = ()
    mouse: bool = True
    convert: bool = True
    layout: Path | None = None
    preview: bool = True
    scene: str = "flat"
    audio: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        check_settings([choice_check(self.scene, "scene", "--scene", SCENES),
                        choice_check(self.audio, "audio", "--audio", AUDIO_MODES)])
        w, h = self.size
        check_settings((
            number_check(self.seconds, "seconds", "--seconds", 3, 3600, interval=True,
                         note=" seconds for the demo"),
            number_check(self.fps, "fps", "--fps", 1, 240, interval=True),
            number_check(self.seed, "seed", "--seed", 0, UINT32_MAX, interval=True),
            (number_check(w, "", "", 64, 7680)[0] and number_check(h, "", "", 64, 4320)[0],
             "size", f"--size must be within 64x64..7680x4320, got {w}x{h}"),
        ))


@dataclass
class DemoResult:
    """What a demo run produced; ``report`` holds the comparison with the truth."""

    out: Path
    display: str
    game_pid: int = 0
    grabbed: bool = False
    record_rc: int | None = None
    merge_rc: int | None = None
    validate_rc: int | None = None
    convert_rc: int | None = None
    converted: Path | None = None
    truth: TruthLog | None = None
    game_log: dict[str, Any] | None = None
    report: CheckReport | None = None
    files: dict[str, Path] = field(default_factory=dict)
    preview_error: str | None = None  # why the preview was not written (it fails no check)
    audio_note: str | None = None  # why the demo recorded no audio

    @property
    def ok(self) -> bool:
        """Recording, merge and validate succeeded and the check found no problem."""
        return (self.record_rc == 0 and self.merge_rc == 0 and self.validate_rc == 0
                and self.convert_rc in (None, 0) and self.report is not None and self.report.ok)


def cli_command(*args: str) -> list[str]:
    """``python -m nitrogen_capture ARGS`` with this interpreter."""
    return [sys.executable, "-m", "nitrogen_capture", *args]


@contextlib.contextmanager
def _display(options: DemoOptions) -> Iterator[str]:
    if options.display:
        yield options.display
    elif options.visible:
        message = no_display_message()
        display = os.environ.get("DISPLAY")
        if message is not None or not display:
            raise PlatformError(f"--visible needs an X display: {message or 'DISPLAY is not set'}")
        yield display
    else:
        with xvfb(options.size) as display:
            yield display


def _wait_for_t0(meta: Path, recorder: subprocess.Popen[bytes], log_file: Path,
                 timeout: float = 30.0) -> int:
    """The recorder's clock origin, once its meta.json exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if recorder.poll() is not None:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-3:]
            raise NitrogenCaptureError(f"the recorder exited with {recorder.returncode} before "
                                       f"it started: {' / '.join(tail)}")
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return int(json.loads(meta.read_text(encoding="utf-8"))["clock"]["t0_ns"])
        time.sleep(0.02)
    raise NitrogenCaptureError(f"the recorder wrote no {meta} within {timeout:g} s")


def _run(cmd: list[str], env: dict[str, str], log_file: Path, timeout: float = 600) -> int:
    with log_file.open("ab") as fh:
        fh.write(f"$ {' '.join(cmd)}\n".encode())
        fh.flush()
        return subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False).returncode


def _stop(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


@dataclass
class Started:
    """Processes started here, with how each stops cleanly (newest stops first).

    The demo and ``bench/record.py`` use it: every process is registered the moment it exists
    (:func:`~nitrogen_capture.demo.xvfb.spawn`), so a signal at any point finds it.
    """

    procs: list[tuple[subprocess.Popen[bytes], int, float]] = field(default_factory=list)

    def spawn(self, cmd: list[str], sig: int, timeout: float,
              **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``cmd``; ``sig`` then ``timeout`` seconds (else SIGKILL) stop it.

        It also gets ``sig`` from the kernel if this process dies first, ``kill -9`` included
        (Linux: :func:`~nitrogen_capture.lifeline.tied_command`): a recorder then stops
        cleanly and merges, a game writes its log and leaves.
        """
        return spawn(tied_command(cmd, sig), lambda proc: self.procs.append((proc, sig, timeout)),
                     **kwargs)

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop one process started here (now, not with the others)."""
        for i, (p, sig, timeout) in enumerate(self.procs):
            if p is proc:
                del self.procs[i]
                _stop(p, sig, timeout)
                return

    def stop_all(self) -> None:
        """Stop every process still registered, newest first."""
        while self.procs:
            proc, sig, timeout = self.procs.pop()
            _stop(proc, sig, timeout)


def _check_outputs(options: DemoOptions) -> None:
    """Refuse the demo's outputs before a minute of work, as record and convert would."""
    from ..export.nitrogen import PT_FILE
    from ..outputs import check_output
    from ..record import NEW_SESSION

    check_output(options.out, NEW_SESSION, label="--out")
    if options.convert:
        check_output(pt_beside(options.out), PT_FILE, label="--out", overwrite=False)


def run_demo(options: DemoOptions) -> DemoResult:
    """Run the whole demo (see the module docstring) and return what it found."""
    out = options.out
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out} exists and is not empty: choose a new directory")
    _check_outputs(options)
    if options.layout:
        load_layout(options.layout)  # a bad --layout: one line before Xvfb and the game start
    out.parent.mkdir(parents=True, exist_ok=True)
    started = Started()
    # Removed afterwards, or by the next run if this one is killed (nitrogen_capture.scratch).
    with scratch_dir("nitrogen-demo-") as work:
        with _display(options) as display:
            result = DemoResult(out=out, display=display, grabbed=options.grab)
            with _sound(options, result, work) as sound_env:
                try:
                    _record(options, display, work, result, started, sound_env)
                finally:  # _record stops what it started; this covers a signal between steps
                    started.stop_all()
        _finish(options, work, result)
    return result


@contextlib.contextmanager
def _sound(options: DemoOptions, result: DemoResult,
           work: Path) -> Iterator[dict[str, str] | None]:
    """The private sound server's client variables for the run (None: no audio)."""
    if options.audio == "off":
        result.audio_note = "off (--audio off)"
        yield None
        return
    try:
        server = SoundServer(parent=work).start()
    except AudioError as exc:
        if options.audio == "on":
            raise
        result.audio_note = f"not recorded: {exc}"
        yield None
        return
    try:
        yield {**server.env, "SDL_AUDIODRIVER": "pulseaudio"}
    finally:
        server.stop()


def _record(options: DemoOptions, display: str, work: Path, result: DemoResult,
            started: Started, sound_env: dict[str, str] | None = None) -> None:
    env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1", **(sound_env or {})}
    w, h = options.size
    game_log, rec_log = work / "game.json", work / "record.log"
    game_cmd = [sys.executable, "-m", "nitrogen_capture.demo.game", "--size", f"{w}x{h}",
                "--fps", f"{options.game_fps:g}", "--log", str(game_log),
                # Show a tap for ~1.5 capture periods so at least one captured frame has it.
                "--latch-ms", f"{1500 / options.fps:.1f}", "--scene", options.scene]
    layout_args = ["--layout", str(options.layout)] if options.layout else []
    layout = load_layout(options.layout) if options.layout else DEFAULT_LAYOUT
    game_cmd += layout_args
    with (work / "game.log").open("wb") as err:
        # The game writes its log on SIGTERM.
        game = started.spawn(game_cmd, signal.SIGTERM, _GAME_STOP_S, env=env,
                             stdout=subprocess.DEVNULL, stderr=err)
    result.game_pid = game.pid
    try:
        with Player(display, layout) as player:
            player.focus(player.find_window(game.pid))
            if options.grab:
                player.type_keys([GRAB_TOGGLE_KEY])  # before the recording: not in the layout
                time.sleep(0.3)
            rec_cmd = cli_command(*record_argv(options, game.pid, audio=sound_env is not None))
            with rec_log.open("wb") as fh:
                fh.write(f"$ {' '.join(rec_cmd)}\n".encode())
                fh.flush()
                # SIGINT is the recorder's clean stop (everything flushed, exit 0).
                recorder = started.spawn(rec_cmd, signal.SIGINT, _RECORDER_STOP_S, env=env,
                                         stdout=fh, stderr=subprocess.STDOUT)
            try:
                t0 = _wait_for_t0(options.out / "meta.json", recorder, rec_log)
                start = t0 + int(_LEAD_IN_S * 1e9)
                length = options.seconds - _LEAD_IN_S - _TAIL_S - (now_ns() - t0) / 1e9
                script = make_script(max(length, 0.5), options.seed, layout,
                                     hotkeys=options.hotkeys, mouse=options.mouse)
                result.truth = player.play(script, start_ns=max(start, now_ns()))
                recorder.wait(timeout=options.seconds + 60)
            finally:
                result.record_rc = _stop(recorder, signal.SIGINT, _RECORDER_STOP_S)
    finally:
        _stop(game, signal.SIGTERM, _GAME_STOP_S)
    if game_log.is_file():
        result.game_log = json.loads(game_log.read_text(encoding="utf-8"))


def record_argv(options: DemoOptions, pid: int, audio: bool = False) -> list[str]:
    """The ``record`` command line the demo runs for the game of process ``pid``.

    ``audio``: record the private sound server's default monitor (the game's clicks).
    """
    layout_args = ["--layout", str(options.layout)] if options.layout else []
    # The game's process is python3: the label names the game (a --game in record_args wins).
    game = [] if "--game" in options.record_args else ["--game", GAME_LABEL]
    return ["record", "--pid", str(pid), "--out", str(options.out), "--fps", f"{options.fps:g}",
            "--start-immediately", "--seconds", f"{options.seconds:g}", "--capture-backend",
            "mss", "--input-backend", "pynput", "--status-interval", "0", *layout_args, *game,
            *(["--audio", "--audio-backend", "pulse"] if audio else []), *options.record_args]


def _finish(options: DemoOptions, work: Path, result: DemoResult) -> None:
    out, env = options.out, dict(os.environ)
    steps = work / "steps.log"
    if result.record_rc == 0:
        # record merges the session itself at a clean stop (docs/format.md): the demo checks
        # that the merged files are there rather than merging again.
        merged = all((out / name).is_file() for name in ("actions.npy", "dataset.npz"))
        result.merge_rc = 0 if merged else 1
        result.validate_rc = _run(cli_command("validate", "--root", str(out)), env, steps)
        if options.convert:
            # Beside the session, as record's "next:" says: convert refuses an output inside it.
            target = pt_beside(out)
            result.convert_rc = _run(cli_command("convert", "--root", str(out), "--out",
                                                 str(target)), env, steps)
            result.converted = target if result.convert_rc == 0 else None
        if result.merge_rc == 0:
            result.report = check_session(out, result.truth, result.game_log)
            if options.preview:
                _preview(out, result)
    keep = out / "demo"
    keep.mkdir(parents=True, exist_ok=True)
    if result.truth is not None:
        result.truth.write(keep / "player_truth.json")
    for name in ("game.json", "game.log", "record.log", "steps.log"):
        if (work / name).is_file():
            shutil.copy(work / name, keep / name)
            result.files[name] = keep / name
    result.files["player_truth.json"] = keep / "player_truth.json"


def _preview(out: Path, result: DemoResult) -> None:
    """preview.mp4 + timing.png of the whole recording into ``<out>/demo/`` (as ``preview``)."""
    from ..preview import write_preview

    try:
        written = write_preview(out, out / "demo", seconds=_PREVIEW_SPAN_S)
    except (NitrogenCaptureError, OSError) as exc:  # PyAV missing, a full disk: say so, go on
        result.preview_error = str(exc)
        return
    if written.video is not None:
        result.files["preview.mp4"] = written.video
    result.files["timing.png"] = written.timing


def format_summary(result: DemoResult) -> str:
    """The human summary ``nitrogen-capture demo`` prints: each figure, then what it means."""
    lines = [f"demo session: {result.out}  (display {result.display}, game PID {result.game_pid})"]
    steps = [f"record {result.record_rc}", f"merge {result.merge_rc}",
             f"validate {result.validate_rc}"]
    if result.convert_rc is not None:
        steps.append(f"convert {result.convert_rc}")
    lines.append("exit codes: " + ", ".join(steps))
    r = result.report
    if r is not None:
        lines += [
            f"frames: {r.frames} written, {r.frames_counted} counted by the recorder, "
            f"{r.dropped_ticks} dropped ticks; {r.fps_achieved:.2f} fps achieved "
            f"(target {r.fps_target:g})",
            "  = rows of the merged arrays, which must equal the frames on disk and the "
            "recorder's own count; a dropped tick is a capture period skipped after a late "
            "grab; the rate is measured over the recorded spans and must be within 1% of the "
            "target",
            f"barcodes: {r.barcodes_read}/{r.frames} read, {r.barcodes_backwards} backwards",
            "  = the game draws its frame number as a barcode; every stored frame must decode "
            "and the numbers must never go back (the game runs at ~60 fps, so repeats and skips "
            "between captured frames are normal)",
            f"presses: {r.presses_injected} injected, {r.presses_events} logged, "
            f"{r.presses_actions} in the action arrays, {r.presses_game} counted by the game",
            "  = key presses the scripted player sent through XTEST outside pauses, press events "
            "in the recorded events, rising edges of actions.npy, and presses the game saw "
            "itself (with hotkey chords and pauses); the first three must be equal",
            f"mouse: injected {r.mouse_injected}, recorded {r.mouse_recorded}, "
            + (f"game (pointer grabbed) {r.mouse_game}" if result.grabbed
               else "game: not counted (the pointer was not grabbed; --grab counts it)"),
            "  = sums of raw mouse motion (dx, dy) sent by the player and summed from "
            "mouse_deltas.npy (they must be equal), and what the game got while it held the "
            "pointer",
            f"alignment: markers agree with actions in {r.alignment:.1%} of frames "
            f"(row by row {r.alignment_rows:.1%}; {r.frames_game_stalled} frames of a stalled "
            "game left out)",
            "  = a frame agrees when the held-key markers the game drew match the recorded "
            "actions within +-1 frame of the moment the game read its input (from the game's "
            "log; at least 98% needed); row by row compares each frame with its own row, "
            "without the game's timing, so the game's drawing lag counts against it; frames "
            "drawn while the game's loop stalled (a busy machine) are left out of the first "
            "figure",
        ]
        lines += audio_lines(r.audio, result.audio_note)
        lines += [f"PROBLEM: {p}" for p in r.problems]
    for name, path in sorted(result.files.items()):
        lines.append(f"  {name}: {path}")
    if "preview.mp4" in result.files or "timing.png" in result.files:
        lines.append("  = preview.mp4 shows the frames with the recorded keys and mouse drawn "
                     "beside them (check the alignment by eye); timing.png plots frame "
                     "intervals and input activity")
    if result.preview_error is not None:
        lines.append(f"  preview: not written ({result.preview_error})")
    if result.converted is not None:
        lines.append(f"  NitroGen export: {result.converted}")
        lines.append("  = the training windows `nitrogen-capture convert` made (uint8 obs, "
                     "actions, meta); load them with nitrogen_capture.export.NitrogenDataset")
    lines.append("OK" if result.ok else "FAILED: see the problems and logs above")
    return "\n".join(lines)
