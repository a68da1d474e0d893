"""Recording: build the parts from a :class:`~nitrogen_capture.config.RecordConfig` and run them.

>>> from nitrogen_capture.config import RecordConfig
>>> from nitrogen_capture.capture.base import Region
>>> cfg = RecordConfig(out="runs/s1", fps=60, max_frames=600, start_immediately=True,
...                    capture_backend="synthetic", input_backend="scripted")  # doctest: +SKIP
>>> build_recorder(cfg, region=Region(0, 0, 1280, 720)).run()  # doctest: +SKIP
>>> from nitrogen_capture.session import merge_session
>>> merge_session(cfg.out)  # as `nitrogen-capture record` does  # doctest: +SKIP

The :class:`Recorder` writes chunks, journals and ``meta.json`` only; the merged files are
:func:`~nitrogen_capture.session.merge_session`'s, which the ``record`` command runs after every
clean stop unless ``RecordConfig.merge`` is False.
"""

from __future__ import annotations

import datetime as _dt
import logging
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import __version__, winecompat
from ..capture import get_capture_backend
from ..capture.base import BackendConfig, Region
from ..clock import CLOCK_NAME
from ..config import RecordConfig
from ..errors import SessionExistsError
from ..inputs import get_input_backends
from ..inputs.base import InputSource
from ..outputs import OutputKind, check_output, describe
from ..session.frames import frame_store_class
from ..session.meta import CaptureInfo, ClockInfo, FrameFormat, InputInfo, Labels, SessionMeta
from ..session.meta_parts import default_controller, default_game
from ..session.paths import is_session
from ..session.unbegun import never_began
from ..targets.base import FixedRegionTarget, Target
from .audio import AudioRecorder
from .episode import EpisodeControl
from .recorder import Recorder, RecordResult, RecordStats

__all__ = ["RecordResult", "RecordStats", "Recorder", "build_recorder", "check_new_session_dir",
           "check_output_dir", "never_began", "picked_config"]

log = logging.getLogger(__name__)


def check_output_dir(config: RecordConfig) -> None:
    """Refuse an ``--out`` that already holds a session (or anything else)."""
    check_new_session_dir(config.out)


def check_new_session_dir(out: Path, label: str = "--out") -> None:
    """Refuse ``out`` as the folder of a new recording unless it is new or empty.

    ``record --out`` and ``calibrate --keep-session`` (before its window opens) share it.
    """
    if out.exists() and not out.is_dir():
        raise SessionExistsError(f"{label} {out} is {describe(out)}, not a directory")
    if is_session(out):
        raise SessionExistsError(
            f"{label} {out} already holds a session: choose a new directory "
            "(nothing was changed)")
    if out.is_dir() and any(out.iterdir()) and not never_began(out):
        raise SessionExistsError(f"{label} {out} is not empty: choose a new or empty directory")
    # Not inside another session or dataset, not through a link (outputs.py).
    check_output(out, NEW_SESSION, label=label)


# A recording's folder: new, empty, or left by a recording that never began (check_output_dir
# refuses anything else first).
NEW_SESSION = OutputKind("session", never_began, folder=True, store="session")


def picked_config(config: RecordConfig, target: Target) -> BackendConfig | None:
    """The pipewire options reading the session of a portal-picked ``target``, else None.

    The source then reads the stream the user picked while the target was resolved
    (targets/_picked.py), so the portal's dialog shows once.
    """
    picked = getattr(target, "picked", None)
    if picked is None:
        return None
    from ..capture._pipewire import PipeWireConfig

    return PipeWireConfig(portal_reset=config.portal_reset, picked=picked)


def _resolve_target(config: RecordConfig, region: Region | None,
                    say: Callable[[str], None] | None = None) -> Target:
    spec = config.target
    if config.capture_backend == "synthetic" and not spec.is_window:
        return FixedRegionTarget(region or spec.region or Region(0, 0, 1280, 720))
    from ..targets import _picked, resolve_target

    if region is None and _picked.picks_stream(config):  # GNOME/KDE: the dialog decides
        return _picked.picked_target(config, say=say)

    return resolve_target(spec, wait_s=spec.wait_s)


