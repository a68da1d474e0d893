"""The base class of input sources.

Every listener (pynput, XInput2 raw motion, Raw Input, XInput, SDL, the scripted timeline) turns
what the OS reports into :class:`~nitrogen_capture.events.InputEvent` values stamped on the one
monotonic clock (:func:`nitrogen_capture.clock.now_ns`) and hands them to a sink. A listener
callback does only that, stamp and hand over; filtering (layout, focus, hotkeys) happens in
:class:`nitrogen_capture.inputs.router.InputRouter`, binning on the recorder's writer thread. The
devices and codes are listed in :mod:`nitrogen_capture.events`.

A key already down when a listener starts gives it no press event. So a source that can read the
OS state also answers :meth:`InputSource.held_now`, which the recorder asks at the start of a
recording and at every resume (docs/architecture.md 5.5).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from ..errors import InputError
from ..events import EventSink, InputEvent

if TYPE_CHECKING:
    from ..targets.base import Target

__all__ = ["InputFactory", "InputSettings", "InputSource", "ThreadedInputSource"]


@dataclass(frozen=True)
class InputSettings:
    """The input settings a recording has, whichever input backend it ends up with.

    Each backend reads the fields it needs into its own frozen config (``ScriptedConfig``,
    ``LiveConfig``) and ignores the rest.

    Attributes:
        seed, fps: the scripted timeline's seed and frame rate.
        gamepad: also read a gamepad; ``gamepad_backend`` chooses the reader (``auto``,
            ``xinput``, ``sdl``).
        raw_motion: add the raw relative-motion source (live backends).
        display: the X display to listen on (None: ``$DISPLAY``).
        target: the recorder's target, for window-bound listeners (none uses it yet).
    """

    seed: int = 0
    fps: float = 30.0
    gamepad: bool = False
    gamepad_backend: str = "auto"
    raw_motion: bool = True
    display: str | None = None
    target: Target | None = None


#: An input backend: the unstarted sources for the settings (one registry line each).
InputFactory = Callable[[InputSettings], "list[InputSource]"]


class InputSource(ABC):
    """A listener that delivers :class:`InputEvent` values to a sink from its own thread(s).

    Subclasses implement :meth:`_start` and :meth:`_stop`. An exception raised inside a listener
    thread must be handed to :meth:`_fail`; :meth:`check` (called by the recorder every tick)
    and :meth:`stop` re-raise it in the owner's thread, so a dead listener never goes unnoticed.
    """

    name: str = "input"
    #: True when this source delivers raw relative mouse motion (device counts, not cursor
    #: position differences); recorded in meta.json ``input.raw_motion``.
    raw_motion: bool = False

    def __init__(self) -> None:
        self._sink: EventSink | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._running = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, sink: EventSink) -> None:
        """Start delivering events to ``sink``."""
        if self._running:
            return
        self._sink = sink
        self._start()
        self._running = True

    def stop(self) -> None:
        """Stop listening; idempotent. Re-raises the first error of a listener thread."""
        if self._running:
            self._running = False
            self._stop()
        self.check()

    def losses(self) -> dict[str, int]:
        """What this source lost while running, by name (``{"devices_lost": 1}``); default none.

        The recorder stores the non-zero ones in meta.json ``input.losses`` and ``validate``
        warns about them: a loss is counted where a user looks, not only logged.
        """
        return {}

    def check(self) -> None:
        """Raise the error a listener thread ran into, if any."""
        with self._lock:
            err, self._error = self._error, None
        if err is not None:
            if isinstance(err, InputError):
                raise err
            raise InputError(f"{self.name} listener failed: {err}") from err

    def __enter__(self) -> InputSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        except InputError:
            if exc is None:  # never hide the first error
                raise

    def held_now(self, keys: Sequence[str]) -> list[InputEvent]:
        """What this source's devices hold right now, read from the OS; nothing by default.

        Keys, mouse buttons and pad buttons come as :data:`~nitrogen_capture.events.HELD`
        presses, the pad sticks as ``pad_axis`` positions (all four), stamped with the read.
        Called from the recorder's thread while the source runs.

        Args:
            keys: the layout's key and button names: only these are read (privacy).
        """
        return []

    # -- for subclasses -----------------------------------------------------------------------
    def _emit(self, event: InputEvent) -> None:
        sink = self._sink
        if sink is not None:
            sink(event)

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error

    @abstractmethod
    def _start(self) -> None:
        """Open OS resources and start the listener thread(s)."""

    @abstractmethod
    def _stop(self) -> None:
        """Stop the threads and release OS resources."""


class ThreadedInputSource(InputSource):
    """An input source whose listener is one thread running :meth:`_run`.

    :meth:`_run` returns when :attr:`_stop_event` is set (wait on it rather than sleeping) and
    hands any exception to :meth:`_fail`. ``thread_name`` names the thread in debuggers.
    """

    thread_name: str = "input"

    def __init__(self) -> None:
        super().__init__()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def _stop(self) -> None:
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    @abstractmethod
    def _run(self) -> None:
        """The listener loop."""
