"""Write a ``torch.save``-compatible ``.pt`` file with tensors streamed in, never held in RAM.

``torch.save`` needs every tensor in memory (or in a file-backed mapping whose pages all become
resident while it copies them): an hour of 256x256 float32 observations is ~85 GB. A ``.pt`` file
is a ZIP archive (stored, not compressed) of ``<archive>/data.pkl`` (a pickle whose tensors refer
to storages by key), ``<archive>/data/<key>`` (each storage's raw bytes) and a few small records.
Only the pickle depends on the tensor *shapes*, which are known before conversion starts, so
:class:`PtWriter` writes the pickle first and then streams each storage's bytes block by block.

Storage records start on 64-byte boundaries like ``torch.save``'s, so ``torch.load(...,
mmap=True)`` can map them. The result loads with ``torch.load(path, weights_only=True)``.
torch is imported only to name ``torch._utils._rebuild_tensor_v2`` and the storage classes in the
pickle.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from ..errors import missing_dependency

__all__ = ["PtWriter", "TensorSpec", "pickle_mentions"]

_ALIGN = 64
_STORAGE_TYPES = {"float32": "FloatStorage", "uint8": "ByteStorage", "int64": "LongStorage",
                  "int8": "CharStorage", "float64": "DoubleStorage", "bool": "BoolStorage"}


class TensorSpec:
    """A tensor to be streamed: its storage key, numpy dtype and shape (C-contiguous)."""

    def __init__(self, key: str, dtype: str, shape: tuple[int, ...]) -> None:
        if dtype not in _STORAGE_TYPES:
            raise ValueError(f"unsupported dtype {dtype}")
        self.key, self.dtype, self.shape = key, dtype, tuple(int(s) for s in shape)

    @property
    def numel(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Size of the storage in bytes."""
        return self.numel * np.dtype(self.dtype).itemsize

    def __reduce__(self) -> tuple[Any, ...]:
        import torch

        stride = [1] * len(self.shape)
        for i in range(len(self.shape) - 2, -1, -1):
            stride[i] = stride[i + 1] * max(self.shape[i + 1], 1)
        return (torch._utils._rebuild_tensor_v2,
                (_StorageRef(self), 0, self.shape, tuple(stride), False, OrderedDict()))


class _StorageRef:
    def __init__(self, spec: TensorSpec) -> None:
        self.spec = spec


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRef):
            import torch

            s = obj.spec
            # The same tuple torch.save writes: ('storage', storage class, key, location, numel).
            return ("storage", getattr(torch, _STORAGE_TYPES[s.dtype]), s.key, "cpu", s.numel)
        return None


