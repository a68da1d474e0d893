#!/usr/bin/env python3
"""A headless Wayland desktop for the Wayland tier: sway, XWayland, PipeWire, the portals, wayvnc.

    python scripts/wayland/wlstack.py up --dir DIR [--refresh 120] [--size 1280x720]
    python scripts/wayland/wlstack.py env --dir DIR     # the export lines again
    python scripts/wayland/wlstack.py down --dir DIR

``up`` prints ``export VAR=...`` lines (``eval "$(... up --dir DIR)"`` in a shell); tests use
:func:`running_stack` (the ``wayland_stack`` fixture, tests/wayland/conftest.py). Needs root and
the Debian packages of ``make wayland-deps``. What runs, and why so (issue 23):

- a private ``dbus-daemon`` (a session bus that admits root and uid 65534);
- ``sway`` headless (pixman renderer, no input devices, one output HEADLESS-1 at the asked size
  and refresh) as uid 65534 through ``setpriv``: sway 1.7 refuses root. ``xwayland force``
  starts XWayland at once; ``xhost +si:localuser:root`` run as that user lets root clients in;
- ``pipewire`` and ``wireplumber``, ``xdg-desktop-portal-wlr`` (``chooser_type=none``, the
  output HEADLESS-1) and ``xdg-desktop-portal`` with ``XDG_CURRENT_DESKTOP=sway``, and
  ``wayvnc`` on a unix socket (virtual keyboard and pointer), all as root: a portal running as
  another user refuses root callers;
- portal-wlr 0.7 runs with the LD_PRELOAD shim of screencopy_shim.c (built here with gcc into
  .cache/wayland/ when missing or older than its source; ``make wayland-shim`` builds it too),
  and the bus may start it again (with the shim) when it died, as a desktop's bus would.

Every program runs in its own process group with HOME and the XDG folders inside DIR and a
token in its environment; ``down`` stops sway first (so wlroots does not restart XWayland),
then the rest, then kills whatever still carries the token. Ready means: the portal answers
on the bus (ScreenCast's version), PipeWire and WirePlumber run, XWayland admits root, wayvnc
greets. Each step waits on its condition, never a fixed time. The runtime folder is DIR/run
unless uid 65534 cannot reach DIR or the path is too long for a socket: then it is a fresh
/tmp/nitrogen-wl-* folder, removed by ``down``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[2]
SHIM_SOURCE = Path(__file__).resolve().with_name("screencopy_shim.c")
SHIM = REPO / ".cache" / "wayland" / "screencopy-shim.so"
PERMISSION_STORE = Path(
    "/usr/share/dbus-1/services/org.freedesktop.impl.portal.PermissionStore.service")
PORTAL_WLR = "/usr/libexec/xdg-desktop-portal-wlr"
PORTAL_WLR_NAME = "org.freedesktop.impl.portal.desktop.wlr"
SWAY_UID = 65534  # nobody: sway 1.7 will not run as root
TOKEN_VAR = "NITROGEN_WLSTACK"
OUTPUT = "HEADLESS-1"
READY_TIMEOUT_S = 60.0  # a margin for a loaded two-core machine, not an estimate
STOP_GRACE_S = 10.0
# Stop order: sway first (it owns XWayland), the bus last (the others talk on it).
ORDER = ("sway", "wayvnc", "portal", "portal-wlr", "wireplumber", "pipewire", "dbus")
EXPORTS = ("WAYLAND_DISPLAY", "DISPLAY", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS",
           "SWAYSOCK", "XDG_CURRENT_DESKTOP", "XDG_SESSION_TYPE", "WAYVNC_SOCKET")

T = TypeVar("T")


class StackError(RuntimeError):
    """The stack could not start (the message names the step and its log)."""


@dataclass(frozen=True)
class Stack:
    """A running stack: its folder, the variables a client needs, its processes."""

    dir: Path
    env: dict[str, str]
    pids: dict[str, int]
    up_s: float
    procs: tuple[subprocess.Popen[bytes], ...] = field(default=(), repr=False, compare=False)

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default os.environ) with this stack's variables: a client's environment."""
        env = dict(os.environ if base is None else base)
        return {**env, **self.env}


