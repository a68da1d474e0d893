"""Hotkeys from the layout TOML: remap or disable each, the router obeys, meta.json records them."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.events import CONTROL, KEY
from nitrogen_capture.events import InputEvent as E
from nitrogen_capture.inputs.router import InputRouter
from nitrogen_capture.keylayout import (
    DEFAULT_HOTKEYS,
    DEFAULT_LAYOUT,
    Hotkeys,
    KeyLayout,
    load_layout,
)
from nitrogen_capture.session.reader import SessionReader
from recording import assert_resumed_by, synthetic_recorder

MS = 1_000_000
SYNTH = ["record", "--source", "synthetic", "--region", "0", "0", "64", "48",
         "--status-interval", "0"]


def keys(events: list[E]) -> list[tuple[str, str, float]]:
    return [(e.device, e.code, e.value) for e in events]


def tap(r: InputRouter, code: str, t: int) -> None:
    r.push(E(t, KEY, code, 1))
    r.push(E(t + MS, KEY, code, 0))


# -- the Hotkeys value ---------------------------------------------------------------------------
def test_defaults_are_todays_hotkeys() -> None:
    assert DEFAULT_HOTKEYS.keys == {"f8": "toggle", "f6": "resume", "f7": "pause"}
    assert DEFAULT_HOTKEYS.chords == {"t": "resume", "p": "pause"}
    assert DEFAULT_HOTKEYS.describe() == "F8 toggles, F6 / Ctrl+T resume, F7 / Ctrl+P pause"
    assert DEFAULT_LAYOUT.hotkeys == DEFAULT_HOTKEYS


def test_table_parsing_folds_aliases_and_keeps_left_out_actions() -> None:
    h = Hotkeys.from_dict({"toggle": "F9", "resume": [], "pause": ["Ctrl+Escape", ""]})
    assert (h.toggle, h.resume, h.pause) == (("f9",), (), ("ctrl+esc",))
    assert Hotkeys.from_dict({"toggle": ""}).toggle == ()
    assert Hotkeys.from_dict({"toggle": "f9"}).resume == DEFAULT_HOTKEYS.resume
    assert DEFAULT_HOTKEYS.without_chords() == Hotkeys(resume=("f6",), pause=("f7",))
    assert Hotkeys.from_dict(h.to_dict()) == h


@pytest.mark.parametrize(("table", "needle"), [
    ({"toggle": "alt+f8"}, "hotkeys.toggle: 'alt+f8' is not a key name"),
    ({"resume": ["ctrl+shift+t"]}, "ctrl+<key>"),
    ({"pause": "ctrl"}, "Ctrl is the chord modifier"),
    ({"pause": "lmb"}, "hotkeys.pause: 'lmb' is not a keyboard key"),
    ({"stop": "f9"}, "hotkeys.stop is not a hotkey action"),
    ({"toggle": 8}, "hotkeys.toggle: give a key name or a list"),
    ({"toggle": ["f9", 8]}, "hotkeys.toggle: a hotkey is a key name string"),
    ({"toggle": "f6"}, "f6 is both the toggle and the resume hotkey"),
    ({"toggle": "t"}, "t is both a hotkey and the key of the chord ctrl+t"),
])
def test_bad_tables_name_the_entry(table: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        Hotkeys.from_dict(table)
    assert needle in str(info.value) and "\n" not in str(info.value)


# -- layouts -------------------------------------------------------------------------------------
def test_a_layout_may_use_keys_that_are_no_longer_hotkeys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="uses recorder hotkeys f8: remove them or remap"):
        KeyLayout(keys=("w", "f8"))
    f = tmp_path / "fkeys.toml"
    f.write_text('keys = ["w", "f8"]\nhotkeys = {toggle = "f9"}\n')
    layout = load_layout(f)
    assert layout.keys == ("w", "f8") and layout.hotkeys.toggle == ("f9",)
    assert layout.to_dict()["hotkeys"] == {"toggle": ["f9"], "resume": ["f6", "ctrl+t"],
                                           "pause": ["f7", "ctrl+p"]}
    assert KeyLayout.from_meta(layout.to_dict()) == layout


def test_old_sessions_without_hotkeys_read_as_defaults() -> None:
    layout = KeyLayout.from_meta({"name": "old", "keys": ["w", "a"]})
    assert layout.hotkeys == DEFAULT_HOTKEYS
    with pytest.raises(ConfigError, match=r"hotkeys\.toggle"):
        KeyLayout.from_meta({"keys": ["w"], "hotkeys": {"toggle": 5}})


@pytest.mark.parametrize(("text", "needle"), [
    ('keys = ["w"]\nhotkeys = {toggle = "alt+f8"}\n', "hotkeys.toggle: 'alt+f8'"),
    ('keys = ["w"]\nhotkeys = "f8"\n', "hotkeys must be a table"),
    ('keys = ["w"]\nhotkeys = {quit = "f9"}\n', "hotkeys.quit is not a hotkey action"),
    ('keys = ["w", "f9"]\nhotkeys = {toggle = "f9"}\n', "uses recorder hotkeys f9"),
])
def test_layout_file_errors_are_one_line_naming_the_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=r"layout file .*bad\.toml: "):
        load_layout(f)
    run_cli(capsys, *SYNTH, "--out", str(tmp_path / "s"), "--layout", str(f)).one_line_error(
        2, "bad.toml", needle)
    assert not (tmp_path / "s").exists()


def test_no_chord_hotkeys_setting_drops_the_chords() -> None:
    cfg = RecordConfig(out=Path("s"), chord_hotkeys=False)
    assert cfg.layout.hotkeys == DEFAULT_HOTKEYS.without_chords()
    assert cfg.layout.keys == DEFAULT_LAYOUT.keys
    assert RecordConfig(out=Path("s")).layout.hotkeys == DEFAULT_HOTKEYS


# -- hotkeys a recording cannot be driven by (refused before anything opens) ----------------------
# A window recording (not --source synthetic, which starts at once) on the synthetic backends.
WINDOW = ["record", "--capture-backend", "synthetic", "--input-backend", "scripted",
          "--region", "0", "0", "64", "48", "--fps", "10", "--cue", "none"]


@pytest.mark.parametrize(("hotkeys", "flags", "needles"), [
    # Every hotkey disabled: it would wait "PAUSED (start)" and keep 0 frames.
    ('{toggle = "", resume = [], pause = []}', [],
     ["hotkeys of layout 'lay'", "no hotkey starts the recording",
      "hotkeys.toggle and hotkeys.resume are empty", "--start-immediately"]),
    # Only a chord resumes, and --no-chord-hotkeys drops it.
    ('{toggle = [], resume = ["ctrl+t"], pause = ["f7"]}', ["--no-chord-hotkeys"],
     ["(--no-chord-hotkeys dropped Ctrl+T)", "no hotkey starts the recording"]),
    ('{toggle = [], resume = "ctrl+r", pause = "ctrl+p"}', ["--no-chord-hotkeys"],
     ["dropped Ctrl+R / Ctrl+P", "no hotkey starts"]),
    # Started at once, but a pause key with nothing to end the pause.
    ('{toggle = [], resume = [], pause = ["f7"]}', ["--start-immediately"],
     ["hotkeys.pause (F7) has no way back", "give one of them a key"]),
])
def test_hotkeys_that_cannot_drive_a_recording_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], hotkeys: str, flags: list[str],
        needles: list[str]) -> None:
    layout = tmp_path / "lay.toml"
    layout.write_text(f'keys = ["w", "a", "s", "d"]\nhotkeys = {hotkeys}\n')
    # --wall-seconds 1: a regression records (or waits) for a second and exits 0, never hangs.
    run_cli(capsys, *WINDOW, "--status-interval", "0", "--wall-seconds", "1", *flags, "--layout",
            str(layout), "--out", str(tmp_path / "s")).one_line_error(2, *needles)
    assert not (tmp_path / "s").exists()  # refused before the session folder was made


def test_the_refusal_is_the_settings_and_names_it() -> None:
    off = KeyLayout(keys=("w",), name="off", hotkeys=Hotkeys(toggle=(), resume=(), pause=()))
    with pytest.raises(ConfigError, match="no hotkey starts the recording") as info:
        RecordConfig(out=Path("s"), layout=off)
    assert info.value.setting == "layout"
    # Started at once, no hotkey at all is fine: Ctrl+C, --seconds or --max-frames stop it.
    assert RecordConfig(out=Path("s"), layout=off, start_immediately=True).layout == off
    # Resume keys alone are fine too: started by F6, stopped by Ctrl+C.
    only = KeyLayout(keys=("w",), hotkeys=Hotkeys(toggle=(), pause=()))
    assert RecordConfig(out=Path("s"), layout=only).layout.hotkeys.resume == ("f6", "ctrl+t")
    # Default hotkeys without their chords still start and pause with F8 / F6 / F7.
    assert RecordConfig(out=Path("s"), chord_hotkeys=False).layout.hotkeys.toggle == ("f8",)


def test_a_paused_start_says_which_key_starts_it(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from nitrogen_capture.record.recorder import RecordStats
    from nitrogen_capture.record.status import format_status

    assert DEFAULT_HOTKEYS.start_hint() == "press F8 to start (or F6 / Ctrl+T)"
    home = Hotkeys(toggle=(), resume=("home",), pause=("end",))
    assert home.start_hint() == "press Home to start"
    stats = RecordStats(frames=0, ticks=3, elapsed_s=0.3, fps=0.0, missed_share=0.0,
                        dropped_ticks=0,
                        late_frames=0, queue_full_drops=0, queue_depth=0, chunk=0, paused=True,
                        focused=True, pause_reason="start")
    line = format_status(stats, home.start_hint())
    assert line.startswith("PAUSED (start): press Home to start ")
    focus = format_status(dataclasses.replace(stats, pause_reason="focus"), home.start_hint())
    assert focus.startswith("PAUSED (focus) ") and "press" not in focus  # not the start
    # The real command: the first line and each status line say it.
    layout = tmp_path / "home.toml"
    layout.write_text('keys = ["w"]\nhotkeys = {toggle = [], resume = "home", pause = "end"}\n')
    r = run_cli(capsys, *WINDOW, "--status-interval", "0.1", "--wall-seconds", "1",
                "--no-merge", "--layout", str(layout), "--out", str(tmp_path / "s"))
    assert r.code == 0, r.err
    lines = r.err.splitlines()
    assert lines[0].startswith("PAUSED (start): press Home to start in the game window"), r.err
    assert any(ln.startswith("PAUSED (start): press Home to start ") for ln in lines[1:]), r.err


# -- the router ----------------------------------------------------------------------------------
def test_router_uses_the_layouts_hotkeys_and_a_remapped_toggle() -> None:
    layout = KeyLayout(keys=("w", "f8"), hotkeys=Hotkeys(toggle=("f9",)))
    r = InputRouter(layout)
    assert r.hotkeys is layout.hotkeys
    tap(r, "f9", 0)
    tap(r, "f8", 10 * MS)  # no longer a hotkey: a plain key of this layout
    assert keys(r.drain()) == [(CONTROL, "toggle", 1), (KEY, "f8", 1), (KEY, "f8", 0)]


def test_disabled_chords_let_ctrl_t_through_as_plain_keys() -> None:
    r = InputRouter(DEFAULT_LAYOUT, hotkeys=DEFAULT_HOTKEYS.without_chords())
    r.push(E(0, KEY, "ctrl", 1))
    assert keys(r.drain()) == [(KEY, "ctrl", 1)]  # never held back without chords
    r.push(E(10 * MS, KEY, "t", 1))
    r.push(E(20 * MS, KEY, "t", 0))
    r.push(E(30 * MS, KEY, "ctrl", 0))
    tap(r, "f7", 40 * MS)  # the single keys still work
    assert keys(r.drain()) == [(KEY, "t", 1), (KEY, "t", 0), (KEY, "ctrl", 0),
                               (CONTROL, "pause", 1)]


def test_a_disabled_action_is_ignored_and_its_keys_are_plain() -> None:
    r = InputRouter(DEFAULT_LAYOUT, hotkeys=Hotkeys(pause=()))
    tap(r, "f7", 0)  # not a hotkey any more, not in the layout: dropped (privacy)
    r.push(E(10 * MS, KEY, "ctrl", 1))
    r.push(E(20 * MS, KEY, "p", 1))  # ctrl+p is plain input now
    r.push(E(30 * MS, KEY, "t", 1))  # ctrl+t still resumes
    out = keys(r.drain())
    assert out == [(KEY, "ctrl", 1), (KEY, "p", 1), (CONTROL, "resume", 1)]
    assert r.dropped_not_in_layout == 2


def test_everything_disabled_means_no_hotkeys() -> None:
    off = Hotkeys(toggle=(), resume=(), pause=())
    assert off.describe() == "no hotkeys"
    r = InputRouter(KeyLayout(keys=("f8", "ctrl", "t"), hotkeys=off))
    tap(r, "f8", 0)
    r.push(E(5 * MS, KEY, "ctrl", 1))
    r.push(E(6 * MS, KEY, "t", 1))
    assert [c for _, c, _ in keys(r.drain())] == ["f8", "f8", "ctrl", "t"]


def test_remapped_hotkey_keys_never_reach_the_stream() -> None:
    hot = Hotkeys(toggle=("home",), resume=("ctrl+r",), pause=("end",))
    layout = KeyLayout(keys=(*DEFAULT_LAYOUT.keys, "f8"), hotkeys=hot)
    r = InputRouter(layout)
    for i, code in enumerate(("home", "end")):
        tap(r, code, i * 10 * MS)
    r.push(E(30 * MS, KEY, "ctrl", 1))
    r.push(E(40 * MS, KEY, "r", 1))
    r.push(E(50 * MS, KEY, "r", 0))
    r.push(E(60 * MS, KEY, "ctrl", 0))
    assert keys(r.drain()) == [(CONTROL, "toggle", 1), (CONTROL, "pause", 1),
                               (CONTROL, "resume", 1)]
    assert r.dropped_not_in_layout == 0  # swallowed as hotkeys, not filtered


# -- a recording -----------------------------------------------------------------------------
def test_synthetic_record_with_a_remapped_toggle(tmp_path: Path) -> None:
    layout = KeyLayout(keys=("w", "f8"), name="fkeys", hotkeys=Hotkeys(toggle=("f9",)))
    timeline = [(150 * MS, KEY, "f9", 1.0), (160 * MS, KEY, "f9", 0.0),
                (250 * MS, KEY, "f8", 1.0), (300 * MS, KEY, "f8", 0.0)]
    out = tmp_path / "s"
    rec = synthetic_recorder(out, timeline=timeline, max_frames=24, start_immediately=False,
                             layout=layout)
    result = rec.run()
    assert_resumed_by(rec, result, 150 * MS)  # the pause lasts until the f9 press
    meta = json.loads((out / "meta.json").read_text())
    assert meta["layout"]["hotkeys"]["toggle"] == ["f9"]
    assert result.meta.counters.hotkeys == 1
    actions = np.concatenate([np.load(p) for p in sorted(out.glob("actions_chunk_*.npy"))])
    assert actions[:, layout.index("f8")].sum() > 0  # f8 is a recorded key now
    codes = {str(c) for p in sorted(out.glob("events_chunk_*.npy")) for c in np.load(p)["code"]}
    assert "f9" not in codes and "f8" in codes


def test_wall_seconds_run_out_while_paused(tmp_path: Path) -> None:
    # --wall-seconds is wall time: a recording still paused (never started, focus lost) when
    # it runs out stops then, with what it has, instead of waiting for a frame to stop on.
    rec = synthetic_recorder(tmp_path / "s", timeline=[], max_frames=0, max_seconds=5,
                             max_wall_seconds=0.5, start_immediately=False)
    t = time.monotonic()
    result = rec.run()
    assert time.monotonic() - t < 10
    assert result.frames == 0 and result.meta.stop_reason == "max wall seconds"
    pause = result.meta.pauses[0].to_json()
    assert pause["reason"] == "start" and pause["end_t_ns"] >= 0.45e9


def test_seconds_count_the_recording_not_its_pauses(tmp_path: Path) -> None:
    # --seconds 0.8 with a one-second hotkey pause (F7 ... F6) after 0.3 s: the recording goes
    # on after the pause until 0.8 s of it are recorded.
    timeline = [(300 * MS, KEY, "f7", 1.0), (310 * MS, KEY, "f7", 0.0),
                (1300 * MS, KEY, "f6", 1.0), (1310 * MS, KEY, "f6", 0.0)]
    out = tmp_path / "s"
    rec = synthetic_recorder(out, timeline=timeline, fps=30.0, max_frames=0, max_seconds=0.8,
                             max_wall_seconds=30)
    result = rec.run()
    assert result.meta.stop_reason == "max seconds"
    (pause,) = result.meta.pauses
    assert pause.reason == "hotkey" and pause.end_t_ns - pause.start_t_ns >= 0.9e9
    reader = SessionReader(out)
    times = np.concatenate([reader.chunk_arrays(c)["timestamps"]
                            for c in reader.included_chunks()])
    assert times[-1] > pause.end_t_ns  # the old wall-clock rule stopped inside the pause
    recorded = int(times[-1]) - (pause.end_t_ns - pause.start_t_ns)
    assert 0.8e9 <= recorded <= 0.8e9 + 0.5e9, recorded
