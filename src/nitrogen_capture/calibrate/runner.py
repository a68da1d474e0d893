"""Run one calibration: window, real recorder, injected (or manual) presses, measurement.

1. Start the calibration window (:mod:`.window`) as a subprocess.
2. Build the recorder exactly as ``record`` does (:func:`~nitrogen_capture.record.build_recorder`:
   the window found by PID, the real capture and input backends), recording into a scratch
   session (``keep_session`` keeps it).
3. While the recorder runs on this thread, a driver thread presses ``space`` and clicks ``lmb``
   alternately through the platform's injector (:mod:`.inject`), each at a random phase of the
   frame grid (a gap of at least 4 frames plus a uniform draw over one whole frame period), or,
   with ``manual``, waits for the person's presses. Then it stops the recorder.
4. :func:`~.measure.measure_session` reads the counter back from the captured frames and matches
   each logged press with the first frame showing it; :class:`~.profile.LatencyProfile` holds
   the samples, statistics and offset.

With ``audio`` (``calibrate --audio``) the window also clicks as it flips and the recorder records
the default output's monitor (``record --audio``); the click onsets after each logged press give
the audio-to-event offset (:mod:`nitrogen_capture.demo.audiocheck`), stored in the profile as
``audio_offset_ms``.

Ctrl+C / SIGTERM stop the recorder cleanly and raise KeyboardInterrupt once everything started
here is stopped. After a ``kill -9`` the encoder workers and (Linux) the window end with this
process, and the next run removes the working folder (:mod:`nitrogen_capture.scratch`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.util
import json
import logging
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ..bounds import UINT32_MAX, number_check
from ..clock import now_ns
from ..errors import CaptureError, ConfigError, TargetError, check_settings, missing_dependency
from ..scratch import scratch_dir
from ..stopsignals import handling_stop_signals
from .audio import audio_figure, clicks_offset
from .inject import Injector
from .measure import Measurement, measure_session
from .profile import LatencyProfile, best_offset

if TYPE_CHECKING:
    from ..demo.audiocheck import AudioOffset
    from ..demo.runner import Started
    from ..record import Recorder

__all__ = ["MAX_COUNT", "CalibrationOptions", "CalibrationResult", "run_calibration"]

log = logging.getLogger(__name__)

MAX_COUNT = 1000
_HOLD_S = 0.03  # how long an injected key or button is held
_MIN_GAP_S = 0.15  # between injected presses (at least 4 frame periods too)
_READY_TIMEOUT_S = 30.0  # for the recorder's first frames
_WINDOW_STOP_S = 10.0
Say = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationOptions:
    """Settings of ``nitrogen-capture calibrate`` (each field is the flag of the same name).

    Attributes:
        fps: capture rate to calibrate at (the frames of the statistics are of this rate).
        count: presses to inject (or to ask for, ``manual``).
        manual: the person presses space in the window instead of injected input.
        capture_backend / input_backend: the recorder's backends (``record``'s choices).
        portal_reset: ``record --portal-reset`` (Wayland: the portal's picker shows again).
        keep_session: keep the calibration recording here (a new directory) instead of a
            scratch folder that is removed.
        seed: seed of the random phases (None: a fresh one each run).
        timeout_s: ``manual`` only: how long to wait for the presses.
        audio: the window clicks and the recording has audio (the offset of the clicks).
    """

    fps: float = 30.0
    count: int = 40
    manual: bool = False
    capture_backend: str = "auto"
    portal_reset: bool = False
    input_backend: str = "auto"
    keep_session: Path | None = None
    seed: int | None = None
    timeout_s: float = 180.0
    audio: bool = False

    def __post_init__(self) -> None:
        check_settings((
            number_check(self.fps, "fps", "--fps", 1, 240, interval=True),
            number_check(self.count, "count", "--count", 1, MAX_COUNT, interval=True),
            number_check(self.timeout_s, "timeout_s", "--timeout", 1, 3600, interval=True,
                         note=" seconds"),
            number_check(self.seed, "seed", "--seed", 0, UINT32_MAX, interval=True)
            if self.seed is not None else (True, "", ""),
        ))
        if self.input_backend in ("scripted", "none"):
            raise ConfigError(f"--input-backend {self.input_backend} records no real input: "
                              "calibrate needs a live backend (auto or pynput)",
                              setting="input_backend")
        if self.capture_backend == "synthetic":
            raise ConfigError("--capture-backend synthetic captures no window: calibrate needs "
                              "a real one", setting="capture_backend")

    @property
    def keys(self) -> tuple[str, ...]:
        """What is pressed and counted: space and clicks, or only space for a person."""
        return ("space",) if self.manual else ("space", "lmb")


@dataclass
class CalibrationResult:
    """A calibration's profile plus what was checked along the way."""

    profile: LatencyProfile | None
    measurement: Measurement
    window_presses: int | None = None  # what the window counted over its whole life
    problems: list[str] = field(default_factory=list)
    audio: AudioOffset | None = None  # calibrate --audio

    @property
    def ok(self) -> bool:
        """Every injected press was logged and seen, and nothing else went wrong."""
        return self.profile is not None and not self.problems


class _Driver:
    """Presses on a thread while the recorder runs; stops the recorder when done."""

    def __init__(self, options: CalibrationOptions, recorder: Recorder,
                 counter: _WindowCounter, say: Say) -> None:
        self.options = options
        self.recorder = recorder
        self.counter = counter
        self.say = say
        self.abort = threading.Event()
        self.injected = 0
        self.error: BaseException | None = None

    def _wait(self, seconds: float) -> bool:
        return not self.abort.wait(max(0.0, seconds))

    def _ready(self) -> bool:
        """Wait for half a second of frames; False when stopped first."""
        deadline = time.monotonic() + _READY_TIMEOUT_S
        lead = max(5, round(self.options.fps * 0.5))
        while self.recorder.frames < lead:
            if time.monotonic() > deadline:
                raise CaptureError(f"the recorder captured {self.recorder.frames} frames of the "
                                   f"calibration window in {_READY_TIMEOUT_S:g} s: is the "
                                   "machine overloaded, or the window hidden?")
            if not self._wait(0.02):
                return False
        return True

    def run(self, injector: Injector | None) -> None:
        try:
            if not self._ready():
                return
            if injector is None:
                self._manual()
            else:
                self._inject(injector)
            self._wait(max(0.3, 4 / self.options.fps))  # the last effect reaches a frame
        except BaseException as exc:  # re-raised by the caller after the recorder stopped
            self.error = exc
        finally:
            self.recorder.stop("calibration done")

    def _inject(self, injector: Injector) -> None:
        o = self.options
        rng = random.Random(o.seed)
        period = 1.0 / o.fps
        gap = max(_MIN_GAP_S, 4 * period)
        keys = o.keys
        next_t = time.monotonic()
        for k in range(o.count):
            # A uniform draw over one whole period: the press lands at a random frame phase.
            next_t += gap + rng.uniform(0.0, period)
            if not self._wait(next_t - time.monotonic()):
                return
            key = keys[k % len(keys)]
            injector.press(key, True)
            self._wait(_HOLD_S)
            injector.press(key, False)
            self.injected += 1

    def _manual(self) -> None:
        o = self.options
        self.say(f"press SPACE in the calibration window {o.count} times, about once a second "
                 f"(Ctrl+C stops; {o.timeout_s:g} s at most)")
        deadline = time.monotonic() + o.timeout_s
        shown = 0
        counter = self.counter
        while counter.value < o.count and time.monotonic() < deadline:
            if not self._wait(0.05) or not counter.is_alive():
                break  # interrupted, or the window closed
            if counter.value != shown:
                shown = counter.value
                self.say(f"  {shown}/{o.count}")
        self.injected = counter.value


class _WindowCounter(threading.Thread):
    """Reads the window's stdout (one line per counted press) until it closes."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.value = 0

    def run(self) -> None:
        if self.stream is None:
            return
        for line in iter(self.stream.readline, b""):
            if line.strip().isdigit():
                self.value = int(line)


def _window(work: Path, keys: tuple[str, ...], started: Started,
            audio: bool = False) -> subprocess.Popen[bytes]:
    if importlib.util.find_spec("pygame") is None:
        raise missing_dependency("pygame", "demo", "the calibration window")
    cmd = [sys.executable, "-m", "nitrogen_capture.calibrate.window", "--keys", ",".join(keys),
           "--log", str(work / "window.json"), "--sound", "on" if audio else "off"]
    with (work / "window.log").open("wb") as err:
        proc = started.spawn(cmd, signal.SIGTERM, _WINDOW_STOP_S, stdout=subprocess.PIPE,
                             stderr=err)
    return proc


def run_calibration(options: CalibrationOptions, say: Say = log.info) -> CalibrationResult:
    """Calibrate (module docstring); ``say`` gets the progress lines."""
    from ..audio.base import AudioSettings
    from ..config import RecordConfig, TargetSpec
    from ..demo.runner import Started
    from ..record import build_recorder
    from ..xdisplay import check_x11_display
    from .inject import get_injector

    check_x11_display()  # before anything starts (a no-op where X11 is not the display)
    # Removed afterwards, or by the next run if this one is killed (nitrogen_capture.scratch).
    scratch = contextlib.ExitStack()
    work = scratch.enter_context(scratch_dir("nitrogen-calibrate-"))
    session = options.keep_session or work / "session"
    started = Started()
    interrupted: list[str] = []
    try:
        window = _window(work, options.keys, started, options.audio)
        config = RecordConfig(out=session, target=TargetSpec(pid=window.pid, wait_s=20.0),
                              audio=AudioSettings() if options.audio else None,
                              fps=options.fps, start_immediately=True,
                              capture_backend=options.capture_backend,
                              portal_reset=options.portal_reset,
                              input_backend=options.input_backend, status_interval=0,
                              cue="none", merge=False)
        injector = None if options.manual else get_injector()
        try:
            try:
                recorder = build_recorder(config)
            except TargetError as exc:
                tail = (work / "window.log").read_text(errors="replace").strip()[-300:]
                raise TargetError(f"the calibration window did not appear ({exc})"
                                  + (f": {tail}" if tail else "")) from exc
            if injector is not None:
                injector.prepare(recorder.target)
            counter = _WindowCounter(window.stdout)
            counter.start()
            driver = _Driver(options, recorder, counter, say)

            def stop(signum: int, frame: FrameType | None) -> None:
                interrupted.append(signal.Signals(signum).name)
                driver.abort.set()
                recorder.stop(signal.Signals(signum).name)

            thread = threading.Thread(target=driver.run, args=(injector,), daemon=True)
            say(f"calibrating at {options.fps:g} fps: {options.count} "
                f"{'presses by hand' if options.manual else 'injected presses'}")
            t0 = now_ns()
            with handling_stop_signals(stop):
                thread.start()
                try:
                    recorder.run()
                finally:
                    driver.abort.set()
                    thread.join()
            log.info("calibration recording took %.1f s", (now_ns() - t0) / 1e9)
        finally:
            if injector is not None:
                injector.close()
            started.stop_all()
        if interrupted:
            raise KeyboardInterrupt(interrupted[0])
        if driver.error is not None:
            raise driver.error
        return _result(options, session, work, driver.injected, injector)
    finally:
        started.stop_all()
        scratch.close()


def _result(options: CalibrationOptions, session: Path, work: Path, injected: int,
            injector: Injector | None) -> CalibrationResult:
    from ..session.meta import SessionMeta
    from ..session.paths import META_NAME

    m = measure_session(session, options.keys)
    window = None
    window_log: dict[str, Any] | None = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # the window crashed
        window_log = json.loads((work / "window.json").read_text(encoding="utf-8"))
        window = int(window_log["presses"])  # type: ignore[index]
    result = CalibrationResult(None, m, window, list(m.problems))
    if options.audio:
        result.audio = clicks_offset(session, options.keys, window_log, result.problems)
    if m.logged != injected:
        result.problems.append(f"{injected} presses {'made' if options.manual else 'injected'}, "
                               f"the recorder logged {m.logged}")
    if injected < options.count:
        result.problems.append(f"only {injected} of {options.count} presses were made")
    if m.seen == 0:
        result.problems.append("no press was seen in a frame: nothing to measure")
        return result
    meta = SessionMeta.load(session / META_NAME)
    capture = meta.capture.backend if meta.capture else options.capture_backend
    result.profile = LatencyProfile(
        fps=options.fps, method="manual" if injector is None else injector.name,
        injected=injected, logged=m.logged, delays_ns=tuple(m.delays_ns),
        lower_ns=tuple(m.lower_ns), row_lags=tuple(m.row_lags),
        offset_ns=best_offset(m.lower_ns, m.delays_ns), capture_backend=capture,
        input_backend=",".join(meta.input.backends) or options.input_backend,
        platform={"system": platform.system(), "release": platform.release(),
                  "machine": platform.machine()},
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        audio_offset_ms=audio_figure(result.audio))
    return result

