"""The exception tree of NitroGen Capture.

Every error this package raises on purpose derives from :class:`NitrogenCaptureError`, so a
caller (and the CLI, which turns them into one readable line and a non-zero exit) can catch the
whole family at once::

    NitrogenCaptureError
    ├── ConfigError (ValueError)          a setting or flag is invalid: fps 0, inverted region
    ├── DependencyError (ImportError)     an optional package is missing; names the extra
    ├── PlatformError                     no display, Wayland, an OS API that is unavailable
    │   └── DisplayLostError              the display went away while in use (Xvfb killed)
    ├── TargetError                       the window/process/region to capture cannot be found
    │   └── TargetNotFound
    ├── CaptureError                      a frame source failed to open or grab
    ├── InputError                        an input listener failed
    ├── EncodeError                       a frame could not be encoded or stored
    ├── SessionError                      a session on disk is unusable
    │   ├── SessionExistsError (FileExistsError)
    │   ├── SessionFormatError            damaged, truncated or inconsistent files
    │   ├── SessionLockedError            being recorded (or merged) by a live process
    │   └── SchemaVersionError            written by a newer version of this tool
    ├── ExportError                       a conversion cannot be done (e.g. no window fits)
    │   └── ManifestError                 a batch manifest is damaged or not this tool's
    ├── PolicyError                       play: a policy cannot be loaded, answers wrongly, or
    │                                     its server is dead or sent what we refuse to read
    ├── DiskSpaceError (OSError)          an output does not fit on the disk (any command;
    │                                     the one line is built by diskspace.py)
    └── OutputError                       an output path would replace or write through
                                          something this tool did not write (outputs.py)

Backends translate the OS or library error they saw at the boundary
(``raise CaptureError(...) from exc``) so the cause stays attached for ``--debug``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "AudioError",
    "CaptureError",
    "ConfigError",
    "DependencyError",
    "DiskSpaceError",
    "DisplayLostError",
    "EncodeError",
    "ExportError",
    "InputError",
    "ManifestError",
    "NitrogenCaptureError",
    "OutputError",
    "PlatformError",
    "PolicyError",
    "SchemaVersionError",
    "SessionError",
    "SessionExistsError",
    "SessionFormatError",
    "SessionLockedError",
    "TargetError",
    "TargetNotFound",
    "check_settings",
    "missing_dependency",
]


class NitrogenCaptureError(Exception):
    """Root of every error raised on purpose by this package."""


class ConfigError(NitrogenCaptureError, ValueError):
    """A setting, flag or configuration file holds an invalid value.

    ``setting`` names the settings field at fault (``"fps"``, ``"img_size"``) when there is one;
    the message itself names the field's command-line flag (``--fps``), so a library caller and
    a CLI user read the same line.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


def check_settings(checks: Iterable[tuple[bool, str, str]]) -> None:
    """Raise a :class:`ConfigError` for the first ``(ok, setting, message)`` that is not ok.

    The checks are those of :mod:`nitrogen_capture.bounds` (``number_check``, ``text_check``):
    every settings dataclass and option check runs its list through here.
    """
    for ok, setting, message in checks:
        if not ok:
            raise ConfigError(message, setting=setting)


