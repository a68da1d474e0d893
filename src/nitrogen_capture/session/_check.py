"""Typed, range-checked access to one JSON object of ``meta.json`` (used by :mod:`.meta`).

``meta.json`` is data from disk: it may be damaged, written by another tool, or hostile. Every
field goes through one of these getters, which checks its type (a JSON ``true`` is not an
integer, ``NaN`` is not a number) and its range, and raises
:class:`~nitrogen_capture.errors.SessionFormatError` naming the field's full path
(``chunks[2].num_frames``) in one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from ..errors import SessionFormatError

__all__ = ["JsonObject", "safe_relative"]

T = TypeVar("T")
_MISSING: Any = object()


def safe_relative(value: str) -> bool:
    """True for a relative POSIX path that stays inside its directory (no ``..``, no root).

    String tests, not pathlib: a long session's ``meta.json`` holds hundreds of thousands of
    these. A backslash, a colon (a Windows drive: ``C:x``) or a NUL byte is refused too.
    """
    return (bool(value) and not value.startswith("/") and "\\" not in value and ":" not in value
            and "\0" not in value and ".." not in value.split("/"))


class JsonObject:
    """One JSON object and where it sits in the document (``where`` prefixes every error)."""

    def __init__(self, data: object, where: str, source: str) -> None:
        self.source = source
        self.where = where
        if not isinstance(data, dict):
            self.fail(where or "meta.json", "must be a JSON object", data)
        self.data: dict[str, Any] = data

    def path(self, key: str) -> str:
        """The dotted path of ``key`` inside this object."""
        return f"{self.where}.{key}" if self.where else key

    def fail(self, field: str, must: str, got: object) -> NoReturn:
        """Raise the one-line error for ``field``."""
        shown = repr(got)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise SessionFormatError(f"{self.source}: field '{field}' {must}, got {shown}",
                                 field=field)

    def _get(self, key: str, default: Any, check: Callable[[Any], bool], must: str) -> Any:
        if key not in self.data:
            if default is _MISSING:
                self.fail(self.path(key), "is missing", None)
            return default
        value = self.data[key]
        if not check(value):
            self.fail(self.path(key), must, value)
        return value

    # -- scalars -----------------------------------------------------------------------------
    def integer(self, key: str, default: Any = _MISSING, *, lo: int | None = None,
            nullable: bool = False) -> Any:
        """An integer (not a bool), ``>= lo`` when given; ``None`` allowed when ``nullable``."""
        def ok(v: Any) -> bool:
            if v is None:
                return nullable
            return (isinstance(v, int) and not isinstance(v, bool)
                    and (lo is None or v >= lo))
        must = "must be an integer" + (f" >= {lo}" if lo is not None else "")
        return self._get(key, default, ok, must + (" or null" if nullable else ""))

    def number(self, key: str, default: Any = _MISSING, *, lo: float | None = None,
              hi: float | None = None, nullable: bool = False) -> Any:
        """A finite number in ``[lo, hi]``; ``None`` allowed when ``nullable``."""
        def ok(v: Any) -> bool:
            if v is None:
                return nullable
            return (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    and (lo is None or v >= lo) and (hi is None or v <= hi))
        rng = f" in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else (
            f" >= {lo:g}" if lo is not None else "")
        value = self._get(key, default, ok,
                          f"must be a finite number{rng}" + (" or null" if nullable else ""))
        return float(value) if value is not None else None

    def text(self, key: str, default: Any = _MISSING, *, nullable: bool = False,
            choices: tuple[str, ...] | None = None) -> Any:
        """A string (one of ``choices`` when given)."""
        def ok(v: Any) -> bool:
            if v is None:
                return nullable
            return isinstance(v, str) and (choices is None or v in choices)
        must = "must be a string" if choices is None else f"must be one of {', '.join(choices)}"
        return self._get(key, default, ok, must)

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        """A JSON boolean."""
        return self._get(key, default, lambda v: isinstance(v, bool), "must be true or false")

    # -- containers ----------------------------------------------------------------------------
    def obj(self, key: str, default: Any = _MISSING) -> Any:
        """A nested object as a :class:`JsonObject` (``default`` when absent or null)."""
        if key not in self.data or (self.data[key] is None and default is not _MISSING):
            if default is _MISSING:
                self.fail(self.path(key), "is missing", None)
            return default
        return JsonObject(self.data[key], self.path(key), self.source)

    def raw(self, key: str, default: Any = None) -> Any:
        """A free-form JSON value (backend-specific details), copied shallowly."""
        value = self.data.get(key, default)
        return dict(value) if isinstance(value, dict) else value

    def labels(self, key: str) -> dict[str, str]:
        """A flat object of short descriptive values (tool, platform) as strings."""
        value = self._get(key, {}, lambda v: v is None or isinstance(v, dict), "must be an object")
        out: dict[str, str] = {}
        for name, item in (value or {}).items():
            if not isinstance(item, str | int | float | bool) and item is not None:
                self.fail(f"{self.path(key)}.{name}", "must be a string", item)
            out[str(name)] = str(item)
        return out

    def objects(self, key: str) -> list[JsonObject]:
        """A list of objects (empty when absent)."""
        items = self._get(key, [], lambda v: isinstance(v, list), "must be a list")
        return [JsonObject(v, f"{self.path(key)}[{i}]", self.source)
                for i, v in enumerate(items)]

    def ints(self, key: str, default: Any = _MISSING, *, length: int | None = None,
             nullable: bool = False) -> Any:
        """A list of integers (of ``length`` when given) as a tuple."""
        def ok(v: Any) -> bool:
            if v is None:
                return nullable
            return (isinstance(v, list) and (length is None or len(v) == length)
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in v))
        must = "must be a list of " + (f"{length} " if length else "") + "integers"
        value = self._get(key, default, ok, must)
        return tuple(value) if isinstance(value, list) else value

    def strs(self, key: str, default: Any = _MISSING) -> Any:
        """A list of strings as a tuple."""
        value = self._get(key, default, lambda v: isinstance(v, list) and all(
            isinstance(x, str) for x in v), "must be a list of strings")
        return tuple(value) if isinstance(value, list) else value

    def files(self, key: str) -> dict[str, str]:
        """A name -> relative path mapping whose paths stay inside the session."""
        value = self._get(key, {}, lambda v: isinstance(v, dict), "must be an object")
        out: dict[str, str] = {}
        for name, rel in value.items():
            if not isinstance(rel, str) or not safe_relative(rel):
                self.fail(f"{self.path(key)}.{name}",
                          "must be a relative path inside the session", rel)
            out[str(name)] = rel
        return out
