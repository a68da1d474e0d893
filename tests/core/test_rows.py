"""Input devices and the per-frame arrays are declared once (``nitrogen_capture.rows``).

A real recording's files match the declaration, the modules that used to spell the widths and
codes read them from it, and a toy device kind added from this test is picked up by the
schema-driven places: the reader's array checks (``ARRAY_SPECS``, what ``chunkcheck`` compares),
the chunk's array names when the kind was recorded, the empty arrays and the event-to-kind map.
Still written per kind (docs/extending.md "An input backend"): the binner's columns
(``binning.py``), the writer's chunk arrays (``session/writer.py``) and the exporters' mappings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture import binning, keylayout, rows
from nitrogen_capture.events import CONTROL, DEVICES
from nitrogen_capture.session import paths, reader
from nitrogen_capture.session.reader import SessionReader
from recording import record_synthetic


def test_a_recording_stores_what_the_schema_declares(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result, _ = record_synthetic(out, max_frames=30, chunk_size=20, gamepad=True)
    meta = json.loads((out / "meta.json").read_text())
    k = len(meta["layout"]["keys"])
    assert meta["gamepad"] is True and result.chunks == 2
    session = SessionReader(out)
    # The synthetic source stamps its frames: the frame time arrays are there too.
    assert session.has_frame_times
    assert session.array_names() == rows.array_names(frozenset({"gamepad"}), frame_times=True)
    for c in meta["chunks"]:
        stems = [s for s in c["files"] if s not in ("frames", "events")]
        # The file order of meta.json too: every array but a play rollout's.
        assert stems == [a for a in rows.ROW_ARRAYS
                         if a not in (*rows.PLAY_ARRAYS, *rows.PLAY_PAD_ARRAYS)]
        for stem in stems:
            arr = np.load(out / c["files"][stem], allow_pickle=False)
            spec = rows.ROW_ARRAYS[stem]
            assert arr.dtype == spec.dtype and arr.shape == spec.shape(c["num_frames"], k), stem
        events = np.load(out / c["files"]["events"], allow_pickle=False)
        for device in set(events["device"].tolist()) - {CONTROL}:
            assert rows.device_kind_of(device) is not None, device


def test_the_old_homes_read_the_declaration() -> None:
    assert binning.GAMEPAD_WIDTH == rows.GAMEPAD_WIDTH == 21
    assert keylayout.PAD_BUTTONS is rows.PAD_BUTTONS and keylayout.PAD_AXES is rows.PAD_AXES
    assert keylayout.MOUSE_BUTTONS is rows.MOUSE_BUTTONS
    assert paths.CHUNK_ARRAYS == rows.CHUNK_ARRAYS == (
        "actions", "mouse_deltas", "frame_indices", "timestamps")
    assert reader.ARRAY_SPECS is rows.ARRAY_SPECS
    declared = {e for kind in rows.DEVICE_KINDS.values() for e in kind.events}
    assert declared | {CONTROL} == set(DEVICES)  # every input event device has one kind
    # Every array is a device kind's, the clock's, the frame source's (OS frame times) or a
    # play rollout's.
    assert {a for kind in rows.DEVICE_KINDS.values() for a in kind.arrays} | {
        "frame_indices", "timestamps", *rows.FRAME_TIME_ARRAYS, *rows.PLAY_ARRAYS,
        *rows.PLAY_PAD_ARRAYS} == set(rows.ROW_ARRAYS)
    empty = rows.empty_rows(28)
    assert empty["actions"].shape == (0, 28) and empty["gamepad"].shape == (0, 21)


@pytest.fixture
def pedals() -> Iterator[rows.DeviceKind]:
    kind = rows.DeviceKind("pedals", ("pedal",), ("pedals",))
    rows.register_device_kind(
        kind, rows.RowArray("pedals", np.dtype(np.float32), (3,), optional=True))
    try:
        yield kind
    finally:
        rows.unregister_device_kind("pedals")
    assert "pedals" not in rows.ROW_ARRAYS and "pedals" not in reader.ARRAY_SPECS


def test_a_toy_device_kind_is_picked_up_where_the_schema_is_read(
        pedals: rows.DeviceKind) -> None:
    assert rows.device_kind_of("pedal") == "pedals"
    assert reader.ARRAY_SPECS["pedals"] == (np.dtype(np.float32), (3,))  # chunkcheck's rule
    assert rows.array_names(frozenset({"pedals"}))[-1] == "pedals"
    assert "pedals" not in rows.array_names()  # optional: only when recorded
    assert rows.empty_rows(4)["pedals"].shape == (0, 3)
    assert rows.CHUNK_ARRAYS == paths.CHUNK_ARRAYS  # the always-present arrays are unchanged
    with pytest.raises(ValueError, match="already declared"):
        rows.register_device_kind(pedals)
    with pytest.raises(ValueError, match="not optional"):
        rows.register_device_kind(rows.DeviceKind("x", ("x",), ("x",)),
                                  rows.RowArray("x", np.dtype(np.int8)))
    with pytest.raises(ValueError, match="undeclared arrays"):
        rows.register_device_kind(rows.DeviceKind("y", ("y",), ("nowhere",)))
