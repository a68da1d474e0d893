"""Game audio on disk: per-chunk FLAC beside the frames, crash-safe while open (docs/audio.md).

While a chunk is open the recorder's audio thread appends to two raw files, flushed (fsync) every
half second like the journal:

* ``audio_chunk_NNN.pcm.part``: little-endian int16 samples, channels interleaved;
* ``audio_blocks_chunk_NNN.bin.part``: int64 rows of :data:`PIECE_COLUMNS`, one per stored piece,
  each written *after* its samples, so every whole row describes samples already on disk.

When the chunk closes (or ``merge``/``repair`` finds the pair a ``kill -9`` left) the pair becomes
``audio_chunk_NNN.flac`` and ``audio_blocks_chunk_NNN.npy`` (:func:`finish_parts`), keeping the
samples the whole rows cover. ``merge`` then renders the session's one file, ``audio.flac``
(:mod:`nitrogen_capture.audio.timeline`), which :func:`read_session_audio` reads.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from ..atomic import atomic_path, open_new
from ..errors import SessionFormatError
from .io import atomic_save_npy, inside, is_plain_file
from .paths import SessionPaths

__all__ = [
    "AUDIO_MERGED",
    "PIECE_COLUMNS",
    "AudioChunk",
    "AudioChunkWriter",
    "SessionAudio",
    "audio_chunks",
    "audio_files",
    "finish_parts",
    "open_parts",
    "read_audio_chunk",
    "read_flac",
    "read_session_audio",
    "recover_audio_parts",
    "write_flac",
]

PIECE_COLUMNS: tuple[str, ...] = ("run", "dev_start", "n", "dev_mark", "t_mark_ns")
AUDIO_MERGED = "audio.flac"
_ROW_BYTES = 8 * len(PIECE_COLUMNS)
_CHUNK_RE = re.compile(r"^audio_chunk_(\d{3,})\.(flac|pcm\.part)$")


@dataclass(frozen=True)
class AudioFiles:
    """The four names of one chunk's audio."""

    flac: Path
    blocks: Path
    pcm_part: Path
    blocks_part: Path


def audio_files(paths: SessionPaths, chunk: int) -> AudioFiles:
    """Chunk ``chunk``'s audio files (finished and open)."""
    root = paths.root
    return AudioFiles(root / f"audio_chunk_{chunk:03d}.flac",
                      root / f"audio_blocks_chunk_{chunk:03d}.npy",
                      root / f"audio_chunk_{chunk:03d}.pcm.part",
                      root / f"audio_blocks_chunk_{chunk:03d}.bin.part")


def _chunks_with(paths: SessionPaths, suffix: str) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(paths.root):
            m = _CHUNK_RE.match(entry.name)
            if m and m.group(2) == suffix:
                found.append(int(m.group(1)))
    return sorted(found)


def audio_chunks(paths: SessionPaths) -> list[int]:
    """The chunks with finished audio (``audio_chunk_NNN.flac``), in order."""
    return _chunks_with(paths, "flac")


def open_parts(paths: SessionPaths) -> list[int]:
    """The chunks whose audio is still open (a recording, or what a crash left)."""
    return _chunks_with(paths, "pcm.part")


# -- FLAC ----------------------------------------------------------------------------------------
def write_flac(path: Path, samples: npt.NDArray[np.int16], rate: int) -> int:
    """Write int16 ``(n, channels)`` samples as FLAC at ``path`` atomically; returns its bytes."""
    import av  # the `video` extra's PyAV: FLAC is FFmpeg's native encoder

    samples = np.ascontiguousarray(samples, dtype=np.int16)
    channels = samples.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="flac") as out:
            stream = out.add_stream("flac", rate=rate, layout=layout)
            step = 1 << 15
            for i in range(0, len(samples), step):
                part = samples[i:i + step]
                frame = av.AudioFrame.from_ndarray(part.reshape(1, -1), format="s16",
                                                   layout=layout)
                frame.sample_rate = rate
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        size = os.path.getsize(tmp)
    return size


