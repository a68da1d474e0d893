"""--video-encoder: the probe, auto's fallback, explicit failures and the option mapping.

These run with this machine's real PyAV. The test machines have no GPU: NVENC, QSV and AMF are
in the PyPI wheels' FFmpeg but fail to open, which is exactly what auto's fallback must handle.
On a machine where one opens, the tests that need it unavailable skip.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.capture._synthetic import read_frame_number
from nitrogen_capture.codecs import encoders
from nitrogen_capture.codecs.encoders import AUTO_ORDER, ENCODERS, choose, probe
from nitrogen_capture.codecs.video import choose_encoder
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.session import SessionReader, validate_session
from recording import record_synthetic

av = pytest.importorskip("av")

HARDWARE = ("h264_nvenc", "hevc_nvenc", "h264_qsv", "h264_amf", "av1_nvenc")


def _unavailable(name: str) -> str:
    why = probe(name)
    if why is None:
        pytest.skip(f"{name} opens on this machine")
    return why


def test_libx264_probe_encodes_a_frame() -> None:
    assert probe("libx264") is None
    assert probe("libx264", 481, 271) is None  # odd sizes are padded like the writer does


@pytest.mark.parametrize("name", HARDWARE)
def test_hardware_probe_is_a_real_open_not_a_name_check(name: str) -> None:
    if name not in av.codecs_available:
        assert probe(name) == "not in this FFmpeg build"
        return
    why = _unavailable(name)  # listed by the build, yet no device here: the open fails
    assert why and "\n" not in why


def test_vaapi_fails_cleanly_with_its_reason() -> None:
    assert probe("h264_vaapi") == encoders._VAAPI_REASON
    assert "VAAPI" in probe("h264_vaapi", 1280, 720)  # type: ignore[operator]


def test_unknown_name_is_refused() -> None:
    assert "unknown encoder" in (probe("h264_magic") or "")
    with pytest.raises(ConfigError, match="--video-encoder must be one of auto, libx264"):
        choose("h264_magic")
    with pytest.raises(ConfigError, match="--video-encoder must be one of"):
        RecordConfig(out=Path("x"), frame_format="video", video_encoder="h264_magic")
    RecordConfig(out=Path("x"), video_encoder="h264_magic")  # only checked for video storage


def test_auto_falls_back_to_libx264_with_one_line(caplog: pytest.LogCaptureFixture) -> None:
    for name in AUTO_ORDER:
        _unavailable(name)
    with caplog.at_level(logging.WARNING):
        choice = choose_encoder("auto", 640, 360, 18, "ultrafast")
    assert choice.spec.name == "libx264"
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == [choice.fallback_reason]
    line = lines[0]
    assert "\n" not in line
    assert line.startswith("video encoder: h264_nvenc unavailable (")
    assert line.endswith("; using libx264")
    for name in AUTO_ORDER:
        assert f"{name} unavailable (" in line


def test_auto_takes_the_first_encoder_that_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = {"h264_qsv", "h264_amf"}
    tried: list[str] = []

    def fake(name: str, *a: object, **kw: object) -> str | None:
        tried.append(name)
        return None if name in opened else "no device"

    monkeypatch.setattr(encoders, "probe", fake)
    choice = choose("auto")
    assert (choice.spec.name, choice.fallback_reason) == ("h264_qsv", None)
    assert tried == ["h264_nvenc", "h264_qsv"]
    monkeypatch.setattr(encoders, "probe", lambda *a, **kw: "broken")
    with pytest.raises(ConfigError, match="no encoder works here"):
        choose("auto")


def test_explicit_unavailable_encoder_is_a_config_error(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        ) -> None:
    why = _unavailable("h264_nvenc")
    with pytest.raises(ConfigError, match="--video-encoder h264_nvenc cannot encode") as err:
        choose("h264_nvenc")
    assert why in str(err.value)
    run = run_cli(capsys, "record", "--source", "synthetic", "--out", str(tmp_path / "s"),
                  "--frame-format", "video", "--video-encoder", "h264_nvenc", "--seconds", "1",
                  "--cue", "none")
    run.one_line_error(2, "--video-encoder h264_nvenc cannot encode on this machine")
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_options_follow_ffmpegs_documented_names() -> None:
    nv = ENCODERS["h264_nvenc"]
    assert nv.options(18, "ultrafast") == {"rc": "vbr", "cq": "18", "b": "0", "preset": "p1"}
    assert nv.options(0, "veryslow")["cq"] == "1"  # cq 0 would mean "automatic" to NVENC
    assert nv.options(23, "medium")["preset"] == "p4"
    assert ENCODERS["h264_qsv"].options(20, "slow") == {"global_quality": "20",
                                                        "preset": "slow"}
    assert ENCODERS["h264_qsv"].pix_fmt == ENCODERS["h264_amf"].pix_fmt == "nv12"
    assert ENCODERS["h264_amf"].options(20, "ultrafast") == {
        "rc": "cqp", "qp_i": "20", "qp_p": "20", "quality": "speed"}
    assert ENCODERS["libsvtav1"].options(30, "ultrafast") == {"crf": "30", "preset": "10"}
    assert ENCODERS["libx264"].settings(18, "fast") == {
        "encoder": "libx264", "codec": "h264", "pix_fmt": "yuv420p",
        "options": {"crf": "18", "preset": "fast"}}
    for spec in ENCODERS.values():  # every libx264 preset maps to something
        for preset in ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                       "slow", "slower", "veryslow"):
            assert spec.options(18, preset)


def test_nv12_input_path_round_trips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The QSV/AMF feeding path (BGR -> I420 -> NV12), exercised through libx264's nv12 input."""
    from nitrogen_capture.codecs.h264 import H264Writer

    nv12_x264 = dataclasses.replace(ENCODERS["libx264"], pix_fmt="nv12")
    monkeypatch.setitem(encoders.ENCODERS, "libx264", nv12_x264)  # type: ignore[index]
    rng = np.random.default_rng(1)
    frame = np.repeat(np.repeat(rng.integers(0, 255, (9, 16, 3), dtype=np.uint8), 16, 0), 16, 1)
    path = tmp_path / "x.mkv"
    with H264Writer(path, (256, 144), 30, max_b_frames=0, crf=0) as w:
        assert w._stream.codec_context.pix_fmt == "nv12"  # fed NV12 frames
        for _ in range(3):
            w.write(frame)
    with av.open(str(path)) as c:
        got = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(got) == 3
    assert np.abs(got[0].astype(int) - frame.astype(int)).mean() < 3


