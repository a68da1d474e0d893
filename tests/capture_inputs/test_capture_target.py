"""The capture-target seam: a window-capture backend is one class plus one registry line.

A fake window-capture backend (what Windows Graphics Capture by HWND or a PipeWire portal stream
would be) is defined and registered here, in this file only, and records a real session through
the real ``build_recorder`` / ``Recorder`` (real encoder, real files). Adding it touched one file:
this test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.barcode import decode, draw
from nitrogen_capture.capture import (
    BACKENDS,
    REGISTRY,
    BackendConfig,
    CaptureSettings,
    CaptureTarget,
    FrameSource,
    capture_backend_class,
    get_capture_backend,
    register_capture_backend,
    unregister_capture_backend,
)
from nitrogen_capture.capture.base import Frame, Region
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.record import build_recorder
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.targets.base import Target

HWND = 0x2A0F3C
CELL = 4


@dataclass(frozen=True)
class FakeWindowConfig(BackendConfig):
    """The fake's own options: a fill level from the shared ``seed``."""

    level: int = 0

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> FakeWindowConfig:
        return cls(level=settings.seed % 200)


class FakeWindowCapture(FrameSource):
    """Grabs a window by handle: each frame is a flat fill with the grab number as a barcode."""

    name = "fakewindow"
    targets = frozenset({"window", "stream"})
    config_type = FakeWindowConfig
    opened_handles: list[int | None] = []

    def __init__(self, target: CaptureTarget, config: FakeWindowConfig) -> None:
        super().__init__(target)
        self.config = config
        self.count = 0
        self.details = {"handle": target.handle, "kind": target.kind}

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> FakeWindowCapture:
        assert isinstance(config, FakeWindowConfig)
        return cls(target, config)

    def _open(self) -> None:
        type(self).opened_handles.append(self.target.handle)

    def warm_up(self) -> None:
        super().warm_up()
        self.count = 0

    def _grab(self) -> Frame:
        w, h = self.region.size
        frame = np.full((h, w, 3), self.config.level, np.uint8)
        draw(frame, self.count, 0, 0, CELL)
        self.count += 1
        return frame


class FakeWindowTarget(Target):
    """A window that stays put: the recorder's Target with a handle."""

    def __init__(self, region: Region) -> None:
        self._region = region

    def region(self) -> Region:
        return self._region

    def capture_target(self) -> CaptureTarget:
        return CaptureTarget.of_window(HWND, self._region)

    def describe(self) -> dict[str, Any]:
        return {"kind": "window", "window_id": HWND, "region": self._region.to_list()}


@pytest.fixture
def fake_window_backend() -> Iterator[str]:
    register_capture_backend("fakewindow", lambda: FakeWindowCapture)  # the one registry line
    FakeWindowCapture.opened_handles = []
    try:
        yield "fakewindow"
    finally:
        unregister_capture_backend("fakewindow")


def test_a_registered_window_backend_records_a_session(tmp_path: Path,
                                                       fake_window_backend: str) -> None:
    out = tmp_path / "s"
    cfg = RecordConfig(out=out, capture_backend=fake_window_backend, input_backend="scripted",
                       fps=30.0, max_frames=24, chunk_size=10, start_immediately=True,
                       encoder_workers=1, status_interval=0, cue="none", seed=7)
    rec = build_recorder(cfg, target=FakeWindowTarget(Region(0, 0, 128, 96)))
    assert isinstance(rec.source, FakeWindowCapture)
    assert rec.source.target.kind == "window" and rec.source.config.level == 7
    result = rec.run()
    assert result.frames == 24 and result.chunks == 3
    assert FakeWindowCapture.opened_handles == [HWND]  # opened once, by the handle
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete"
    assert meta["capture"]["backend"] == "fakewindow"
    assert meta["capture"]["details"] == {"handle": HWND, "kind": "window"}
    reader = SessionReader(out)
    frames = list(reader.iter_frames())
    numbers = [decode(f, 0, 0, CELL) for _, f in frames]
    assert numbers == list(range(24))  # every grab stored, in order, as the rows say
    assert frames[0][1][-1, -1].tolist() == [7, 7, 7]  # the config's fill reached the PNG
    assert reader.concat_arrays()["actions"].shape[0] == 24


def test_region_backends_take_a_window_as_its_client_area(fake_window_backend: str) -> None:
    window = CaptureTarget.of_window(HWND, Region(10, 20, 74, 68))
    for name in ("mss", "synthetic"):
        source = get_capture_backend(name, target=window, seed=3)
        assert source.target == CaptureTarget.of_region(Region(10, 20, 74, 68))
        assert source.region == window.region
    synthetic = get_capture_backend("synthetic", region=Region(0, 0, 32, 32), seed=5)
    assert synthetic.details["seed"] == 5  # the typed config carried --seed
    stream = CaptureTarget.of_stream(41, Region(0, 0, 64, 48))
    with pytest.raises(ConfigError, match="cannot capture a stream target"):
        get_capture_backend("mss", target=stream)
    source = get_capture_backend(fake_window_backend, target=stream)
    assert source.details == {"handle": 41, "kind": "stream"}


def test_factory_refuses_wrong_options_and_bad_targets(fake_window_backend: str) -> None:
    from nitrogen_capture.capture._synthetic import SyntheticConfig

    with pytest.raises(ConfigError, match="takes FakeWindowConfig options, not SyntheticConfig"):
        get_capture_backend(fake_window_backend, region=Region(0, 0, 8, 8),
                            config=SyntheticConfig(seed=1))
    source = get_capture_backend("synthetic", region=Region(0, 0, 8, 8),
                                 config=SyntheticConfig(seed=9))
    assert source.details["seed"] == 9
    with pytest.raises(ConfigError, match="region or a target"):
        get_capture_backend("synthetic")
    with pytest.raises(ConfigError, match="needs a handle"):
        CaptureTarget(Region(0, 0, 8, 8), "window")
    with pytest.raises(ConfigError, match="takes no handle"):
        CaptureTarget(Region(0, 0, 8, 8), "region", 3)
    with pytest.raises(ConfigError, match="already registered"):
        register_capture_backend("mss", "._mss:MssSource")
    with pytest.raises(ConfigError, match="unknown capture backend 'nope'"):
        get_capture_backend("nope", region=Region(0, 0, 8, 8))


def test_registry_names_every_builtin_backend_lazily() -> None:
    # --capture-backend: auto, the registry, then the old name dxcam (= dxgi)
    assert BACKENDS == ("auto", "dxgi", "wgc", "gdi", "mss", "synthetic", "pipewire", "dxcam")
    assert set(REGISTRY) == {"dxgi", "wgc", "gdi", "mss", "synthetic",
                             "pipewire"}  # no test fake left
    assert capture_backend_class("synthetic").name == "synthetic"
    unregister_capture_backend("mss")  # built-ins cannot be removed
    assert "mss" in REGISTRY
