"""Keeps an on-screen indicator showing what the recorder is doing (and an episode loop's state).

:class:`IndicatorFeed` runs its own thread: four times a second it reads the followed recorder's
:meth:`~.recorder.Recorder.stats` (the snapshot the status line prints) and the rectangle its
source grabs, and posts both to the :class:`~nitrogen_capture.indicator.Indicator`, which draws
on its own thread. The recorder's capture thread never calls the indicator. An episode loop
drives the same feed from outside the recorder::

    feed = IndicatorFeed(get_indicator(config.indicator), episodes=5)
    feed.start()
    for n in range(1, 6):
        recorder = build_recorder(...)
        feed.follow(recorder, episode=n)
        recorder.run()
        feed.reset()  # RESET 00:00 ... until the next follow()
    feed.close()
"""

from __future__ import annotations

import threading
from typing import Protocol

from ..capture.base import Region
from ..clock import now_ns
from ..indicator import Indicator, IndicatorState
from .rates import LOSING_SHARE
from .recorder import RecordStats

__all__ = ["IndicatorFeed", "indicator_state"]

INTERVAL_S = 0.25  # a pause shows within this; the elapsed time is shown in whole seconds


class _Region(Protocol):
    @property
    def region(self) -> Region: ...


class _Followed(Protocol):
    """What the feed reads of a recorder."""

    @property
    def source(self) -> _Region: ...

    def stats(self) -> RecordStats: ...


def indicator_state(s: RecordStats, *, start_hint: str = "", episode: int | None = None,
                    episodes: int | None = None) -> IndicatorState:
    """The indicator's state for the recorder's snapshot ``s`` (the status line's, as a mark).

    ``losing`` is the status line's ``LOSING FRAMES``: the recent missed share above
    :data:`~.rates.LOSING_SHARE` while recording.
    """
    if s.phase in ("starting", "stopping"):
        return IndicatorState(s.phase, episode, episodes)
    if s.paused and s.pause_reason == "reset":  # a run's reset: the start of the episode
        return IndicatorState("reset", episode, episodes, s.elapsed_s, text=start_hint)
    if s.paused:
        text = start_hint if s.pause_reason == "start" and start_hint else s.pause_reason or ""
        return IndicatorState("paused", episode, episodes, s.elapsed_s, text=text)
    return IndicatorState("recording", episode, episodes, s.elapsed_s,
                          losing=s.missed_share > LOSING_SHARE)


class IndicatorFeed:
    """Posts the followed recorder's state (or a reset's) to ``indicator`` from its own thread."""

    def __init__(self, indicator: Indicator, *, start_hint: str = "",
                 episodes: int | None = None, interval_s: float = INTERVAL_S) -> None:
        self.indicator = indicator
        self.start_hint = start_hint
        self.episodes = episodes
        self.interval_s = interval_s
        self._recorder: _Followed | None = None
        self._episode: int | None = None
        self._reset_ns: int | None = None  # when the current reset began (None: not in one)
        self._region: Region | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, recorder: _Followed, episode: int | None = None) -> None:
        """Show ``recorder``'s state from now on (as episode ``episode`` when given)."""
        with self._lock:
            self._recorder, self._episode, self._reset_ns = recorder, episode, None
        self.push()

    def reset(self, episode: int | None = None) -> None:
        """Show ``RESET`` with the time since this call, until the next :meth:`follow`.

        ``episode`` (when given) is the episode shown meanwhile, e.g. the one about to start.
        """
        with self._lock:
            self._recorder, self._reset_ns = None, now_ns()
            if episode is not None:
                self._episode = episode
        self.push()

    def state(self) -> IndicatorState | None:
        """What the indicator should show now (None: nothing followed yet)."""
        with self._lock:
            recorder, episode, reset_ns = self._recorder, self._episode, self._reset_ns
        if reset_ns is not None:
            return IndicatorState("reset", episode=episode, episodes=self.episodes,
                                  elapsed_s=(now_ns() - reset_ns) / 1e9)
        if recorder is None:
            return None
        return indicator_state(recorder.stats(), start_hint=self.start_hint, episode=episode,
                               episodes=self.episodes)

    def push(self) -> None:
        """Post the current state (and the captured rectangle when it moved) at once."""
        with self._lock:
            recorder = self._recorder
        region = recorder.source.region if recorder is not None else self._region
        if region != self._region:
            self._region = region
            self.indicator.avoid(region)
        state = self.state()
        if state is not None:
            self.indicator.show(state)

    def start(self) -> None:
        """Start posting every ``interval_s``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="indicator-feed")
            self._thread.start()

    def close(self) -> None:
        """Stop posting and close the indicator."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.indicator.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.push()
