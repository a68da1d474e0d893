"""Property-based tests of the session readers: damaged input loads or is a SessionFormatError.

Random mutations of meta.json values, journal lines and ``.npy`` bytes never make a reader raise
anything else (no OverflowError, RecursionError, ValueError, MemoryError...), so every CLI
command can refuse them in one line (docs/format.md: readers check what they read).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitrogen_capture.errors import SessionError, SessionFormatError
from nitrogen_capture.session import SessionReader
from nitrogen_capture.session.reader import load_npy
from nitrogen_capture.session.repair import parse_journal
from session_factory import make_session

PROPS = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
INT64 = (-(1 << 63), (1 << 63) - 1)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["../x", "/etc/passwd", "frames/../../x", "a\\b", "", "."]))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=6), kids, max_size=3)),
    max_leaves=8)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a JSON document (objects and lists), leaves and containers."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _exercise(root: Path) -> None:
    """What merge, validate, convert and preview read, without writing anything."""
    r = SessionReader(root)
    r.concat_arrays()
    for c in r.included_chunks():
        r.frames_present(c)
    r.segments()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("props") / "s"
    make_session(root, (3, 2))
    return root


@PROPS
@given(data=st.data(), value=json_values)
def test_meta_mutations_load_or_refuse(base: Path, tmp_path: Path, data: st.DataObject,
                                       value: Any) -> None:
    root = tmp_path / "m"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root)
    meta = json.loads((base / "meta.json").read_text())
    path = data.draw(st.sampled_from(_paths(meta)))
    node = meta
    for k in path[:-1]:
        node = node[k]
    if data.draw(st.booleans()):
        node[path[-1]] = value
    elif isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    (root / "meta.json").write_text(json.dumps(meta))
    # SessionFormatError, or SchemaVersionError for a newer version: both are SessionErrors.
    with contextlib.suppress(SessionError):
        _exercise(root)


journal_line = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
    st.builds(lambda rec: json.dumps(rec, allow_nan=True).encode(),
              st.fixed_dictionaries(
                  {"kind": st.sampled_from(["frame", "event", "chunk", "state", "pause",
                                            "resume", "x"])},
                  optional={"row": json_scalars, "index": json_scalars, "t": json_scalars,
                            "device": json_scalars, "code": json_scalars,
                            "value": json_scalars, "held": json_values,
                            "start_tick": json_scalars, "start_t": json_scalars,
                            "end_tick": json_scalars, "end_t": json_scalars,
                            "reason": json_scalars})),
    st.integers(1, 3000).map(lambda n: b"[" * n),
)


@PROPS
@given(lines=st.lists(journal_line, max_size=12))
def test_journal_lines_never_raise(tmp_path: Path, lines: list[bytes]) -> None:
    p = tmp_path / "journal_chunk_001.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    j = parse_journal(p)
    for row, (tick, t) in j.frames.items():
        assert row >= 0 and INT64[0] <= tick <= INT64[1] and INT64[0] <= t <= INT64[1]
    for e in j.events:
        assert isinstance(e.t_ns, int) and math.isfinite(e.value)
    # What repair does with them fits int64 arrays.
    np.array([j.frames[r][1] for r in sorted(j.frames)], dtype=np.int64)
    np.array([e.t_ns for e in j.events], dtype=np.int64)


@PROPS
@given(data=st.data())
def test_npy_mutations_load_or_refuse(tmp_path: Path, data: st.DataObject) -> None:
    good = tmp_path / "good.npy"
    np.save(good, np.arange(12, dtype=np.int64).reshape(6, 2))
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        how = data.draw(st.sampled_from(["byte", "cut", "text"]))
        if how == "byte":
            raw[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del raw[at:]
            if not raw:
                break
        else:  # rewrite part of the header dict (shape, dtype, order)
            text = data.draw(st.sampled_from(
                [b"(10000000000000,)", b"(-1,)", b"'<O'", b"'|V8'", b"True", b"((((",
                 b"'<f16'", b"(2**62, 2**62)", b"{'a': 1}"]))
            raw[at:at + len(text)] = text
    bad = tmp_path / "bad.npy"
    bad.write_bytes(bytes(raw))
    try:
        arr = load_npy(bad)
    except SessionFormatError:
        return
    assert isinstance(arr, np.ndarray)
