"""GStreamer in the process must not break C++ exceptions of the libraries loaded beside it.

PyGObject opens libgstreamer RTLD_GLOBAL and with it libunwind.so.8, whose ``_Unwind_Resume``
then wins the lookups of any C++ library binding its unwinder later: pyarrow aborted the whole
test run (SIGABRT) reading a damaged parquet after a PipeWire test had run in the same process.
``capture/_pipewire._gst`` puts libgcc_s first; this runs the failing sequence in a fresh
process: a C++ exception before GStreamer (OpenCV's, binding libstdc++ to libgcc_s), GStreamer
through ``_gst``, then pyarrow's first exception, which must arrive as a Python exception.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gi")
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's symbol scopes")

SEQUENCE = """
import sys
import cv2
import numpy as np
try:
    cv2.resize(np.zeros((0, 0), np.uint8), (1, 1))
except cv2.error:
    pass
from nitrogen_capture.capture._pipewire import _gst
_gst()
import pyarrow as pa
import pyarrow.parquet as pq
try:
    pq.read_table(sys.argv[1])
except pa.ArrowException as exc:
    print("raised", type(exc).__name__)
"""


def test_a_damaged_parquet_after_gstreamer_is_an_exception_not_an_abort(tmp_path: Path) -> None:
    damaged = tmp_path / "tasks.parquet"
    damaged.write_bytes(b"PAR1 not parquet")
    done = subprocess.run([sys.executable, "-c", SEQUENCE, str(damaged)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["raised", "ArrowInvalid"], done.stdout