def base_meta(config: RecordConfig, target: Target, source_name: str,
              details: dict[str, Any], frame_format: FrameFormat,
              inputs: Sequence[InputSource] = ()) -> SessionMeta:
    """The meta.json written when recording starts (docs/format.md)."""
    region = target.region()
    described = target.describe()
    labels = Labels(config.game if config.game is not None else default_game(described),
                    config.notes, config.controller or default_controller(config.gamepad))
    system = {"system": platform.system(), "release": platform.release(),
              "machine": platform.machine(), "python": platform.python_version()}
    wine = winecompat.wine_version()
    if wine is not None:  # a Windows build under Wine: its capture and input are Wine's
        system["wine"] = wine
    return SessionMeta(
        layout=config.layout, status="recording",
        tool={"name": "nitrogen-capture", "version": __version__},
        platform=system,
        capture=CaptureInfo(source_name, dict(details),
                            (region.left, region.top, region.right, region.bottom), region.size,
                            config.target.monitor),
        target=described, labels=labels,
        input=InputInfo(tuple(s.name for s in inputs), any(s.raw_motion for s in inputs),
                        tuple(getattr(inputs, "warnings", ()))),
        fps_target=config.fps, skip_late=config.skip_late, chunk_size=config.chunk_size,
        frame_format=frame_format, gamepad=config.gamepad,
        clock=ClockInfo(CLOCK_NAME, None,
                        _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")),
        command=tuple(sys.argv[1:]), latency_offset_ns=config.latency_offset_ns,
        latency=config.latency)


def build_recorder(config: RecordConfig, *, region: Region | None = None,
                   target: Target | None = None,
                   episode: EpisodeControl | None = None,
                   say: Callable[[str], None] | None = None) -> Recorder:
    """Check the output, resolve the target, open the backends and return a :class:`Recorder`.

    ``episode``: this recording is one episode of a ``record --episodes`` run (episode.py).
    ``say``: gets the one line naming what the portal's dialog picked, when it decides the
    target (a Wayland desktop that names no windows, targets/_picked.py).
    """
    check_output_dir(config)
    # The frame store checks its encoder first: a missing package fails before anything opens.
    store = frame_store_class(config.frame_format)
    frame_format = store.new_format(config.encoding)
    owned = target is None  # a caller's target (an episode run's) stays the caller's to close
    target = target or _resolve_target(config, region, say)
    try:
        # e.g. the video store probes the encoder --video-encoder names at the real size
        frame_format = store.for_size(frame_format, config.encoding, target.region().size)
        backend_config = picked_config(config, target)
        source = get_capture_backend(config.capture_backend, target=target.capture_target(),
                                     seed=config.seed, monitor=config.target.monitor,
                                     synthetic_repeat=config.synthetic_repeat,
                                     portal_reset=config.portal_reset, fps=config.fps,
                                     config=backend_config)
        inputs = get_input_backends(config.input_backend, seed=config.seed, fps=config.fps,
                                    target=target, gamepad=config.gamepad,
                                    gamepad_backend=config.gamepad_backend)
        audio = _audio_recorder(config)
    except BaseException:
        if owned:  # e.g. a portal-picked target's session, an X connection
            target.close()
        raise
    meta = base_meta(config, target, source.name, source.details, frame_format, inputs)
    return Recorder(config, source, target, inputs, meta, episode, audio=audio)


def _audio_recorder(config: RecordConfig) -> AudioRecorder | None:
    """``--audio``'s thread with its (unopened) source; None without ``--audio``."""
    if config.audio is None:
        return None
    from ..audio.sources import make_audio_source
    from ..session.paths import SessionPaths

    return AudioRecorder(make_audio_source(config.audio), SessionPaths(config.out))
