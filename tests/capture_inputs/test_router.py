"""The input router: privacy filter, focus gating at event time, hotkeys never in the stream."""

from __future__ import annotations

from nitrogen_capture.events import BUTTON, CONTROL, HELD, KEY, MOTION, PAD_AXIS, PAD_BUTTON
from nitrogen_capture.events import InputEvent as E
from nitrogen_capture.inputs.router import CHORD_HOLD_NS, InputRouter
from nitrogen_capture.keylayout import DEFAULT_LAYOUT

MS = 1_000_000


def keys(events: list[E]) -> list[tuple[str, str, float]]:
    return [(e.device, e.code, e.value) for e in events]


def test_keys_outside_layout_are_never_queued() -> None:
    r = InputRouter(DEFAULT_LAYOUT)
    for code in ("w", "k", "f1", "semicolon"):
        r.push(E(1, KEY, code, 1))
    assert keys(r.drain()) == [(KEY, "w", 1)]
    assert r.dropped_not_in_layout == 3


def test_focus_is_checked_at_event_time_and_releases_pass() -> None:
    focused = [True]
    r = InputRouter(DEFAULT_LAYOUT, lambda: focused[0])
    r.push(E(1, KEY, "w", 1))
    focused[0] = False
    r.push(E(2, KEY, "a", 1))  # typed into another window: dropped
    r.push(E(3, MOTION, "dx", 5))
    r.push(E(4, KEY, "w", 0))  # release of a forwarded press passes: no stuck key
    r.push(E(5, KEY, "a", 0))  # release of a dropped press does not
    assert keys(r.drain()) == [(KEY, "w", 1), (KEY, "w", 0)]
    assert r.dropped_unfocused == 2


def test_function_hotkeys_become_controls() -> None:
    r = InputRouter(DEFAULT_LAYOUT)
    for code in ("f8", "f7", "f6"):
        r.push(E(1, KEY, code, 1))
        r.push(E(2, KEY, code, 0))
    assert keys(r.drain()) == [(CONTROL, "toggle", 1), (CONTROL, "pause", 1),
                               (CONTROL, "resume", 1)]


def test_ctrl_chords_are_swallowed_entirely() -> None:
    r = InputRouter(DEFAULT_LAYOUT)
    r.push(E(0, KEY, "ctrl", 1))
    r.push(E(50 * MS, KEY, "p", 1))
    r.push(E(60 * MS, KEY, "p", 0))
    r.push(E(70 * MS, KEY, "ctrl", 0))
    r.push(E(80 * MS, KEY, "ctrl", 1))
    r.push(E(90 * MS, KEY, "t", 1))
    r.push(E(95 * MS, KEY, "ctrl", 0))
    r.push(E(99 * MS, KEY, "t", 0))
    assert keys(r.drain()) == [(CONTROL, "pause", 1), (CONTROL, "resume", 1)]


def test_ctrl_tap_and_long_ctrl_hold_still_reach_the_stream_with_their_time() -> None:
    r = InputRouter(DEFAULT_LAYOUT)
    r.push(E(0, KEY, "ctrl", 1))
    r.push(E(30 * MS, KEY, "ctrl", 0))
    assert keys(r.drain()) == [(KEY, "ctrl", 1), (KEY, "ctrl", 0)]
    r.push(E(100 * MS, KEY, "ctrl", 1))
    r.flush_due(100 * MS + CHORD_HOLD_NS - 1)
    assert r.drain() == []  # still held back
    r.flush_due(100 * MS + CHORD_HOLD_NS)
    out = r.drain()
    assert keys(out) == [(KEY, "ctrl", 1)] and out[0].t_ns == 100 * MS
    r.push(E(900 * MS, KEY, "w", 1))
    assert keys(r.drain()) == [(KEY, "w", 1)]


def test_ctrl_followed_by_other_key_is_released_first() -> None:
    r = InputRouter(DEFAULT_LAYOUT)
    r.push(E(0, KEY, "ctrl", 1))
    r.push(E(10 * MS, KEY, "w", 1))
    assert keys(r.drain()) == [(KEY, "ctrl", 1), (KEY, "w", 1)]


def test_hotkeys_in_other_windows_are_ignored() -> None:
    r = InputRouter(DEFAULT_LAYOUT, lambda: False)
    r.push(E(0, KEY, "f8", 1))
    r.push(E(1, BUTTON, "lmb", 1))
    assert r.drain() == []


# -- what is already held when recording starts or resumes (docs/architecture.md 5.5) ----------
def test_a_held_read_passes_the_privacy_filter_but_never_the_hotkeys() -> None:
    focused = [True]
    r = InputRouter(DEFAULT_LAYOUT, lambda: focused[0])
    read = [E(1, KEY, "w", HELD), E(1, KEY, "k", HELD), E(1, KEY, "f8", HELD),
            E(1, BUTTON, "lmb", HELD), E(1, BUTTON, "mb5", HELD), E(1, PAD_BUTTON, "south", HELD),
            E(1, PAD_AXIS, "lx", -0.5), E(1, CONTROL, "pause", 1)]
    assert keys(r.admit_held(read)) == [(KEY, "w", HELD), (BUTTON, "lmb", HELD),
                                        (PAD_BUTTON, "south", HELD), (PAD_AXIS, "lx", -0.5)]
    assert keys(r.drain()) == []  # a held F8 did not toggle anything
    assert (r.dropped_not_in_layout, r.dropped_unfocused, r.hotkeys_seen) == (0, 0, 0)
    focused[0] = False
    assert r.admit_held([E(2, KEY, "a", HELD)]) == []  # another window has the keyboard
    # Releases of what was admitted pass even unfocused; presses of it again are the OS's
    # auto-repeat of a key that never went up; a release of what was not admitted never passes.
    focused[0] = True
    r.push(E(3, KEY, "w", 1))
    r.push(E(4, PAD_BUTTON, "south", 1))
    focused[0] = False
    for code, dev in (("w", KEY), ("lmb", BUTTON), ("south", PAD_BUTTON), ("a", KEY)):
        r.push(E(5, dev, code, 0))
    assert keys(r.drain()) == [(KEY, "w", 0), (BUTTON, "lmb", 0), (PAD_BUTTON, "south", 0)]


def test_ctrl_held_at_the_start_makes_a_later_t_the_resume_chord() -> None:
    r = InputRouter(DEFAULT_LAYOUT)
    assert keys(r.admit_held([E(1, KEY, "ctrl", HELD)])) == [(KEY, "ctrl", HELD)]
    r.push(E(2, KEY, "t", 1))
    r.push(E(3, KEY, "t", 0))
    r.push(E(4, KEY, "ctrl", 0))
    assert keys(r.drain()) == [(CONTROL, "resume", 1), (KEY, "ctrl", 0)]
