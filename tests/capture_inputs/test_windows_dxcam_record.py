"""A real recording through the ``dxgi`` source over the fake DXCam 0.3 package.

The recorder, encoders, chunk arrays and meta.json are the real ones; only DXCam is fake
(tests/dxcam_fakes.py), its capture thread free-running at its target rate. The "game" presents
a new frame (with new pixels) on every third grab, so the recording holds new frames and
repeats: the stored OS times must be the presents' QPC times through the rule, and the rows
marked ``repeated`` exactly those that show the frame before again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dxcam_fakes import PRIMARY, FakeDesktop, FakeDxcamModule
from nitrogen_capture.capture import _dxcam as dx
from nitrogen_capture.capture import (
    _dxcam_api,
    _mss,
    register_capture_backend,
    unregister_capture_backend,
)
from nitrogen_capture.capture._qpc import QpcClock
from nitrogen_capture.capture.base import Frame, Region
from nitrogen_capture.clock import now_ns
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.record import build_recorder
from nitrogen_capture.rows import OS_TIME_NONE
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.targets.base import FixedRegionTarget

FRAMES = 45
# The fake's QPC is the recording clock in 100-ns ticks: the rule's offset is then 0.
QPC = QpcClock(frequency=10_000_000, offset_ns=0)


class ScriptedDxgi(dx.DxcamSource):
    """The dxgi source on the fake package; every third grab, the game presents a new frame."""

    desktop: FakeDesktop

    def __init__(self, region: Region, output: int | None = None, *,
                 fps: float | None = None, **_kw: Any) -> None:
        super().__init__(region, output, fps=fps, qpc=QPC,
                         api=_dxcam_api.RealDxcamApi(FakeDxcamModule(self.desktop)))
        self.grabs = 0

    def _grab(self) -> Frame:
        if self.grabs % 3 == 2:  # not on the warm-up grab: that one shows the first image
            self.desktop.show(0, value=self.grabs // 3 % 200 + 20)
        self.grabs += 1
        return super()._grab()


@pytest.fixture
def fake_dxgi(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDesktop]:
    desktop = FakeDesktop([PRIMARY])
    desktop.free_run = True
    desktop.qpc_now = lambda: now_ns() // 100
    ScriptedDxgi.desktop = desktop
    monkeypatch.setattr(_mss, "monitor_regions", lambda: [PRIMARY, PRIMARY])
    register_capture_backend("fakedxgi", lambda: ScriptedDxgi)
    try:
        yield desktop
    finally:
        unregister_capture_backend("fakedxgi")


def test_a_recording_stores_present_times_and_marks_repeats(tmp_path: Path,
                                                            fake_dxgi: FakeDesktop) -> None:
    out = tmp_path / "s"
    cfg = RecordConfig(out=out, capture_backend="fakedxgi", input_backend="scripted",
                       fps=30.0, max_frames=FRAMES, chunk_size=20, start_immediately=True,
                       encoder_workers=1, status_interval=0, cue="none")
    started = time.monotonic()
    target = FixedRegionTarget(Region(100, 50, 164, 98))  # a window's client area, say
    result = build_recorder(cfg, target=target).run()
    assert result.frames == FRAMES
    assert time.monotonic() - started < 60
    cam = fake_dxgi.cameras[0]
    assert cam.started[0]["region"] == (100, 50, 164, 98) and cam.started[0]["target_fps"] == 60
    assert cam.is_released  # closed at the end of the recording

    meta = json.loads((out / "meta.json").read_text())
    cap = meta["capture"]
    assert cap["frame_time_source"] == "dxgi-present" and cap["backend"] == "dxgi"
    reader = SessionReader(out)
    arrays = reader.concat_arrays()
    ts, os_ts, repeated = arrays["timestamps"], arrays["os_timestamps"], arrays["repeated"]
    frames = [img for _, img in reader.iter_frames()]
    assert len(frames) == len(ts) == FRAMES
    assert cap["repeated_frames"] == int(repeated.sum())
    assert cap["details"]["repeated_frames"] >= int(repeated.sum())  # warm-up grab too
    assert cap["frames_without_os_time"] == 0 and (os_ts != OS_TIME_NONE).all()
    # A present is three grabs apart: most rows repeat, and every present is seen.
    assert FRAMES // 3 - 2 <= int((~repeated).sum()) <= FRAMES // 3 + 2
    for i in range(1, FRAMES):
        same = np.array_equal(frames[i], frames[i - 1])
        if repeated[i]:  # the frame before again: its pixels and its OS time
            assert same and os_ts[i] == os_ts[i - 1], i
        else:  # a new present: later, and different pixels (each present has a new value)
            assert os_ts[i] > os_ts[i - 1] and not same, i
    # The present happened before our grab returned, and not long before it (the first image,
    # made at open, may show until the first present is seen: the recorder's start is between).
    assert (os_ts <= ts).all()
    assert (ts - os_ts).max() < 5_000_000_000
