"""PulseAudio / PipeWire (``pipewire-pulse``) capture through ``soundcard``: the ``pulse`` backend.

``default`` records the *monitor* of the default sink: a source that carries what the output
plays, i.e. the game's sound. A device id (``game.monitor``) or a case-insensitive part of a
source's name or id picks another, a microphone included. The server converts to the asked rate
and channel count (``pa_stream_connect_record`` with that sample spec), so a sink running at
44.1 kHz still gives 48 kHz blocks.

``app:NAME`` is refused: recording one application's stream needs a record stream attached to a
sink input (``pa_stream_set_monitor_stream``), which ``soundcard`` does not expose, and moving
the game to a sink of its own would change what the player hears. Route the game to its own sink
yourself (docs/audio.md "Backends") and record that sink's monitor.

Three things of ``soundcard`` 0.4 this module works around (docs/audio.md "Backends"):

- it connects to the server when imported (an ``AssertionError`` without a server) and keeps
  that one connection for the process, even after the server died: :func:`_connection`
  reconnects when the connection is gone or ``PULSE_SERVER`` names another server;
- it names the client after ``sys.argv`` and fails (``IndexError``) under ``python -c``: the
  connection is made with the program name ``nitrogen-capture``;
- its ``record()`` waits without end while a source delivers nothing (a suspended sink), and
  after the source vanished returns only a second later: :meth:`PulseSource.read` waits on the
  stream's read event itself, at most two blocks, and checks the stream's state on each pass.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from importlib import import_module
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import AudioError, missing_dependency
from .base import AudioDevice, AudioSettings, AudioSource, to_int16

__all__ = ["PulseSource"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()  # one connection change at a time
_SERVER: dict[str, str] = {}  # "address": the PULSE_SERVER the current connection was made to
_SIZE_MAX = 2**64 - 1  # pa_stream_readable_size's (size_t) -1: the stream is dead
_MAX_PIECES = 256  # fragments drained by one read at most (bounds a read after a long stall)
_STATES = {0: "unconnected", 1: "creating", 2: "ready", 3: "failed", 4: "terminated"}


def server_address() -> str:
    """The server a client reaches here, as the messages name it."""
    where = os.environ.get("PULSE_SERVER")
    if where:
        return where
    if sys.platform == "win32":  # PulseAudio for Windows exists; libpulse's default there
        return "localhost"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"{runtime}/pulse/native"


def _no_server() -> AudioError:
    return AudioError(f"no PulseAudio/PipeWire sound server at {server_address()}; start one "
                      "(or set PULSE_SERVER) or record without --audio")


@contextlib.contextmanager
def _program_name() -> Iterator[None]:
    """``sys.argv`` as soundcard reads it for the client's name (see the module docstring)."""
    saved = sys.argv
    sys.argv = ["nitrogen-capture"]
    try:
        yield
    finally:
        sys.argv = saved


def _ready(pulse: Any, mod: ModuleType) -> bool:
    return bool(pulse._pa_context_get_state(pulse.context) == mod._pa.PA_CONTEXT_READY)


def _connection() -> ModuleType:
    """``soundcard.pulseaudio``, connected to the server ``PULSE_SERVER`` names now.

    Raises:
        DependencyError: soundcard is not installed.
        AudioError: no server answers, or libpulse is missing.
    """
    address = os.environ.get("PULSE_SERVER", "")
    with _LOCK:
        mod = sys.modules.get("soundcard.pulseaudio")
        if mod is None:
            try:
                with _program_name():
                    mod = import_module("soundcard.pulseaudio")
            except ImportError as exc:
                raise missing_dependency("soundcard", "audio", "record --audio") from exc
            except AssertionError as exc:  # its connect ended in a state other than ready
                raise _no_server() from exc
            except OSError as exc:  # cffi could not dlopen libpulse
                raise AudioError(f"the PulseAudio client library (libpulse) cannot be loaded: "
                                 f"{exc}; install libpulse0 or record without --audio") from exc
            _SERVER["address"] = address
            return mod
        if _SERVER.get("address") == address and _ready(mod._pulse, mod):
            return mod
        fresh = mod._PulseAudio.__new__(mod._PulseAudio)
        try:
            with _program_name():
                fresh.__init__()
        except AssertionError as exc:
            _discard(mod, fresh)
            raise _no_server() from exc
        # The old connection keeps its atexit shutdown; streams opened on it must be closed
        # first (one server per process at a time: the recorder closes before it reopens).
        setattr(mod, "_pulse", fresh)  # noqa: B010 - soundcard's functions read this global
        atexit.register(fresh._shutdown)
        _SERVER["address"] = address
        log.info("audio: connected to the sound server at %s", server_address())
        return mod


def _discard(mod: ModuleType, failed: Any) -> None:
    """Free a connection that never became ready: its mainloop thread would outlive it.

    The recorder reopens a lost device every second; without this, each attempt against a dead
    server would leave a libpulse thread behind.
    """
    failed._pa_context_disconnect(failed.context)
    failed._pa_context_unref(failed.context)
    mod._pa.pa_threaded_mainloop_stop(failed.mainloop)
    mod._pa.pa_threaded_mainloop_free(failed.mainloop)


def _defaults(mod: ModuleType) -> tuple[str, str]:
    """The default sink's and source's names ("" where the server has none).

    soundcard's ``server_info`` fails inside its callback when there is no default sink.
    """
    found = ["", ""]
    ffi = mod._ffi

    @ffi.callback("pa_server_info_cb_t")  # type: ignore[untyped-decorator]
    def callback(context: Any, info: Any, userdata: Any) -> None:
        if info != ffi.NULL:
            for i, field in enumerate((info.default_sink_name, info.default_source_name)):
                if field != ffi.NULL:
                    found[i] = ffi.string(field).decode("utf-8", "replace")

    mod._pulse._pa_context_get_server_info(mod._pulse.context, callback, ffi.NULL)
    return found[0], found[1]


