"""Put a rollout together: policy, output, gate and driver hung on an ordinary recorder.

:func:`build_play` is to ``play`` what :func:`~nitrogen_capture.record.build_recorder` is to
``record``: it checks the output folder, opens the policy (so a dead server or a bad module fails
before anything is written), opens the output device, and returns a :class:`PlayRun` whose
recorder carries the :class:`~nitrogen_capture.record.playhooks.PlayHooks`. ``meta.json`` names
the policy and output from the first write, so even a session a crash ends is a rollout.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..config import RecordConfig
from ..keylayout import Hotkeys
from ..session.meta import SessionMeta
from ..session.meta_play import PlayInfo
from .driver import DriverSettings, PolicyDriver
from .output import OutputSettings, get_output, output_kind
from .policy_base import Policy, PolicySettings
from .rollout import RolloutLog
from .takeover import TakeoverGate

if TYPE_CHECKING:
    from ..record import Recorder

__all__ = ["PlayRun", "PlaySettings", "build_play"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlaySettings:
    """Everything ``play`` adds to a recording's :class:`RecordConfig`."""

    policy: PolicySettings
    output: OutputSettings
    driver: DriverSettings


@dataclass
class PlayRun:
    """A recorder with a policy driving the game (``run()`` it like a recorder)."""

    recorder: Recorder
    driver: PolicyDriver
    rollout: RolloutLog


def _hotkey_keys(hotkeys: Hotkeys) -> frozenset[str]:
    return frozenset(hotkeys.keys) | frozenset(hotkeys.chords)


def build_play(config: RecordConfig, settings: PlaySettings, *,
               say: Callable[[str], None] | None = None,
               policy: Policy | None = None) -> PlayRun:
    """Open the policy and the output, then the recording, and tie them together.

    ``policy``: an already built policy (tests, library callers); else ``settings.policy``
    names one (:func:`~.policies.load_policy`).
    """
    from ..record import build_recorder, check_output_dir
    from ..record.playhooks import PlayHooks

    check_output_dir(config)  # before a model loads or a server is asked anything
    kind = output_kind(settings.output.name)
    if policy is None:
        from .policies import load_policy

        policy = load_policy(dataclasses.replace(settings.policy, output_kind=kind))
    try:
        output = get_output(settings.output)
    except BaseException:
        policy.close()
        raise
    try:
        recorder = build_recorder(config, say=say)
    except BaseException:
        output.close()
        policy.close()
        raise
    rollout = RolloutLog(config.layout, pad=kind == "gamepad")
    # The action grid: --action-hz, else the policy's own rate (NitroGen: 60 Hz / its ratio),
    # else the recording's.
    hz = float(settings.driver.action_hz or policy.action_hz or config.fps)
    drv = dataclasses.replace(settings.driver, action_hz=hz)
    gate = TakeoverGate(rollout, quiet_s=drv.quiet_s, takeover_key=drv.takeover_key,
                        panic_key=drv.panic_key, is_focused=recorder.target.is_focused,
                        ignored_keys=_hotkey_keys(config.layout.hotkeys))

    def is_live() -> bool:
        return recorder.recording_now and recorder.target.is_focused()

    def on_end(reason: str) -> None:
        log.warning("play: %s: the policy stopped and released every key", reason)
        recorder.stop(reason)

    driver = PolicyDriver(policy, output, gate, rollout, drv, is_live, on_end)
    recorder.meta.play = PlayInfo(
        policy={"spec": settings.policy.spec, **policy.describe()},
        output={"name": output.name, "kind": output.kind},
        action_hz=hz, quiet_s=drv.quiet_s,
        hotkeys={k: v for k, v in (("takeover", drv.takeover_key), ("panic", drv.panic_key))
                 if v is not None})

    try:  # focus the game now: the pointer warp is before the clock and the listeners
        driver.prepare(recorder.target)
    except BaseException:
        recorder.target.close()
        output.close()
        policy.close()
        raise

    def on_start(t0_ns: int) -> None:
        rollout.t0_ns = t0_ns
        driver.start()

    def on_frame(frame: npt.NDArray[np.uint8], t_ns: int) -> None:
        driver.on_frame(frame, t_ns)

    def on_stopping() -> None:
        driver.stop(recorder.stop_reason)

    def progress(play: PlayInfo) -> PlayInfo:
        return dataclasses.replace(play, takeovers=rollout.takeovers(), stats=driver.summary())

    def on_finish(meta: SessionMeta) -> None:
        assert meta.play is not None
        meta.play = dataclasses.replace(progress(meta.play), ended=driver.ended)

    recorder.attach_play(PlayHooks(rows=rollout, on_event=gate.observe, on_start=on_start,
                                   on_frame=on_frame, on_stopping=on_stopping,
                                   on_finish=on_finish, progress=progress))
    return PlayRun(recorder, driver, rollout)