def _record_and_read(tmp_path: Path, encoder: str) -> dict[str, object]:
    out = tmp_path / encoder
    # 512 px wide: the synthetic barcode's 16 px cells survive the lossy encode.
    record_synthetic(out, size=(512, 288), frame_format="video", video_encoder=encoder,
                     max_frames=45, fps=30.0, chunk_size=30, merge=True)
    from nitrogen_capture.cli import main

    assert main(["merge", "--root", str(out)]) == 0
    report = validate_session(out)
    assert report.ok, report.format()
    reader = SessionReader(out)
    numbers = [read_frame_number(img) for _, img in reader.iter_frames()]
    assert numbers == list(range(45))
    meta: dict[str, object] = json.loads((out / "meta.json").read_text())
    return meta


def test_auto_recording_names_libx264_and_its_settings(tmp_path: Path) -> None:
    for name in AUTO_ORDER:
        _unavailable(name)
    meta = _record_and_read(tmp_path, "auto")
    enc = meta["encoder"]
    ff = meta["frame_format"]
    assert isinstance(enc, dict) and isinstance(ff, dict)
    assert enc["name"] == ff["encoder"] == "libx264"
    assert enc["settings"]["encoder"] == "libx264"
    assert enc["settings"]["options"] == {"crf": "18", "preset": "ultrafast"}
    assert enc["settings"]["fallback"].startswith("video encoder: h264_nvenc unavailable (")
    assert ff["requested_encoder"] == "auto"
    assert ff["encoder_fallback"] == enc["settings"]["fallback"]


def test_libsvtav1_recording_reads_back(tmp_path: Path) -> None:
    if "libsvtav1" not in av.codecs_available or probe("libsvtav1") is not None:
        pytest.skip("this PyAV build has no working libsvtav1")
    meta = _record_and_read(tmp_path, "libsvtav1")
    enc = meta["encoder"]
    assert isinstance(enc, dict)
    assert enc["name"] == "libsvtav1" and enc["settings"]["codec"] == "av1"
    assert "fallback" not in enc["settings"]
    src = tmp_path / "libsvtav1" / "frames" / "chunk_001.mkv"
    with av.open(str(src)) as c:
        assert c.streams.video[0].codec_context.name in ("av1", "libdav1d")
    # Crash recovery's stream copy of a packet prefix holds for AV1 too (no reordering).
    from nitrogen_capture.codecs.video import remux_prefix

    dst = tmp_path / "prefix.mkv"
    assert remux_prefix(src, dst, 10) == 10
    with av.open(str(dst)) as c:
        got = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert [read_frame_number(img[:288, :512]) for img in got] == list(range(10))