def build_shim() -> Path:
    """The portal-wlr shim, compiled with gcc when missing or older than its source."""
    if SHIM.exists() and SHIM.stat().st_mtime >= SHIM_SOURCE.stat().st_mtime:
        return SHIM
    SHIM.parent.mkdir(parents=True, exist_ok=True)
    tmp = SHIM.with_name(f".{SHIM.name}.{os.getpid()}")
    try:
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(tmp),
                        str(SHIM_SOURCE), "-ldl", "-lpthread"], check=True)
        os.replace(tmp, SHIM)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StackError(f"building {SHIM.name} with gcc failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return SHIM


def wait_for(cond: Callable[[], T | None], what: str, procs: dict[str, subprocess.Popen[bytes]],
             timeout: float = READY_TIMEOUT_S) -> T:
    """Poll ``cond`` until truthy; fail naming ``what`` on timeout or when a daemon died."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def _reachable_by_sway(path: Path) -> bool:
    """Whether uid 65534 can traverse every folder down to ``path``."""
    for part in [path, *path.parents]:
        st = part.stat()
        if not st.st_mode & 0o001 and st.st_uid != SWAY_UID:
            return False
    return True


def _runtime_dir(root: Path) -> Path:
    """DIR/run, or a short /tmp folder when 65534 cannot reach DIR or sockets would not fit."""
    run = root / "run"
    if _reachable_by_sway(root) and len(str(run)) < 70:
        run.mkdir(mode=0o700)
    else:
        run = Path(tempfile.mkdtemp(prefix="nitrogen-wl-", dir="/tmp"))
    os.chown(run, SWAY_UID, SWAY_UID)
    run.chmod(0o700)
    return run


def _sway_config(run: Path, size: tuple[int, int], refresh: int) -> str:
    w, h = size
    return (f"output {OUTPUT} mode {w}x{h}@{refresh}Hz position 0 0\n"
            "xwayland force\n"
            "default_border none\n"
            "default_floating_border none\n"
            "focus_follows_mouse no\n"
            # The pointer (wayvnc's, where a test left it) is drawn into casts that embed it:
            # hidden 100 ms after it last moved, so a cast shows what the windows drew.
            "seat * hide_cursor 100\n"
            # The variables sway gives its clients (WAYLAND_DISPLAY, DISPLAY, SWAYSOCK).
            f"exec env > {run}/sway.env.tmp && mv {run}/sway.env.tmp {run}/sway.env\n")


def _bus_config(run: Path) -> str:
    return f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={run}/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{run}/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="root"/>
    <allow user="{SWAY_UID}"/>
  </policy>
</busconfig>
"""


def _name_owned(env: dict[str, str], name: str) -> bool:
    out = subprocess.run(
        ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
         "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
        env=env, capture_output=True, text=True, check=False)
    return out.returncode == 0 and "boolean true" in out.stdout


def _portal_version(env: dict[str, str]) -> str | None:
    if not _name_owned(env, "org.freedesktop.portal.Desktop"):
        return None
    out = subprocess.run(
        ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.portal.Desktop",
         "/org/freedesktop/portal/desktop", "org.freedesktop.DBus.Properties.Get",
         "string:org.freedesktop.portal.ScreenCast", "string:version"],
        env=env, capture_output=True, text=True, check=False)
    return out.stdout.split()[-1] if out.returncode == 0 and "uint32" in out.stdout else None


