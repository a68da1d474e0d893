"""The pipewire capture backend: the portal dance, its refusals, the restore token, cropping.

The portal is a fake service on a real private ``dbus-daemon`` (tests/portal_fake.py): every
message, the Response signals and the passed file descriptor are real. The frames come from a
real GStreamer pipeline: ``videotestsrc`` stands in for ``pipewiresrc`` (the one element a
machine without a compositor cannot run) and the rest - the appsink keeping the newest frame,
pts + base_time, the crop - is the backend's own path. The real portal and PipeWire are
exercised by the wayland tier (tests marked ``wayland``).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.capture import capture_backend_class, get_capture_backend
from nitrogen_capture.capture._pipewire import (
    PipeWireConfig,
    PipeWireSource,
    _gst,
    crop_to_region,
)
from nitrogen_capture.capture._portal import (
    CURSOR_HIDDEN,
    MONITOR,
    TOKEN_ENV,
    ScreenCastPortal,
    read_token,
    store_token,
    token_path,
)
from nitrogen_capture.capture.base import CaptureTarget, FrameStamp, Region
from nitrogen_capture.errors import CaptureError, OutputError, PlatformError

pytest.importorskip("jeepney")  # the wayland extra
from portal_fake import FakePortal, FakePortalSettings, fake_portal
from waiting import wait_until


@pytest.fixture
def bus_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The token file of this test (``$NITROGEN_CAPTURE_PORTAL_TOKEN``)."""
    token = tmp_path / "state" / "portal-restore-token"
    monkeypatch.setenv(TOKEN_ENV, str(token))
    return token


@pytest.fixture
def portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bus_env: Path,
           request: pytest.FixtureRequest) -> Iterator[FakePortal]:
    settings = getattr(request, "param", None) or FakePortalSettings()
    with fake_portal(tmp_path, settings) as fake:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", fake.address)
        yield fake


def _start(**kw: Any) -> Any:
    session = ScreenCastPortal(MONITOR, timeout_s=10, pick_timeout_s=10, **kw)
    try:
        grant = session.start()
    except BaseException:
        session.close()
        raise
    return session, grant


# -- the portal dance --------------------------------------------------------------------------
def test_dance_selects_a_hidden_cursor_persists_and_opens_a_remote(portal: FakePortal,
                                                                   bus_env: Path) -> None:
    session, grant = _start()
    try:
        assert [m for m, _ in portal.calls if m != "Get"] == [
            "CreateSession", "SelectSources", "Start", "OpenPipeWireRemote"]
        chosen = portal.options("SelectSources")
        assert chosen["types"] == MONITOR and chosen["multiple"] is False
        assert chosen["cursor_mode"] == CURSOR_HIDDEN and chosen["persist_mode"] == 2
        assert "restore_token" not in chosen  # nothing stored yet
        assert grant.version == 4 and grant.streams[0].node_id == 42
        assert grant.streams[0].size == (320, 240) and grant.streams[0].position == (0, 0)
        assert os.fstat(grant.fd)  # a real descriptor came over the bus
        assert (grant.restore_token_used, grant.restore_token_stored) == (False, True)
        assert bus_env.read_text() == "restore-1\n"
    finally:
        os.close(grant.fd)
        session.close()
    assert portal.closed_sessions == 1


def test_restore_token_is_reused_then_replaced_and_reset_ignores_it(portal: FakePortal,
                                                                    bus_env: Path) -> None:
    for _ in range(2):
        session, grant = _start()
        os.close(grant.fd)
        session.close()
    assert portal.options("SelectSources")["restore_token"] == "restore-1"
    assert grant.restore_token_used and read_token(bus_env) == "restore-2"  # single-use: new
    session, grant = _start(reset=True)
    os.close(grant.fd)
    session.close()
    assert "restore_token" not in portal.options("SelectSources")
    assert not grant.restore_token_used and read_token(bus_env) == "restore-3"
    assert stat.S_IMODE(bus_env.stat().st_mode) == 0o600  # it skips the dialog: owner only


@pytest.mark.parametrize("portal", [FakePortalSettings(give_token=False, version=3)],
                         indirect=True)
def test_old_portal_gets_no_persist_mode_and_reset_drops_the_old_token(
        portal: FakePortal, bus_env: Path) -> None:
    store_token(bus_env, "old-token")
    session, grant = _start()
    os.close(grant.fd)
    session.close()
    assert "persist_mode" not in portal.options("SelectSources")
    assert read_token(bus_env) == "old-token" and not grant.restore_token_used
    session, grant = _start(reset=True)
    os.close(grant.fd)
    session.close()
    assert not bus_env.exists()  # replaced by none


# -- refusals: one line each -------------------------------------------------------------------
@pytest.mark.parametrize(("settings", "error", "words"), [
    (FakePortalSettings(screencast=False), PlatformError, "no ScreenCast interface"),
    (FakePortalSettings(start_code=1), CaptureError, "screen capture cancelled"),
    (FakePortalSettings(start_code=2), CaptureError, "refused Start (response 2)"),
    (FakePortalSettings(source_types=2), CaptureError, "offers source types 0x2"),
])
def test_refusals_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bus_env: Path,
                               settings: FakePortalSettings, error: type[Exception],
                               words: str) -> None:
    with fake_portal(tmp_path, settings) as fake:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", fake.address)
        with pytest.raises(error) as info:
            _start()
    assert words in str(info.value) and "\n" not in str(info.value)
    assert not bus_env.exists()


