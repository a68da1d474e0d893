"""Session labels: meta.json ``labels``, ``record --game/--notes/--controller``, ``label``, and
what validate, preview and the exporters make of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_run import run_cli
from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.errors import ConfigError, SessionFormatError
from nitrogen_capture.export import ConvertSettings, convert
from nitrogen_capture.record import base_meta
from nitrogen_capture.session import merge_session
from nitrogen_capture.session.frames import FrameFormat
from nitrogen_capture.session.lock import LockHolder
from nitrogen_capture.session.meta import Labels, SessionMeta
from nitrogen_capture.session.meta_parts import default_game
from nitrogen_capture.session.validate import validate_session
from nitrogen_capture.targets.base import FixedRegionTarget, Target
from session_factory import make_session


def set_labels(root: Path, labels: dict[str, Any] | None) -> None:
    path = root / "meta.json"
    meta = json.loads(path.read_text())
    if labels is None:
        meta.pop("labels", None)
    else:
        meta["labels"] = labels
    path.write_text(json.dumps(meta))


# -- meta.json ------------------------------------------------------------------------------------


def test_labels_round_trip_through_meta_json(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (3,))
    set_labels(b.root, {"game": "Celeste", "notes": "chapter 1\nno deaths", "controller": "ps"})
    meta = SessionMeta.load(b.paths.meta)
    assert meta.labels == Labels("Celeste", "chapter 1\nno deaths", "ps")
    meta.save(b.paths.meta)
    assert json.loads(b.paths.meta.read_text())["labels"] == {
        "game": "Celeste", "notes": "chapter 1\nno deaths", "controller": "ps", "task": "",
        "outcome": None, "tags": []}
    assert meta.labels.describe() == "game Celeste, controller ps; notes: chapter 1 no deaths"


def test_task_outcome_and_tags_round_trip_and_are_checked(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (3,))
    set_labels(b.root, {"game": "Celeste", "task": "reach the flag", "outcome": "failure",
                        "tags": ["night", "chapter-1", "night"]})
    meta = SessionMeta.load(b.paths.meta)
    assert meta.labels == Labels("Celeste", task="reach the flag", outcome="failure",
                                 tags=("chapter-1", "night"))
    assert meta.labels.describe() == ("game Celeste, controller keyboard; task: reach the flag; "
                                      "outcome failure; tags chapter-1,night")
    for bad, field in (({"outcome": "won"}, "outcome"), ({"tags": ["a,b"]}, "tags"),
                       ({"tags": [" x"]}, "tags"), ({"task": "x" * 1001}, "task")):
        set_labels(b.root, {"game": "Celeste", **bad})
        with pytest.raises(SessionFormatError, match=f"labels.{field}"):
            SessionMeta.load(b.paths.meta)


@pytest.mark.parametrize(("labels", "field"), [
    ({"controller": "joystick"}, "labels.controller"),
    ({"game": ""}, "labels.game"),
    ({"game": "x" * 201}, "labels.game"),
    ({"notes": 5}, "labels.notes"),
    ({"notes": "n" * 4001}, "labels.notes"),
])
def test_bad_labels_are_refused_naming_the_field(tmp_path: Path, labels: dict[str, Any],
                                                 field: str) -> None:
    b = make_session(tmp_path / "s", (3,))
    set_labels(b.root, labels)
    with pytest.raises(SessionFormatError, match=f"field '{field}'"):
        SessionMeta.load(b.paths.meta)


def test_a_session_without_labels_gets_the_recording_defaults(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (3,), gamepad=True)
    meta = SessionMeta.load(b.paths.meta)
    assert meta.labels is None and "labels" not in meta.to_json()
    assert meta.effective_labels == Labels(None, "", "xbox")
    meta.target = {"kind": "window", "process": "Hollow Knight.exe"}
    assert meta.effective_labels.game == "Hollow Knight"


@pytest.mark.parametrize(("process", "game"), [
    ("Game.exe", "Game"), ("GAME.EXE", "GAME"), ("python3", "python3"),
    ("python3.12", "python3.12"), ("celeste.x86_64", "celeste"), ("", None), (None, None),
])
def test_default_game_is_the_executable_without_extension(process: str | None,
                                                          game: str | None) -> None:
    assert default_game({"kind": "window", "process": process}) == game
    assert default_game({"kind": "region", "region": [0, 0, 1, 1]}) is None


class _Window(FixedRegionTarget):
    def describe(self) -> dict[str, Any]:
        return {"kind": "window", "process": "Game.exe", "region": [0, 0, 8, 8]}


@pytest.mark.parametrize(("kw", "target", "want"), [
    ({}, FixedRegionTarget(Region(0, 0, 8, 8)), Labels(None, "", "keyboard")),
    ({"gamepad": True}, _Window(Region(0, 0, 8, 8)), Labels("Game", "", "xbox")),
    ({"gamepad": True, "controller": "ps", "game": "Other", "notes": "n"},
     _Window(Region(0, 0, 8, 8)), Labels("Other", "n", "ps")),
])
def test_record_defaults(tmp_path: Path, kw: dict[str, Any], target: Target,
                         want: Labels) -> None:
    meta = base_meta(RecordConfig(out=tmp_path / "s", **kw), target, "synthetic", {},
                     FrameFormat())
    assert meta.labels == want


@pytest.mark.parametrize(("kw", "setting"), [
    ({"game": " "}, "game"), ({"notes": "n" * 4001}, "notes"), ({"controller": "wii"},
                                                                "controller")])
def test_record_config_checks_labels(tmp_path: Path, kw: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        RecordConfig(out=tmp_path / "s", **kw)
    assert info.value.setting == setting


@pytest.mark.slow
def test_record_flags_store_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    synth = ["record", "--source", "synthetic", "--region", "0", "0", "64", "48",
             "--status-interval", "0", "--max-frames", "6", "--fps", "30"]
    run = run_cli(capsys, *synth, "--out", str(tmp_path / "a"), "--game", "Celeste",
                  "--notes", "first try", "--controller", "ps")
    assert run.code == 0, run.err
    assert SessionMeta.load(tmp_path / "a" / "meta.json").labels == Labels(
        "Celeste", "first try", "ps")
    assert run_cli(capsys, *synth, "--out", str(tmp_path / "b")).code == 0
    # A region (here the synthetic source) has no process: the game stays unset.
    assert SessionMeta.load(tmp_path / "b" / "meta.json").labels == Labels(None, "", "keyboard")
    run_cli(capsys, *synth, "--out", str(tmp_path / "c"), "--controller", "wii"
            ).one_line_error(2, "--controller")


# -- the label command ----------------------------------------------------------------------------


def test_label_prints_and_edits_atomically(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (3,), merge=True)
    before = json.loads(b.paths.meta.read_text())
    run = run_cli(capsys, "label", "--root", str(b.root))
    assert run.code == 0 and run.out.startswith("game (unknown), controller keyboard (not stored")
    run = run_cli(capsys, "label", "--root", str(b.root), "--game", "Celeste", "--notes", "1-A")
    assert run.code == 0, run.err
    after = json.loads(b.paths.meta.read_text())
    assert after.pop("labels") == {"game": "Celeste", "notes": "1-A", "controller": "keyboard",
                                   "task": "", "outcome": None, "tags": []}
    assert after == before  # nothing else changed
    run_cli(capsys, "label", "--root", str(b.root), "--controller", "xbox")
    assert SessionMeta.load(b.paths.meta).labels == Labels("Celeste", "1-A", "xbox")
    assert not b.paths.lock.exists()  # released
    assert [p.name for p in b.root.iterdir() if p.name.startswith(".")] == []  # no temp left
    run = run_cli(capsys, "label", "--root", str(b.root))
    assert run.out.strip() == "game Celeste, controller xbox; notes: 1-A"
    merge_session(b.root)  # merge (like repair) rewrites meta.json and keeps the labels
    assert SessionMeta.load(b.paths.meta).labels == Labels("Celeste", "1-A", "xbox")


def test_label_refuses_a_locked_session(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (3,), open_last=True)
    b.paths.lock.write_bytes(LockHolder.current("record").to_bytes())  # a live recorder (us)
    before = b.paths.meta.read_bytes()
    run_cli(capsys, "label", "--root", str(b.root), "--game", "X").one_line_error(
        1, "being recorded")
    assert b.paths.meta.read_bytes() == before


def test_label_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (3,))
    run_cli(capsys, "label", "--root", str(b.root), "--controller", "wii").one_line_error(2)
    run_cli(capsys, "label", "--root", str(b.root), "--game", "").one_line_error(2, "--game")
    run_cli(capsys, "label", "--root", str(tmp_path / "nope")).one_line_error(
        1, "not a directory")
    run_cli(capsys, "label", "--root", str(tmp_path), "--game", "X").one_line_error(
        1, "no meta.json")
    assert not (tmp_path / "session.lock").exists()


def test_label_task_outcome_and_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (3,))
    run = run_cli(capsys, "label", "--root", str(b.root), "--task", "Reach the flag", "--outcome",
                  "success", "--tag", "night", "--tag", "pro")
    assert run.code == 0, run.err
    assert SessionMeta.load(b.paths.meta).labels == Labels(
        None, "", "keyboard", "Reach the flag", "success", ("night", "pro"))
    run = run_cli(capsys, "label", "--root", str(b.root), "--untag", "pro", "--untag", "absent",
                  "--tag", "day", "--outcome", "none")
    assert run.code == 0, run.err
    assert run.out.strip() == (f"{b.root}: game (unknown), controller keyboard; task: Reach the "
                               "flag; tags day,night")
    run_cli(capsys, "label", "--root", str(b.root), "--task", "", "--outcome", "discarded")
    labels = SessionMeta.load(b.paths.meta).labels
    assert labels is not None and labels.task == "" and labels.discarded


def test_label_many_sessions_goes_on_past_a_locked_and_a_damaged_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = [make_session(tmp_path / name, (3,)) for name in ("a", "b", "c")]
    locked = make_session(tmp_path / "locked", (3,), open_last=True)
    locked.paths.lock.write_bytes(LockHolder.current("record").to_bytes())  # a live recorder
    damaged = make_session(tmp_path / "damaged", (3,))
    damaged.paths.meta.write_text("{broken")
    before = locked.paths.meta.read_bytes()
    run = run_cli(capsys, "label", "--root", str(good[0].root), str(locked.root),
                  str(good[1].root), "--root", str(damaged.root), "--task", "Beat the boss",
                  "--tag", "batch", "--root", str(good[2].root))  # --root A B, --root C
    assert run.code == 1
    errors = run.err.splitlines()
    assert len(errors) == 3 and "Traceback" not in run.err
    assert any(str(locked.root) in e and "being recorded" in e for e in errors[:2])
    assert any(str(damaged.root) in e and "not valid JSON" in e for e in errors[:2])
    assert errors[2].endswith("2 of 5 session(s) not labelled")
    for b in good:
        labels = SessionMeta.load(b.paths.meta).labels
        assert labels is not None and (labels.task, labels.tags) == ("Beat the boss", ("batch",))
        assert f"{b.root}: game (unknown)" in run.out
        assert not b.paths.lock.exists()
    assert locked.paths.meta.read_bytes() == before
    assert damaged.paths.meta.read_text() == "{broken"
    # Without options, many sessions: each one's labels, prefixed by its path.
    run = run_cli(capsys, "label", "--root", str(good[0].root), str(good[1].root))
    assert run.code == 0 and run.out.splitlines()[1].startswith(f"{good[1].root}: game")


@pytest.mark.parametrize(("flags", "needle"), [
    (["--outcome", "won"], "--outcome"), (["--tag", "a,b"], "--tag"),
    (["--untag", " x"], "--tag"), (["--task", "t" * 1001], "--task"),
    (["--tag", "\udcff"], "UTF-8"), ([], "--root"),
])
def test_label_bad_options_touch_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         flags: list[str], needle: str) -> None:
    b = make_session(tmp_path / "s", (3,))
    before = b.paths.meta.read_bytes()
    roots = ["--root", str(b.root)] if flags else []
    run_cli(capsys, "label", *roots, *flags).one_line_error(2, needle)
    assert b.paths.meta.read_bytes() == before


def test_label_refuses_more_tags_than_allowed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (3,))
    set_labels(b.root, {"tags": [f"t{i}" for i in range(32)]})
    run_cli(capsys, "label", "--root", str(b.root), "--tag", "one-more").one_line_error(
        1, "33 tags")
    run = run_cli(capsys, "label", "--root", str(b.root), "--tag", "one-more", "--untag", "t0")
    assert run.code == 0, run.err


# -- validate, preview, exporters -----------------------------------------------------------------


def test_validate_shows_the_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (3,), merge=True)
    set_labels(b.root, {"game": "Celeste", "notes": "1-A", "controller": "ps"})
    run = run_cli(capsys, "validate", "--root", str(b.root), "--no-frames")
    assert "  game Celeste, controller ps; notes: 1-A\n" in run.out
    assert validate_session(b.root).stats["labels"]["game"] == "Celeste"


def test_dataset_metadata_carries_game_and_controller(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    b = make_session(tmp_path / "s", (40,))
    set_labels(b.root, {"game": "Celeste", "notes": "", "controller": "ps"})

    def metadata(out: Path, **kw: Any) -> dict[str, Any]:
        convert(ConvertSettings(root=b.root, out=out, format="nitrogen-dataset", video=False,
                                **kw))
        path = next(out.rglob("metadata.json"))
        return dict(json.loads(path.read_text()))

    meta = metadata(tmp_path / "ds1")
    assert (meta["game"], meta["controller_type"]) == ("Celeste", "playstation")
    assert metadata(tmp_path / "ds2", game="Override")["game"] == "Override"  # --game wins
    set_labels(b.root, None)  # an older session: the session name, keyboard_mouse
    meta = metadata(tmp_path / "ds3")
    assert (meta["game"], meta["controller_type"]) == ("s", "keyboard_mouse")


def test_pt_meta_source_carries_the_labels(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    b = make_session(tmp_path / "s", (20,))
    set_labels(b.root, {"game": "Celeste", "notes": "1-A", "controller": "xbox"})
    convert(ConvertSettings(root=b.root, out=tmp_path / "o.pt", seq_len=4, img_size=8))
    source = torch.load(tmp_path / "o.pt", weights_only=True)["meta"]["source"]
    assert (source["game"], source["notes"], source["controller"]) == ("Celeste", "1-A", "xbox")


def test_preview_title_names_the_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture import preview
    from nitrogen_capture.preview import timing

    b = make_session(tmp_path / "s", (20,))
    set_labels(b.root, {"game": "Celeste", "notes": "n" * 300, "controller": "ps"})
    titles: list[str] = []
    real = timing.text

    def spy(img: Any, line: str, *a: Any, **kw: Any) -> None:
        titles.append(line)
        real(img, line, *a, **kw)

    monkeypatch.setattr(timing, "text", spy)
    preview.write_preview(b.root, tmp_path / "p", video=False)
    assert titles[0].startswith("s: game Celeste, controller ps; notes: nnn")
    assert len(titles[0]) == 110 and titles[0].endswith("...")
