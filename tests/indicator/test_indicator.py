"""The recording indicator without a display: its text and colours, the corner it picks, the
factory, and the feed from a real recorder to the fake indicator (the same factory's ``fake``).

The X11 window itself, on a real Xvfb, is in tests/indicator/test_indicator_x11.py.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cli_run import run_cli
from nitrogen_capture import indicator as indicator_pkg
from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.errors import ConfigError, PlatformError
from nitrogen_capture.indicator import Indicator, IndicatorState, get_indicator, label
from nitrogen_capture.indicator._fake import FakeIndicator
from nitrogen_capture.indicator.base import DOT_COLOURS, clock_text, dot_colour
from nitrogen_capture.indicator.place import corner_spot
from nitrogen_capture.record import RecordStats
from nitrogen_capture.record.indicate import IndicatorFeed, indicator_state
from nitrogen_capture.record.rates import LOSING_SHARE
from recording import synthetic_recorder
from waiting import wait_until

SCREEN = Region(0, 0, 1920, 1080)


def stats(**kw: object) -> RecordStats:
    base: dict[str, object] = {
        "frames": 10, "ticks": 12, "elapsed_s": 42.7, "fps": 30.0, "missed_share": 0.0,
        "dropped_ticks": 0, "late_frames": 0, "queue_full_drops": 0, "queue_depth": 0,
        "chunk": 1, "paused": False, "focused": True, "pause_reason": None,
        "phase": "recording"}
    base.update(kw)
    return RecordStats(**base)  # type: ignore[arg-type]


# -- text and colours --------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "text"), [
    (IndicatorState("recording", 2, 5, 42.9), "REC 00:42  ep 2/5"),
    (IndicatorState("recording", 2, None, 42.9), "REC 00:42  ep 2"),  # unlimited episodes
    (IndicatorState("recording", elapsed_s=3725, losing=True), "REC 1:02:05  LOSING FRAMES"),
    (IndicatorState("paused", text="focus"), "PAUSED  focus"),
    (IndicatorState("paused", losing=True), "PAUSED"),  # losing only means something recording
    (IndicatorState("reset", 3, 5, 5.2), "RESET 00:05  ep 3/5"),
    (IndicatorState("starting"), "STARTING"),
    (IndicatorState("stopping", 1, 1), "STOPPING  ep 1/1"),
])
def test_label(state: IndicatorState, text: str) -> None:
    assert label(state) == text


def test_dot_colours_and_bad_phase() -> None:
    assert dot_colour(IndicatorState("recording")) == DOT_COLOURS["recording"]
    assert dot_colour(IndicatorState("recording", losing=True)) == DOT_COLOURS["losing"]
    assert dot_colour(IndicatorState("reset")) == DOT_COLOURS["reset"]
    assert len(set(DOT_COLOURS.values())) == len(DOT_COLOURS) - 1  # starting == stopping
    assert clock_text(float("nan")) == clock_text(-3) == "00:00"
    with pytest.raises(ValueError, match="phase"):
        IndicatorState("rec")


# -- where it goes -----------------------------------------------------------------------------
def test_corner_spot_avoids_the_capture() -> None:
    size = (200, 30)
    # Nothing to avoid or a centred game: top right first.
    assert corner_spot(SCREEN, size, None) == (1716, 4)
    assert corner_spot(SCREEN, size, Region(320, 180, 1600, 900)) == (1716, 4)
    # A game at the top right: top left; the whole top strip: bottom right.
    assert corner_spot(SCREEN, size, Region(1000, 0, 1920, 700)) == (4, 4)
    assert corner_spot(SCREEN, size, Region(0, 0, 1920, 1000)) == (1716, 1046)
    # One pixel short of the margin at every corner is still too close.
    assert corner_spot(SCREEN, size, Region(0, 37, 1920, 1043)) is None
    assert corner_spot(SCREEN, size, Region(0, 38, 1920, 1042)) == (1716, 4)
    # A full-screen (or larger) capture, or an indicator larger than the screen: nowhere.
    assert corner_spot(SCREEN, size, SCREEN) is None
    assert corner_spot(SCREEN, size, Region(-10, -10, 3000, 3000)) is None
    assert corner_spot(Region(0, 0, 100, 20), size, None) is None


# -- the factory -------------------------------------------------------------------------------
def test_factory(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(get_indicator("fake"), FakeIndicator)
    none = get_indicator("none")
    assert type(none) is Indicator
    none.show(IndicatorState("recording"))  # does nothing, and says nothing
    none.close()
    with pytest.raises(ConfigError) as info:
        get_indicator("blink")
    assert info.value.setting == "indicator"
    with pytest.raises(ConfigError) as info:
        RecordConfig(out=Path("s"), indicator="blink")
    assert info.value.setting == "indicator"
    if sys.platform != "win32":
        with pytest.raises(PlatformError, match="Windows only"):
            get_indicator("win32")
        # auto without an X display: no indicator, quietly (a headless synthetic recording).
        monkeypatch.setattr(sys, "platform", "linux")
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        with caplog.at_level(logging.WARNING):
            assert type(get_indicator("auto")) is Indicator
        assert not caplog.records
        # An explicit x11 without a display is the one clear error of the display check.
        with pytest.raises(PlatformError, match="DISPLAY"):
            get_indicator("x11")


def test_auto_that_cannot_start_is_one_warning(monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    def refuse(name: str, display: str | None) -> Indicator:
        raise PlatformError(f"no {name} here")

    monkeypatch.setattr(indicator_pkg, "_make", refuse)
    monkeypatch.setattr(sys, "platform", "linux")
    with caplog.at_level(logging.WARNING):
        assert type(get_indicator("auto", display=":99")) is Indicator
    assert [r.getMessage() for r in caplog.records] == ["no on-screen indicator: no x11 here"]


# -- the state mapping and the feed ------------------------------------------------------------
def test_indicator_state_follows_the_status_line() -> None:
    hint = "press F8 to start"
    assert indicator_state(stats(phase="starting")) == IndicatorState("starting")
    assert indicator_state(stats(phase="stopping"), episode=2, episodes=3) == \
        IndicatorState("stopping", 2, 3)
    assert indicator_state(stats(paused=True, pause_reason="start"), start_hint=hint) == \
        IndicatorState("paused", elapsed_s=42.7, text=hint)
    assert indicator_state(stats(paused=True, pause_reason="focus"), start_hint=hint) == \
        IndicatorState("paused", elapsed_s=42.7, text="focus")
    assert indicator_state(stats(), episode=1) == IndicatorState("recording", 1, None, 42.7)
    losing = LOSING_SHARE + 0.01
    assert indicator_state(stats(missed_share=losing)).losing
    assert not indicator_state(stats(missed_share=LOSING_SHARE)).losing
    # A paused recording is never "losing" (the status line says the same).
    assert not indicator_state(stats(missed_share=losing, paused=True,
                                     pause_reason="hotkey")).losing


def test_feed_drives_the_indicator_from_outside_the_recorder() -> None:
    fake = FakeIndicator()
    region = [Region(0, 0, 640, 360)]
    rec = SimpleNamespace(source=SimpleNamespace(region=region[0]), stats=lambda: stats())
    feed = IndicatorFeed(fake, episodes=3, interval_s=0.02)
    feed.start()
    feed.follow(rec, episode=1)  # type: ignore[arg-type]
    wait_until(lambda: len(fake.states) >= 5, "5 states")
    assert fake.states[-1] == IndicatorState("recording", 1, 3, 42.7)
    assert fake.regions == [Region(0, 0, 640, 360)]  # posted once, not every time
    rec.source.region = Region(10, 10, 650, 370)  # the window moved
    wait_until(lambda: len(fake.regions) == 2, "the moved region")
    feed.reset(episode=2)
    wait_until(lambda: fake.states[-1].phase == "reset" and fake.states[-1].elapsed_s > 0.1,
               "the reset shown")
    assert fake.states[-1].episode == 2 and fake.states[-1].episodes == 3
    assert fake.regions[-1] == Region(10, 10, 650, 370)  # a reset keeps the last one
    assert not fake.closed
    feed.close()
    assert fake.closed
    shown = len(fake.states)
    # Nothing after close: the thread that posts has ended (close joined it), so none can come.
    assert feed._thread is not None and not feed._thread.is_alive()
    assert len(fake.states) == shown


def test_a_real_recorder_waiting_for_its_start_shows_paused(tmp_path: Path) -> None:
    rec = synthetic_recorder(tmp_path / "s", start_immediately=False, max_frames=0,
                             max_wall_seconds=1.5, fps=20.0)
    rec.inputs.clear()  # no scripted hotkey: it waits paused until --wall-seconds ends it
    fake = FakeIndicator()
    feed = IndicatorFeed(fake, start_hint="press F8 to start", interval_s=0.05)
    feed.follow(rec)
    feed.start()
    try:
        result = rec.run()
    finally:
        feed.close()
    assert result.frames == 0 and result.stop_reason == "max wall seconds"
    phases = [s.phase for s in fake.states]
    paused = [s for s in fake.states if s.phase == "paused"]
    assert paused and all(s.text == "press F8 to start" for s in paused), phases
    assert set(phases) <= {"starting", "paused", "stopping"}, phases
    assert fake.regions == [Region(0, 0, 320, 240)] and fake.closed


def test_record_command_shows_the_indicator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    made: list[tuple[str, FakeIndicator]] = []

    def fake_factory(name: str = "auto", **kw: object) -> Indicator:
        made.append((name, FakeIndicator()))
        return made[-1][1]

    monkeypatch.setattr(indicator_pkg, "get_indicator", fake_factory)
    res = run_cli(capsys, "record", "--source", "synthetic", "--out", str(tmp_path / "s"),
                  "--region", "0", "0", "320", "240", "--fps", "20", "--seconds", "2",
                  "--status-interval", "0", "--cue", "none", "--indicator", "x11",
                  "--no-merge", "--encoder-workers", "1")
    assert res.code == 0, res.err
    ((name, fake),) = made
    assert name == "x11" and fake.closed
    assert fake.regions == [Region(0, 0, 320, 240)]
    recording = [s for s in fake.states if s.phase == "recording"]
    assert recording and recording[-1].elapsed_s > 1.0
    # A synthetic recording's auto means none: the synthetic region is on no screen.
    made.clear()
    res = run_cli(capsys, "record", "--source", "synthetic", "--out", str(tmp_path / "t"),
                  "--region", "0", "0", "64", "64", "--fps", "20", "--seconds", "0.5",
                  "--status-interval", "0", "--cue", "none", "--no-merge",
                  "--encoder-workers", "1")
    assert res.code == 0, res.err
    assert [n for n, _ in made] == ["none"]


def test_a_runs_reset_pause_shows_reset_with_the_episode_and_the_start_key() -> None:
    s = indicator_state(stats(paused=True, pause_reason="reset", elapsed_s=3.2),
                        start_hint="press F8 to start", episode=2, episodes=5)
    assert (s.phase, s.episode, s.episodes, s.text) == ("reset", 2, 5, "press F8 to start")
    assert s.elapsed_s == 3.2