def test_no_portal_on_the_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              bus_env: Path) -> None:
    with fake_portal(tmp_path, run_portal=False) as fake:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", fake.address)
        with pytest.raises(PlatformError, match="no desktop portal on the session bus"):
            _start()


def test_no_session_bus(monkeypatch: pytest.MonkeyPatch, bus_env: Path,
                        tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(PlatformError, match="DBUS_SESSION_BUS_ADDRESS is not set"):
        _start()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'none'}")
    with pytest.raises(PlatformError, match="cannot connect to the D-Bus session bus"):
        _start()


@pytest.mark.parametrize("portal", [FakePortalSettings(answer_start=False)], indirect=True)
def test_a_picker_left_open_times_out(portal: FakePortal) -> None:
    session = ScreenCastPortal(MONITOR, timeout_s=10, pick_timeout_s=0.5)
    with pytest.raises(CaptureError, match=r"no answer to Start in 0.5 s \(was the picker"):
        session.start()
    assert portal.closed_sessions == 1  # the half-made session was closed


# -- the token file ----------------------------------------------------------------------------
def test_token_path_follows_the_environment(tmp_path: Path) -> None:
    assert token_path({TOKEN_ENV: str(tmp_path / "t")}) == tmp_path / "t"
    assert token_path({"XDG_STATE_HOME": "/st"}) == \
        Path("/st/nitrogen-capture/portal-restore-token")
    assert token_path({}).parts[-4:] == (".local", "state", "nitrogen-capture",
                                         "portal-restore-token")


