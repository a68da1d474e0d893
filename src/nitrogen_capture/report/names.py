"""The file names of the session pages of an index folder, and the links to them.

A session's name is its folder path under the library (``games/run1``), and a folder name is
user data: it can be ``javascript:alert(1)``, hold quotes or markup, be ``index`` (whose page
would replace ``index.html``), differ from another one only by case (one file on Windows and
macOS) or in ``/`` against ``__`` (``x/y`` and ``x__y``), or be longer than a file name may be.
So a page name is never the folder name itself but a slug built from it (docs/report.md, "A
folder of sessions"):

* ASCII letters, digits, ``-``, ``_`` and ``.`` only (accents dropped, anything else ``_``),
  ``/`` written as ``__``, never starting with ``.`` or ``-``, at most :data:`MAX_SLUG` long;
* followed by ``-`` and a short hash of the session's relative path whenever the slug is not
  the name itself (a character replaced, cut short), is reserved (``index``; the Windows
  device names) or is already taken (compared case-insensitively), so every session of the
  library gets its own page and ``index.html`` stays the index;
* linked as ``./NAME.html`` (:func:`page_link`): a relative file URL, URL-quoted, never a
  scheme such as ``javascript:``.
"""

from __future__ import annotations

import hashlib
import string
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["MAX_SLUG", "page_link", "page_names"]

MAX_SLUG = 80
_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
# Stems that must never be a session's page: the index itself, and the names Windows gives to
# devices whatever their extension (NUL.html is the null device there).
_RESERVED = frozenset({"index", "con", "prn", "aux", "nul",
                       *(f"{dev}{n}" for dev in ("com", "lpt") for n in range(10))})


def _slug(session: str) -> tuple[str, bool]:
    """A readable safe stem for ``session``, and whether it spells the name exactly."""
    if session == ".":  # DIR itself is the session
        return "session", True
    text = session.replace("/", "__")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = "".join(c if c in _SAFE else "_" for c in ascii_text)
    if slug[:1] in (".", "-"):  # a hidden file, or an option to a shell command
        slug = "_" + slug[1:]
    slug = slug[:MAX_SLUG] or "session"
    return slug, slug == text


def _hash(session: str, digits: int) -> str:
    return hashlib.sha256(session.encode("utf-8", "surrogatepass")).hexdigest()[:digits]


def page_names(sessions: Iterable[str]) -> dict[str, str]:
    """Each session's page file name (``NAME.html``): safe, unique, never ``index.html``.

    ``sessions`` are the library's row names (relative paths with ``/``, ``.`` for DIR itself).
    A name that is its own slug keeps it unless another took it first; plain folder names
    (no ``/``) choose before nested ones, in sorted order, so the result does not depend on
    the order given.
    """
    slugs = {s: _slug(s) for s in sessions}
    taken: set[str] = set(_RESERVED)
    names: dict[str, str] = {}
    for session in sorted(slugs, key=lambda s: (not slugs[s][1], "/" in s, s)):
        slug, exact = slugs[session]
        # Longer hashes, then a counter, only if a folder is literally named like a hashed page.
        tries = ([slug] if exact else []) + [f"{slug}-{_hash(session, d)}" for d in (10, 16)]
        stem = next((t for t in tries if t.casefold() not in taken), "")
        n = 2
        while not stem:
            stem = f"{tries[-1]}-{n}" if f"{tries[-1]}-{n}".casefold() not in taken else ""
            n += 1
        taken.add(stem.casefold())
        names[session] = stem + ".html"
    return names


def page_link(name: str) -> str:
    """The ``href`` of a page of :func:`page_names`, before HTML escaping: ``./NAME.html``."""
    return "./" + quote(name, safe="")
