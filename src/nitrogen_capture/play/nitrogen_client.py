"""A client of NitroGen's model server (``scripts/serve.py`` of github.com/MineDojo/NitroGen).

The protocol, as the released ``serve.py`` and ``nitrogen/inference_client.py`` speak it:

* ZeroMQ REQ (us) / REP (the server, ``tcp://*:5555`` by default); one pickled dict each way;
* requests ``{"type": "predict", "image": HxWx3 uint8 RGB}`` (their ``play.py`` sends a 256x256
  frame squashed with INTER_AREA), ``{"type": "reset"}`` (clears the server's frame and action
  history) and ``{"type": "info"}``;
* replies ``{"status": "ok", "pred": {"j_left": (N, 2), "j_right": (N, 2), "buttons": (N, 21)}}``
  (float32 numpy arrays; sticks in [-1, 1] with +y down, buttons 0/1 in the 21-slot order of
  NitroGen's ``BUTTON_ACTION_TOKENS``; N is the model's chunk, 18 for the released checkpoint),
  ``{"status": "ok"}`` for reset, ``{"status": "ok", "info": {...}}`` for info (``ckpt_path``,
  ``selected_game``, ``old_layout``, ``cfg_scale``, ``context_length``, ``action_interleaving``,
  ``is_flowmatching``, ``action_downsample_ratio``), and ``{"status": "error", "message": ...}``
  for an unknown request type.

What this client adds to theirs: every reply is read with :func:`~.safepickle.safe_loads`, never
``pickle.loads``; a request without an answer within ``timeout_s`` is a :class:`PolicyError` and
the REQ socket is rebuilt (a REQ socket that sent cannot send again before it receives).
"""

from __future__ import annotations

import logging
import pickle
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, PolicyError, missing_dependency
from .safepickle import MAX_REPLY_BYTES, safe_loads

__all__ = ["DEFAULT_PORT", "NitroGenClient"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 5555  # serve.py's --port default
# Pickle protocol of our requests: 4 reads on every Python 3 the server may run (serve.py
# unpickles with the stock pickle; numpy arrays in protocol 4 need nothing newer).
REQUEST_PROTOCOL = 4


class NitroGenClient:
    """One REQ connection to a NitroGen model server (see the module docstring).

    Not for concurrent use from several threads (a lock serialises calls anyway). A context
    manager; :meth:`close` is idempotent.
    """

    def __init__(self, host: str, port: int, *, timeout_s: float = 5.0) -> None:
        if not 1 <= port <= 65535:
            raise ConfigError(f"a NitroGen server port must be in 1..65535, got {port}",
                              setting="policy")
        if not timeout_s > 0:
            raise ConfigError(f"the policy timeout must be > 0 s, got {timeout_s}",
                              setting="timeout_s")
        try:
            import zmq
        except ImportError as exc:
            raise missing_dependency("pyzmq", "play", "--policy nitrogen://") from exc
        self._zmq = zmq
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._ctx = zmq.Context()
        self._socket: Any = None
        self._closed = False
        self._connect()

    @property
    def address(self) -> str:
        """``nitrogen://HOST:PORT``, as the user wrote it for ``--policy``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nitrogen://{host}:{self.port}"

    def _endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def _connect(self) -> None:
        zmq = self._zmq
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)  # close never waits for an unsent request
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)  # zmq drops a larger reply itself
        sock.setsockopt(zmq.SNDTIMEO, int(self.timeout_s * 1000))
        if ":" in self.host:
            sock.setsockopt(zmq.IPV6, 1)
        sock.connect(self._endpoint())
        self._socket = sock

    def _rebuild(self) -> None:
        # A REQ socket waiting for its reply cannot send: close it (linger 0) and start over.
        # A late reply to the old socket is dropped by the server's REP routing.
        if self._socket is not None:
            self._socket.close(linger=0)
        self._connect()

    def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = request["type"]
        with self._lock:
            if self._closed:
                raise PolicyError(f"the connection to {self.address} is closed")
            zmq = self._zmq
            try:
                self._socket.send(pickle.dumps(request, protocol=REQUEST_PROTOCOL))
                ready = self._socket.poll(int(self.timeout_s * 1000), zmq.POLLIN)
                data = self._socket.recv(zmq.NOBLOCK) if ready else None
            except zmq.ZMQError as exc:
                self._rebuild()
                raise PolicyError(f"{self.address}: the {kind} request failed ({exc}): check "
                                  "the address and that NitroGen's server runs there") from exc
            if data is None:
                self._rebuild()
                raise PolicyError(
                    f"{self.address} did not answer the {kind} request within "
                    f"{self.timeout_s:g} s: check that NitroGen's server (scripts/serve.py) "
                    "runs there, the port is reachable, and the GPU is not overloaded")
        reply = safe_loads(data, what=self.address)
        if not isinstance(reply, dict) or "status" not in reply:
            raise PolicyError(f"{self.address} answered {kind} with "
                              f"{type(reply).__name__}, not NitroGen's {{'status': ...}} dict")
        if reply["status"] != "ok":
            message = str(reply.get("message", "no message"))[:300]
            raise PolicyError(f"{self.address} answered {kind} with status "
                              f"{reply['status']!r}: {message}")
        return reply

    def info(self) -> dict[str, Any]:
        """The server's ``info`` dict (checkpoint, CFG scale, ``action_downsample_ratio``...)."""
        info = self._request({"type": "info"}).get("info")
        if not isinstance(info, dict):
            raise PolicyError(f"{self.address} answered info without an 'info' dict")
        return info

    def reset(self) -> None:
        """Clear the server's frame and action history (a new episode)."""
        self._request({"type": "reset"})

    def predict(self, image: npt.NDArray[np.uint8]) -> dict[str, Any]:
        """Send one ``(H, W, 3)`` uint8 RGB frame; return the reply's ``pred`` dict."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise PolicyError(f"NitroGen takes an (H, W, 3) uint8 RGB frame, got "
                              f"{image.shape} {image.dtype}")
        pred = self._request({"type": "predict",
                              "image": np.ascontiguousarray(image)}).get("pred")
        if not isinstance(pred, dict):
            raise PolicyError(f"{self.address} answered predict without a 'pred' dict")
        return pred

    def close(self) -> None:
        """Close the socket and the context (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._socket is not None:
                self._socket.close(linger=0)
            self._ctx.term()

    def __enter__(self) -> NitroGenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
