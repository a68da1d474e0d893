"""What ``bench/soak.py`` samples every interval: the recorder's process tree, /dev/shm, its status.

* :func:`probe_tree`: RSS, open file descriptors and threads of the recorder (its main process,
  and the sum with its descendants: the encoder processes and multiprocessing's resource
  tracker), how many descendants, and the /dev/shm entries the tree maps (the encoder pool's
  frame slots and multiprocessing's named semaphores), with their resident bytes and how many
  slots are still linked in /dev/shm (the pool unlinks a slot as soon as every worker mapped it).
* :class:`ShmWatch`: the entries of /dev/shm that appeared since the run started, machine-wide
  (the machine may be shared: other programs' entries count here too, so the soak's verdict
  uses the recorder's own segments).
* :func:`last_status`: the recorder's live status line (``--status-interval``; one line per
  interval when stderr is not a terminal, see ``nitrogen_capture/record/status.py``), read from
  the end of its log: frames, elapsed seconds, dropped ticks, late frames, queue depth.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import psutil

from nitrogen_capture.record.status import StatusReading, parse_status

SHM_DIR = Path("/dev/shm")
SEM_PREFIX = "sem."  # POSIX named semaphores in /dev/shm
MB = 1024 * 1024

# The recorder's status line (nitrogen_capture.record.status), read back by its own parser;
# elapsed is printed to 0.1 s.
Status = StatusReading


def last_status(log: Path, tail_bytes: int = 4096) -> Status | None:
    """The last status line in ``log`` (None before the first one)."""
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - tail_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        found = parse_status(line)
        if found is not None:
            return found
    return None


def _shm_maps(p: psutil.Process) -> dict[str, int]:
    """/dev/shm mappings of ``p``: name -> resident bytes (unlinked ones included)."""
    out: dict[str, int] = {}
    for m in p.memory_maps(grouped=True):
        path = m.path.removesuffix(" (deleted)")
        if path.startswith(f"{SHM_DIR}/"):
            name = path[len(str(SHM_DIR)) + 1:]
            out[name] = out.get(name, 0) + int(m.rss)
    return out


def probe_tree(pid: int) -> dict[str, Any] | None:
    """One sample of the recorder ``pid`` and its descendants (None once it has exited).

    A descendant that exits between the listing and the reading is left out of the sums.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss: list[int] = []
    fds: list[int] = []
    threads: list[int] = []
    cpu = 0.0
    shm: dict[str, int] = {}
    read = 0
    for p in procs:
        try:
            with p.oneshot():
                r, f, t = p.memory_info().rss, p.num_fds(), p.num_threads()
                times = p.cpu_times()
            maps = _shm_maps(p)
        except psutil.Error:
            if p is root:
                return None
            continue
        read += 1
        rss.append(r)
        fds.append(f)
        threads.append(t)
        cpu += times.user + times.system
        for name, resident in maps.items():
            shm[name] = shm.get(name, 0) + resident
    return {
        "rss_mb": round(rss[0] / MB, 1),
        "rss_tree_mb": round(sum(rss) / MB, 1),
        "fds": fds[0], "fds_tree": sum(fds),
        "threads": threads[0], "threads_tree": sum(threads),
        "children": read - 1,
        "shm_mapped": len(shm),
        "shm_mapped_mb": round(sum(shm.values()) / MB, 1),  # resident, summed over the tree
        # multiprocessing's named semaphores (its queues' locks, the workers' barrier) stay
        # linked while they live: with the spawn start method a child opens them by name
        "shm_sems": sum(n.startswith(SEM_PREFIX) for n in shm),
        "shm_linked": sum((SHM_DIR / n).exists() for n in shm if not n.startswith(SEM_PREFIX)),
        "shm_names": sorted(shm),
        "cpu_s": cpu,
    }


class ShmWatch:
    """Entries of /dev/shm that were not there when the watch started."""

    def __init__(self) -> None:
        self.before = set(self._entries())

    @staticmethod
    def _entries() -> dict[str, int]:
        out = {}
        with contextlib.suppress(OSError):
            for e in os.scandir(SHM_DIR):
                with contextlib.suppress(OSError):
                    out[e.name] = e.stat(follow_symlinks=False).st_size
        return out

    def new(self) -> dict[str, int]:
        """The new entries: name -> bytes."""
        return {n: s for n, s in self._entries().items() if n not in self.before}