def _read_env_file(path: Path) -> dict[str, str] | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _refresh_mhz(env: dict[str, str]) -> int | None:
    out = subprocess.run(["swaymsg", "-t", "get_outputs", "-r"], env=env, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        return None
    for o in json.loads(out.stdout):
        if o.get("name") == OUTPUT and o.get("current_mode"):
            return int(o["current_mode"]["refresh"])
    return None


def _vnc_greets(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2.0)
            s.connect(str(path))
            return s.recv(12).startswith(b"RFB ")
    except OSError:
        return False


def _pw_clients(env: dict[str, str]) -> str:
    out = subprocess.run(["pw-cli", "ls", "Client"], env=env, capture_output=True, text=True,
                         check=False)
    return out.stdout if out.returncode == 0 else ""


def start(root: Path, *, size: tuple[int, int] = (1280, 720), refresh: int = 120) -> Stack:
    """Start the stack in ``root`` (an empty or new folder) and wait until it is ready."""
    if os.geteuid() != 0:
        raise StackError("the Wayland stack needs root (sway runs as uid 65534 through setpriv)")
    for tool in ("sway", "Xwayland", "pipewire", "wireplumber", "wayvnc", "dbus-daemon",
                 "dbus-send", "xhost", "pw-cli", "setpriv", "gcc"):
        if shutil.which(tool) is None:
            raise StackError(f"{tool} is missing: run `make wayland-deps` (as root)")
    t0 = time.monotonic()
    shim = build_shim()
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    if (root / "stack.json").exists():
        raise StackError(f"{root} already holds a stack: `down --dir {root}` first")
    logs, home = root / "logs", root / "home"
    for d in (logs, home / ".config", home / ".local" / "state", home / ".local" / "share",
              home / ".cache"):
        d.mkdir(parents=True, exist_ok=True)
    run = _runtime_dir(root)
    token = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "WAYLAND_", "DBUS_", "SWAY", "WLR_"))
           and k not in ("DISPLAY", "XAUTHORITY", "LD_PRELOAD")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_STATE_HOME=str(home / ".local" / "state"),
               XDG_DATA_HOME=str(home / ".local" / "share"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_RUNTIME_DIR=str(run), DBUS_SESSION_BUS_ADDRESS=f"unix:path={run}/bus",
               XDG_CURRENT_DESKTOP="sway", XDG_SESSION_TYPE="wayland", **{TOKEN_VAR: token})
    state: dict[str, object] = {"token": token, "runtime": str(run), "pids": {},
                                "runtime_is_tmp": run.parent != root}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(name: str, argv: list[str], extra: dict[str, str] | None = None) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            procs[name] = subprocess.Popen(argv, env={**env, **(extra or {})},
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           start_new_session=True, cwd=root)
        state["pids"] = {n: p.pid for n, p in procs.items()}
        _write_state(root, state)

    try:
        (run / "bus.conf").write_text(_bus_config(run))
        # Only the permission store (restore tokens) may be started on demand: the document
        # portal the standard folders offer would mount a FUSE file system in the runtime dir.
        (run / "services").mkdir()
        if PERMISSION_STORE.exists():
            shutil.copy(PERMISSION_STORE, run / "services")
        spawn("dbus", ["dbus-daemon", "--nofork", "--nosyslog", f"--config-file={run}/bus.conf"])
        wait_for(lambda: _name_owned(env, "org.freedesktop.DBus"), "the session bus", procs)

        sway_home = run / "home"
        sway_home.mkdir()
        os.chown(sway_home, SWAY_UID, SWAY_UID)
        (run / "sway.conf").write_text(_sway_config(run, size, refresh))
        spawn("sway", ["setpriv", f"--reuid={SWAY_UID}", f"--regid={SWAY_UID}",
                       "--clear-groups", "sway", "-c", str(run / "sway.conf")],
              {"HOME": str(sway_home), "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman",
               "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_HEADLESS_OUTPUTS": "1"})
        spawn("pipewire", ["pipewire"])
        sway_env = wait_for(lambda: _read_env_file(run / "sway.env"), "sway's environment",
                            procs)
        env.update(WAYLAND_DISPLAY=sway_env["WAYLAND_DISPLAY"], SWAYSOCK=sway_env["SWAYSOCK"],
                   DISPLAY=sway_env["DISPLAY"])
        wait_for(lambda: (run / "pipewire-0").exists(), "PipeWire's socket", procs)
        spawn("wireplumber", ["wireplumber"])
        cfg = run / "portal-wlr.conf"
        cfg.write_text(f"[screencast]\nchooser_type=none\noutput_name={OUTPUT}\n")
        portal_wlr = [PORTAL_WLR, "-r", "-c", str(cfg)]
        spawn("portal-wlr", portal_wlr, {"LD_PRELOAD": str(shim)})
        # Started on demand again if it dies, as on a desktop: portal-wlr 0.7 crashes when a
        # casting client's bus connection drops while its stream still runs (a `kill -9`d
        # recorder); the next CreateSession then starts a fresh one through the bus.
        (run / "services" / f"{PORTAL_WLR_NAME}.service").write_text(
            f"[D-BUS Service]\nName={PORTAL_WLR_NAME}\nExec=/usr/bin/env "
            f"WAYLAND_DISPLAY={env['WAYLAND_DISPLAY']} LD_PRELOAD={shim} {' '.join(portal_wlr)}\n")
        subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus", "org.freedesktop.DBus.ReloadConfig"],
                       env=env, capture_output=True, check=True)
        wayvnc_socket = run / "wayvnc.sock"
        spawn("wayvnc", ["wayvnc", "--unix-socket", f"--output={OUTPUT}", str(wayvnc_socket)])
        wait_for(lambda: _name_owned(env, PORTAL_WLR_NAME),
                 "xdg-desktop-portal-wlr on the bus", procs)
        spawn("portal", ["/usr/libexec/xdg-desktop-portal", "-r"])

        mhz = wait_for(lambda: _refresh_mhz(env), f"sway's output {OUTPUT}", procs)
        if abs(mhz - refresh * 1000) > 500:
            raise StackError(f"{OUTPUT} runs at {mhz / 1000:g} Hz, not {refresh} Hz")
        xhost = ["setpriv", f"--reuid={SWAY_UID}", f"--regid={SWAY_UID}", "--clear-groups",
                 "xhost", "+si:localuser:root"]
        wait_for(lambda: subprocess.run(xhost, env=env, capture_output=True,
                                        check=False).returncode == 0,
                 "XWayland (xhost as the sway user)", procs)
        wait_for(lambda: subprocess.run(["xhost"], env=env, capture_output=True,
                                        check=False).returncode == 0,
                 "XWayland admitting root", procs)
        wait_for(lambda: "WirePlumber" in _pw_clients(env), "WirePlumber on PipeWire", procs)
        wait_for(lambda: _portal_version(env), "the ScreenCast portal's version", procs)
        wait_for(lambda: _vnc_greets(wayvnc_socket), "wayvnc's greeting", procs)
    except BaseException:
        stop(root)
        _reap(procs.values())
        raise
    env["WAYVNC_SOCKET"] = str(wayvnc_socket)
    exports = {k: env[k] for k in EXPORTS}
    up_s = time.monotonic() - t0
    state.update(env=exports, up_s=round(up_s, 3))
    _write_state(root, state)
    return Stack(root, exports, {n: p.pid for n, p in procs.items()}, up_s,
                 tuple(procs.values()))