def test_token_file_is_never_written_through_a_link_or_over_other_data(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("not a token\nsecond line\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="symbolic link"):
        store_token(link, "tok")
    with pytest.raises(OutputError, match="not a portal restore token"):
        store_token(target, "tok")
    assert target.read_text() == "not a token\nsecond line\n"
    assert read_token(target) is None  # and it is not sent to the portal either
    store_token(tmp_path / "new" / "token", "tok")
    assert read_token(tmp_path / "new" / "token") == "tok"
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["token"]  # no temporary left


# -- cropping ----------------------------------------------------------------------------------
def test_crop_inside_outside_and_across_the_stream() -> None:
    frame = np.arange(40 * 60 * 4, dtype=np.uint32).astype(np.uint8).reshape(40, 60, 4)
    inside = crop_to_region(frame, (100, 50), Region(110, 55, 130, 75))
    assert np.array_equal(inside, frame[5:25, 10:30]) and inside.flags.writeable
    assert inside.base is None or inside.base is not frame  # a copy the caller may keep
    across = crop_to_region(frame, (100, 50), Region(90, 80, 120, 100))
    assert across.shape == (20, 30, 4)
    assert np.array_equal(across[:10, 10:], frame[30:40, :20]) and not across[:, :10].any()
    assert not across[10:].any()
    assert not crop_to_region(frame, (0, 0), Region(500, 500, 510, 505)).any()


# -- the source: real GStreamer, fake portal ---------------------------------------------------
def _testsrc(width: int, height: int, fps: int = 60) -> Any:
    def describe(fd: int, node: int) -> str:
        os.fstat(fd)  # the portal's descriptor is still open while the pipeline is built
        assert node == 42
        return (f"videotestsrc is-live=true pattern=smpte ! video/x-raw,width={width},"
                f"height={height},framerate={fps}/1 ! videoconvert ! video/x-raw,format=BGRx ! "
                "appsink name=sink max-buffers=1 drop=true sync=false emit-signals=false")
    return describe


@pytest.mark.parametrize("portal", [FakePortalSettings(position=(1000, 200))], indirect=True)
def test_source_crops_stamps_and_repeats(portal: FakePortal) -> None:
    pytest.importorskip("gi")
    region = Region(1010, 210, 1010 + 64, 210 + 48)
    source = get_capture_backend("pipewire", region=region,
                                 config=PipeWireConfig(portal_reset=True))
    assert isinstance(source, PipeWireSource) and source.config.portal_reset
    full = PipeWireSource(CaptureTarget.of_region(Region(1000, 200, 1320, 440)),
                          pipeline=_testsrc(320, 240, 10))
    source._describe = _testsrc(320, 240, 10)
    with source, full:
        source.warm_up()
        full.warm_up()
        frame = source.grab()
        stamp = source.last_stamp()
        now = time.monotonic_ns()
        assert frame.shape == (48, 64, 3)
        assert np.array_equal(frame, full.grab()[10:58, 10:74])  # smpte bars are static
        assert isinstance(stamp, FrameStamp) and stamp.seq is not None
        assert stamp.os_ns is not None and 0 <= now - stamp.os_ns < 500_000_000

        def repeated() -> bool:  # grabs faster than the 10 fps stream: the same frame again
            before = source.last_stamp()
            raw = source.grab_raw()
            assert raw.shape == (48, 64, 4)
            return source.last_stamp() == before
        wait_until(repeated, "a grab with no new frame", 30)
        assert source.repeated_grabs >= 1
        assert source.details["stamp_clock"] == "monotonic"
        assert source.details["node_id"] == 42 and source.details["portal_version"] == 4
        assert source.details["stream_position"] == [1000, 200]
        later = wait_for_new(source, stamp)
        assert later.seq is not None and later.seq > stamp.seq
        source.set_region(Region(1300, 420, 1340, 460))  # partly off the stream: black there
        moved = source.grab()
        assert moved.shape == (40, 40, 3) and not moved[20:, :].any()
    assert portal.closed_sessions == 2


def wait_for_new(source: PipeWireSource, old: FrameStamp) -> FrameStamp:
    def fresh() -> FrameStamp | None:
        source.grab_raw()
        stamp = source.last_stamp()
        return stamp if stamp != old else None
    return wait_until(fresh, "a new frame from the pipeline", 30)


def test_registry_and_settings() -> None:
    cls = capture_backend_class("pipewire")
    assert cls is PipeWireSource and cls.stamp_source == "pipewire-pts"
    assert cls.targets == frozenset({"region", "stream"})
    from nitrogen_capture.capture.base import CaptureSettings

    assert PipeWireConfig.from_settings(CaptureSettings(portal_reset=True)).portal_reset


@pytest.mark.parametrize("portal", [FakePortalSettings(start_code=1)], indirect=True)
def test_source_open_refusal_leaves_nothing_open(portal: FakePortal) -> None:
    pytest.importorskip("gi")
    source = PipeWireSource(Region(0, 0, 64, 48), pipeline=_testsrc(320, 240))
    with pytest.raises(CaptureError, match="screen capture cancelled"):
        source.open()
    source.close()


def test_stopped_sharing_ends_the_recording_in_one_line(portal: FakePortal) -> None:
    pytest.importorskip("gi")
    source = PipeWireSource(Region(0, 0, 64, 48), pipeline=_testsrc(320, 240))
    with source:
        source.warm_up()
        source.grab()
        portal.emit_closed()
        def ended() -> str | None:
            try:
                source.grab_raw()
            except CaptureError as exc:
                return str(exc)
            return None
        message = wait_until(ended, "the grab to see the session closed", 30)
    assert message == ("the PipeWire stream (node 42) ended: the portal closed the screen-cast "
                       "session (sharing was stopped)")


def test_no_first_frame_is_one_line(portal: FakePortal) -> None:
    pytest.importorskip("gi")

    def silent(fd: int, node: int) -> str:  # a stream that never delivers a frame
        return ("videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=1/1 ! "
                "valve drop=true ! appsink name=sink max-buffers=1 drop=true sync=false")
    source = PipeWireSource(Region(0, 0, 64, 48), PipeWireConfig(first_frame_timeout_s=0.3),
                            pipeline=silent)
    with source, pytest.raises(CaptureError, match=r"no frame from PipeWire node 42 in 0\.3 s"):
        source.warm_up()


def test_a_stream_size_change_keeps_the_region_size(portal: FakePortal) -> None:
    pytest.importorskip("gi")
    gst = _gst()

    def resizable(fd: int, node: int) -> str:  # an output whose mode changes mid-stream
        return ("videotestsrc is-live=true pattern=white ! video/x-raw,framerate=30/1 ! "
                "capsfilter name=mode caps=video/x-raw,width=320,height=240 ! videoconvert ! "
                "video/x-raw,format=BGRx ! appsink name=sink max-buffers=1 drop=true sync=false")
    region = Region(100, 100, 300, 200)
    source = PipeWireSource(region, pipeline=resizable)
    with source:
        source.warm_up()
        assert source.grab().all()  # white inside the 320x240 output
        source._pipeline.get_by_name("mode").set_property(
            "caps", gst.Caps.from_string("video/x-raw,width=160,height=120"))

        def shrunk() -> list[Any]:
            frame = source.grab()
            return [frame] if source._full is not None and source._full.shape[1] == 160 \
                else []
        (frame,) = wait_until(shrunk, "frames of the new size", 30)
    assert frame.shape == (100, 200, 3)  # still the region's size
    assert frame[:20, :60].all() and not frame[20:, :].any() and not frame[:, 60:].any()


@pytest.mark.parametrize("portal", [FakePortalSettings(position=(1000, 200))], indirect=True)
def test_a_picked_screen_without_the_target_is_refused_in_one_line(portal: FakePortal) -> None:
    """The user picked another screen: its frames would be all black, so warm-up refuses."""
    pytest.importorskip("gi")
    source = PipeWireSource(CaptureTarget.of_region(Region(0, 0, 64, 48)),
                            pipeline=_testsrc(320, 240))
    with source, pytest.raises(CaptureError) as caught:
        source.warm_up()
    assert str(caught.value) == (
        "the screen picked in the portal's dialog shows [1000, 200, 1320, 440], none of the "
        "target [0, 0, 64, 48]: run again with --portal-reset and pick the screen the game is on")
