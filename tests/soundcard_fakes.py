"""A fake of the slice of ``soundcard`` 0.4.6's Windows backend the wasapi source uses.

Built from soundcard/mediafoundation.py: the module functions ``all_microphones(include_loopback)``
(loopbacks of the render endpoints first, then the capture endpoints, each a ``_Microphone``
sharing its endpoint's id), ``default_speaker()``;
``_Microphone.recorder(samplerate, channels=None, blocksize=None, exclusive_mode=False)`` whose
``_Recorder`` is a context manager with ``record(numframes=None)`` returning float32
``(n, channels)`` and ``deviceperiod`` ``(default_s, minimum_s)``. Failures are what soundcard
really raises: every COM HRESULT as ``RuntimeError('Error 0x8889....')`` from its
``check_error`` (``'unsupported format'`` for ``AUDCLNT_E_UNSUPPORTED_FORMAT``, raised by
``recorder()``, where soundcard calls ``IAudioClient::Initialize``).

What an endpoint delivers is scripted per ``record`` call on :class:`FakeEndpoint`: an array, an
exception to raise, or a :class:`threading.Event` to block on (a driver that stops answering).
With nothing scripted, ``record`` does what soundcard does for a silent loopback: it waits four
device periods and returns that time's worth of zeros.

Install with ``monkeypatch.setitem(sys.modules, "soundcard", system.module())``.
"""

from __future__ import annotations

import queue
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_PERIOD_S = 0.01  # soundcard's deviceperiod[0] on a usual Windows endpoint
INVALIDATED = "Error 0x88890004"  # AUDCLNT_E_DEVICE_INVALIDATED as check_error prints it


class SoundcardRuntimeWarning(RuntimeWarning):
    """soundcard's warning class (data discontinuity)."""


@dataclass
class FakeEndpoint:
    """One Core Audio endpoint: a render endpoint (speaker) or a capture endpoint."""

    id: str
    name: str
    channels: int = 2
    script: queue.Queue[Any] = field(default_factory=queue.Queue)
    refuse: str | None = None  # recorder() raises RuntimeError(refuse), e.g. "unsupported format"
    opened: list[tuple[int, int, int | None]] = field(default_factory=list)  # (rate, ch, block)

    def feed(self, *items: Any) -> None:
        """Script the next ``record`` calls (arrays, exceptions, Events to block on)."""
        for item in items:
            self.script.put(item)


class _Recorder:
    def __init__(self, endpoint: FakeEndpoint, samplerate: int, channels: int) -> None:
        self.endpoint = endpoint
        self.samplerate = samplerate
        self.channels = channels
        self.entered = False

    @property
    def deviceperiod(self) -> tuple[float, float]:
        return DEFAULT_PERIOD_S, DEFAULT_PERIOD_S / 3

    def __enter__(self) -> _Recorder:
        self.entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.entered = False

    def record(self, numframes: int | None = None) -> np.ndarray:
        assert numframes is None, "the wasapi source reads what is there"
        assert self.entered, "soundcard's record outside the recorder's with-block"
        start = time.perf_counter()
        try:
            item = self.endpoint.script.get(timeout=4 * DEFAULT_PERIOD_S)
        except queue.Empty:  # silent loopback: soundcard makes up zeros for the time waited
            n = int(self.samplerate * (time.perf_counter() - start))
            return np.zeros((n, self.channels), dtype=np.float32)
        if isinstance(item, threading.Event):
            item.wait()  # the driver call returns only when the test lets it
            return np.zeros((0, self.channels), dtype=np.float32)
        if isinstance(item, BaseException):
            raise item
        data = np.asarray(item, dtype=np.float32)
        return data.reshape(-1, self.channels)


class _Microphone:
    def __init__(self, endpoint: FakeEndpoint, isloopback: bool) -> None:
        self._endpoint = endpoint
        self.isloopback = isloopback

    @property
    def id(self) -> str:
        return self._endpoint.id

    @property
    def name(self) -> str:
        return self._endpoint.name

    @property
    def channels(self) -> int:
        return self._endpoint.channels

    def recorder(self, samplerate: int, channels: int | None = None,
                 blocksize: int | None = None, exclusive_mode: bool = False) -> _Recorder:
        if self._endpoint.refuse:
            raise RuntimeError(self._endpoint.refuse)
        ch = self._endpoint.channels if channels is None else channels
        self._endpoint.opened.append((samplerate, ch, blocksize))
        return _Recorder(self._endpoint, samplerate, ch)


class _Speaker:
    def __init__(self, endpoint: FakeEndpoint) -> None:
        self.id = endpoint.id
        self.name = endpoint.name


@dataclass
class FakeSystem:
    """The endpoints Windows would enumerate (active ones, in enumeration order)."""

    speakers: list[FakeEndpoint]
    microphones: list[FakeEndpoint]
    default: str  # the default render endpoint's id
    fail: str | None = None  # every enumeration raises RuntimeError(fail)

    def _check(self) -> None:
        if self.fail:
            raise RuntimeError(self.fail)

    def all_microphones(self, include_loopback: bool = False) -> list[_Microphone]:
        self._check()
        loop = [_Microphone(e, True) for e in self.speakers] if include_loopback else []
        return loop + [_Microphone(e, False) for e in self.microphones]

    def default_speaker(self) -> _Speaker:
        self._check()
        return _Speaker(next(e for e in self.speakers if e.id == self.default))

    def module(self) -> types.ModuleType:
        """A module object standing for ``soundcard`` (its Windows backend's names)."""
        mod = types.ModuleType("soundcard")
        mod.all_microphones = self.all_microphones  # type: ignore[attr-defined]
        mod.default_speaker = self.default_speaker  # type: ignore[attr-defined]
        mod.SoundcardRuntimeWarning = SoundcardRuntimeWarning  # type: ignore[attr-defined]
        return mod


def two_outputs() -> FakeSystem:
    """Speakers and a USB headset (the default), one microphone: ids in Windows' form."""
    return FakeSystem(
        speakers=[FakeEndpoint("{0.0.0.00000000}.{aaaa}", "Speakers (Realtek(R) Audio)"),
                  FakeEndpoint("{0.0.0.00000000}.{bbbb}", "Headset Earphone (USB Audio)")],
        microphones=[FakeEndpoint("{0.0.1.00000000}.{cccc}", "Microphone (USB Audio)", 1)],
        default="{0.0.0.00000000}.{bbbb}")
