"""Thread subclasses must not shadow threading.Thread's own attributes.

Python 3.13 added ``Thread._handle`` (the OS thread handle): a subclass method of that name was
overwritten by it when the thread started, and the recorder's writer thread died on its first
message under the Windows tier's CPython 3.13.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

import nitrogen_capture

# Private names threading.Thread uses on 3.11 to 3.14 (a subclass must not reuse them).
_THREAD_INTERNALS = {
    "_handle", "_started", "_is_stopped", "_tstate_lock", "_ident", "_native_id", "_target",
    "_args", "_kwargs", "_daemonic", "_name", "_invoke_excepthook", "_stderr", "_bootstrap",
    "_bootstrap_inner", "_stop", "_delete", "_wait_for_tstate_lock", "_set_ident",
    "_set_native_id", "_set_tstate_lock", "_os_thread_handle", "_context",
}


def _thread_subclasses() -> list[type[threading.Thread]]:
    for info in pkgutil.walk_packages(nitrogen_capture.__path__, "nitrogen_capture."):
        if info.name.endswith("__main__"):
            continue  # runs the CLI
        try:
            importlib.import_module(info.name)
        except ImportError:
            continue
    found: list[type[threading.Thread]] = []
    stack = list(threading.Thread.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("nitrogen_capture."):
            found.append(cls)
    return found


def test_package_threads_do_not_shadow_thread_internals() -> None:
    classes = _thread_subclasses()
    assert any(c.__name__ == "WriterThread" for c in classes)
    clashes = {f"{c.__module__}.{c.__name__}.{name}"
               for c in classes for name in vars(c) if name in _THREAD_INTERNALS}
    assert not clashes
