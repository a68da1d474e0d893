"""A restricted unpickler for replies from a policy server: plain data and numeric arrays only.

NitroGen's model server answers with pickled dicts (docs/play.md). ``pickle.loads`` on bytes
from a socket runs whatever the bytes ask for (``posix.system``, ``builtins.eval``, any class's
constructor), so ``play`` never calls it: :func:`safe_loads` reads a reply with an unpickler whose
:meth:`~_PlainUnpickler.find_class` knows only the globals that numpy arrays and scalars of
numeric dtypes need, in both numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) spellings,
and the builtins that sets need in protocols 0-2 (the Python docs' "Restricting Globals").

Each admitted global is one of *our* wrappers, never the module's own function looked up by
name, so no module is imported while reading (``numpy.core`` warns on import in numpy 2) and
each wrapper checks its arguments first: a dtype must be bool/int/uint/float (no object, string
or structured dtypes), an array's size is bounded, ``_codecs.encode`` only does what pickles of
bytes need (latin-1). After loading, the result is walked: only dict, list, tuple, set,
frozenset, str, bytes, int, float, bool, None and numeric numpy arrays and scalars pass.
"""

from __future__ import annotations

import codecs
import io
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import PolicyError

__all__ = ["MAX_REPLY_BYTES", "safe_loads"]

#: Largest reply read at all: a 18-step NitroGen chunk is under 4 KiB, a frame ~200 KiB.
MAX_REPLY_BYTES = 64 * 1024 * 1024
_NUMERIC_KINDS = frozenset("biuf")  # bool, signed, unsigned, float
_MAX_DEPTH = 32  # nested containers deeper than this are not a policy's answer


class _Refused(Exception):
    """Raised inside the unpickler; :func:`safe_loads` turns it into one PolicyError line."""


def _numeric_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise _Refused(f"an array of dtype {dtype.str!r}, which is not numeric")
    return dtype


def _dtype(obj: object, align: object = False, copy: object = False) -> np.dtype[Any]:
    # numpy pickles a dtype as numpy.dtype('f4', False, True) then BUILDs its state: the
    # typecode is checked here, before any array of it exists.
    if not isinstance(obj, str):
        raise _Refused(f"a dtype built from {type(obj).__name__}, not from a type code")
    try:
        dtype = np.dtype(obj, align=bool(align), copy=bool(copy))
    except TypeError as exc:
        raise _Refused(f"an unknown dtype {obj!r}") from exc
    return _numeric_dtype(dtype)


def _check_size(shape: object, dtype: np.dtype[Any]) -> tuple[int, ...]:
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise _Refused(f"an array of shape {shape!r}")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize > MAX_REPLY_BYTES:
        raise _Refused(f"an array of shape {shape}, larger than {MAX_REPLY_BYTES} bytes")
    return shape


def _reconstruct(subtype: object, shape: object, typecode: object) -> np.ndarray[Any, Any]:
    # ndarray.__reduce__ (protocols 0-4): _reconstruct(ndarray, (0,), b'b'), then
    # ndarray.__setstate__((1, shape, dtype, is_fortran, raw bytes)) through BUILD; the
    # dtype in the state comes through _dtype above.
    if subtype is not np.ndarray:
        raise _Refused(f"an array of class {getattr(subtype, '__name__', subtype)!r}")
    if typecode not in (b"b", "b"):
        raise _Refused(f"an array placeholder of type code {typecode!r}")
    _check_size(shape, np.dtype(np.int8))
    return np.ndarray.__new__(np.ndarray, shape, np.int8)  # type: ignore[arg-type]


def _frombuffer(buf: object, dtype: object, shape: object, order: object) -> np.ndarray[Any, Any]:
    # ndarray.__reduce_ex__ with protocol 5 (in-band): _frombuffer(bytes, dtype, shape, order).
    if not isinstance(buf, (bytes, bytearray)) or not isinstance(dtype, np.dtype):
        raise _Refused("an array from something that is not a byte buffer")
    _numeric_dtype(dtype)
    dims = _check_size(shape, dtype)
    if order not in ("C", "F"):
        raise _Refused(f"an array of order {order!r}")
    flat = np.frombuffer(buf, dtype=dtype)
    return flat.reshape(dims, order=order)  # type: ignore[call-overload, no-any-return]


