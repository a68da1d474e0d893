"""WASAPI loopback on Windows: what the game plays to the default render endpoint.

Through the ``soundcard`` library's Windows backend (``soundcard/mediafoundation.py``, cffi over
the Core Audio COM interfaces): every render endpoint is also offered as a *loopback* microphone
(``all_microphones(include_loopback=True)`` lists the loopbacks first, then the capture
endpoints), and ``recorder(samplerate, channels, blocksize)`` opens a shared-mode stream that the
audio engine converts to the rate and channels asked for (float32 ``(n, channels)``).

Limits, all measured or read in soundcard 0.4.6's source (docs/audio.md "Windows"):

* process loopback (``app:NAME``: one program's sound, ``ActivateAudioInterfaceAsync`` with
  ``AUDIOCLIENT_ACTIVATION_TYPE_PROCESS_LOOPBACK``, Windows 10 2004 and later) is not in
  soundcard, so ``app:`` is refused with one line;
* a loopback stream delivers no packets while nothing plays; soundcard then makes up zeros after
  four device periods of silence, counted on ``perf_counter``, not on the device's clock;
* every soundcard call for a stream runs on one reader thread of this module: a driver that
  stops answering blocks that thread, never :meth:`WasapiSource.read`, which waits a bounded
  time and returns None (a stall).

soundcard reports every COM failure as ``RuntimeError('Error 0x8889....')`` (its
``_COMLibrary.check_error``); :func:`_audio_error` turns the HRESULTs a recording meets into
:class:`~nitrogen_capture.errors.AudioError` lines.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import AudioError, missing_dependency
from .base import AudioDevice, AudioSettings, AudioSource, to_int16

__all__ = ["WasapiSource"]

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0  # activating an endpoint takes ~0.1 s; a stuck driver must not hang open
CLOSE_TIMEOUT_S = 2.0
_QUEUE_BLOCKS = 500  # ~5 s of 10 ms blocks while the consumer is late; then the reader waits

# HRESULTs (audioclient.h) a recording meets, as soundcard prints them ('Error 0x88890004').
_HRESULTS = {
    0x80070490: "does not exist: Windows has no active audio endpoint of that kind (E_NOTFOUND)",
    0x88890003: "is not a capture or loopback endpoint (AUDCLNT_E_WRONG_ENDPOINT_TYPE)",
    0x88890004: "went away or changed format (AUDCLNT_E_DEVICE_INVALIDATED)",
    0x88890008: "refuses the format (AUDCLNT_E_UNSUPPORTED_FORMAT)",
    0x8889000A: "is in use in exclusive mode (AUDCLNT_E_DEVICE_IN_USE)",
    0x88890010: "lost the Windows audio service (AUDCLNT_E_SERVICE_NOT_RUNNING)",
    0x88890026: "was reset by the audio engine (AUDCLNT_E_RESOURCES_INVALIDATED)",
}


def _soundcard() -> Any:
    """The soundcard module (its Windows backend on Windows), imported on first use."""
    try:
        import soundcard
    except ImportError as exc:
        raise missing_dependency("soundcard", "audio", "record --audio") from exc
    except (OSError, RuntimeError) as exc:  # ole32 missing, COM refused to initialise
        raise AudioError(f"WASAPI is not available: {exc}") from exc
    return soundcard


def _audio_error(exc: BaseException, device: str) -> AudioError:
    """The one line for a soundcard failure on ``device``."""
    text = str(exc)
    if isinstance(exc, AssertionError):  # soundcard asserts the mix format is float32
        text = "its mix format is not 32-bit float, which soundcard needs"
    elif text == "unsupported format":  # soundcard's own text for 0x88890008
        text = _HRESULTS[0x88890008]
    else:
        found = re.search(r"0x([0-9a-fA-F]{8})", text)
        if found and int(found.group(1), 16) in _HRESULTS:
            text = _HRESULTS[int(found.group(1), 16)]
    return AudioError(f"WASAPI endpoint {device!r} {text}" if text else
                      f"WASAPI endpoint {device!r} failed: {type(exc).__name__}")


def _describe(mics: list[Any]) -> str:
    return "; ".join(f"{m.name!r} ({'loopback' if m.isloopback else 'input'})"
                     for m in mics) or "none"


def _pick(sc: Any, source: str) -> Any:
    """The microphone (loopback or input) ``source`` names; see :class:`WasapiSource`."""
    try:
        mics = list(sc.all_microphones(include_loopback=True))
        if source == "default":
            speaker_id = sc.default_speaker().id
            found = [m for m in mics if m.isloopback and m.id == speaker_id]
            if found:
                return found[0]
            raise AudioError(f"the default render endpoint has no loopback; there is: "
                             f"{_describe(mics)}")
        by_id = [m for m in mics if m.id == source]
        by_name = [m for m in mics if source.casefold() in m.name.casefold()]
    except AudioError:
        raise
    except Exception as exc:  # COM errors surface as RuntimeError; any other is the same fault
        raise _audio_error(exc, source) from exc
    if by_id or by_name:
        return (by_id or by_name)[0]  # loopbacks come first: a name picks the output's loopback
    raise AudioError(f"no WASAPI endpoint matches --audio-source {source!r}; there is: "
                     f"{_describe(mics)} (nitrogen-capture audio-sources lists their ids)")


class _Reader(threading.Thread):
    """Owns the soundcard stream: opens it, reads it into a queue, closes it.

    An item in the queue is a float32 ``(n, channels)`` array or the exception that ended the
    stream; :attr:`started` is set once the stream runs or failed to start (:attr:`error`).
    """

    def __init__(self, mic: Any, settings: AudioSettings) -> None:
        super().__init__(name="wasapi-reader", daemon=True)  # daemon: a stuck driver call
        self.mic = mic
        self.settings = settings
        self.blocks: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_BLOCKS)
        self.started = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.period_s = 0.01  # the endpoint's default period, once open

    def run(self) -> None:
        s = self.settings
        try:
            with _com_thread(), self.mic.recorder(samplerate=s.rate, channels=s.channels,
                                                  blocksize=s.block_frames) as rec:
                self.period_s = float(rec.deviceperiod[0]) or self.period_s
                self.started.set()
                while not self.stop.is_set():
                    block = rec.record(numframes=None)
                    if len(block):
                        self._put(block)
        except Exception as exc:  # handed to the owner: open() or read() raises an AudioError
            if self.started.is_set():
                self._put(exc)
            else:
                self.error = exc
        finally:
            self.started.set()

    def _put(self, item: Any) -> None:
        while not self.stop.is_set():
            try:
                self.blocks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


@contextlib.contextmanager
def _com_thread() -> Iterator[None]:
    """COM for the reader thread on Windows (multithreaded apartment, as soundcard's own)."""
    if sys.platform != "win32":
        yield
        return
    import ctypes

    # S_OK or S_FALSE (already initialised here) need an uninitialise; RPC_E_CHANGED_MODE not.
    initialised = ctypes.windll.ole32.CoInitializeEx(None, 0) in (0, 1)
    try:
        yield
    finally:
        if initialised:
            ctypes.windll.ole32.CoUninitialize()


class WasapiSource(AudioSource):
    """WASAPI loopback of a render endpoint (or a capture endpoint), via soundcard.

    ``source``: ``default`` is the loopback of the default render endpoint (what the game
    plays to); an endpoint id, or a case-insensitive part of a name, picks another one
    (loopbacks are matched before capture endpoints). ``app:NAME`` is refused (see the module
    docstring).
    """

    name = "wasapi"

    def __init__(self, settings: AudioSettings) -> None:
        super().__init__(settings)
        self._reader: _Reader | None = None
        self._pending: BaseException | None = None

    @classmethod
    def list_devices(cls) -> list[AudioDevice]:
        """Loopbacks of the render endpoints (the default first), then capture endpoints."""
        sc = _soundcard()
        try:
            default_id = sc.default_speaker().id
            mics = list(sc.all_microphones(include_loopback=True))
            devices = [AudioDevice(m.id, m.name, "monitor" if m.isloopback else "input", cls.name,
                                   bool(m.isloopback and m.id == default_id),
                                   f"{'loopback of ' if m.isloopback else ''}{m.channels} ch")
                       for m in mics]
        except Exception as exc:  # COM errors surface as RuntimeError
            raise _audio_error(exc, "default") from exc
        return sorted(devices, key=lambda d: (d.kind != "monitor", not d.default))

    def open(self) -> None:
        """Pick the endpoint and start its stream on the reader thread."""
        source = self.settings.source
        if source.startswith("app:"):
            raise AudioError(
                f"--audio-source {source}: the wasapi backend records endpoints, not one "
                "application (process loopback needs Windows 10 2004+ and an API soundcard "
                "lacks); use 'default' or an endpoint from audio-sources")
        self.close()
        mic = _pick(_soundcard(), source)
        reader = _Reader(mic, self.settings)
        reader.start()
        if not reader.started.wait(OPEN_TIMEOUT_S):
            reader.stop.set()
            raise AudioError(f"WASAPI endpoint {mic.name!r} did not start within "
                             f"{OPEN_TIMEOUT_S:g} s")
        if reader.error is not None:
            raise _audio_error(reader.error, mic.name) from reader.error
        self._reader, self._pending = reader, None
        self.device = {"id": mic.id, "name": mic.name,
                       "kind": "monitor" if mic.isloopback else "input"}

    def read(self) -> npt.NDArray[np.int16] | None:
        """What arrived since the last read, int16 ``(n, channels)``; None after a bounded wait.

        The wait is two blocks or five device periods, whichever is longer: soundcard hands
        over silence only after four periods without packets.
        """
        reader = self._reader
        if reader is None:
            raise AudioError("WASAPI source read before open()")
        if self._pending is not None:
            raise _audio_error(self._pending, self.device.get("name", "?")) from self._pending
        wait = max(2 * self.settings.block_ms / 1000, 5 * reader.period_s)
        got: list[npt.NDArray[Any]] = []
        try:
            item = reader.blocks.get(timeout=wait)
            while True:
                if isinstance(item, BaseException):
                    self._pending = item
                    break
                got.append(item)
                item = reader.blocks.get_nowait()
        except queue.Empty:
            pass
        if not got:
            if self._pending is not None:
                raise _audio_error(self._pending, self.device.get("name", "?")) \
                    from self._pending
            return None
        samples = np.concatenate(got) if len(got) > 1 else got[0]
        if samples.ndim != 2 or samples.shape[1] != self.settings.channels:
            raise AudioError(f"WASAPI endpoint gave samples shaped {samples.shape}, expected "
                             f"(n, {self.settings.channels})")
        return to_int16(samples)

    def close(self) -> None:
        """Stop the stream; a reader stuck in the driver is left behind (daemon), logged."""
        reader, self._reader = self._reader, None
        if reader is None:
            return
        reader.stop.set()
        reader.join(CLOSE_TIMEOUT_S)
        if reader.is_alive():
            log.warning("WASAPI reader thread still inside the driver after %g s; left behind",
                        CLOSE_TIMEOUT_S)