class PtWriter:
    """Stream a dict of tensors (and plain data) into a ``.pt`` file.

    Usage::

        specs = {"obs": TensorSpec("0", "uint8", (m, 3, 256, 256)), ...}
        with PtWriter(path, {"obs": specs["obs"], "meta": {...}}) as w:
            with w.storage(specs["obs"]) as f:
                f.write(block.tobytes())   # exactly spec.nbytes in total, in C order

    Every storage named in the object must be written exactly once, with exactly its size.
    """

    def __init__(self, path: str | Path, obj: Any, *, archive: str | None = None) -> None:
        try:
            import torch  # noqa: F401  (needed to pickle the tensor rebuild references)
        except ImportError as exc:
            raise missing_dependency("torch", "torch", "writing .pt files") from exc
        self.path = Path(path)
        # The folder name inside the ZIP; a file written under a temporary name passes the
        # name its final file's archive would have. ZIP names are UTF-8: a file name that is not
        # (its bytes as lone surrogates, PEP 383) is spelled with backslash escapes.
        name = (archive if archive is not None else self.path.stem).replace(" ", "_")
        self._archive = name.encode("utf-8", "backslashreplace").decode("utf-8") or "archive"
        self._zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_STORED,
                                    allowZip64=True)
        self._pending: dict[str, TensorSpec] = {}
        buf = io.BytesIO()
        pick = _Pickler(buf, protocol=2)
        pick.dump(obj)
        self._collect(obj)
        self._small("data.pkl", buf.getvalue())
        self._small(".format_version", b"1")
        self._small(".storage_alignment", str(_ALIGN).encode())
        self._small("byteorder", sys.byteorder.encode())

    def _collect(self, obj: Any) -> None:
        if isinstance(obj, TensorSpec):
            self._pending[obj.key] = obj
        elif isinstance(obj, dict):
            for v in obj.values():
                self._collect(v)
        elif isinstance(obj, list | tuple):
            for v in obj:
                self._collect(v)

    def _small(self, name: str, data: bytes) -> None:
        self._zip.writestr(zipfile.ZipInfo(f"{self._archive}/{name}", (1980, 1, 1, 0, 0, 0)),
                           data)

    def storage(self, spec: TensorSpec) -> _StorageStream:
        """Open the byte stream of one storage; write exactly ``spec.nbytes`` bytes."""
        if spec.key not in self._pending:
            raise ValueError(f"storage {spec.key} is not pending (written twice or unknown)")
        del self._pending[spec.key]
        info = zipfile.ZipInfo(f"{self._archive}/data/{spec.key}", (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        # Pad the local header's extra field so the data starts on a 64-byte boundary. The
        # local header is 30 bytes + name + our extra + the 20-byte zip64 extra zipfile adds
        # because we force zip64 (the size is unknown to zipfile while streaming).
        offset = self._zip.fp.tell() if self._zip.fp is not None else 0
        base = offset + 30 + len(info.filename.encode()) + 20 + 4
        pad = (-base) % _ALIGN
        info.extra = struct.pack("<HH", 0x4246, pad) + b"\0" * pad  # 'FB', as torch pads
        stream = self._zip.open(info, "w", force_zip64=True)
        return _StorageStream(stream, spec)

    def close(self) -> None:
        """Finish the archive; raises if a storage was never written."""
        if self._zip.fp is None:
            return
        missing = sorted(self._pending)
        self._small("version", b"3\n")
        self._zip.close()
        if missing:
            raise ValueError(f"storages never written: {missing}")

    def __enter__(self) -> PtWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if et is None:
            self.close()
        elif self._zip.fp is not None:
            self._zip.close()


class _StorageStream:
    """Byte sink of one storage; checks that exactly ``spec.nbytes`` were written."""

    def __init__(self, stream: IO[bytes], spec: TensorSpec) -> None:
        self._stream, self.spec, self.written = stream, spec, 0

    def write(self, data: bytes | memoryview | np.ndarray[Any, Any]) -> None:
        """Append bytes (a C-contiguous array is written as its raw bytes)."""
        mv = (np.ascontiguousarray(data).data if isinstance(data, np.ndarray)
              else memoryview(data)).cast("B")
        self.written += mv.nbytes
        if self.written > self.spec.nbytes:
            raise ValueError(f"storage {self.spec.key}: more than {self.spec.nbytes} bytes")
        self._stream.write(mv)

    def __enter__(self) -> _StorageStream:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stream.close()
        if et is None and self.written != self.spec.nbytes:
            raise ValueError(f"storage {self.spec.key}: wrote {self.written} of "
                             f"{self.spec.nbytes} bytes")


def pickle_mentions(path: Path, text: bytes, *, limit: int = 1 << 26) -> bool:
    """Whether the ``.pt`` at ``path`` is a ZIP whose ``data.pkl`` holds ``text`` (never unpickled).

    How a later run recognises its own export before replacing it (outputs.py): the pickle
    carries ``meta["format"]``. Reads the ZIP's directory and at most ``limit`` bytes of the
    pickle; anything that is not such a file is False.
    """
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/data.pkl")]
            if len(names) != 1:
                return False
            with z.open(names[0]) as f:
                return text in f.read(limit)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        return False