def _reap(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Collect the exit status of daemons this process started (stop() ended them)."""
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_GRACE_S)


def _write_state(root: Path, state: dict[str, object]) -> None:
    tmp = root / "stack.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, root / "stack.json")


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our child (the fixture's case)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _carrying(token: str) -> list[int]:
    """PIDs whose environment holds this stack's token (what a process group missed)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (p / "environ").read_bytes().split(b"\0") and _alive(int(p.name)):
                found.append(int(p.name))
    return found


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # each daemon leads its own group (start_new_session)


def _wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop(root: Path) -> float:
    """Stop the stack of ``root`` (nothing left running, its runtime folder gone); seconds."""
    t0 = time.monotonic()
    root = root.resolve()
    try:
        state = json.loads((root / "stack.json").read_text())
    except (OSError, ValueError):
        return 0.0
    pids: dict[str, int] = state.get("pids", {})
    if "sway" in pids:  # first and alone: with the others still up it exits cleanly
        _signal_group(pids["sway"], signal.SIGTERM)
        if not _wait_gone([pids["sway"]], STOP_GRACE_S):
            _signal_group(pids["sway"], signal.SIGKILL)
    rest = [pids[n] for n in ORDER if n in pids and n != "sway"]
    for pid in rest:
        _signal_group(pid, signal.SIGTERM)
    if not _wait_gone(rest, STOP_GRACE_S):
        for pid in rest:
            _signal_group(pid, signal.SIGKILL)
    for _ in range(3):  # activated helpers (permission store...), an orphaned XWayland
        left = _carrying(state["token"])
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(left, STOP_GRACE_S)
    run = Path(state["runtime"])
    display = state.get("env", {}).get("DISPLAY", "")
    if display.startswith(":") and display[1:].isdigit():  # a killed XWayland leaves these
        number = display[1:]
        if not any(_alive(pid) for pid in _lock_pid(Path(f"/tmp/.X{number}-lock"))):
            for leftover in (Path(f"/tmp/.X11-unix/X{number}"), Path(f"/tmp/.X{number}-lock")):
                leftover.unlink(missing_ok=True)
    shutil.rmtree(run, ignore_errors=True)
    (root / "stack.json").unlink(missing_ok=True)
    return time.monotonic() - t0


def _lock_pid(lock: Path) -> list[int]:
    """The PID an X lock file names (none when it is gone or unreadable)."""
    try:
        return [int(lock.read_text().strip())]
    except (OSError, ValueError):
        return []


@contextlib.contextmanager
def running_stack(root: Path, *, size: tuple[int, int] = (1280, 720),
                  refresh: int = 120) -> Iterator[Stack]:
    """The stack while the block runs; stopped when it ends, or when this process dies first.

    The daemons lead their own process groups, so a ``kill -9`` of this process (a test run
    killed by a timeout) would leave them running: a watchdog process blocks on a pipe from
    this one and runs ``down`` when the pipe closes without a word, which is what this
    process's death does. A normal end writes to the pipe first: the watchdog then just leaves.
    """
    stack = start(root, size=size, refresh=refresh)
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(Path(__file__).resolve()), str(root.resolve())],
        stdin=subprocess.PIPE, start_new_session=True)
    try:
        yield stack
    finally:
        stop(root)
        _reap(stack.procs)
        assert watchdog.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            watchdog.stdin.write(b"stopped")
        watchdog.stdin.close()
        watchdog.wait(timeout=STOP_GRACE_S * 3)


