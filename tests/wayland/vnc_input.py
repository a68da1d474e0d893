"""Keyboard and pointer input through wayvnc: a minimal RFB 3.8 client (RFC 6143).

wayvnc (started by scripts/wayland/wlstack.py on a unix socket) turns RFB key and pointer
messages into a virtual keyboard and pointer of the compositor, so sway routes them as a real
device's: to the focused window, XWayland's or a native Wayland one. Only what the tests send
is spoken: the version and ``None`` security handshake, ClientInit, ``KeyEvent`` (X keysyms)
and ``PointerEvent`` (absolute position in the output, button mask bit 0 = left). The server's
messages after ServerInit are never read: nothing here asks for frames.
"""

from __future__ import annotations

import socket
import struct

__all__ = ["VncInput"]

_KEY_EVENT = 4
_POINTER_EVENT = 5
_SECURITY_NONE = 1


class VncInput:
    """A connection to wayvnc's unix socket that sends key and pointer events.

    Raises:
        OSError: the socket cannot be reached; ``ConnectionError`` when the handshake fails.
    """

    def __init__(self, path: str, timeout_s: float = 10.0) -> None:
        self._s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._s.settimeout(timeout_s)
        try:
            self._s.connect(path)
            self._handshake()
        except BaseException:
            self._s.close()
            raise

    def _recv(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self._s.recv(n - len(out))
            if not chunk:
                raise ConnectionError("wayvnc closed the connection")
            out += chunk
        return out

    def _handshake(self) -> None:
        if not self._recv(12).startswith(b"RFB "):
            raise ConnectionError("not an RFB server")
        self._s.sendall(b"RFB 003.008\n")
        types = self._recv(self._recv(1)[0])
        if _SECURITY_NONE not in types:
            raise ConnectionError(f"wayvnc offers no 'None' security: {list(types)}")
        self._s.sendall(bytes([_SECURITY_NONE]))
        if struct.unpack(">I", self._recv(4))[0] != 0:
            raise ConnectionError("wayvnc refused the security handshake")
        self._s.sendall(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack(">HH", self._recv(4))
        self._recv(16)  # pixel format
        self.name = self._recv(struct.unpack(">I", self._recv(4))[0]).decode(errors="replace")

    def key(self, keysym: int, down: bool) -> None:
        """Press or release the key of X keysym ``keysym`` (``ord('w')`` for W)."""
        self._s.sendall(struct.pack(">BBHI", _KEY_EVENT, int(down), 0, keysym))

    def pointer(self, x: int, y: int, buttons: int = 0) -> None:
        """Move the pointer to ``(x, y)`` with ``buttons`` down (bit 0 left, 1 middle, 2 right)."""
        self._s.sendall(struct.pack(">BBHH", _POINTER_EVENT, buttons, x, y))

    def close(self) -> None:
        """Close the connection."""
        self._s.close()