def read_flac(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    """A FLAC file's samples as int16 ``(n, channels)`` and its rate.

    Raises:
        SessionFormatError: not a readable FLAC file.
    """
    import av

    try:
        with av.open(str(path)) as inp:
            stream = inp.streams.audio[0]
            rate = int(stream.rate)
            channels = int(stream.channels)
            parts = [f.to_ndarray().reshape(-1, channels) for f in inp.decode(stream)]
    except (av.error.FFmpegError, IndexError, OSError, ValueError) as exc:
        raise SessionFormatError(f"{path.name}: not a readable FLAC file ({exc})") from exc
    if not parts:
        return np.zeros((0, channels), np.int16), rate
    return np.concatenate(parts).astype(np.int16, copy=False), rate


# -- the open chunk ------------------------------------------------------------------------------
class AudioChunkWriter:
    """Appends one chunk's pieces to its ``.part`` pair (the audio thread's only file writer)."""

    def __init__(self, paths: SessionPaths, chunk: int, channels: int) -> None:
        self.paths = paths
        self.chunk = chunk
        self.channels = channels
        self.files = audio_files(paths, chunk)
        self._pcm: BinaryIO = open_new(self.files.pcm_part)
        self._rows: BinaryIO = open_new(self.files.blocks_part)
        self.samples = 0

    def append(self, samples: npt.NDArray[np.int16], run: int, dev_start: int, dev_mark: int,
               t_mark_ns: int) -> None:
        """Store ``samples`` (device samples from ``dev_start`` of ``run``) and its row."""
        data = np.ascontiguousarray(samples, dtype="<i2")
        self._pcm.write(data.tobytes())
        row = np.array([run, dev_start, len(data), dev_mark, t_mark_ns], dtype="<i8")
        self._rows.write(row.tobytes())
        self.samples += len(data)

    def flush(self, *, fsync: bool = True) -> None:
        """Push both files to disk, samples first (a row never outlives its samples)."""
        for f in (self._pcm, self._rows):
            f.flush()
            if fsync:
                os.fsync(f.fileno())

    def finish(self, rate: int) -> int:
        """Close the pair and turn it into the finished files; returns the samples kept."""
        self.flush()
        self._pcm.close()
        self._rows.close()
        return finish_parts(self.paths, self.chunk, rate, self.channels)

    def abandon(self) -> None:
        """Close without finishing (the parts stay for merge to recover)."""
        for f in (self._pcm, self._rows):
            with contextlib.suppress(OSError):
                f.close()


def _read_plain(path: Path, root: Path) -> bytes:
    if not is_plain_file(path) or not inside(path, root):
        raise SessionFormatError(f"{path.name} is not a plain file inside the session")
    return path.read_bytes()


def finish_parts(paths: SessionPaths, chunk: int, rate: int, channels: int) -> int:
    """Turn chunk ``chunk``'s ``.part`` pair into its FLAC and piece rows; returns the samples.

    Only whole rows count, and a row whose samples were cut short by a crash is shortened to
    what is on disk; the rest of the raw samples (written, not yet described) are dropped.
    """
    files = audio_files(paths, chunk)
    raw_rows = _read_plain(files.blocks_part, paths.root)
    raw_pcm = _read_plain(files.pcm_part, paths.root)
    rows = np.frombuffer(raw_rows[:len(raw_rows) // _ROW_BYTES * _ROW_BYTES],
                         dtype="<i8").reshape(-1, len(PIECE_COLUMNS)).astype(np.int64)
    have = len(raw_pcm) // (2 * channels)
    kept: list[npt.NDArray[np.int64]] = []
    total = 0
    for row in rows:
        n = int(min(row[2], have - total))
        if n <= 0:
            break
        kept.append(np.array([row[0], row[1], n, row[3], row[4]], np.int64))
        total += n
    samples = np.frombuffer(raw_pcm[:total * 2 * channels], dtype="<i2").reshape(-1, channels)
    write_flac(files.flac, samples, rate)
    atomic_save_npy(files.blocks, np.array(kept, np.int64).reshape(-1, len(PIECE_COLUMNS)))
    for part in (files.pcm_part, files.blocks_part):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
    return total


def recover_audio_parts(paths: SessionPaths, rate: int, channels: int) -> list[int]:
    """Finish every open chunk a crash left (merge and repair call this); returns the chunks."""
    done = []
    for chunk in open_parts(paths):
        files = audio_files(paths, chunk)
        if not files.blocks_part.exists():  # died between creating the two files
            with contextlib.suppress(OSError):
                files.blocks_part.write_bytes(b"")
        finish_parts(paths, chunk, rate, channels)
        done.append(chunk)
    return done


# -- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioChunk:
    """One finished chunk: ``samples`` int16 ``(n, channels)`` and its ``pieces`` rows."""

    chunk: int
    samples: npt.NDArray[np.int16]
    pieces: npt.NDArray[np.int64]
    rate: int


def read_audio_chunk(paths: SessionPaths, chunk: int) -> AudioChunk:
    """Load a finished chunk and check its rows describe its samples.

    Raises:
        SessionFormatError: a file is missing, unreadable, or rows and samples disagree.
    """
    files = audio_files(paths, chunk)
    samples, rate = read_flac(files.flac)
    try:
        pieces = np.load(files.blocks, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SessionFormatError(f"{files.blocks.name}: {exc}", chunk=chunk) from exc
    if (pieces.dtype != np.int64 or pieces.ndim != 2 or pieces.shape[1] != len(PIECE_COLUMNS)
            or int(pieces[:, 2].sum()) != len(samples)):
        raise SessionFormatError(
            f"audio chunk {chunk}: {len(samples)} samples but piece rows "
            f"{pieces.dtype}{list(pieces.shape)} describe "
            f"{int(pieces[:, 2].sum()) if pieces.ndim == 2 and pieces.shape[1] > 2 else '?'}",
            chunk=chunk)
    return AudioChunk(chunk, samples, pieces, rate)


@dataclass(frozen=True)
class SessionAudio:
    """A merged session's audio: sample ``n`` is at ``n / rate`` s after ``clock.t0_ns``."""

    samples: npt.NDArray[np.int16]
    rate: int

    @property
    def channels(self) -> int:
        """1 or 2."""
        return int(self.samples.shape[1])

    def sample_at(self, t_ns: int | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The sample index of session time(s) ``t_ns`` (ns since ``clock.t0_ns``)."""
        return np.round(np.asarray(t_ns, dtype=np.float64) * self.rate / 1e9).astype(np.int64)


def read_session_audio(session: str | Path) -> SessionAudio | None:
    """The merged ``audio.flac`` of ``session``; None when it has none (no ``--audio``).

    Raises:
        SessionFormatError: the file is there but unreadable.
    """
    path = Path(session) / AUDIO_MERGED
    if not path.exists():
        return None
    if not is_plain_file(path):
        raise SessionFormatError(f"{path} is not a plain file")
    samples, rate = read_flac(path)
    return SessionAudio(samples, rate)