def _scalar(dtype: object, data: object = b"") -> np.generic:
    # numpy scalars: scalar(dtype, raw bytes of one item).
    if not isinstance(dtype, np.dtype) or not isinstance(data, bytes):
        raise _Refused("a numpy scalar from something that is not a dtype and bytes")
    _numeric_dtype(dtype)
    if len(data) != dtype.itemsize:
        raise _Refused(f"a {dtype.str} scalar of {len(data)} bytes")
    value: np.generic = np.frombuffer(data, dtype=dtype)[0]
    return value


def _encode(text: object, encoding: object = "utf-8") -> bytes:
    # Protocols 0-2 write bytes as _codecs.encode(text, 'latin1'): that, and nothing else.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _empty_bytes(*args: object) -> bytes:
    # Protocols 0-2 write b"" as bytes(); bytes(10**12) would be a memory bomb.
    if args:
        raise _Refused("bytes() with arguments, which pickles of bytes never use")
    return b""


_NUMPY_GLOBALS: dict[str, Callable[..., Any] | type] = {
    "multiarray._reconstruct": _reconstruct,
    "multiarray.scalar": _scalar,
    "numeric._frombuffer": _frombuffer,
}
_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _encode,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    # Protocols 0-2 spell builtins the Python 2 way (the stock find_class maps it itself).
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("builtins", "bytes"): _empty_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
}
for _core in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x module names
    for _name, _fn in _NUMPY_GLOBALS.items():
        _module, _attr = f"{_core}.{_name}".rsplit(".", 1)
        _ALLOWED[(_module, _attr)] = _fn


class _PlainUnpickler(pickle.Unpickler):
    """Builds only what :data:`_ALLOWED` names; every other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """The admitted wrapper for ``module.name``, or :class:`_Refused`."""
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"it asks to build {module}.{name}, which plain data never needs")
        return found

    def persistent_load(self, pid: Any) -> Any:
        """Persistent ids point outside the bytes: refused."""
        raise _Refused("it refers to a persistent object, which plain data never needs")


def _walk(obj: object, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise _Refused(f"containers nested deeper than {_MAX_DEPTH}")
    if obj is None or type(obj) in (str, bytes, int, float, bool):
        return
    if type(obj) in (list, tuple, set, frozenset):
        for item in obj:  # type: ignore[attr-defined]
            _walk(item, depth + 1)
        return
    if type(obj) is dict:
        for key, value in obj.items():  # type: ignore[attr-defined]
            _walk(key, depth + 1)
            _walk(value, depth + 1)
        return
    if type(obj) is np.ndarray or isinstance(obj, np.generic):
        _numeric_dtype(obj.dtype)
        return
    raise _Refused(f"it holds a {type(obj).__name__}, which is not plain data")


def safe_loads(data: bytes, *, what: str) -> Any:
    """Unpickle ``data`` if it is plain data; ``what`` names its source in the one-line error.

    Raises:
        PolicyError: ``refused a reply from WHAT: REASON`` when the bytes are too large, are not
            a pickle, name a global outside the allowed numpy/builtin set, or load into
            anything but plain containers, numbers, strings and numeric numpy arrays.
    """
    if len(data) > MAX_REPLY_BYTES:
        raise PolicyError(f"refused a reply from {what}: {len(data)} bytes, more than the "
                          f"{MAX_REPLY_BYTES} a policy's answer may take")
    try:
        obj = _PlainUnpickler(io.BytesIO(data)).load()
        _walk(obj)
    except _Refused as exc:
        raise PolicyError(f"refused a reply from {what}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, OverflowError, RecursionError,
            UnicodeDecodeError) as exc:
        # A garbled stream: say what kind, not the library's own traceback.
        raise PolicyError(f"refused a reply from {what}: it is not a readable pickle "
                          f"({type(exc).__name__}: {str(exc)[:120]})") from None
    return obj
