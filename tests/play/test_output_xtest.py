"""The XTEST output against the demo game under Xvfb: what the game saw is what was sent.

The game (``python -m nitrogen_capture.demo.game --log``) counts every key and button press it
receives and records, per frame, which layout keys it shows held (held, or pressed within
``--latch-ms``). The output's presses, clicks and wheel steps are compared with those counts,
and after ``release_all`` the game's last frames must show nothing held.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_fixtures import running_game
from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.demo import markers
from nitrogen_capture.errors import PlatformError
from nitrogen_capture.events import BUTTON, KEY, MOTION, WHEEL
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, KeyLayout
from nitrogen_capture.play.action import Action
from nitrogen_capture.play.output import OutputSettings, get_output
from nitrogen_capture.play.output._xtest import XTestOutput
from nitrogen_capture.targets import resolve_target
from waiting import wait_until

pytestmark = pytest.mark.x11

LATCH_MS = 20.0
# Each step differs from the one before, so every key in it that was not held is a press.
SCRIPT = [
    Action.of({"w"}), Action.of({"w", "d"}), Action.of({"d"}), Action.of({"space", "lmb"}),
    Action.of(), Action.of({"w"}), Action.of({"shift", "w", "rmb"}, mouse=(5.5, -3.0)),
    Action.of({"e"}, mouse=(0.5, 0.0)), Action.of({"e", "1", "mmb"}), Action.of({"enter"}),
]
WHEEL_LAYOUT = KeyLayout((*DEFAULT_LAYOUT.keys, "mmb", "wheel_up", "wheel_down"))


def expected_presses(script: list[Action]) -> Counter[str]:
    held: set[str] = set()
    presses: Counter[str] = Counter()
    for action in script:
        want = set(action.keys) - {"wheel_up", "wheel_down"}
        presses.update(want - held)
        held = want
    return presses


class GameView:
    """The game's own overlay read live from its window (mss on the demo display).

    The overlay carries the game's frame number, its press counter and the keys it shows held
    (nitrogen_capture.demo.markers), so a test waits on what the game saw, never on time.
    """

    def __init__(self, display: str, region: Region) -> None:
        import mss

        self._sct = mss.MSS(display=display)
        self._box = {"left": region.left, "top": region.top, "width": region.width,
                     "height": markers.overlay_height()}

    def read(self) -> markers.Overlay:
        shot = np.asarray(self._sct.grab(self._box))[:, :, :3]
        return markers.read_overlay(np.ascontiguousarray(shot), len(DEFAULT_LAYOUT))

    def frame(self) -> int:
        return self.read().frame or 0

    def wait_frames(self, n: int) -> None:
        """Wait until the game drew ``n`` more frames (it has handled what came before)."""
        first = self.frame()
        wait_until(lambda: self.frame() >= first + n, f"{n} more game frames", 30.0)

    def close(self) -> None:
        self._sct.close()


def _game_log(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_presses_clicks_and_wheel_reach_the_game(demo_display: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "game.json"
    script = [*SCRIPT, Action.of({"wheel_up"}), Action.of({"wheel_up", "wheel_down"}),
              Action.of({"a", "lmb"})]
    with running_game(demo_display, log, "--latch-ms", str(LATCH_MS), "--fps", "60",
                      "--size", "800x600") as game:
        monkeypatch.setenv("DISPLAY", demo_display)
        target = resolve_target(TargetSpec(pid=game.pid))
        out = get_output(OutputSettings("xtest", layout=WHEEL_LAYOUT, display=demo_display))
        assert isinstance(out, XTestOutput) and out.kind == "keyboard"
        view = GameView(demo_display, target.region())
        want = expected_presses(script)
        try:
            out.prepare(target)
            view.wait_frames(3)  # the game has taken the focus
            sent = []
            for action in script:
                sent += out.apply(action)
                # Paced like the driver paces steps (one per game frame or slower): a release
                # and re-press of a key inside one frame reaches SDL as one press (measured).
                view.wait_frames(2)
            layout_presses = sum(n for k, n in want.items() if k in DEFAULT_LAYOUT.keys)
            wait_until(lambda: view.read().presses == layout_presses,
                       lambda: f"the game's counter at {layout_presses}: {view.read()}")
            released = out.release_all()
            wait_until(lambda: view.read().held_mask == 0, "the game showing nothing held")
            view.wait_frames(3)
            assert out.held == frozenset()
            assert out.release_all() == []  # nothing left to release
        finally:
            out.close()
            out.close()  # idempotent
            view.close()
            target.close()
        sent_presses = Counter(e.code for e in sent if e.device in (KEY, BUTTON) and e.value)
        assert sent_presses == want
        assert sorted(e.code for e in released) == ["a", "lmb"]
        motion = [(e.code, e.value) for e in sent if e.device == MOTION]
        assert motion == [("dx", 5.0), ("dy", -3.0), ("dx", 1.0)]  # 0.5 + 0.5 carried
        assert [e.code for e in sent if e.device == WHEEL] == ["dy", "dy", "dy"]
    data = _game_log(log)
    for key, n in want.items():
        assert data["presses"].get(key, data["other_presses"].get(key, 0)) == n, key
    # pygame reports a wheel step as a button 4 (up) / 5 (down) press; the game names them
    # after its own table, where 4 and 5 fall through to "mb4"/"mb5": up twice, down once.
    assert data["other_presses"].get("mb4", 0) == 2, data["other_presses"]
    assert data["other_presses"].get("mb5", 0) == 1, data["other_presses"]
    # After release_all the game's last frames (past the latch) show no layout key held.
    records = data["records"]
    end = max(e.t_ns for e in released)
    tail = [m for t, m in zip(records["t_ns"], records["held_mask"], strict=True)
            if t > end + LATCH_MS * 1e6]
    assert tail, (records["t_ns"][-1], end)
    assert all(mask == 0 for mask in tail), tail[-5:]


def test_release_all_on_a_held_chord_leaves_nothing_held(demo_display: str,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    """Keys held when control ends are released: the game's view says so, frame by frame."""
    log = tmp_path / "game.json"
    with running_game(demo_display, log, "--latch-ms", str(LATCH_MS)) as game:
        monkeypatch.setenv("DISPLAY", demo_display)
        target = resolve_target(TargetSpec(pid=game.pid))
        out = XTestOutput(OutputSettings("xtest", display=demo_display))
        view = GameView(demo_display, target.region())
        keys = {"w", "a", "shift", "lmb"}
        bits = sum(1 << DEFAULT_LAYOUT.keys.index(k) for k in keys)
        try:
            out.prepare(target)
            view.wait_frames(3)
            out.apply(Action.of(keys))
            assert out.held == keys
            wait_until(lambda: view.read().held_mask == bits, "the game showing the chord held")
            released = out.release_all()
            wait_until(lambda: view.read().held_mask == 0, "the game showing nothing held")
            view.wait_frames(3)
        finally:
            out.close()
            view.close()
            target.close()
        t_release = max(e.t_ns for e in released)
        w_bit = 1 << DEFAULT_LAYOUT.keys.index("w")
    records = _game_log(log)["records"]
    before = [m for t, m in zip(records["t_ns"], records["held_mask"], strict=True)
              if t < t_release]
    after = [m for t, m in zip(records["t_ns"], records["held_mask"], strict=True)
             if t > t_release + LATCH_MS * 1e6]
    assert any(m & w_bit for m in before)  # the game did see w held
    assert after and all(m == 0 for m in after), after[:5]
    assert sorted(e.code for e in released) == ["a", "lmb", "shift", "w"]


def test_no_display_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    with pytest.raises(PlatformError, match="no X display: set DISPLAY or run under Xvfb"):
        get_output(OutputSettings("xtest"))
