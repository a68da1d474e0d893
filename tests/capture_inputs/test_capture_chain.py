"""``--capture-backend auto`` on Windows: dxgi, then wgc, then gdi, its one line, its failover.

The Windows backends cannot run here, so fakes take their registry names (``dxgi``, ``wgc``,
``gdi``) in the real :data:`~nitrogen_capture.capture.REGISTRY` and the capture package is told it
runs on Windows (its one ``_platform`` seam; nothing else of the process changes). The fakes are
the synthetic source (real frames with a frame-number barcode and OS stamps, so real recordings
can be checked frame by frame) failing as the real layers fail: DXGI's refusals are built by the
real :func:`~nitrogen_capture.capture._dxcam_api.classify_dxgi_error` from the HRESULTs DXCam
raises; WGC's by the WGC layer's own ``WgcUnavailable`` with its one-line ``short``
(and ``target_ended`` when the window closed). The chain itself runs for real under Wine in
tests_wine/test_win32_capture.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import nitrogen_capture.capture as capture
from cli_run import run_cli
from dxcam_fakes import FakeCOMError
from nitrogen_capture import targets
from nitrogen_capture.capture import _chain, get_capture_backend
from nitrogen_capture.capture._dxcam_api import classify_dxgi_error
from nitrogen_capture.capture._synthetic import SyntheticSource, read_frame_number
from nitrogen_capture.capture._wgc_api import WgcUnavailable
from nitrogen_capture.capture.base import Frame, Region
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.errors import CaptureError, ConfigError, DependencyError
from nitrogen_capture.record import build_recorder
from nitrogen_capture.record.status import format_status, parse_status
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.session.validate import validate_session
from nitrogen_capture.targets.base import FixedRegionTarget

REGION = Region(0, 0, 160, 120)
UNSUPPORTED = 0x887A0004 - (1 << 32)  # DXGI_ERROR_UNSUPPORTED as comtypes' signed hresult
ACCESS_LOST = 0x887A0026 - (1 << 32)
E_NOTIMPL = 0x80004001 - (1 << 32)
OLD_BUILD = "needs Windows 10 1903 (build 18362) or later; this is build 17763"
# The WGC layer's short may name WGC itself: the line says the name once.
NAMED = "Windows Graphics Capture needs Windows 10 1903 or later (this is build 17763)"


def dxgi_refusal(hresult: int, action: str = "open output 0") -> CaptureError:
    """What the real DXCam layer raises for ``hresult`` (its ``short`` is in the line)."""
    return classify_dxgi_error(FakeCOMError(hresult, "DuplicateOutput"), action)


class Scripted(SyntheticSource):
    """A synthetic source that fails as scripted: at open, or at its Nth grab after warm-up.

    Class attributes, set per test by :func:`backends`: the instances are built by the factory.
    """

    refuse: ClassVar[CaptureError | DependencyError | None] = None
    fail_after: ClassVar[int | None] = None  # grabs delivered before the failure
    failure: ClassVar[CaptureError | None] = None
    size: ClassVar[tuple[int, int] | None] = None  # a frame size other than the region's
    made: ClassVar[list[Scripted]] = []

    def __init__(self, region: Region, seed: int = 0, repeat_every: int = 0) -> None:
        super().__init__(region, seed, repeat_every)
        self.calls: list[str] = []
        type(self).made.append(self)

    def _open(self) -> None:
        self.calls.append("open")
        if self.refuse is not None:
            raise self.refuse
        super()._open()

    def _grab(self) -> Frame:
        self.calls.append("grab")
        if self.fail_after is not None and self._grabs >= self.fail_after:
            assert self.failure is not None
            raise self.failure
        frame = super()._grab()
        if self.size is not None:
            return np.zeros((self.size[1], self.size[0], 3), np.uint8)
        return frame

    def _close(self) -> None:
        self.calls.append("close")


class FakeDxgi(Scripted):
    stamp_source = "dxgi-present"
    made: ClassVar[list[Scripted]] = []


class FakeWgc(Scripted):
    stamp_source = "wgc-system-relative"
    made: ClassVar[list[Scripted]] = []

    def __init__(self, region: Region, seed: int = 0, repeat_every: int = 0) -> None:
        super().__init__(region, seed, repeat_every)
        self.details.update(hwnd=None, border="off", cursor="off", min_update_interval_ms=16)


class FakeGdi(Scripted):
    stamp_source = None
    made: ClassVar[list[Scripted]] = []

    def last_stamp(self) -> None:
        return None  # GDI says nothing about its frames


FAKES: dict[str, type[Scripted]] = {"dxgi": FakeDxgi, "wgc": FakeWgc, "gdi": FakeGdi}


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, type[Scripted]]]:
    """The fakes under the Windows names, the capture package on "Windows", no env override."""
    monkeypatch.setattr(capture, "_platform", lambda: "win32")
    monkeypatch.delenv(capture.ENV_VAR, raising=False)
    for name, cls in FAKES.items():
        monkeypatch.setitem(capture.REGISTRY, name, lambda cls=cls: cls)
        for attr in ("refuse", "fail_after", "failure", "size"):
            monkeypatch.setattr(cls, attr, None)
        monkeypatch.setattr(cls, "made", [])
    yield FAKES


def lines_of(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.getMessage().startswith("capture:")]


# ---------------------------------------------------------------------------------------------
# the choice and its one line
# ---------------------------------------------------------------------------------------------
def test_first_backend_working_is_said_at_info(backends: dict[str, Any],
                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        source = get_capture_backend("auto", region=REGION)
    assert isinstance(source, _chain.ChainSource) and source.name == "dxgi"
    assert lines_of(caplog) == [(logging.INFO, "capture: using Desktop Duplication")]
    tried, fresh = FakeDxgi.made
    assert tried.calls == ["open", "grab", "close"]  # the one-frame try, closed
    assert fresh.calls == [] and source.inner is fresh  # a fresh source, opened by the recorder
    assert source.choice == {"asked": "auto", "tried": [], "switches": []}
    assert source.stamp_source == "dxgi-present"


CASES = {
    # hybrid-GPU laptop: Desktop Duplication refused at open, WGC works
    "unsupported-to-wgc": (dxgi_refusal(UNSUPPORTED), None, "wgc"),
    # Wine's E_NOTIMPL, and WGC refused on an old Windows build: GDI
    "old-build-to-gdi": (dxgi_refusal(E_NOTIMPL), WgcUnavailable(f"{NAMED}; use gdi", NAMED),
                         "gdi"),
    # windows-capture not installed: named as such, GDI
    "not-installed-to-gdi": (dxgi_refusal(ACCESS_LOST, "grab"),
                             DependencyError("Windows Graphics Capture needs the "
                                             "'windows-capture' package: pip install "
                                             "'nitrogen-capture[windows]'"), "gdi"),
}
LABEL = {"dxgi": "Desktop Duplication", "wgc": "Windows Graphics Capture", "gdi": "GDI (mss)"}


@pytest.mark.parametrize("case", list(CASES))
def test_each_refusal_gives_one_warning_naming_the_choice_and_why(
        backends: dict[str, Any], caplog: pytest.LogCaptureFixture, case: str) -> None:
    dxgi_error, wgc_error, chosen = CASES[case]
    FakeDxgi.refuse = dxgi_error
    FakeWgc.refuse = wgc_error
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        source = get_capture_backend("auto", region=REGION)
    assert isinstance(source, _chain.ChainSource) and source.name == chosen
    reasons = [f"Desktop Duplication refused ({dxgi_error.short})"]  # type: ignore[union-attr]
    tried = [{"backend": "dxgi", "refused": dxgi_error.short}]  # type: ignore[union-attr]
    if wgc_error is not None:
        short = ("'windows-capture' is not installed" if isinstance(wgc_error, DependencyError)
                 else wgc_error.short)  # type: ignore[union-attr]
        shown = short.removeprefix("Windows Graphics Capture ")  # said once in the line
        reasons.append(f"Windows Graphics Capture refused ({shown})")
        tried.append({"backend": "wgc", "refused": short})
    line = f"capture: {'; '.join(reasons)}: using {LABEL[chosen]}"
    assert lines_of(caplog) == [(logging.WARNING, line)]
    assert source.choice == {"asked": "auto", "tried": tried, "switches": []}
    print(line)  # the report quotes these lines


def test_a_grab_refusal_is_a_refusal_too(backends: dict[str, Any],
                                        caplog: pytest.LogCaptureFixture) -> None:
    FakeDxgi.fail_after, FakeDxgi.failure = 0, dxgi_refusal(ACCESS_LOST, "grab")
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        source = get_capture_backend("auto", region=REGION)
    assert source.name == "wgc"
    assert FakeDxgi.made[0].calls == ["open", "grab", "close"]
    assert lines_of(caplog) == [(logging.WARNING, "capture: Desktop Duplication refused "
                                 f"({FakeDxgi.failure.short}): using Windows Graphics Capture")]


def test_everything_refused_is_one_line_and_a_non_zero_exit_through_the_cli(
        backends: dict[str, Any], caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    FakeDxgi.refuse = dxgi_refusal(UNSUPPORTED)
    FakeWgc.refuse = WgcUnavailable("old", OLD_BUILD)
    FakeGdi.refuse = CaptureError("mss could not grab region 0 0 160 120: BitBlt failed")
    monkeypatch.setattr(targets, "_screen_regions", lambda: [REGION, REGION])
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        run = run_cli(capsys, "record", "--region", "0", "0", "160", "120", "--out",
                      str(tmp_path / "s"), "--seconds", "1", "--start-immediately",
                      "--input-backend", "none", "--cue", "none", "--indicator", "none",
                      "--status-interval", "0")
    line = run.one_line_error(1, "no capture backend works here: Desktop Duplication refused "
                              f"({FakeDxgi.refuse.short}); Windows Graphics Capture refused "  # type: ignore[attr-defined]
                              f"({OLD_BUILD}); GDI (mss) refused (mss could not grab region "
                              "0 0 160 120: BitBlt failed)", "--source synthetic")
    assert lines_of(caplog) == []  # the error is the one line
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())
    print(line)


# ---------------------------------------------------------------------------------------------
# names, aliases, the environment
# ---------------------------------------------------------------------------------------------
def test_names_aliases_and_windows_only_names() -> None:
    assert [capture.canonical_backend(n, "win32") for n in ("dxcam", "mss", "DXGI ", "auto")] \
        == ["dxgi", "gdi", "dxgi", "auto"]
    assert capture.canonical_backend("mss", "linux") == "mss"
    with pytest.raises(ConfigError, match="already registered"):
        capture.register_capture_backend("dxcam", "._dxcam:DxcamSource")  # an old name stays
    for name in ("dxgi", "wgc", "gdi", "dxcam"):
        with pytest.raises(ConfigError, match=f"'{name}' is Windows-only; here use mss/pipewire"):
            capture.canonical_backend(name, "linux")


def test_a_named_backend_or_the_environment_is_no_chain(
        backends: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    FakeDxgi.refuse = dxgi_refusal(UNSUPPORTED)  # never tried: asked for by name
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        assert type(get_capture_backend("dxcam", region=REGION)) is FakeDxgi
        source = get_capture_backend("mss", region=REGION)
        assert type(source) is FakeGdi and source.name == "gdi"  # meta.json says gdi
        monkeypatch.setenv(capture.ENV_VAR, "wgc")
        source = get_capture_backend("auto", region=REGION)
        assert type(source) is FakeWgc and source.name == "wgc"
    assert lines_of(caplog) == []
    assert all(s.calls == [] for s in FakeDxgi.made)


def test_a_backend_module_missing_from_the_build_is_refused_as_not_installed(
        backends: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    FakeDxgi.refuse = dxgi_refusal(E_NOTIMPL)
    monkeypatch.setitem(capture.REGISTRY, "wgc", "._no_such_module:WgcSource")
    with pytest.raises(DependencyError, match="'wgc' is not installed in this build"):
        capture.capture_backend_class("wgc")
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        assert get_capture_backend("auto", region=REGION).name == "gdi"
    assert "Windows Graphics Capture refused (not installed in this build)" in \
        lines_of(caplog)[0][1]


# ---------------------------------------------------------------------------------------------
# recordings: meta.json capture.choice, failover
# ---------------------------------------------------------------------------------------------
def test_record_through_the_cli_writes_the_choice_into_meta_json(
        backends: dict[str, Any], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeDxgi.refuse = dxgi_refusal(UNSUPPORTED)
    monkeypatch.setattr(targets, "_screen_regions", lambda: [REGION, REGION])
    out = tmp_path / "s"
    run = run_cli(capsys, "record", "--region", "0", "0", "160", "120", "--out", str(out),
                  "--max-frames", "12", "--fps", "30", "--start-immediately",
                  "--input-backend", "none", "--cue", "none", "--indicator", "none",
                  "--status-interval", "0")
    assert run.code == 0, run.err
    meta = json.loads((out / "meta.json").read_text())
    cap = meta["capture"]
    assert cap["backend"] == "wgc" and cap["frame_time_source"] == "wgc-system-relative"
    assert cap["choice"] == {"asked": "auto", "switches": [], "tried": [
        {"backend": "dxgi", "refused": FakeDxgi.refuse.short}]}  # type: ignore[attr-defined]
    assert cap["details"]["border"] == "off"
    report = validate_session(out)
    assert report.ok, report.format()
    assert "capture_switches" not in report.stats
    print("meta.json capture:", json.dumps(cap, indent=1, sort_keys=True))


def _recorder(out: Path, **kw: Any) -> Any:
    cfg = RecordConfig(out=out, capture_backend=kw.pop("backend", "auto"), input_backend="none",
                       fps=30.0, max_frames=kw.pop("frames", 45), chunk_size=20,
                       start_immediately=True, encoder_workers=1, status_interval=0, cue="none",
                       **kw)
    return build_recorder(cfg, target=FixedRegionTarget(REGION))


def test_failover_mid_recording_keeps_the_frames_coming(
        backends: dict[str, Any], caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    # Desktop Duplication works, then loses the desktop for good at its 20th frame (DXCam 0.3's
    # own re-creation having failed); WGC takes over at once.
    FakeDxgi.fail_after, FakeDxgi.failure = 20, dxgi_refusal(ACCESS_LOST, "grab")
    out = tmp_path / "s"
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        rec = _recorder(out)
        result = rec.run()
    assert result.frames == 45 and result.stop_reason == "max frames"
    short = FakeDxgi.failure.short  # type: ignore[union-attr]
    switch = {"frame": 20, "from": "dxgi", "to": "wgc", "reason": short}
    assert lines_of(caplog) == [
        (logging.INFO, "capture: using Desktop Duplication"),
        (logging.WARNING, f"capture: Desktop Duplication failed at frame 20 ({short}): "
                          "switched to Windows Graphics Capture")]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete"
    assert meta["capture"]["backend"] == "wgc"
    assert meta["capture"]["choice"] == {"asked": "auto", "tried": [], "switches": [switch]}
    # The data agree: rows 0..19 are DXGI's frames 0..19, row 20 is WGC's first frame.
    numbers = [read_frame_number(img) for _, img in SessionReader(out).iter_frames()]
    assert numbers == [*range(20), *range(25)]
    assert rec.stats().switched == "dxgi->wgc"
    line = format_status(dataclasses.replace(rec.stats(), phase="recording"))
    assert line.endswith("  capture switched dxgi->wgc") and parse_status(line) is not None
    report = validate_session(out)
    assert report.ok, report.format()  # OS times and repeats stay consistent over the switch
    assert report.stats["capture_switches"] == [switch]
    print(lines_of(caplog)[1][1], "\nvalidate:", report.stats["capture_switches"],
          "\nstatus:", line)
    assert f"INFO    capture: switched from dxgi to wgc at frame 20: {short}" in report.format()
    from nitrogen_capture.report.facts import gather, session_facts

    facts = dict(session_facts(gather(out)))
    assert facts["backends"].startswith(f"capture wgc (from dxgi until frame 20: {short}); ")


def test_failover_skips_a_backend_of_another_frame_size(
        backends: dict[str, Any], caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    FakeDxgi.fail_after, FakeDxgi.failure = 5, dxgi_refusal(ACCESS_LOST, "grab")
    FakeWgc.size = (320, 240)  # e.g. the window's whole frame: not the recording's size
    out = tmp_path / "s"
    with caplog.at_level(logging.DEBUG, logger="nitrogen_capture"):
        result = _recorder(out, frames=15).run()
    assert result.frames == 15
    choice = json.loads((out / "meta.json").read_text())["capture"]["choice"]
    assert choice["switches"] == [{"frame": 5, "from": "dxgi", "to": "gdi",
                                   "reason": FakeDxgi.failure.short}]  # type: ignore[union-attr]
    assert choice["tried"] == [{"backend": "wgc",
                                "refused": "its frame is 320x240, the recording's 160x120"}]
    assert [m for _, m in lines_of(caplog)][1].endswith(
        "; Windows Graphics Capture refused (its frame is 320x240, the recording's 160x120): "
        "switched to GDI (mss)")
    sizes = {img.shape for _, img in SessionReader(out).iter_frames()}
    assert sizes == {(120, 160, 3)}
    assert validate_session(out).ok


def test_a_named_backend_keeps_ending_the_recording(backends: dict[str, Any],
                                                    tmp_path: Path) -> None:
    FakeDxgi.fail_after, FakeDxgi.failure = 10, dxgi_refusal(ACCESS_LOST, "grab")
    out = tmp_path / "s"
    rec = _recorder(out, backend="dxgi")
    with pytest.raises(CaptureError, match="DXGI_ERROR_ACCESS_LOST"):
        rec.run()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["capture"]["backend"] == "dxgi" and "choice" not in meta["capture"]
    assert len(list(SessionReader(out).iter_frames())) == 10  # what was recorded is kept
    assert FakeWgc.made == [] and FakeGdi.made == []


def test_every_backend_failing_mid_recording_ends_it_as_a_named_one_would(
        backends: dict[str, Any], tmp_path: Path) -> None:
    FakeDxgi.fail_after, FakeDxgi.failure = 8, dxgi_refusal(ACCESS_LOST, "grab")
    FakeWgc.refuse = WgcUnavailable("old", OLD_BUILD)
    out = tmp_path / "s"
    rec = _recorder(out)
    FakeGdi.refuse = CaptureError("BitBlt failed")  # after the choice: only the failover meets it
    with pytest.raises(CaptureError, match="no other capture backend works: Windows Graphics "
                       r"Capture refused \(needs Windows 10.*GDI \(mss\) refused \(BitBlt"):
        rec.run()
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["capture"]["choice"]["tried"]) == 2  # wgc at the choice... and gdi
    assert len(list(SessionReader(out).iter_frames())) == 8


def test_a_closed_window_ends_the_recording_instead_of_switching(
        backends: dict[str, Any], tmp_path: Path) -> None:
    # WGC records the window; the window closes: GDI would grab the desktop where it was.
    FakeDxgi.refuse = dxgi_refusal(UNSUPPORTED)
    FakeWgc.fail_after = 6
    FakeWgc.failure = WgcUnavailable("Windows Graphics Capture of the window ended: the window "
                                     "closed", "the window closed", target_ended=True)
    out = tmp_path / "s"
    rec = _recorder(out)
    with pytest.raises(CaptureError, match="the window closed"):
        rec.run()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["capture"]["backend"] == "wgc" and meta["capture"]["choice"]["switches"] == []
    assert len(list(SessionReader(out).iter_frames())) == 6
    assert FakeGdi.made == []


@pytest.mark.parametrize("old", ["dxcam", "mss"])
def test_old_sessions_naming_dxcam_or_mss_read_and_report_as_they_are(
        tmp_path: Path, old: str) -> None:
    from nitrogen_capture.report.facts import gather, session_facts
    from recording import record_synthetic

    out = tmp_path / "s"
    record_synthetic(out, max_frames=10)
    meta = json.loads((out / "meta.json").read_text())
    meta["capture"]["backend"] = old  # as a session recorded before the chain wrote it
    (out / "meta.json").write_text(json.dumps(meta))
    info = SessionReader(out).meta.capture
    assert info is not None and info.backend == old and info.choice is None
    assert info.switches == [] and "choice" not in info.to_json()
    report = validate_session(out)
    assert report.ok and "capture_switches" not in report.stats, report.format()
    facts = dict(session_facts(gather(out)))
    assert facts["backends"].startswith(f"capture {old}; input")
