"""The restricted unpickler: plain data and numeric arrays pass; what runs code does not."""

from __future__ import annotations

import builtins
import os
import pickle
import pickletools
import shlex
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.errors import PolicyError
from nitrogen_capture.play.safepickle import MAX_REPLY_BYTES, safe_loads

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
WHAT = "nitrogen://h:1"


class _Call:
    """Pickles as fn(*args): how a hostile reply runs code in a stock unpickler."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.fn, self.args)


def _touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_data_and_numeric_arrays_round_trip(protocol: int) -> None:
    reply = {"status": "ok", "pred": {
        "j_left": np.linspace(-1, 1, 36, dtype=np.float32).reshape(18, 2),
        "buttons": np.eye(18, 21, dtype=np.float32),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        "mask": np.array([True, False]), "u": np.arange(4, dtype=np.uint64),
        "empty": np.zeros((0, 3), np.float64)},
        "scalars": [np.float32(1.5), np.int64(-3), np.bool_(True), np.uint8(7)],
        "plain": (1, 2.5, "s", b"raw", b"", None, True, {1, 2}, frozenset({"a"}))}
    back = safe_loads(pickle.dumps(reply, protocol=protocol), what=WHAT)
    assert back.keys() == reply.keys() and back["plain"] == reply["plain"]
    for key, arr in reply["pred"].items():
        assert back["pred"][key].dtype == arr.dtype and back["pred"][key].shape == arr.shape
        assert np.array_equal(back["pred"][key], arr), key
    assert [type(s) for s in back["scalars"]] == [type(s) for s in reply["scalars"]]
    assert back["scalars"] == reply["scalars"]


def _unframed(data: bytes) -> bytes:
    """``data`` without its FRAME opcodes (optional in a pickle; they pin byte counts)."""
    frames = [pos for op, _arg, pos in pickletools.genops(data) if op.name == "FRAME"]
    for pos in reversed(frames):
        data = data[:pos] + data[pos + 9:]  # FRAME: one opcode byte and an 8-byte length
    return data


def _numpy1(data: bytes) -> bytes:
    """Rewrite numpy 2's module names into numpy 1.x's (``numpy.core``), as 1.x writes them."""
    data = _unframed(data)
    for new, old in ((b"numpy._core.multiarray", b"numpy.core.multiarray"),
                     (b"numpy._core.numeric", b"numpy.core.numeric")):
        # protocols 0-2 spell GLOBAL as text lines; 4-5 as SHORT_BINUNICODE (length byte)
        data = data.replace(new + b"\n", old + b"\n")
        data = data.replace(b"\x8c" + bytes([len(new)]) + new, b"\x8c" + bytes([len(old)]) + old)
    return data


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_1x_module_names_are_read_without_importing_numpy_core(protocol: int) -> None:
    reply = {"a": np.arange(5, dtype=np.float32), "s": np.float64(2.0)}
    data = _numpy1(pickle.dumps(reply, protocol=protocol))
    assert b"numpy.core." in data and b"numpy._core" not in data
    back = safe_loads(data, what=WHAT)
    assert np.array_equal(back["a"], reply["a"]) and back["s"] == 2.0


HOSTILE = {
    "os.system": lambda m: _Call(os.system, _touch(m)),
    "builtins.eval": lambda m: _Call(builtins.eval, f"open({str(m)!r}, 'w')"),
    "builtins.exec": lambda m: _Call(builtins.exec, f"open({str(m)!r}, 'w')"),
    "subprocess.Popen": lambda m: _Call(subprocess.Popen, ["touch", str(m)]),
    "nested in a dict": lambda m: {"status": "ok", "pred": {"j": [(_Call(os.system,
                                                                         _touch(m)),)]}},
}


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_globals_are_refused_and_nothing_runs(tmp_path: Path, kind: str,
                                                       protocol: int) -> None:
    marker = tmp_path / "ran"
    data = pickle.dumps(HOSTILE[kind](marker), protocol=protocol)
    with pytest.raises(PolicyError) as err:
        safe_loads(data, what=WHAT)
    text = str(err.value)
    assert text.startswith(f"refused a reply from {WHAT}: it asks to build ")
    assert "which plain data never needs" in text and "\n" not in text
    assert not marker.exists()


def test_the_refusal_names_the_global() -> None:
    with pytest.raises(PolicyError, match=r"it asks to build (posix|nt)\.system, which plain data"):
        safe_loads(pickle.dumps(_Call(os.system, "true")), what=WHAT)


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("arr", [np.array([1, "x"], dtype=object), np.array(["abc"]),
                                 np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]),
                                 np.array([1 + 2j])], ids=["object", "str", "struct", "complex"])
def test_non_numeric_arrays_are_refused(arr: np.ndarray[Any, Any], protocol: int) -> None:
    with pytest.raises(PolicyError, match="which is not numeric"):
        safe_loads(pickle.dumps({"pred": arr}, protocol=protocol), what=WHAT)


def test_reconstruct_with_object_dtype_state_is_refused(tmp_path: Path) -> None:
    # A hand-made _reconstruct whose state carries an object dtype and a hostile item.
    marker = tmp_path / "ran"

    class Forged:
        def __reduce__(self) -> tuple[Any, ...]:
            from numpy._core.multiarray import _reconstruct

            return (_reconstruct, (np.ndarray, (0,), b"b"),
                    (1, (1,), np.dtype(object), False, [_Call(os.system, _touch(marker))]))

    with pytest.raises(PolicyError, match="refused a reply"):
        safe_loads(pickle.dumps({"x": Forged()}, protocol=2), what=WHAT)
    assert not marker.exists()


def test_huge_reconstruct_shape_is_refused_before_allocating() -> None:
    class Huge:
        def __reduce__(self) -> tuple[Any, ...]:
            from numpy._core.multiarray import _reconstruct

            return (_reconstruct, (np.ndarray, (10**12,), b"b"))

    with pytest.raises(PolicyError, match="larger than"):
        safe_loads(pickle.dumps(Huge(), protocol=2), what=WHAT)


def test_oversize_and_garbage_replies_are_one_line() -> None:
    with pytest.raises(PolicyError, match=f"more than the {MAX_REPLY_BYTES}"):
        safe_loads(b"\x80" * (MAX_REPLY_BYTES + 1), what=WHAT)
    for junk in (b"", b"\x00garbage\xff", pickle.dumps({"a": 1})[:-3]):
        with pytest.raises(PolicyError, match="not a readable pickle") as err:
            safe_loads(junk, what=WHAT)
        assert "\n" not in str(err.value)


def test_other_types_built_by_admitted_opcodes_are_refused() -> None:
    # bytearray comes from an opcode, not a global: the walk still refuses it.
    with pytest.raises(PolicyError, match="holds a bytearray"):
        safe_loads(pickle.dumps({"b": bytearray(b"x")}, protocol=5), what=WHAT)
