"""Flags and settings come from one place: every flag's default, dest and choices are its field's.

A flag whose default drifts from its settings field, a new flag without a field, a new field
without a flag, or a choice list typed by hand fails here.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from nitrogen_capture import cli
from nitrogen_capture.audio.base import AudioSettings
from nitrogen_capture.audio.features import AUDIO_FEATURES
from nitrogen_capture.audio.sources import AUDIO_BACKENDS
from nitrogen_capture.capture import BACKENDS as CAPTURE_BACKENDS
from nitrogen_capture.capture.base import Region
from nitrogen_capture.cli.record import SOURCES
from nitrogen_capture.codecs.encoders import ENCODER_NAMES
from nitrogen_capture.codecs.png import PNG_ENCODERS
from nitrogen_capture.codecs.video import X264_PRESETS
from nitrogen_capture.config import FRAME_FORMATS, RecordConfig, TargetSpec
from nitrogen_capture.cues import CUE_BACKENDS
from nitrogen_capture.encoderpool.priority import ENCODER_PRIORITIES
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.export import ACTION_SPACES
from nitrogen_capture.export.batch import BatchSettings
from nitrogen_capture.export.batch.engines import ENGINES
from nitrogen_capture.export.settings import (
    ACTION_SOURCE_CHOICES,
    EPISODE_PER,
    FORMATS,
    INPUT_SOURCES,
    OBS_DTYPES,
    STATES,
    ConvertSettings,
)
from nitrogen_capture.indicator import INDICATOR_BACKENDS
from nitrogen_capture.inputs import BACKENDS as INPUT_BACKENDS
from nitrogen_capture.inputs._live import GAMEPAD_BACKENDS
from nitrogen_capture.session.meta_parts import CONTROLLERS

# Flags of a command that fill no settings field (dest -> why).
COMMON = {"help", "debug", "verbose"}
AUDIO_FLAGS = {"audio", "audio_source", "audio_backend", "audio_rate", "audio_channels"}
RECORD_ONLY = COMMON | {"debug_list_windows", "source", "layout_file", "latency_profile_file",
                        "check", "check_seconds", "adapt", "out_dir", "episodes",
                        "episode_seconds", "reset_seconds", "task", "tasks_file",
                        *AUDIO_FLAGS}
# (--audio turns RecordConfig.audio on; the --audio-* flags fill its AudioSettings, tested below.)
# (--check records nothing; --adapt sets fps from the preflight's measurement; a collection
# run's flags are cli.episodes.RunSettings, checked there.)
CONVERT_ONLY = COMMON | {"no_progress"}
# Fields a flag cannot fill directly: `target` is built from its own flags, `layout` is read from
# the --layout file (dest layout_file), `latency` from the --latency-profile file.
RECORD_UNFLAGGED = {"target", "layout", "latency", "audio"}
# `more_roots` is filled by --root given again, `img_size_set` by --img-size being given,
# `frame_size` by a lerobot batch (the size it fixes for every part).
CONVERT_UNFLAGGED = {"more_roots", "img_size_set", "action_shift_set", "frame_size"}


def sub(command: str) -> argparse.ArgumentParser:
    return cli.subcommand_parser(cli.build_parser(), command)


def fields_of(*classes: type[Any]) -> dict[str, tuple[type[Any], dataclasses.Field[Any]]]:
    return {f.name: (cls, f) for cls in classes for f in dataclasses.fields(cls)}


def check_defaults(parser: argparse.ArgumentParser, classes: tuple[type[Any], ...],
                   cli_only: set[str]) -> set[str]:
    """Assert every settings flag defaults to its field; return the fields that have a flag."""
    fields = fields_of(*classes)
    flagged = set()
    for action in parser._actions:
        if action.dest in cli_only:
            continue
        assert action.dest in fields, f"{action.option_strings} fills no settings field"
        cls, f = fields[action.dest]
        flagged.add(action.dest)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert action.default is None  # a required setting: the command checks it
            continue
        assert action.default == cli.field_default(cls, action.dest), (
            f"{action.option_strings[0]} defaults to {action.default!r}, "
            f"{cls.__name__}.{action.dest} to {cli.field_default(cls, action.dest)!r}")
        assert type(action.default) is type(cli.field_default(cls, action.dest))
    return flagged


def test_every_record_flag_defaults_to_its_field() -> None:
    flagged = check_defaults(sub("record"), (RecordConfig, TargetSpec), RECORD_ONLY)
    every = set(fields_of(RecordConfig, TargetSpec)) - RECORD_UNFLAGGED
    assert flagged == every, f"fields without a flag: {sorted(every - flagged)}"


def test_every_audio_flag_defaults_to_its_field() -> None:
    parser = sub("record")
    actions = {a.dest: a for a in parser._actions if a.dest.startswith("audio_")}
    assert {f"audio_{f.name}" for f in dataclasses.fields(AudioSettings)} - {"audio_block_ms"} \
        == set(actions)
    for dest, action in actions.items():
        assert action.default == getattr(AudioSettings(), dest.removeprefix("audio_"))
    assert parser.parse_args(["--out", "x"]).audio is False  # off unless asked for


def test_every_convert_flag_defaults_to_its_field() -> None:
    flagged = check_defaults(sub("convert"), (ConvertSettings, BatchSettings), CONVERT_ONLY)
    # BatchSettings.convert is the ConvertSettings; its roots are --root (ConvertSettings.root).
    assert flagged == (set(fields_of(ConvertSettings, BatchSettings)) - {"convert", "roots"}
                       - CONVERT_UNFLAGGED)


@pytest.mark.parametrize(("command", "table"), [
    ("record", {"frame_format": FRAME_FORMATS, "png_encoder": PNG_ENCODERS,
                "video_preset": X264_PRESETS, "video_encoder": ENCODER_NAMES,
                "gamepad_backend": GAMEPAD_BACKENDS,
                "capture_backend": CAPTURE_BACKENDS, "input_backend": INPUT_BACKENDS,
                "source": SOURCES, "controller": CONTROLLERS, "cue": CUE_BACKENDS,
                "encoder_priority": ENCODER_PRIORITIES, "indicator": INDICATOR_BACKENDS,
                "audio_backend": AUDIO_BACKENDS}),
    ("convert", {"action_space": ACTION_SPACES, "obs_dtype": OBS_DTYPES,
                 "input_source": INPUT_SOURCES, "format": FORMATS,
                 "episode_per": EPISODE_PER, "state": STATES, "engine": ENGINES,
                 "action_source": ACTION_SOURCE_CHOICES, "audio_features": AUDIO_FEATURES}),
])
def test_choices_are_the_constants(command: str, table: dict[str, tuple[str, ...]]) -> None:
    choices = {a.dest: a.choices for a in sub(command)._actions if a.choices is not None}
    assert set(choices) == set(table), "a flag with choices is missing from this table"
    for dest, constant in table.items():
        assert choices[dest] is constant, f"{dest}: choices typed by hand, not the constant"


def test_original_flags_keep_their_original_defaults() -> None:
    rec = cli.build_parser().parse_args(["record"])
    assert (rec.fps, rec.chunk_size, rec.max_frames, rec.status_interval) == (30, 500, 0, 1.0)
    assert (rec.skip_late, rec.start_immediately, rec.debug_list_windows) == (False,) * 3
    assert (rec.out, rec.process_name, rec.window_title, rec.region, rec.monitor) == (None,) * 5
    conv = cli.build_parser().parse_args(["convert", "--root", "r", "--out", "o.pt"])
    # --root repeats (a batch, or --format lerobot's episodes): the parsed value is a list.
    assert (conv.root, conv.out) == ([Path("r")], Path("o.pt"))
    assert (conv.img_size, conv.seq_len, conv.mouse_scale, conv.mouse_clip) == (256, 16, 300, 1.0)


def test_settled_defaults_and_merge_switch() -> None:
    rec = cli.build_parser().parse_args(["record"])
    assert rec.queue_frames == RecordConfig(out=Path("s")).queue_frames == 64
    assert rec.merge is True
    assert cli.build_parser().parse_args(["record", "--no-merge"]).merge is False


def test_reexports_are_the_same_objects() -> None:
    from nitrogen_capture import export
    from nitrogen_capture.export import settings, source

    for name in ("ConvertSettings", "FORMATS", "INPUT_SOURCES", "OBS_DTYPES"):
        assert getattr(source, name) is getattr(settings, name) is getattr(export, name), name


@pytest.mark.parametrize(("build", "setting"), [
    (lambda: RecordConfig(out=Path("s"), fps=0), "fps"),
    (lambda: RecordConfig(out=Path("s"), chunk_size=0), "chunk_size"),
    (lambda: RecordConfig(out=Path("s"), max_seconds=-1), "max_seconds"),
    (lambda: RecordConfig(out=Path("s"), queue_frames=0), "queue_frames"),
    (lambda: RecordConfig(out=Path("s"), frame_format="gif"), "frame_format"),
    (lambda: RecordConfig(out=Path("s"), status_interval=-1), "status_interval"),
    (lambda: TargetSpec(wait_s=-1), "wait_s"),
    (lambda: TargetSpec(pid=0), "pid"),
    (lambda: TargetSpec(monitor=-1), "monitor"),
    (lambda: TargetSpec(process_name="game", region=Region(0, 0, 8, 8)), "region"),
    # Non-finite and huge values (the bounds: nitrogen_capture.bounds and config.py).
    (lambda: RecordConfig(out=Path("s"), fps=float("nan")), "fps"),
    (lambda: RecordConfig(out=Path("s"), fps=1e-300), "fps"),
    (lambda: RecordConfig(out=Path("s"), chunk_size=10**30), "chunk_size"),
    (lambda: RecordConfig(out=Path("s"), max_frames=10**30), "max_frames"),
    (lambda: RecordConfig(out=Path("s"), max_seconds=float("nan")), "max_seconds"),
    (lambda: RecordConfig(out=Path("s"), queue_frames=10**9), "queue_frames"),
    (lambda: RecordConfig(out=Path("s"), status_interval=float("inf")), "status_interval"),
    (lambda: RecordConfig(out=Path("s"), seed=-1), "seed"),
    (lambda: RecordConfig(out=""), "out"),  # type: ignore[arg-type]
    (lambda: TargetSpec(wait_s=float("nan")), "wait_s"),
    (lambda: TargetSpec(pid=2**40), "pid"),
    (lambda: TargetSpec(monitor=10**30), "monitor"),
    (lambda: TargetSpec(region=Region(0, 0, 100_000, 100_000)), "region"),
])
def test_record_errors_name_the_setting_and_its_flag(build: Any, setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.setting == setting
    flag = cli.setting_flag(sub("record"), setting)
    assert flag is not None and flag in str(info.value), (flag, str(info.value))


@pytest.mark.parametrize(("kw", "setting"), [
    ({"img_size": 4}, "img_size"), ({"seq_len": 0}, "seq_len"), ({"mouse_scale": 0}, "mouse_scale"),
    ({"mouse_clip": 2.0}, "mouse_clip"), ({"action_hz": 0.0}, "action_hz"),
    ({"workers": 0}, "workers"), ({"obs_dtype": "f16"}, "obs_dtype"), ({"format": "zip"}, "format"),
    ({"seq_len": 10**30}, "seq_len"), ({"action_shift": 10**30}, "action_shift"),
    ({"action_hz": 1e-12}, "action_hz"), ({"mouse_scale": float("inf")}, "mouse_scale"),
    ({"mouse_clip": float("nan")}, "mouse_clip"), ({"shard_frames": 10**30}, "shard_frames"),
    ({"img_size": 10**30}, "img_size"), ({"out": Path("o.npz")}, "out"),
    ({"out": Path("d.pt"), "format": "nitrogen-dataset"}, "out"), ({"root": ""}, "root"),
])
def test_convert_errors_name_the_setting_and_its_flag(kw: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        ConvertSettings(**{"root": Path("r"), "out": Path("o.pt"), **kw})
    assert info.value.setting == setting
    flag = cli.setting_flag(sub("convert"), setting)
    assert flag is not None and flag in str(info.value), (flag, str(info.value))


def test_cli_names_the_flag_of_a_setting() -> None:
    parser = cli.build_parser()

    def message(exc: ConfigError) -> str:
        return cli._config_message(parser, "record", exc)

    assert message(ConfigError("--wait must be >= 0", setting="wait_s")) == "--wait must be >= 0"
    assert message(ConfigError("must be >= 0", setting="max_seconds")) == "--seconds: must be >= 0"
    assert message(ConfigError("plain")) == "plain"


def test_target_rule_is_the_settings_rule(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # Window fields narrow each other (resolve_target matches all); a region excludes them.
    both = TargetSpec(process_name="game", window_title="Game", pid=5)
    assert both.is_window and not TargetSpec(region=Region(0, 0, 8, 8)).is_window
    rc = cli.main(["record", "--window-title", "Game", "--region", "0", "0", "8", "8",
                   "--out", str(tmp_path / "s")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err == ("nitrogen-capture record: error: give a window (--process-name, "
                   "--window-title, --pid) or --region, not both: got --window-title and "
                   "--region")
    assert not (tmp_path / "s").exists()
