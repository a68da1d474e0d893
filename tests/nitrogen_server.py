"""A stand-in for NitroGen's model server (``scripts/serve.py``) for the tests.

It speaks the same wire format: a ZeroMQ REP socket, one pickled dict in, one pickled dict out
(``pickle.dumps`` at the default protocol, as serve.py does), ``predict``/``reset``/``info``
answered as the released server answers them (see ``nitrogen_capture.play.nitrogen_client``).
It runs on a thread, bound to a random port of 127.0.0.1::

    with NitroGenServer() as server:              # normal: NitroGen-shaped 18-step chunks
        policy = load_policy(PolicySettings(spec=server.address))
        server.set_mode("slow", delay_s=30)       # the next replies wait (release() ends it)
        server.set_mode("hostile", marker=path)   # a reply whose pickle would touch ``path``
        server.set_mode("error")                  # {"status": "error", "message": ...}
        server.set_mode("garbage")                # bytes that are no pickle
        server.requests                           # every request received, decoded

``pred`` sets the prediction: a dict (the same every time) or a callable of the request count.
The server trusts what it receives (it is the test's own client), so it decodes requests with
the stock unpickler, as serve.py does.
"""

from __future__ import annotations

import os
import pickle
import shlex
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq

__all__ = ["MODES", "NITROGEN_INFO", "NitroGenServer", "nitrogen_pred"]

MODES = ("normal", "hostile", "slow", "error", "garbage")
#: What the released server's ``info`` returns (keys of InferenceSession.info()).
NITROGEN_INFO: dict[str, Any] = {
    "ckpt_path": "/models/ng.pt", "selected_game": None, "old_layout": False, "cfg_scale": 1.0,
    "context_length": 1, "action_interleaving": False, "is_flowmatching": True,
    "action_downsample_ratio": 1,
}


def nitrogen_pred(steps: int = 18, *, buttons: dict[int, float] | None = None,
                  j_left: tuple[float, float] = (0.0, 0.0),
                  j_right: tuple[float, float] = (0.0, 0.0)) -> dict[str, Any]:
    """A ``pred`` dict shaped as NitroGen's: ``j_left``/``j_right`` (N, 2), ``buttons`` (N, 21).

    ``buttons`` maps a slot index (NitroGen's BUTTON_ACTION_TOKENS order) to its value.
    """
    b = np.zeros((steps, 21), dtype=np.float32)
    for slot, value in (buttons or {}).items():
        b[:, slot] = value
    return {"j_left": np.tile(np.array(j_left, dtype=np.float32), (steps, 1)),
            "j_right": np.tile(np.array(j_right, dtype=np.float32), (steps, 1)), "buttons": b}


class _Hostile:
    """Pickles as a call of os.system: what a malicious server would send."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


class NitroGenServer:
    """The test server (see the module docstring). A context manager; ``close()`` joins."""

    def __init__(self, *, pred: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None,
                 info: dict[str, Any] | None = None, mode: str = "normal",
                 delay_s: float = 0.0, marker: str | os.PathLike[str] | None = None) -> None:
        self.pred = pred if pred is not None else nitrogen_pred()
        self.info = dict(NITROGEN_INFO if info is None else info)
        self.requests: list[dict[str, Any]] = []
        self.replied = 0  # replies sent (late ones to a dropped client included)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._stop = threading.Event()
        self.set_mode(mode, delay_s=delay_s, marker=marker)
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self.port = self._sock.bind_to_random_port("tcp://127.0.0.1")
        self.host = "127.0.0.1"
        self._thread = threading.Thread(target=self._serve, name="nitrogen-test-server",
                                        daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``nitrogen://127.0.0.1:PORT`` for ``--policy``."""
        return f"nitrogen://{self.host}:{self.port}"

    def set_mode(self, mode: str, *, delay_s: float = 0.0,
                 marker: str | os.PathLike[str] | None = None) -> None:
        """Switch how the next requests are answered (see :data:`MODES`)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        with self._lock:
            self.mode, self.delay_s = mode, delay_s
            self.marker = None if marker is None else os.fspath(marker)
            self._release.clear()

    def release(self) -> None:
        """End the wait of a ``slow`` reply now and answer the later ones at once."""
        with self._lock:
            self.mode = "normal"
            self._release.set()

    def _reply(self, request: dict[str, Any]) -> bytes:
        with self._lock:
            mode, delay, marker = self.mode, self.delay_s, self.marker
            count = len(self.requests)
        if mode == "slow":
            self._release.wait(delay)
        if mode == "garbage":
            return b"\x00not a pickle\xff" * 4
        if mode == "error":
            return pickle.dumps({"status": "error", "message": "CUDA out of memory"})
        kind = request.get("type")
        if kind == "reset":
            return pickle.dumps({"status": "ok"})
        if kind == "info":
            return pickle.dumps({"status": "ok", "info": self.info})
        if kind == "predict":
            pred: Any = self.pred(count) if callable(self.pred) else self.pred
            if mode == "hostile":
                pred = {**pred, "j_left": _Hostile(marker or os.devnull)}
            return pickle.dumps({"status": "ok", "pred": pred})
        return pickle.dumps({"status": "error", "message": f"Unknown request type: {kind}"})

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not dict(poller.poll(timeout=20)):
                continue
            request = pickle.loads(self._sock.recv())
            with self._lock:
                self.requests.append(request)
            reply = self._reply(request)
            if self._stop.is_set():
                break
            self._sock.send(reply)
            with self._lock:
                self.replied += 1

    def close(self) -> None:
        """Stop the thread and close the socket (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._release.set()
        self._thread.join(timeout=10)
        self._sock.close(linger=0)
        self._ctx.term()

    def __enter__(self) -> NitroGenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
