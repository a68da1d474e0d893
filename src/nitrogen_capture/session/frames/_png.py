"""The PNG folder store (``frame_format`` kind ``png``): the original tool's layout, lossless.

Chunk ``n`` is the folder ``frames/chunk_NNN/`` with one 24-bit PNG per row, ``{row + 1:06d}.png``
(docs/format.md). Encoder workers (:func:`nitrogen_capture.codecs.png.png_worker`, fpng or
OpenCV) write each PNG under a temporary name and rename it, so a PNG that exists is whole:
crash repair keeps the longest prefix of existing files without decoding anything. Frames decode
independently, so :meth:`PngFolderStore.map_frames` decodes them on a few threads (OpenCV
releases the GIL).
"""

from __future__ import annotations

import os
import struct
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from ...errors import SessionFormatError
from ..io import is_plain_file, set_aside
from ..meta_parts import FrameFormat
from .base import ERROR, INFO, WARNING, EncodeSettings, Finding, Frame, FrameStore, Size, few

if TYPE_CHECKING:
    from ...codecs.jobs import EncoderSpec

__all__ = ["PngFolderStore"]

T = TypeVar("T")
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_SAMPLE = 8  # frames per chunk fully decoded by validate (all are header-checked)


def _decode(path: Path, flags: int) -> Frame | None:
    """The image in the file at ``path`` (None: missing, empty or undecodable).

    The file is read here and decoded from memory: OpenCV's ``imread`` crashes the process
    (SIGSEGV) on a path that is not UTF-8 (a POSIX file name of other bytes) and cannot open a
    non-ASCII path on Windows.
    """
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except (OSError, ValueError):
        return None
    img = cv2.imdecode(data, flags) if data.size else None
    return None if img is None else np.asarray(img, dtype=np.uint8)


