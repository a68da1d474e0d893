"""The journal's records (session/journal.py): the bytes the writer wrote before they were typed,
read back to the same record, and one rule each for "is this a session" and the merge advice."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from nitrogen_capture.events import InputEvent
from nitrogen_capture.session.journal import (
    BadLine,
    ChunkRecord,
    EventRecord,
    FrameRecord,
    JournalRecord,
    PauseRecord,
    ResumeRecord,
    StateRecord,
    decode,
    load_line,
)
from nitrogen_capture.session.paths import is_session, run_merge

# Each record beside the dict the writer serialised before the records existed (key order is
# part of the format: a journal written by this version is byte-identical to an older one's).
CASES: list[tuple[JournalRecord, dict[str, Any]]] = [
    (ChunkRecord(3, 20, [0, 0, 16, 12], [16, 12]),
     {"kind": "chunk", "chunk": 3, "first_row": 20, "region": [0, 0, 16, 12], "size": [16, 12]}),
    (StateRecord(["w", "lmb"]), {"kind": "state", "held": ["w", "lmb"]}),
    (FrameRecord(4, 150, 5_000_000_020),
     {"kind": "frame", "row": 4, "index": 150, "t": 5_000_000_020}),
    (EventRecord(InputEvent(5_000_000_025, "mouse", "dx", -3.5)),
     {"kind": "event", "t": 5_000_000_025, "device": "mouse", "code": "dx", "value": -3.5}),
    (PauseRecord(5_000_000_031, 152, "hotkey"),
     {"kind": "pause", "start_t": 5_000_000_031, "start_tick": 152, "reason": "hotkey"}),
    (ResumeRecord(5_000_000_040, 160), {"kind": "resume", "end_t": 5_000_000_040, "end_tick": 160}),
]


@pytest.mark.parametrize("record, old", CASES, ids=[type(r).__name__ for r, _ in CASES])
def test_records_write_the_old_bytes_and_read_back(record: JournalRecord,
                                                   old: dict[str, Any]) -> None:
    line = record.line()
    assert line == json.dumps(old, separators=(",", ":")) + "\n"
    assert decode(load_line(line.rstrip("\n").encode())) == record


def test_bad_lines_are_refused_and_unknown_kinds_skipped() -> None:
    for raw in (b'{"kind":"frame","row":-1,"index":1,"t":2}',
                b'{"kind":"event","t":1,"device":"key","code":"a","value":NaN}',
                b'{"kind":"state","held":[1]}', b"[" * 9 + b"]" * 9):
        with pytest.raises((BadLine, KeyError, TypeError)):
            decode(load_line(raw))
    assert decode(load_line(b'{"kind":"audio","t":1}')) is None
    # A chunk line is a hint: what it lacks is None, never a bad line.
    assert decode(load_line(b'{"kind":"chunk","region":[1,2]}')) == ChunkRecord(
        None, None, None, None)


def test_is_session_is_a_meta_json_of_any_kind(tmp_path: Path) -> None:
    assert not is_session(tmp_path)
    assert not is_session(tmp_path / "missing")
    (tmp_path / "d" / "meta.json").mkdir(parents=True)  # a damaged session is a session
    assert is_session(tmp_path / "d")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "meta.json").write_text("{}")
    assert is_session(tmp_path / "f")
    assert not is_session(tmp_path / "f" / "meta.json")  # (a file is no folder)
    if sys.platform != "win32":
        (tmp_path / "p").mkdir()
        os.mkfifo(tmp_path / "p" / "meta.json")
        assert is_session(tmp_path / "p")


def test_merge_advice_is_one_spelling(tmp_path: Path) -> None:
    assert run_merge() == "run merge"
    assert run_merge(tmp_path / "s") == f"run `nitrogen-capture merge --root {tmp_path / 's'}`"
