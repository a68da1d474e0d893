"""The sound of a LeRobot episode: one FLAC a episode and its time mapping (docs/export.md).

LeRobot v3.0 has no audio feature (its audio work, huggingface/lerobot pull requests 967 and
2824, is not merged), so nothing here is read by LeRobot's loader and nothing breaks it:

* ``audio/chunk-CCC/episode-EEEEEE.flac`` (chunk ``e // 1000``): the session audio of the
  episode's span (:mod:`..chunk_audio`), the episode's first row at its sample
  ``audio_sample[0]`` (0 but for rounding), a pause inside the episode as the silence it was;
* the data feature ``audio_sample`` (int64): each frame's sample in its episode's file;
* episodes-table columns ``audio/path``, ``audio/rate``, ``audio/channels``, ``audio/samples``,
  ``audio/session_first_sample``, ``audio/start_ns`` (the session time of the file's sample 0,
  ns since the session's ``clock.t0_ns``).

A dataset holds audio for every episode or for none (its features are one set): sessions with
and without audio are refused together, as are appends that would mix them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import link_or_copy, make_dirs
from ...errors import ExportError
from ...session.audio_store import AUDIO_MERGED, SessionAudio, read_session_audio
from ..chunk_audio import AUDIO_COLUMN, SpanAudio, span_audio

__all__ = ["AUDIO_KEY", "AUDIO_PATH", "EpisodeAudio", "audio_path", "has_audio",
           "move_episode_audio"]

AUDIO_KEY = AUDIO_COLUMN  # the data feature: each frame's sample in its episode's file
AUDIO_PATH = "audio/chunk-{chunk_index:03d}/episode-{episode_index:06d}.flac"
_CHUNK = 1000


def audio_path(episode: int) -> str:
    """The episode's audio file, relative to the dataset."""
    return AUDIO_PATH.format(chunk_index=episode // _CHUNK, episode_index=episode)


def has_audio(roots: list[Path]) -> bool:
    """Whether the sessions have merged audio: all (True) or none (False).

    Raises:
        ExportError: some have and some do not.
    """
    have = [(Path(r) / AUDIO_MERGED).is_file() for r in roots]
    if any(have) and not all(have):
        without = [Path(r).name for r, h in zip(roots, have, strict=True) if not h]
        raise ExportError(f"some sessions have audio and some do not ({', '.join(without[:3])} "
                          "not): convert them to separate datasets (a dataset's features are "
                          "one set)")
    return bool(have) and all(have)


class EpisodeAudio:
    """Writes each episode's audio file; the session audio is read once per session."""

    def __init__(self, root: Path) -> None:
        self.root = root  # the dataset being built
        self._cache: tuple[Path, SessionAudio] | None = None
        self.written: list[Path] = []

    def _session(self, session: Path) -> SessionAudio:
        if self._cache is None or self._cache[0] != session:
            audio = read_session_audio(session)
            if audio is None:  # has_audio said it was there
                raise ExportError(f"session {session} lost its {AUDIO_MERGED} while converting")
            self._cache = (session, audio)
        return self._cache[1]

    def episode(self, session: Path, episode: int, grid: np.ndarray, step_ns: int
                ) -> tuple[np.ndarray, dict[str, Any]]:
        """Write episode ``episode``'s file; returns its ``audio_sample`` and table columns."""
        span: SpanAudio = span_audio(self._session(session), grid, step_ns)
        rel = audio_path(episode)
        path = self.root / rel
        make_dirs(path.parent, below=self.root)
        span.write(path)
        self.written.append(path)
        m = span.meta(rel)
        cols = {"audio/path": rel, "audio/rate": m["rate"], "audio/channels": m["channels"],
                "audio/samples": m["samples"],
                "audio/session_first_sample": m["session_first_sample"],
                "audio/start_ns": m["start_ns"]}
        return span.rows, cols


def move_episode_audio(src_root: Path, row: dict[str, Any], dst_root: Path,
                       episode: int) -> None:
    """A batch merge: the part's episode file goes to its new number (``row`` updated).

    Hard-linked, or copied across file systems (atomic.link_or_copy).
    """
    old = row.get("audio/path")
    if not old:
        return
    src = src_root / str(old)
    if not src.is_file() or src.is_symlink():
        raise ExportError(f"{src} is missing: the part is not whole, convert again")
    rel = audio_path(episode)
    make_dirs((dst_root / rel).parent, below=dst_root)
    link_or_copy(src, dst_root / rel)
    row["audio/path"] = rel