def _read(path: Path) -> Frame:
    import cv2

    if path.is_symlink():
        raise SessionFormatError(f"{path} is a symbolic link (frames are never read through one)")
    img = _decode(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SessionFormatError(f"{path} is missing or cannot be decoded")
    return img


def _png_header(path: Path) -> tuple[int, int] | str:
    """(width, height) from the IHDR of a whole PNG, or what is wrong with it."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if len(head) < 24 or head[:8] != _PNG_SIG or head[12:16] != b"IHDR":
                return "not a PNG file"
            f.seek(-12, 2)
            if f.read(12) != _IEND:
                return "truncated (no IEND trailer)"
    except OSError as exc:
        return f"unreadable ({exc})"
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


class PngFolderStore(FrameStore):
    """One folder of PNGs per chunk (see the module docstring)."""

    kind: ClassVar[str] = "png"
    default_ext: ClassVar[str] = "png"

    @classmethod
    def new_format(cls, settings: EncodeSettings) -> FrameFormat:
        """``{"kind": "png", "encoder": <resolved name>, "ext": "png"}``."""
        from ...codecs.png import get_png_encoder

        encoder, _ = get_png_encoder(settings.png_encoder)  # "auto" -> fpng or opencv
        return FrameFormat(cls.kind, encoder, "png")

    # -- write side ------------------------------------------------------------------------------
    def prepare_chunk(self, n: int) -> None:
        """Create ``frames/chunk_NNN/``."""
        self.location(n).mkdir(parents=True, exist_ok=True)

    def frame_target(self, n: int, row: int) -> Path:
        """``frames/chunk_NNN/{row + 1:06d}.png``."""
        return self.paths.frame_png(n, row + 1)

    def encoder_spec(self, *, workers: int, fps: float) -> EncoderSpec:
        """``workers`` PNG encoder processes, in any order."""
        from ...codecs.jobs import EncoderSpec
        from ...codecs.png import png_worker

        return EncoderSpec(png_worker, self.format.encoder or "auto", workers,
                           ordered=False, name="png")

    # -- read side -------------------------------------------------------------------------------
    def location(self, n: int) -> Path:
        """``frames/chunk_NNN/``."""
        return self.paths.chunk_frames_dir(n)

    def orphans_dir(self, n: int) -> Path:
        """``frames/chunk_NNN/orphans/``."""
        return self.location(n) / "orphans"

    def _unsafe_entries(self, n: int, repair: bool) -> str | None:
        folder = self.location(n)
        if folder.exists() and not folder.is_dir():
            return f"{folder} is not a folder"
        if folder.is_dir():
            # The orphans folder matters only to repair (base.unsafe checks it then).
            links = sorted(p.name for p in folder.iterdir() if p.is_symlink()
                           and (repair or p != self.orphans_dir(n)))
            if links:
                return f"{folder} holds symbolic links: {few(links)}"
        return None

    def _rows_listed(self, n: int, num_frames: int) -> set[int]:
        """Rows in ``0..num_frames-1`` whose PNG is a regular file: one listing of the folder.

        Work and memory are bounded by the files on disk, not by ``num_frames``.
        """
        folder = self.location(n)
        if not folder.is_dir() or folder.is_symlink():
            return set()
        rows = set()
        for entry in os.scandir(folder):
            stem, dot, ext = entry.name.partition(".")
            if (dot and ext == "png" and len(stem) >= 6 and stem.isdigit() and stem.isascii()
                    and f"{int(stem):06d}" == stem and 1 <= int(stem) <= num_frames
                    and entry.is_file(follow_symlinks=False)):
                rows.add(int(stem) - 1)
        return rows

    def frames_present(self, n: int, num_frames: int) -> npt.NDArray[np.bool_]:
        """Per row: does its PNG exist (a regular file, not a link)."""
        out = np.zeros(num_frames, dtype=bool)
        rows = self._rows_listed(n, num_frames)
        if rows:
            out[np.fromiter(rows, np.int64, len(rows))] = True
        return out

    def count_on_disk(self, n: int) -> int:
        """Leading rows whose PNG exists (an existing PNG is whole: it was renamed into place)."""
        rows = 0
        while is_plain_file(self.frame_target(n, rows)):
            rows += 1
        return rows

    def iter_frames(self, n: int, num_frames: int, size: Size,
                    ) -> Generator[Frame, None, None]:
        """Decode the PNGs in row order (stored at the real size: ``size`` is not needed)."""
        for r in range(num_frames):
            yield _read(self.frame_target(n, r))

    def map_frames(self, n: int, num_frames: int, size: Size, rows: Iterable[int],
                   transform: Callable[[Frame], T], *, workers: int = 1) -> Iterator[T]:
        """Decode and transform on ``workers`` threads, a bounded number in flight, in order."""

        def load(row: int) -> T:
            return transform(_read(self.frame_target(n, row)))

        depth = 4 * workers  # memory stays flat: at most this many frames wait
        with ThreadPoolExecutor(workers, thread_name_prefix="frames") as pool:
            pending: deque[Future[T]] = deque()
            for row in rows:
                pending.append(pool.submit(load, int(row)))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def check(self, n: int, num_frames: int, size: Size, check_frames: bool) -> list[Finding]:
        """Missing/extra PNGs; with ``check_frames`` every header and a decoded sample."""
        folder = self.location(n)
        if not folder.is_dir():
            return [(ERROR, f"frame folder {folder} is missing")]
        out: list[Finding] = []
        rows = self._rows_listed(n, num_frames)  # bounded by the files on disk
        names = {p.name for p in folder.iterdir() if p.is_file()}
        expected = {self.frame_target(n, r).name for r in rows}
        extra = sorted(names - expected)
        if len(rows) < num_frames:
            first: list[str] = []
            r = 0
            while len(first) < 6 and r < num_frames:  # stops within len(rows) + 6 steps
                if r not in rows:
                    first.append(self.frame_target(n, r).name)
                r += 1
            missing = num_frames - len(rows)
            shown = ", ".join(first[:5]) + (f" (+{missing - 5} more)" if missing > 5 else "")
            out.append((ERROR, f"{missing} frames missing: {shown} in {folder}"))
        if extra:
            out.append((ERROR if any(x.endswith(".png") for x in extra) else WARNING,
                        f"{len(extra)} extra files without rows: {few(extra)} in {folder}"))
        if self.orphans_dir(n).is_dir():
            out.append((INFO, "orphans/ holds frames set aside by crash recovery"))
        present = [self.frame_target(n, r).name for r in sorted(rows)]
        if check_frames and present:
            out += self._check_files(folder, present, size)
        return out

    def _check_files(self, folder: Path, present: list[str], size: Size) -> list[Finding]:
        # Headers and trailers of all (a few bytes each: catches truncated and foreign files
        # and size changes inside a chunk), a full decode of an even sample.
        out: list[Finding] = []
        bad, sizes = [], Counter[tuple[int, int]]()
        for name in present:
            r = _png_header(folder / name)
            if isinstance(r, str):
                bad.append(f"{name} {r}")
            else:
                sizes[r] += 1
        import cv2

        picks = sorted({present[int(i)] for i in np.linspace(0, len(present) - 1,
                                                             min(_SAMPLE, len(present)))})
        for name in picks:
            if _decode(folder / name, cv2.IMREAD_UNCHANGED) is None:
                bad.append(f"{name} cannot be decoded")
        if bad:
            out.append((ERROR, f"{len(bad)} undecodable frames: {few(sorted(set(bad)))}"))
        if len(sizes) > 1:
            out.append((ERROR, f"frames of different sizes in one chunk: "
                               f"{dict(sizes.most_common(3))}"))
        if sizes and size is not None:
            got = sizes.most_common(1)[0][0]
            if got != size:
                out.append((WARNING, f"frames are {got[0]}x{got[1]}, meta.json says "
                                     f"{size[0]}x{size[1]}"))
        return out

    def trim(self, n: int, kept: int) -> tuple[str, ...]:
        """Move every file of the folder beyond the kept rows (temporaries too) to orphans/."""
        folder = self.location(n)
        if not folder.is_dir():
            return ()
        keep = {self.frame_target(n, r).name for r in range(kept)}
        moved = []
        for p in sorted(folder.iterdir()):
            if is_plain_file(p) and p.name not in keep:
                set_aside(p, self.orphans_dir(n))
                moved.append(p.name)
        return tuple(moved)
