"""The one rule for a number given by a user: finite and inside documented bounds.

Every settings dataclass (``RecordConfig``, ``TargetSpec``, ``ConvertSettings``, the demo's and
preview's options) checks its numbers with :func:`number_check` when it is built, so a flag and a
library caller get the same :class:`~nitrogen_capture.errors.ConfigError`. ``nan`` and ``inf`` are
never in range: no setting gives ``inf`` a meaning (0 means "no limit" where one does). The upper
bounds are generous sanity limits, not tuning advice; each message names the bound it broke.
Free text (a label, a task) has one rule too, :func:`text_check`: it must be UTF-8.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["INT32_MAX", "INT32_MIN", "MAX_EVERY", "MAX_LATENCY_MS", "MAX_SECONDS", "UINT32_MAX",
           "choice_check", "format_number", "human_bytes", "number_check", "text_check"]

# The longest duration any flag accepts (--seconds, --wait, preview --start/--seconds): a week.
MAX_SECONDS = 7 * 24 * 3600
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
UINT32_MAX = 2**32 - 1
# preview --every: keep every K-th frame (1000 at 240 fps is one frame per 4 s). Here, not in
# preview/, so that building the CLI's parser does not import OpenCV.
MAX_EVERY = 1000
# An input-to-frame latency offset (record/convert --latency-offset-ms, a calibration profile)
# beyond a second is a mistake (seconds given as ms, a wrong file), not a latency.
MAX_LATENCY_MS = 1000.0


def format_number(value: float) -> str:
    """``value`` for a message: floats with ``:g`` (``nan``, ``inf``, ``1e-300``), ints whole.

    An int too long to print readably (a library caller's ``10**5000``) is shown by its size.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value.bit_length() <= 128 else f"a {value.bit_length()}-bit number"
    return f"{value:g}"


def human_bytes(n: float) -> str:
    """``1.5 GB`` style size for messages (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def _in_range(value: float, lo: float, hi: float, lo_open: bool) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (lo < value if lo_open else lo <= value) and value <= hi


def number_check(value: float, setting: str, flag: str, lo: float, hi: float, *,
                 lo_open: bool = False, interval: bool = False, note: str = "",
                 ) -> tuple[bool, str, str]:
    """An ``(ok, setting, message)`` check (``config._check``'s form) of ``lo <= value <= hi``.

    ``value`` must be finite (an int of any size is). ``lo_open`` excludes ``lo``. The message
    names the side broken (``--chunk-size must be >= 1, got 0``, ``... must be <= 100000, got
    ...``) or, with ``interval`` or a non-finite value, the whole range (``in (0, 240]`` for
    floats, ``in 1..32`` for ints and int bounds); ``note`` is appended to the rule
    (``" (0 = no limit)"``).
    """
    ok = _in_range(value, lo, hi, lo_open)
    whole = all(isinstance(v, int) for v in (lo, hi, value)) and not lo_open
    if ok:
        rule = ""
    elif interval or not (isinstance(value, int) or math.isfinite(value)):
        rule = (f"in {lo}..{hi}" if whole
                else f"in {'(' if lo_open else '['}{format_number(lo)}, {format_number(hi)}]")
    elif value > hi:
        rule = f"<= {format_number(hi)}"
    else:
        rule = f"{'>' if lo_open else '>='} {format_number(lo)}"
    return ok, setting, f"{flag} must be {rule}{note}, got {format_number(value)}"


def choice_check(value: object, setting: str, flag: str, choices: Iterable[str], *,
                 quote: bool = False) -> tuple[bool, str, str]:
    """An ``(ok, setting, message)`` check that ``value`` (None: not given) is one of ``choices``.

    The one wording of a bad choice: ``--scene must be one of flat, textured, got round``
    (``quote``: the value as its ``repr``, ``got 'round'``).
    """
    allowed = tuple(choices)
    got = repr(value) if quote else str(value)
    return (value is None or value in allowed, setting,
            f"{flag} must be one of {', '.join(allowed)}, got {got}")


def text_check(value: str | None, setting: str, flag: str) -> tuple[bool, str, str]:
    """An ``(ok, setting, message)`` check that ``value`` (None: not given) is UTF-8 text.

    A command-line word that is not valid UTF-8 reaches Python with lone surrogates (the byte
    0xff becomes U+DCFF). Such a string is no text: it cannot be printed, nor stored in
    meta.json or a dataset's metadata for other programs to read, so a free-text setting (a
    label, a task) refuses it where it enters.
    """
    if value is None:
        return True, setting, ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return False, setting, (f"{flag} must be UTF-8 text, got {value[exc.start]!a} at "
                                f"character {exc.start + 1}")
    return True, setting, ""
