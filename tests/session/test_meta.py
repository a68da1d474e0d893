"""meta.json as typed dataclasses: the documented example, round trips, and damaged fields."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from nitrogen_capture.cli import main
from nitrogen_capture.errors import SchemaVersionError, SessionFormatError
from nitrogen_capture.session import SessionReader, merge_session, validate_session
from nitrogen_capture.session.meta import ChunkEntry, SessionMeta
from session_factory import make_session

DOCS = Path(__file__).resolve().parents[2] / "docs" / "format.md"


def documented_example() -> dict[str, Any]:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## meta.json"):]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block is not None, "docs/format.md lost its meta.json example"
    return dict(json.loads(block.group(1)))


def test_documented_example_parses_and_round_trips() -> None:
    doc = documented_example()
    meta = SessionMeta.from_json(doc)
    assert meta.status == "complete" and meta.fps_target == 60.0
    assert meta.chunks[0].files["frames"] == "frames/chunk_001"
    assert meta.pauses[0].end_tick == 1500 and meta.counters.events == 5120
    assert meta.merged is not None and meta.merged.chunks == (1,)
    assert meta.to_json() == doc  # every documented field is known and written back the same


def test_unknown_keys_survive_a_repair_or_merge(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (4, 4, 1))
    raw = json.loads(b.paths.meta.read_text())
    raw["written_by_a_newer_tool"] = {"game": "Game", "notes": ["kept"]}
    b.paths.meta.write_text(json.dumps(raw))
    merge_session(b.root)
    after = json.loads(b.paths.meta.read_text())
    assert after["written_by_a_newer_tool"] == {"game": "Game", "notes": ["kept"]}
    assert after["merged"]["frames"] == 9


def test_chunk_entry_builder_is_shared_shape() -> None:
    entry = ChunkEntry.build(3, 10, [7, 8, 10], [100, 200, 400], region=[0, 0, 32, 16],
                             size=(32, 16), held_at_start=["w", "a"],
                             files={"actions": "actions_chunk_003.npy"})
    assert (entry.num_frames, entry.first_frame_index, entry.last_frame_index) == (3, 7, 10)
    assert entry.held_at_start == ("a", "w") and entry.size == (32, 16)
    assert ChunkEntry.from_json.__qualname__.startswith("ChunkEntry")
    again = SessionMeta.from_json({"schema_version": 1, "layout": ["w"],
                                   "chunks": [entry.to_json()]}).chunks[0]
    assert again == entry


BAD_FIELDS = [
    (lambda m: m["chunks"][0].__setitem__("num_frames", -5), "chunks[0].num_frames"),
    (lambda m: m["chunks"][0].__setitem__("num_frames", True), "chunks[0].num_frames"),
    (lambda m: m["chunks"][0]["files"].__setitem__("actions", "../../etc/passwd"),
     "chunks[0].files.actions"),
    (lambda m: m["chunks"][0]["files"].__setitem__("frames", "/tmp/elsewhere"),
     "chunks[0].files.frames"),
    (lambda m: m["chunks"][0].__setitem__("size", [320, "240"]), "chunks[0].size"),
    (lambda m: m["chunks"][1].__setitem__("index", m["chunks"][0]["index"]), "chunks"),
    (lambda m: m["fps"].__setitem__("target", float("nan")), "fps.target"),
    (lambda m: m["frame_format"].__setitem__("ext", "../mkv"), "frame_format.ext"),
    (lambda m: m.__setitem__("status", "hacked"), "status"),
    (lambda m: m.__setitem__("pauses", [{"start_tick": 10, "end_tick": 2}]), "pauses[0].end_tick"),
    (lambda m: m.__setitem__("chunks", {"1": {}}), "chunks"),
    (lambda m: m.__setitem__("layout", {"keys": ["w", "w"]}), "layout"),
]


@pytest.mark.parametrize(("damage", "field"), BAD_FIELDS, ids=[f for _, f in BAD_FIELDS])
def test_damaged_field_is_refused_with_one_line_naming_it(tmp_path: Path, damage: Any,
                                                          field: str, capsys: Any) -> None:
    b = make_session(tmp_path / "s", (4, 4, 1))
    raw = json.loads(b.paths.meta.read_text())
    bad = copy.deepcopy(raw)
    damage(bad)
    b.paths.meta.write_text(json.dumps(bad))
    before = {p: p.read_bytes() for p in b.root.rglob("*") if p.is_file()}
    with pytest.raises(SessionFormatError) as info:
        SessionReader(b.root)
    assert info.value.field == field and f"'{field}'" in str(info.value)
    assert "\n" not in str(info.value)
    assert main(["validate", "--root", str(b.root)]) == 1
    assert main(["merge", "--root", str(b.root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert all(field in line for line in err) and "Traceback" not in "".join(err)
    after = {p: p.read_bytes() for p in b.root.rglob("*") if p.is_file()}
    assert after == before  # a refused session is never changed


def test_newer_schema_and_non_json(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (5,))
    raw = json.loads(b.paths.meta.read_text())
    b.paths.meta.write_text(json.dumps({**raw, "schema_version": 2}))
    with pytest.raises(SchemaVersionError, match="upgrade nitrogen-capture"):
        SessionReader(b.root)
    b.paths.meta.write_text("{not json")
    with pytest.raises(SessionFormatError, match="not valid JSON"):
        SessionReader(b.root)
    assert not validate_session(b.root).ok


def test_encoder_settings_round_trip_and_older_sessions_load() -> None:
    from nitrogen_capture.session._check import JsonObject
    from nitrogen_capture.session.meta_parts import EncoderInfo

    settings = {"encoder": "h264_nvenc", "codec": "h264", "pix_fmt": "yuv420p",
                "options": {"rc": "vbr", "cq": "18", "b": "0", "preset": "p1"}}
    info = EncoderInfo("h264_nvenc", 1, 64, settings=settings)
    back = EncoderInfo.from_json(JsonObject(info.to_json(), "encoder", "meta.json"))
    assert back == info and back.settings["options"]["preset"] == "p1"
    old = {"name": "libx264", "workers": 1, "slots": 64, "bytes_written": 5, "errors": []}
    assert EncoderInfo.from_json(JsonObject(old, "encoder", "meta.json")).settings == {}
    odd = {**old, "settings": ["not", "an", "object"]}
    assert EncoderInfo.from_json(JsonObject(odd, "encoder", "meta.json")).settings == {}
