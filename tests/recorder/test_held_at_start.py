"""Keys, buttons and pad state already held when a recording starts or resumes are recorded.

A key down before the listener starts gives it no press, so the recorder reads what is held from
the sources at the start and at every resume and enters it as synthetic ``HELD`` presses
(docs/architecture.md 5.5, docs/format.md "Events"). These are real recordings of the synthetic
source with the scripted input, whose ``held`` declares what is down before it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from nitrogen_capture.binning import bin_events
from nitrogen_capture.events import (
    BUTTON,
    HELD,
    KEY,
    PAD_AXIS,
    PAD_BUTTON,
    InputEvent,
    events_to_inputs,
)
from nitrogen_capture.inputs._pad_state import PadSource, PadState
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, PAD_AXES, PAD_BUTTONS
from nitrogen_capture.record.held import HeldState
from nitrogen_capture.session import SessionReader, repair_session, validate_session
from nitrogen_capture.session.paths import SessionPaths
from nitrogen_capture.session.writer import SessionWriter
from recording import synthetic_recorder

MS = 1_000_000
COL = DEFAULT_LAYOUT.index


def load_chunks(root: Path, stem: str) -> npt.NDArray[np.generic]:
    paths = SessionPaths(root)
    meta = json.loads(paths.meta.read_text())
    return np.concatenate([np.load(paths.chunk_array(stem, c["index"]), allow_pickle=False)
                           for c in meta["chunks"]])


def rows(events: npt.NDArray[np.generic], n: int) -> list[tuple[str, str, float]]:
    return [(str(e["device"]), str(e["code"]), float(e["value"])) for e in events[:n]]


def assert_rebinned_equal(out: Path, gamepad: bool = False) -> None:
    """The stored rows are exactly the binning of the stored events (live = re-binned)."""
    binned = bin_events(events_to_inputs(load_chunks(out, "events")),
                        load_chunks(out, "timestamps"), DEFAULT_LAYOUT)
    np.testing.assert_array_equal(load_chunks(out, "actions"), binned.actions)
    if gamepad:
        np.testing.assert_array_equal(load_chunks(out, "gamepad"), binned.gamepad)


def test_keys_held_before_the_start_show_in_the_first_row(tmp_path: Path) -> None:
    # W, the left button and pad button east are down before anything starts; the script
    # releases W at 400 ms and the button at 500 ms (the first frames come well before).
    timeline = [(400 * MS, KEY, "w", 0.0), (500 * MS, BUTTON, "lmb", 0.0)]
    out = tmp_path / "s"
    rec = synthetic_recorder(out, timeline=timeline, max_frames=45, chunk_size=20,
                             gamepad=True,
                             held=[(KEY, "w"), (BUTTON, "lmb"), (KEY, "f8"), (KEY, "k"),
                                   (PAD_BUTTON, "east")])
    result = rec.run()
    actions = load_chunks(out, "actions")
    assert [DEFAULT_LAYOUT.keys[i] for i in np.flatnonzero(actions[0])] == ["w", "lmb"]
    pad = load_chunks(out, "gamepad")
    assert list(np.flatnonzero(pad[0])) == [PAD_BUTTONS.index("east")]
    # Marked synthetic in the raw log, entered before the first frame; the held F8 (a hotkey)
    # and K (not in the layout) are neither stored nor acted on.
    events, ts = load_chunks(out, "events"), load_chunks(out, "timestamps")
    assert rows(events, 3) == [(BUTTON, "lmb", HELD), (KEY, "w", HELD),
                               (PAD_BUTTON, "east", HELD)]
    assert 0 <= events["t_ns"][0] <= ts[0] and len(set(events["t_ns"][:3].tolist())) == 1
    assert not set(events["code"].tolist()) & {"f8", "k"}
    assert result.meta.pauses == [] and result.frames == 45
    # The script's releases pass (the held keys were forwarded), so nothing sticks.
    start = rec.inputs[0].start_ns  # type: ignore[attr-defined]
    t_script = ts + result.meta.clock.t0_ns - start
    w = actions[:, COL("w")].astype(bool)
    np.testing.assert_array_equal(w, t_script < 400 * MS)
    assert actions[-1, COL("lmb")] == 0
    assert pad[:, PAD_BUTTONS.index("east")].all()  # still held at the end
    assert_rebinned_equal(out, gamepad=True)
    # Nobody pressed anything while recording: validate counts no press of the player.
    report = validate_session(out)
    assert report.ok, report.format()
    assert report.stats["input"]["presses"] == {}


@pytest.mark.slow  # about 1.2 s of recording around a start pause and a hotkey pause
def test_held_at_the_resume_of_the_start_pause_and_of_a_hotkey_pause(tmp_path: Path) -> None:
    # Shift is down before the start and through the start pause (F8 ends it at 200 ms); D goes
    # down during the F7 pause and is still down at the F8 resume; pad button south goes down
    # before that pause and comes up during it.
    timeline = [(200 * MS, KEY, "f8", 1.0), (210 * MS, KEY, "f8", 0.0),
                (350 * MS, PAD_BUTTON, "south", 1.0), (350 * MS, PAD_AXIS, "lx", 0.5),
                (500 * MS, KEY, "f7", 1.0), (510 * MS, KEY, "f7", 0.0),
                (600 * MS, KEY, "d", 1.0), (650 * MS, PAD_BUTTON, "south", 0.0),
                (650 * MS, PAD_AXIS, "lx", -0.25),
                (900 * MS, KEY, "f8", 1.0), (910 * MS, KEY, "f8", 0.0),
                (1200 * MS, KEY, "shift", 0.0), (1300 * MS, KEY, "d", 0.0)]
    out = tmp_path / "s"
    rec = synthetic_recorder(out, timeline=timeline, max_frames=40, start_immediately=False,
                             gamepad=True, held=[(KEY, "shift")])
    result = rec.run()
    pauses = result.meta.pauses
    assert [p.reason for p in pauses] == ["start", "hotkey"]
    actions, pad = load_chunks(out, "actions"), load_chunks(out, "gamepad")
    events, ts = load_chunks(out, "events"), load_chunks(out, "timestamps")
    # The first row after the start pause shows Shift, entered as held at the resume.
    assert actions[0, COL("shift")] == 1
    assert rows(events, 1) == [(KEY, "shift", HELD)]
    assert events["t_ns"][0] == pauses[0].end_t_ns
    # The hotkey pause releases what was held (Shift, south) and the resume enters what is
    # held then: Shift and D (marked HELD), the stick where it stands; south came up while
    # paused and is not stuck down.
    cut = int(np.searchsorted(ts, pauses[1].end_t_ns))
    at_resume = events[events["t_ns"] == pauses[1].end_t_ns]
    assert sorted(rows(at_resume, len(at_resume))) == [
        (KEY, "d", HELD), (KEY, "shift", HELD), (PAD_AXIS, "lx", -0.25)]
    assert actions[cut, COL("d")] == 1 and actions[cut, COL("shift")] == 1
    south, lx = PAD_BUTTONS.index("south"), len(PAD_BUTTONS) + PAD_AXES.index("lx")
    assert pad[cut - 1, south] == 1 and pad[cut:, south].sum() == 0
    assert pad[cut, lx] == pytest.approx(-0.25)
    assert not set(events["code"].tolist()) & {"f7", "f8"}
    assert_rebinned_equal(out, gamepad=True)


class HeldPad(PadSource):
    """A pad whose buttons and sticks are where the test put them before it started."""

    name = "held_pad"

    def __init__(self, state: PadState) -> None:
        super().__init__(500.0)
        self.fixed = state

    def _read_state(self) -> PadState:
        return self.fixed


def test_pad_state_held_before_the_start_shows_in_the_first_row(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = synthetic_recorder(out, held=[], max_frames=12, gamepad=True)
    rec.inputs.append(HeldPad(PadState(frozenset({"south", "left_trigger"}),
                                       (-1.0, 0.5, 0.0, 0.0))))
    rec.run()
    pad = load_chunks(out, "gamepad")
    want = np.zeros(len(PAD_BUTTONS) + len(PAD_AXES), np.float32)
    want[[PAD_BUTTONS.index("south"), PAD_BUTTONS.index("left_trigger")]] = 1.0
    want[len(PAD_BUTTONS):] = (-1.0, 0.5, 0.0, 0.0)
    np.testing.assert_array_equal(pad, np.repeat(want[None], len(pad), 0))
    events = load_chunks(out, "events")
    # No press stamped when the pad was first read (nobody pressed then): held, marked.
    assert rows(events, len(events)) == [(PAD_BUTTON, "left_trigger", HELD),
                                         (PAD_BUTTON, "south", HELD), (PAD_AXIS, "lx", -1.0),
                                         (PAD_AXIS, "ly", 0.5)]
    assert_rebinned_equal(out, gamepad=True)


def test_a_crash_in_the_first_chunk_keeps_the_held_state(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The held state is entered before the first frame exists: it is journaled into the first
    # chunk, so crash recovery re-bins the same first row. The crash: no chunk is finalized.
    monkeypatch.setattr(SessionWriter, "_finalize",
                        lambda self, chunk: self._close_journal(chunk))
    out = tmp_path / "s"
    rec = synthetic_recorder(out, held=[(KEY, "a")], max_frames=10, merge=False)
    rec.run()
    assert SessionPaths(out).journal(1).exists()
    monkeypatch.undo()
    (recovered,) = repair_session(out).recovered
    assert recovered.rows_kept == 10
    r = SessionReader(out)
    chunk = r.chunk(1)
    assert r.chunk_arrays(chunk)["actions"][:, COL("a")].all()
    assert events_to_inputs(r.chunk_events(chunk))[0].is_held


def test_held_state_releases_at_a_pause_and_enters_at_a_resume() -> None:
    physical, stored = HeldState(), HeldState()
    for ev in (InputEvent(1, KEY, "w", 1.0), InputEvent(1, PAD_BUTTON, "north", 1.0),
               InputEvent(2, PAD_AXIS, "ry", 0.75), InputEvent(3, BUTTON, "rmb", 1.0)):
        physical.apply(ev)
        stored.apply(ev)
    assert [(e.device, e.code, e.value) for e in stored.releases(9)] == [
        (BUTTON, "rmb", 0.0), (KEY, "w", 0.0), (PAD_BUTTON, "north", 0.0)]
    stored.apply_all(stored.releases(9))
    physical.apply(InputEvent(10, KEY, "w", 0.0))
    physical.apply_all([InputEvent(11, KEY, "e", HELD), InputEvent(11, PAD_AXIS, "ry", 0.0)])
    entered = stored.entering(physical, 12)
    # Keys and buttons by name, pad buttons, then the sticks that moved meanwhile.
    assert [(e.t_ns, e.device, e.code, e.value) for e in entered] == [
        (12, KEY, "e", HELD), (12, BUTTON, "rmb", HELD), (12, PAD_BUTTON, "north", HELD),
        (12, PAD_AXIS, "ry", 0.0)]
    stored.apply_all(entered)
    assert stored.entering(physical, 13) == []
    assert entered[0].is_held and entered[0].is_press and not entered[3].is_held
