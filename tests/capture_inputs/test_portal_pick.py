"""Recording what the portal's dialog picks: GNOME/KDE without --region or window flags.

As in test_pipewire.py, the portal is a fake service on a real private ``dbus-daemon``
(tests/portal_fake.py) and the frames come from a real GStreamer pipeline with ``videotestsrc``
standing in for ``pipewiresrc``. The desktop is described by the environment only (a GNOME
Wayland session: no SWAYSOCK, no DISPLAY), which is all the path choice reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from nitrogen_capture.capture._pipewire import PipeWireConfig, PipeWireSource, _gst
from nitrogen_capture.capture._portal import TOKEN_ENV
from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import RecordConfig, TargetSpec
from nitrogen_capture.desktop import detect_desktop
from nitrogen_capture.errors import CaptureError, InputError
from nitrogen_capture.targets._picked import picked_target, picks_stream

pytest.importorskip("jeepney")  # the wayland extra
pytest.importorskip("gi")
from portal_fake import FakePortal, FakePortalSettings, fake_portal
from waiting import wait_until

GNOME = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0",
         "XDG_CURRENT_DESKTOP": "GNOME"}


@pytest.fixture
def portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           request: pytest.FixtureRequest) -> Iterator[FakePortal]:
    """A GNOME Wayland session's environment with the fake portal on its bus."""
    for name in ("SWAYSOCK", "DISPLAY", "NITROGEN_CAPTURE_BACKEND", "NITROGEN_INPUT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in GNOME.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(TOKEN_ENV, str(tmp_path / "state" / "token"))
    settings = getattr(request, "param", None) or FakePortalSettings(position=(1280, 0))
    with fake_portal(tmp_path, settings) as fake:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", fake.address)
        yield fake


def _config(out: Path, **kw: Any) -> RecordConfig:
    settings: dict[str, Any] = {"capture_backend": "pipewire", "input_backend": "none", **kw}
    return RecordConfig(out=out, start_immediately=True, **settings)


def _testsrc(width: int, height: int) -> Any:
    def describe(fd: int, node: int) -> str:
        assert node == 42
        return (f"videotestsrc is-live=true pattern=smpte ! video/x-raw,width={width},"
                f"height={height},framerate=30/1 ! videoconvert ! video/x-raw,format=BGRx ! "
                "appsink name=sink max-buffers=1 drop=true sync=false emit-signals=false")
    return describe


def test_the_pick_is_made_only_where_nothing_else_names_the_target(tmp_path: Path) -> None:
    gnome = detect_desktop(GNOME)
    sway = detect_desktop({**GNOME, "SWAYSOCK": "/run/sway.sock"})
    assert picks_stream(_config(tmp_path), gnome, env=GNOME)
    assert not picks_stream(_config(tmp_path), sway, env=GNOME)  # sway names outputs
    assert not picks_stream(_config(tmp_path), detect_desktop({"DISPLAY": ":0"}), env={})
    for spec in (TargetSpec(region=Region(0, 0, 64, 48)), TargetSpec(monitor=1),
                 TargetSpec(window_title="game")):
        assert not picks_stream(_config(tmp_path, target=spec), gnome, env=GNOME)
    assert not picks_stream(_config(tmp_path, capture_backend="mss"), gnome, env=GNOME)
    auto = _config(tmp_path, capture_backend="auto")
    assert picks_stream(auto, gnome, env={**GNOME, "NITROGEN_CAPTURE_BACKEND": "pipewire"})


def test_one_dialog_whole_stream_and_the_line(portal: FakePortal, tmp_path: Path) -> None:
    said: list[str] = []
    target = picked_target(_config(tmp_path), detect_desktop(), say=said.append)
    assert said == ["Wayland session (gnome): the portal's dialog decides what is recorded "
                    "(320x240 stream, node 42)"]
    assert target.region() == Region(0, 0, 320, 240) and target.focus_known is False
    capture = target.capture_target()
    assert (capture.kind, capture.handle) == ("stream", 42)
    assert target.describe() == {
        "kind": "stream", "backend": "portal", "region": [0, 0, 320, 240],
        "picked": {"node_id": 42, "source_type": "monitor", "size": [320, 240],
                   "position": [1280, 0]}}
    source = PipeWireSource(capture, PipeWireConfig(picked=target.picked),
                            pipeline=_testsrc(320, 240))
    try:
        with source:
            source.warm_up()
            frame = source.grab()
            # The whole stream (not cropped at the monitor's layout position 1280,0).
            assert frame.shape == (240, 320, 3) and frame.any()
            assert source.details["node_id"] == 42
        assert portal.starts == 1  # the source read the pick's session: no second dialog
        assert portal.closed_sessions == 1  # the source's close ended it
    finally:
        target.close()
    assert portal.closed_sessions == 1  # and the target's close did nothing more


@pytest.mark.parametrize("backend", ["evdev", "pynput", "auto"])
def test_input_is_refused_before_the_dialog(portal: FakePortal, tmp_path: Path,
                                            backend: str) -> None:
    with pytest.raises(InputError) as info:
        picked_target(_config(tmp_path, input_backend=backend), detect_desktop())
    message = str(info.value)
    assert "\n" not in message and "--input-backend none" in message
    assert "keys typed into other windows (privacy)" in message
    assert portal.starts == 0 and not portal.calls  # the dialog never opened


@pytest.mark.parametrize("portal", [FakePortalSettings(start_code=1)], indirect=True)
def test_a_cancelled_dialog_is_one_line(portal: FakePortal, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"^screen capture cancelled") as info:
        picked_target(_config(tmp_path), detect_desktop())
    assert "\n" not in str(info.value) and portal.closed_sessions == 1


def test_a_stream_size_change_follows_the_resize_path(portal: FakePortal,
                                                      tmp_path: Path) -> None:
    gst = _gst()

    def resizable(fd: int, node: int) -> str:  # a picked window the user resizes
        return ("videotestsrc is-live=true pattern=white ! video/x-raw,framerate=30/1 ! "
                "capsfilter name=mode caps=video/x-raw,width=320,height=240 ! videoconvert ! "
                "video/x-raw,format=BGRx ! appsink name=sink max-buffers=1 drop=true sync=false")
    target = picked_target(_config(tmp_path), detect_desktop())
    source = PipeWireSource(target.capture_target(), PipeWireConfig(picked=target.picked),
                            pipeline=resizable)
    with source:
        source.warm_up()
        assert source.grab().shape == (240, 320, 3)
        source._pipeline.get_by_name("mode").set_property(
            "caps", gst.Caps.from_string("video/x-raw,width=160,height=120"))

        def resized() -> Region | None:  # what the recorder's _refresh_target sees
            source.grab()
            region = target.refresh()
            return region if region != Region(0, 0, 320, 240) else None
        region = wait_until(resized, "the target to follow the stream's new size", 30)
        assert region == Region(0, 0, 160, 120)
        source.set_region(region)  # as the recorder does
        frame = source.grab()
    target.close()
    assert frame.shape == (120, 160, 3) and frame.all()  # white, whole: no black border


def test_record_cli_records_the_picked_stream(portal: FakePortal, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from nitrogen_capture.cli import main

    def from_target(cls: type[PipeWireSource], target: Any, config: Any) -> PipeWireSource:
        return cls(target, config, pipeline=_testsrc(320, 240))  # videotestsrc for pipewiresrc
    monkeypatch.setattr(PipeWireSource, "from_target", classmethod(from_target))
    out = tmp_path / "s1"
    rc = main(["record", "--capture-backend", "pipewire", "--input-backend", "none",
               "--fps", "10", "--max-frames", "5", "--start-immediately", "--cue", "none",
               "--indicator", "none", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert ("Wayland session (gnome): the portal's dialog decides what is recorded (320x240 "
            "stream, node 42)") in printed.splitlines()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["target"]["backend"] == "portal" and meta["target"]["kind"] == "stream"
    assert meta["target"]["picked"]["node_id"] == 42
    assert meta["capture"]["backend"] == "pipewire" and meta["capture"]["size"] == [320, 240]
    assert meta["capture"]["details"]["node_id"] == 42
    assert [c["size"] for c in meta["chunks"]] == [[320, 240]]
    assert meta["chunks"][0]["num_frames"] == 5
    png = sorted((out / "frames").rglob("*.png"))[0]
    image = cv2.imread(str(png))
    assert image is not None and image.shape == (240, 320, 3)
    assert portal.starts == 1 and portal.closed_sessions == 1


def test_the_preflight_grabs_the_picked_stream_whole(portal: FakePortal, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.record import preflight

    def from_target(cls: type[PipeWireSource], target: Any, config: Any) -> PipeWireSource:
        return cls(target, config, pipeline=_testsrc(320, 240))
    monkeypatch.setattr(PipeWireSource, "from_target", classmethod(from_target))
    grabbed = preflight._grab(_config(tmp_path / "s", fps=10), 0.5)  # record --check/--adapt
    assert grabbed.size == (320, 240) and grabbed.frames  # not cropped at position 1280,0
    assert portal.starts == 1 and portal.closed_sessions == 1  # one dialog, closed after
