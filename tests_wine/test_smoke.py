"""The tier itself: the Windows CPython runs under Wine and sees this checkout."""

from __future__ import annotations

from winetier import WineTier


def test_windows_cpython_runs_the_checkout_under_wine(wine: WineTier) -> None:
    probe = ("import sys, platform, nitrogen_capture, nitrogen_capture.winecompat as w; "
             "print(sys.platform, platform.release(), w.wine_version(), nitrogen_capture.__file__)")
    done = wine.python("-c", probe, timeout=120)
    assert done.returncode == 0, done.stderr
    platform_name, release, wine_version, package = done.stdout.split()
    assert platform_name == "win32"
    assert release  # platform answered without WMI (Wine lacks propsys.VariantToString)
    assert wine_version.split(".")[0].isdigit()
    assert package.lower().startswith("z:") and "src" in package