class DependencyError(NitrogenCaptureError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class PolicyError(NitrogenCaptureError):
    """``play``'s policy cannot be loaded, answered with something unusable, or is unreachable.

    A reply refused by the restricted unpickler is one of these too (docs/play.md "Safety").
    """


class AudioError(NitrogenCaptureError):
    """Game audio cannot be recorded: no sound server, no such device, or the device went away.

    Raised before the clock starts, it ends ``record --audio`` with one line; raised by a
    source's ``read`` mid-recording, the recording goes on without audio and says so
    (docs/audio.md).
    """


class PlatformError(NitrogenCaptureError):
    """The platform cannot do what was asked (no display, Wayland, missing OS API)."""


class DisplayLostError(PlatformError):
    """The display (X server, XWayland) went away while a part was talking to it.

    Every X call of the window lookup and the X input listeners translates a closed connection
    into this one error, so the recorder can end the session as ``display lost`` (finished and
    merged like any stop) instead of failing on a library's own exception.
    """


class TargetError(NitrogenCaptureError):
    """The capture target (window, process or region) is unusable."""


class TargetNotFound(TargetError):
    """No window matches the given process name, title or PID.

    Attributes:
        near_matches: descriptions of the windows that resemble the request (also in the
            message), empty when there are none or the raiser did not give them.
    """

    def __init__(self, *args: object, near_matches: Sequence[str] = ()) -> None:
        super().__init__(*args)
        self.near_matches: tuple[str, ...] = tuple(near_matches)


class CaptureError(NitrogenCaptureError):
    """A frame source failed to open or to grab a frame."""


class InputError(NitrogenCaptureError):
    """An input listener failed to start or died."""


class EncodeError(NitrogenCaptureError):
    """A frame could not be encoded or written."""


class SessionError(NitrogenCaptureError):
    """A session directory is unusable."""


class SessionExistsError(SessionError, FileExistsError):
    """The output directory already holds a session."""


class SessionFormatError(SessionError):
    """Files of a session are missing, truncated or inconsistent.

    The message says it all for a person; the attributes say it for a program (which chunk to
    skip, which file to repair) so no caller parses the message. Each is None when unknown or
    not applicable.

    Attributes:
        chunk: the chunk at fault, numbered as in its file names and ``meta.json`` (from 1).
        path: the file or directory at fault.
        field: the array or ``meta.json`` field at fault (e.g. ``"timestamps"``).
    """

    def __init__(self, *args: object, chunk: int | None = None, path: Path | None = None,
                 field: str | None = None) -> None:
        super().__init__(*args)
        self.chunk = chunk
        self.path = path
        self.field = field


class SessionLockedError(SessionError):
    """The session's lock file names a process that may still be working on it.

    Raised by merge, repair and convert (and a second recorder) instead of touching a session
    that is being recorded or merged (docs/format.md, "Lock").

    Attributes:
        pid: the holder's process id (None when the lock file is unreadable).
        host: the holder's host name (None when the lock file is unreadable).
        path: the lock file.
    """

    def __init__(self, *args: object, pid: int | None = None, host: str | None = None,
                 path: Path | None = None) -> None:
        super().__init__(*args)
        self.pid = pid
        self.host = host
        self.path = path


class SchemaVersionError(SessionError):
    """The session was written by a newer schema than this tool reads."""


class ExportError(NitrogenCaptureError):
    """A conversion or export cannot be done."""


class DiskSpaceError(NitrogenCaptureError, OSError):
    """An output does not fit on the disk, found before writing or when a write failed.

    Raised by every command that writes (record, repair, merge, convert, report, preview), in
    the one form of :func:`nitrogen_capture.diskspace.disk_full_error` (or the export's
    free-space check): the path, the space needed and free, what to do. It is an OSError too,
    so a caller that handles the OS's own ENOSPC catches it the same way.
    """


class OutputError(NitrogenCaptureError):
    """An output path is refused; nothing on disk was changed.

    It lies inside a session or dataset that is not the command's, is a special file or a
    link, or holds something this tool did not write (outputs.py, docs/reliability.md).
    """


class ManifestError(ExportError):
    """A batch conversion's manifest cannot be trusted: unreadable, not JSON, or a bad field.

    A batch either rebuilds the manifest from the parts on disk or refuses in one line
    (docs/export.md, "Many sessions"); the message names the manifest, the field and the value.

    Attributes:
        path: the manifest file (None when not given).
        field: the field at fault, as a path into the document (``sessions[...].state``), or
            None when the file as a whole is unusable (empty, not JSON, not an object).
    """

    def __init__(self, *args: object, path: Path | None = None,
                 field: str | None = None) -> None:
        super().__init__(*args)
        self.path = path
        self.field = field


def missing_dependency(package: str, extra: str, purpose: str) -> DependencyError:
    """Build the error for a missing optional package, naming the pip extra that installs it."""
    return DependencyError(
        f"{purpose} needs the '{package}' package: pip install 'nitrogen-capture[{extra}]'"
    )
