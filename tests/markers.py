"""Conditions shared by several test files.

``needs_torch``: the test writes or reads a ``.pt`` file. torch is an optional extra
(``nitrogen-capture[torch]``), and the Windows tier under Wine (tests_wine/) has no torch wheel,
so there these tests are skipped with this reason, not left to fail on the missing package.

``make_symlink`` and ``wine_lacks_symlinks``: tests about symbolic links (see below).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nitrogen_capture.winecompat import wine_version

HAS_TORCH = importlib.util.find_spec("torch") is not None

needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="needs torch (.pt output; the optional extra, absent in the Windows "
                          "tier)")


WINE = wine_version() is not None


class SymlinkNotCreated(AssertionError):
    """``symlink_to`` returned, but no link is there (Wine 8's stub)."""


# Wine 8's kernelbase.CreateSymbolicLinkW is a stub: it reports success and creates nothing
# (tests_wine/test_tier0_under_wine.py: Path.symlink_to returns, then lstat says "not found").
# A test whose point is a symbolic link cannot run there; strict, so a Wine that implements it
# makes these tests pass and the marker must go.
wine_lacks_symlinks = pytest.mark.xfail(
    WINE, strict=True, raises=SymlinkNotCreated,
    reason="Wine 8: CreateSymbolicLinkW is a stub (reports success, creates no link)")


def make_symlink(link: Path, target: Path) -> None:
    """Create ``link`` -> ``target``; skip where the OS refuses, fail where nothing appears.

    Windows lets only an administrator or Developer Mode create symbolic links
    (ERROR_PRIVILEGE_NOT_HELD): such a test cannot apply there and is skipped with that reason.
    """
    try:
        link.symlink_to(target, target_is_directory=target.is_dir())
    except OSError as exc:
        if getattr(exc, "winerror", None) == _ERROR_PRIVILEGE_NOT_HELD:
            pytest.skip("creating a symbolic link needs administrator rights or Developer Mode "
                        "on Windows")
        raise
    if not link.is_symlink():
        raise SymlinkNotCreated(f"{link} -> {target}: symlink_to returned, no link exists")


_ERROR_PRIVILEGE_NOT_HELD = 1314