def _devices(mod: ModuleType) -> list[AudioDevice]:
    """The server's sources: monitors (the default sink's first), then inputs (default first)."""
    pulse = mod._pulse
    sink, source = _defaults(mod)
    monitors: list[AudioDevice] = []
    inputs: list[AudioDevice] = []
    for entry in pulse.source_list:
        info = pulse.source_info(entry["id"])
        monitor = info.get("device.class") == "monitor"
        default = entry["id"] == (f"{sink}.monitor" if monitor else source)
        device = AudioDevice(entry["id"], entry["name"], "monitor" if monitor else "input",
                             "pulse", default, f"{info.get('channels')} ch")
        (monitors if monitor else inputs).append(device)
    return (sorted(monitors, key=lambda d: not d.default)
            + sorted(inputs, key=lambda d: not d.default))


def _pick(devices: list[AudioDevice], source: str) -> AudioDevice:
    """The device ``source`` names (see the module docstring)."""
    if source == "default":
        monitors = [d for d in devices if d.kind == "monitor"]
        if monitors:
            return monitors[0]
    else:
        for d in devices:
            if d.id == source:
                return d
        wanted = source.casefold()
        for d in devices:
            if wanted in d.name.casefold() or wanted in d.id.casefold():
                return d
    ids = ", ".join(d.id for d in devices) or "none"
    what = "no monitor source" if source == "default" else f"no source matches {source!r}"
    raise AudioError(f"{what} on the PulseAudio server at {server_address()}; sources: {ids}")


class PulseSource(AudioSource):
    """Record a PulseAudio/PipeWire source (see the module docstring)."""

    name = "pulse"

    def __init__(self, settings: AudioSettings) -> None:
        super().__init__(settings)
        self._mod: ModuleType | None = None
        self._pulse: Any = None  # the connection the stream belongs to
        self._rec: Any = None  # soundcard's _Recorder, entered

    @classmethod
    def list_devices(cls) -> list[AudioDevice]:
        """The server's monitors (the default sink's first), then its inputs."""
        return _devices(_connection())

    def open(self) -> None:
        """Connect (or reconnect) and start a record stream on the chosen source."""
        s = self.settings
        if s.source.startswith("app:"):
            raise AudioError(
                f"--audio-source {s.source}: recording one application's stream is not "
                "supported with PulseAudio/PipeWire (soundcard has no per-stream monitor); "
                "record the monitor of the output the game plays to (--audio-source default) "
                "or route the game to a sink of its own and record its monitor")
        self.close()
        mod = _connection()
        device = _pick(_devices(mod), s.source)
        rec = mod.get_microphone(device.id, include_loopback=True).recorder(
            s.rate, s.channels, blocksize=s.block_frames)
        try:
            rec.__enter__()
        except (RuntimeError, TypeError) as exc:
            raise AudioError(f"PulseAudio refused to record {device.id} at {s.rate} Hz, "
                             f"{s.channels} ch: {exc}") from exc
        if rec.channels != s.channels:
            rec.__exit__(None, None, None)
            raise AudioError(f"PulseAudio opened {device.id} with {rec.channels} channels, "
                             f"not {s.channels}")
        self._mod, self._pulse, self._rec = mod, mod._pulse, rec
        self.device = {"id": device.id, "name": device.name, "kind": device.kind}
        log.info("audio: recording %s (%s) at %d Hz, %d ch", device.id, device.name, s.rate,
                 s.channels)

    def _check(self) -> int:
        """Bytes readable now; raises AudioError when the stream or the server is gone."""
        pulse, rec, mod = self._pulse, self._rec, self._mod
        assert mod is not None
        state = pulse._pa_stream_get_state(rec.stream)
        readable = pulse._pa_stream_readable_size(rec.stream) if state == 2 else _SIZE_MAX
        if readable != _SIZE_MAX:
            return int(readable)
        if not _ready(pulse, mod):
            raise AudioError(f"the sound server at {_SERVER.get('address') or 'default'} went "
                             "away")
        raise AudioError(f"PulseAudio source {self.device.get('id')} went away (stream "
                         f"{_STATES.get(int(state), state)})")

    def read(self) -> npt.NDArray[np.int16] | None:
        """What arrived since the last read, once a block is there (or two blocks passed).

        None when nothing came within two blocks.
        """
        rec = self._rec
        if rec is None:
            raise AudioError("the PulseAudio source is not open")
        s = self.settings
        # The server hands over its own fragments (5 ms when 10 ms are asked): wait for a whole
        # block, so block_ms sets the reads per second (and their CPU), not the fragment size.
        block_bytes = s.block_frames * s.channels * 4  # float32 on the stream
        deadline = time.monotonic() + 2 * s.block_ms / 1000
        while (readable := self._check()) < block_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if not readable:
                    return None
                break
            rec._record_event.wait(remaining)
            rec._record_event.clear()  # readable size is checked again: no wake-up is lost
        pieces = []
        for _ in range(_MAX_PIECES):
            if not self._check():
                break
            chunk = rec._record_chunk()  # does not block: data is readable
            if chunk is not None:
                pieces.append(chunk)
        if not pieces:
            return None
        samples = np.concatenate(pieces).reshape(-1, s.channels)
        return to_int16(samples)

    def close(self) -> None:
        """Disconnect the stream (idempotent; a dead server or stream is no error)."""
        rec, self._rec = self._rec, None
        if rec is not None:
            rec.__exit__(None, None, None)
