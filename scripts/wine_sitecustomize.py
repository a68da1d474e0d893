"""sitecustomize of the Windows test tier's CPython (copied there by scripts/wine_setup.sh).

* ``NITROGEN_CAPTURE_SRC`` (a Windows path, set by tests_wine/) goes first on ``sys.path``, so
  the tier runs this checkout's ``src`` without reinstalling it after every edit (the embeddable
  CPython ignores ``PYTHONPATH``).
* Under Wine 8, CPython 3.13's ``platform`` module asks WMI for the Windows version and Wine
  aborts the whole process in the unimplemented ``propsys.VariantToString``. Blocking ``_wmi``
  makes ``platform`` use ``sys.getwindowsversion()`` instead; the package does the same for
  itself (``nitrogen_capture.winecompat``), this covers pytest and hypothesis, which ask first.
"""

import os
import sys

_src = os.environ.get("NITROGEN_CAPTURE_SRC")
if _src:
    sys.path.insert(0, _src)
if os.environ.get("WINEPREFIX") or os.environ.get("NITROGEN_CAPTURE_WINE"):
    sys.modules.setdefault("_wmi", None)  # type: ignore[assignment]
