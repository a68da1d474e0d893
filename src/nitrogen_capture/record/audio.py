"""The recorder's audio thread: game sound read, stamped, cut like the frames, stored per chunk.

One daemon thread owns the audio source and the open chunk's files (docs/audio.md):

1. ``read`` a block; stamp its arrival with the monotonic clock the moment it returns;
2. track the device's clock: ``arrival - samples_so_far / rate`` is the time of the run's sample
   0 plus a delay that is never negative; its lower envelope (allowed to rise 1000 ppm, the most a
   sound card drifts) dates every sample. Arrivals that stay more than :data:`LOST_NS` above the
   envelope (not one late block: a burst or a busy moment) mean the server dropped samples (an
   overrun, a suspended sink): the gap is counted as lost, and merge's clock fit gives the
   samples after it an intercept of their own (:mod:`nitrogen_capture.audio.clockmap`);
3. hold each block :data:`DELAY_NS` (the capture thread announces a pause or focus loss at the
   tick it sees it, a little after it happened), then keep the samples whose time falls where
   frames were recorded (not paused, window focused, after the start, before the stop) and write
   them to the chunk their time falls in, with their piece row.

A device that goes away (``AudioError`` from ``read``) is reopened every second; meanwhile the
recording goes on without audio, and ``meta.json`` ``audio.stats.device_lost`` and the status line
say so. Nothing here may stop the recording: an unexpected failure ends the audio thread only
(``audio.status`` ``failed``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.base import AudioSettings, AudioSource
from ..audio.clockmap import fit_runs
from ..clock import now_ns
from ..errors import AudioError
from ..session.audio_store import AudioChunkWriter
from ..session.meta_audio import AudioInfo
from ..session.paths import SessionPaths

__all__ = ["DELAY_NS", "LOST_NS", "WARM_UP_NS", "AudioRecorder"]

log = logging.getLogger(__name__)

DELAY_NS = 400_000_000  # the writer thread's binning delay: pauses are known by then
LOST_NS = 50_000_000
_DRIFT_ALLOWANCE = 1e-3  # the envelope may rise this much per second of samples (1000 ppm)
_FLUSH_NS = 500_000_000  # fsync the open chunk's files this often (as the journal)
_REOPEN_NS = 1_000_000_000
WARM_UP_NS = 3_000_000_000  # open() waits this long at most for the device's first sound
_STEP_CONFIRM_NS = 1_500_000_000  # longer than a burst: late for this long is a loss


@dataclass
class _Block:
    samples: npt.NDArray[np.int16]
    run: int
    dev_start: int
    t_arrival: int  # absolute monotonic ns
    t_first: float  # estimated absolute time of the first sample


class AudioRecorder:
    """See the module docstring.

    The capture thread calls :meth:`set_recording` and :meth:`set_chunk`: cheap list appends
    (atomic under the GIL); the audio thread only reads the lists, up to their common length.
    """

    def __init__(self, source: AudioSource, paths: SessionPaths) -> None:
        self.source = source
        self.settings: AudioSettings = source.settings
        self.paths = paths
        self.rate = self.settings.rate
        self._t0 = 0
        # When frames are recorded: transitions (abs ns, recording?) and chunk starts (abs ns).
        self._state_t: list[int] = []
        self._state_on: list[bool] = []
        self._chunk_t: list[int] = []
        self._chunk_n: list[int] = []
        self._pending: deque[_Block] = deque()
        self._writer: AudioChunkWriter | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run = 0
        self._dev = 0  # device samples read in this run
        self._base: float | None = None  # envelope: abs ns of this run's sample 0
        self._high_since: int | None = None  # arrivals above the envelope since (abs ns)
        self._high_min: float | None = None
        self._alive = False
        self._gone: bool | None = None  # set when the thread ends
        self.status = "ok"
        self.recorded = 0
        self.cut = 0
        self.lost_ns = 0
        self.stalls = 0
        self.reopened = 0
        self.device_lost: list[dict[str, Any]] = []
        self.chunks_written: list[int] = []
        self.error: str | None = None

    # -- the capture thread's side ----------------------------------------------------------------
    def open(self) -> None:
        """Open the source before the clock starts (raises AudioError: one line, no recording).

        Then wait (at most :data:`WARM_UP_NS`) for its first sound: an idle PulseAudio null
        sink's monitor starts delivering about 2 s after a stream opens, and a recording whose
        first seconds have no sound would leave the first presses without theirs. The wait is
        before the clock starts, like the capture source's warm-up.
        """
        self.source.open()
        self._alive = True
        deadline = now_ns() + WARM_UP_NS
        while now_ns() < deadline:
            block = self.source.read()
            if block is not None and len(block):
                t = now_ns()
                self._dev += len(block)
                self._track(t - self._dev * 1e9 / self.rate, t, len(block))
                return
        log.info("audio: no sound from %s in %.0f s; recording starts anyway",
                 self.source.device.get("name", self.source.name), WARM_UP_NS / 1e9)

    def start(self, t0: int) -> None:
        """Start the thread; the session clock's zero is ``t0`` (abs ns)."""
        self._t0 = t0
        self.set_chunk(1, t0)
        self._thread = threading.Thread(target=self._main, name="audio", daemon=True)
        self._thread.start()

    def set_recording(self, t_ns: int, on: bool) -> None:
        """From ``t_ns`` (abs ns) frames are (``on``) or are not recorded."""
        if not self._state_on or self._state_on[-1] != on:
            self._state_t.append(t_ns)
            self._state_on.append(on)

    def set_chunk(self, chunk: int, t_ns: int) -> None:
        """Frame chunk ``chunk`` starts at ``t_ns`` (its first frame)."""
        self._chunk_t.append(t_ns)
        self._chunk_n.append(chunk)

    def stop(self, t_ns: int, timeout: float = 30.0) -> None:
        """Nothing after ``t_ns`` is recorded; finish the open chunk and close the source."""
        self.set_recording(t_ns, False)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("audio: the audio thread did not finish in %.0f s", timeout)
        elif self._alive:
            self._close_source()

    @property
    def state(self) -> str:
        """For the status line: ``ok``, ``lost`` (reopening) or ``failed``."""
        if self.status == "failed":
            return "failed"
        return "ok" if self._alive else "lost"

    def info(self) -> AudioInfo:
        """``meta.json`` ``audio`` as it stands (the runs are fitted from the stored rows)."""
        s = self.settings
        lost_s = self.lost_ns / 1e9
        stats = {"recorded_s": round(self.recorded / self.rate, 3),
                 "cut_s": round(self.cut / self.rate, 3), "lost_s": round(lost_s, 3),
                 "device_lost": list(self.device_lost), "reopened": self.reopened,
                 "stalls": self.stalls, "chunks": list(self.chunks_written)}
        if self.error is not None:
            stats["error"] = self.error
        status = self.status
        gone = self._gone if self._gone is not None else not self._alive
        if status == "ok" and gone and self.device_lost:
            status = "lost"
        return AudioInfo(self.rate, s.channels, self.source.describe(),
                         {"source": s.source, "backend": s.backend, "block_ms": s.block_ms},
                         (), stats, status)

    # -- the audio thread -------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("audio: the audio thread failed; the recording goes on without audio")
            if self._writer is not None:
                self._writer.abandon()  # its parts stay for merge to recover
                self._writer = None
        finally:
            self._gone = not self._alive  # the device was away when the recording ended
            self._close_source()

    def _loop(self) -> None:
        next_flush = now_ns() + _FLUSH_NS
        next_open = 0
        while not self._stop.is_set():
            if not self._alive:
                if now_ns() >= next_open:
                    next_open = now_ns() + _REOPEN_NS
                    self._reopen()
                self._stop.wait(0.05)
            else:
                self._read_one()
            now = now_ns()
            self._drain(now - DELAY_NS)
            if now >= next_flush and self._writer is not None:
                self._writer.flush()
                next_flush = now + _FLUSH_NS
        self._drain(None)
        if self._writer is not None:
            self._finish_writer()

    def _read_one(self) -> None:
        try:
            block = self.source.read()
        except AudioError as exc:
            self._lost(str(exc))
            return
        t = now_ns()
        if block is None or len(block) == 0:
            self.stalls += 1
            return
        n = len(block)
        dev_end = self._dev + n
        offset = t - dev_end * 1e9 / self.rate
        self._track(offset, t, n)
        assert self._base is not None
        t_first = self._base + (dev_end - n) * 1e9 / self.rate
        self._pending.append(_Block(block, self._run, dev_end - n, t, t_first))
        self._dev = dev_end

    def _track(self, offset: float, t: int, n: int) -> None:
        """Follow the envelope of ``arrival - samples / rate`` (the run's sample 0).

        A late arrival (a burst, a busy machine) leaves it alone; arrivals that all stay more
        than :data:`LOST_NS` above it for :data:`_STEP_CONFIRM_NS` mean the server dropped
        samples: the envelope moves up and the gap is counted (merge's clock fit places the
        samples after it by a stretch of its own, clockmap.py).
        """
        if self._base is None:
            self._base = offset
            return
        self._base = min(offset, self._base + n * 1e9 / self.rate * _DRIFT_ALLOWANCE)
        if offset - self._base <= LOST_NS:
            self._high_since, self._high_min = None, None
            return
        if self._high_since is None or self._high_min is None:
            self._high_since, self._high_min = t, offset
            return
        self._high_min = min(self._high_min, offset)
        if t - self._high_since >= _STEP_CONFIRM_NS:
            gap = self._high_min - self._base
            self.lost_ns += int(gap)
            log.warning("audio: %.0f ms of sound lost (the server dropped samples)", gap / 1e6)
            self._base = self._high_min
            self._high_since, self._high_min = None, None

    def _new_run(self) -> None:
        self._run += 1
        self._dev = 0
        self._base = None
        self._high_since, self._high_min = None, None

    def _lost(self, why: str) -> None:
        log.warning("audio: %s; the recording goes on without audio (reopening every second)",
                    why)
        self.device_lost.append({"t_ns": now_ns() - self._t0, "why": why})
        self._close_source()
        self._new_run()

    def _reopen(self) -> None:
        try:
            self.source.open()
        except AudioError as exc:
            log.debug("audio: reopen failed: %s", exc)
            return
        self._alive = True
        self.reopened += 1
        log.warning("audio: the device is back; recording sound again")

    def _close_source(self) -> None:
        if self._alive:
            self._alive = False
            try:
                self.source.close()
            except Exception:  # a lost device may fail to close: nothing left to save
                log.debug("audio: closing the source failed", exc_info=True)

    # -- cutting and storing ----------------------------------------------------------------------
    def _drain(self, horizon: int | None) -> None:
        while self._pending and (horizon is None or self._pending[0].t_arrival <= horizon):
            self._store(self._pending.popleft())

    def _store(self, b: _Block) -> None:
        n = len(b.samples)
        times = b.t_first + np.arange(n) * (1e9 / self.rate)
        k = min(len(self._state_t), len(self._state_on))
        state_t, state_on = self._state_t[:k], [*self._state_on[:k], False]
        on_idx = np.searchsorted(np.asarray(state_t, np.float64), times, side="right") - 1
        on = np.asarray(state_on)[on_idx]  # index -1 (before any transition) -> False
        on &= times >= self._t0
        k = min(len(self._chunk_t), len(self._chunk_n))
        chunk_idx = np.searchsorted(np.asarray(self._chunk_t[:k], np.float64), times,
                                    side="right") - 1
        chunk = np.asarray(self._chunk_n[:k])[np.maximum(chunk_idx, 0)]
        self.cut += int(np.count_nonzero(~on & (times >= self._t0)))
        # Stretches of kept samples in one chunk become pieces.
        key = np.where(on, chunk, -1)
        edges = np.flatnonzero(np.diff(key)) + 1
        for a, z in zip(np.r_[0, edges], np.r_[edges, n], strict=True):
            if key[a] < 0:
                continue
            self._piece(int(key[a]), b, int(a), int(z))

    def _piece(self, chunk: int, b: _Block, a: int, z: int) -> None:
        if self._writer is not None and self._writer.chunk != chunk:
            self._finish_writer()
        if self._writer is None:
            self._writer = AudioChunkWriter(self.paths, chunk, self.settings.channels)
        self._writer.append(b.samples[a:z], b.run, b.dev_start + a,
                            b.dev_start + len(b.samples), b.t_arrival - self._t0)
        self.recorded += z - a

    def _finish_writer(self) -> None:
        assert self._writer is not None
        writer, self._writer = self._writer, None
        writer.finish(self.rate)
        self.chunks_written.append(writer.chunk)

    def fitted_runs(self) -> tuple[dict[str, Any], ...]:
        """The runs' fits from what was stored (for the final meta.json)."""
        from ..session.audio_store import audio_chunks, read_audio_chunk

        rows = [read_audio_chunk(self.paths, c).pieces for c in audio_chunks(self.paths)]
        if not rows:
            return ()
        fits = fit_runs(np.concatenate(rows), self.rate)
        return tuple(f.to_json() for f in fits.values())