# Blocks until its stdin closes; "stopped" before that means the owner stopped the stack.
_WATCHDOG = ("import subprocess, sys\n"
             "if sys.stdin.buffer.read() != b'stopped':\n"
             "    subprocess.run([sys.executable, sys.argv[1], 'down', '--dir', sys.argv[2]],\n"
             "                   stdout=subprocess.DEVNULL, check=False)\n")


def _exports(env: dict[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="wlstack.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("up", "env", "down"):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, required=True)
        if name == "up":
            p.add_argument("--refresh", type=int, default=120)
            p.add_argument("--size", default="1280x720")
    sub.add_parser("build-shim")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "build-shim":
            sys.stdout.write(f"{build_shim()}\n")
        elif args.cmd == "up":
            try:
                w, h = (int(v) for v in args.size.lower().split("x"))
            except ValueError:
                ap.error(f"--size {args.size!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
            stack = start(args.dir, size=(w, h), refresh=args.refresh)
            sys.stdout.write(_exports(stack.env) + f"# ready in {stack.up_s:.2f} s; stop with: "
                             f"{sys.argv[0]} down --dir {shlex.quote(str(args.dir))}\n")
        elif args.cmd == "env":
            state = json.loads((args.dir / "stack.json").read_text())
            sys.stdout.write(_exports(state["env"]))
        else:
            sys.stdout.write(f"# stopped in {stop(args.dir):.2f} s\n")
    except (StackError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"wlstack: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
