"""``nitrogen-capture preview``: preview.mp4 with the input overlay and timing.png, end to end.

The rendering checks run on real (synthetic-source) recordings and are ``slow``; the flag and
error checks run the CLI in-process on a small hand-written session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli_run import CliRun, run_cli
from nitrogen_capture.binning import GAMEPAD_WIDTH
from nitrogen_capture.errors import DependencyError
from nitrogen_capture.events import KEY
from nitrogen_capture.keylayout import DEFAULT_KEYS, PAD_BUTTONS
from nitrogen_capture.preview import gap_marks, hud_layout, load_series, select_span
from nitrogen_capture.preview.overlay import FLASH_BORDER, RowInfo, draw_row
from nitrogen_capture.preview.timing import PAUSE_GREY, SIZE
from nitrogen_capture.preview.video import write_video
from nitrogen_capture.session import merge_session
from nitrogen_capture.session.meta import Pause
from nitrogen_capture.session.reader import SessionReader
from recording import record_synthetic, synthetic_recorder
from session_factory import make_session

av = pytest.importorskip("av")

MS = 1_000_000
RED = np.array([40, 40, 230])


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prev") / "s"
    record_synthetic(out, max_frames=90, size=(320, 240))
    merge_session(out)
    return out


@pytest.fixture(scope="module")
def paused(tmp_path_factory: pytest.TempPathFactory) -> Path:
    timeline = [(200 * MS, KEY, "w", 1.0), (400 * MS, KEY, "f7", 1.0),
                (410 * MS, KEY, "f7", 0.0), (700 * MS, KEY, "ctrl", 1.0),
                (750 * MS, KEY, "t", 1.0), (760 * MS, KEY, "t", 0.0),
                (770 * MS, KEY, "ctrl", 0.0), (1100 * MS, KEY, "w", 0.0)]
    out = tmp_path_factory.mktemp("prev") / "p"
    synthetic_recorder(out, timeline=timeline, max_frames=60).run()
    merge_session(out)
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-frame session written by the test factory: no recording needed."""
    return make_session(tmp_path_factory.mktemp("prev") / "small").root


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """``nitrogen-capture preview ARGS`` in-process."""
    return lambda *args: run_cli(capsys, "preview", *args)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@pytest.mark.slow
def test_preview_writes_video_with_overlay_and_timing(session: Path, tmp_path: Path,
                                                      cli: Callable[..., CliRun]) -> None:
    out = tmp_path / "out"
    res = cli("--root", str(session), "--out", str(out), "--no-progress")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith(str(out / "preview.mp4")) and lines[1] == str(out / "timing.png")
    frames = _decode(out / "preview.mp4")
    hud = hud_layout(DEFAULT_KEYS, (320, 240), 640, gamepad=False)
    assert len(frames) == 90
    assert frames[0].shape == (hud.height, hud.width, 3) and hud.width == 640
    assert hud.height % 2 == 0 and hud.frame_h == 480

    actions = np.load(session / "actions.npy")
    # A key that is held in some rows and not in others: its box must look different.
    col = next(k for k in range(actions.shape[1]) if 0 < actions[:, k].sum() < len(actions))
    held = int(np.flatnonzero(actions[:, col] == 1)[0])
    idle = int(np.flatnonzero(actions[:, col] == 0)[0])
    box = hud.key_box(DEFAULT_KEYS[col])
    g_held = box.slice(frames[held], inset=3)[..., 1].mean()
    g_idle = box.slice(frames[idle], inset=3)[..., 1].mean()
    assert g_held - g_idle > 60, (DEFAULT_KEYS[col], g_held, g_idle)

    png = cv2.imread(str(out / "timing.png"), cv2.IMREAD_COLOR)
    assert png is not None and png.shape == (SIZE[1], SIZE[0], 3)
    # No pause in this session: the only pause-grey area is the legend swatch (~250 px). The
    # anti-aliased text has specks of that grey too, and how many depends on the text (the
    # session's path is in the title), so count the largest connected patch, not all pixels.
    grey = np.all(png == PAUSE_GREY, axis=-1).astype(np.uint8)
    _, _, patches, _ = cv2.connectedComponentsWithStats(grey, connectivity=4)
    assert int(patches[1:, cv2.CC_STAT_AREA].max()) < 400


@pytest.mark.slow
def test_span_and_every(session: Path, tmp_path: Path, cli: Callable[..., CliRun]) -> None:
    res = cli("--root", str(session), "--out", str(tmp_path), "--start", "0.5",
              "--seconds", "0.5", "--every", "3", "--width", "321", "--no-progress")
    assert res.code == 0, res.err
    t = np.load(session / "timestamps.npy") / 1e9
    expected = np.flatnonzero((t >= 0.5) & (t < 1.0))[::3]
    frames = _decode(tmp_path / "preview.mp4")
    assert len(frames) == len(expected) > 0
    assert frames[0].shape[1] == 322 and frames[0].shape[0] % 2 == 0  # even dimensions
    with av.open(str(tmp_path / "preview.mp4")) as c:
        assert float(c.streams.video[0].average_rate) == pytest.approx(20.0)  # 60 fps / 3


@pytest.mark.slow
def test_pause_is_flashed_and_shaded(paused: Path, tmp_path: Path,
                                     cli: Callable[..., CliRun]) -> None:
    res = cli("--root", str(paused), "--out", str(tmp_path), "--no-progress")
    assert res.code == 0, res.err
    fi = np.load(paused / "frame_indices.npy")
    first = int(np.flatnonzero(np.diff(fi) > 1)[0]) + 1
    frames = _decode(tmp_path / "preview.mp4")
    assert len(frames) == len(fi)

    def border(img: np.ndarray) -> np.ndarray:
        return img[FLASH_BORDER // 2, 300:340].astype(int).mean(axis=0)

    assert np.abs(border(frames[first]) - RED).max() < 40
    assert np.abs(border(frames[first - 1]) - RED).max() > 80
    png = cv2.imread(str(tmp_path / "timing.png"), cv2.IMREAD_COLOR)
    assert int(np.all(png == PAUSE_GREY, axis=-1).sum()) > 5000


def test_gap_marks_label_pauses_and_dropped_ticks() -> None:
    fi = [0, 1, 2, 5, 6, 20, 21]
    ts = [i * 16_666_667 for i in fi]
    marks = gap_marks(fi, ts, [Pause(8, 20, 8 * 16_666_667, 20 * 16_666_667)])
    # Tick 7 is missing but the pause covers only 8..19: one dropped tick, as validate counts it.
    assert marks == {3: "GAP 2 ticks", 5: "PAUSE 0.23 s + GAP 1 ticks"}


def test_gamepad_overlay_shows_buttons_and_sticks() -> None:
    hud = hud_layout(("w", "a"), (320, 240), 640, gamepad=True)
    frame = np.zeros((240, 320, 3), np.uint8)
    pad = np.zeros(GAMEPAD_WIDTH, np.float32)
    base = draw_row(frame, hud, RowInfo(0, 0, 0.0, np.zeros(2, np.int8), (0.0, 0.0), pad), 1.0)
    pad[PAD_BUTTONS.index("south")] = 1.0
    pad[17] = 1.0  # lx full right
    img = draw_row(frame, hud, RowInfo(0, 0, 0.0, np.zeros(2, np.int8), (0.0, 0.0), pad), 1.0)
    south = hud.pad_boxes[PAD_BUTTONS.index("south")]
    assert south.slice(img, 2)[..., 1].mean() - south.slice(base, 2)[..., 1].mean() > 60
    cx, cy = hud.sticks[0]
    tip = (cy, cx + hud.stick_r - 2)  # the stick dot (BGR 0,200,255) moved to the right edge
    assert img[tip][2] > 200 and img[tip][0] < 60
    assert not (base[tip][2] > 200 and base[tip][0] < 60)


def test_missing_av_names_the_extra(small: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    reader = SessionReader(small)
    series = load_series(reader)
    span = select_span(series, 0.0, 1.0, 1)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[video\]"):
        write_video(reader, series, span, tmp_path / "p.mp4")
    assert not (tmp_path / "p.mp4").exists()


@pytest.mark.parametrize(("args", "code", "needle"), [
    (("--root", "{missing}"), 1, "is not a directory"),
    (("--root", "{session}", "--seconds", "0"), 2, "--seconds must be > 0"),
    (("--root", "{session}", "--start", "999"), 2, "holds no frame"),
])
def test_bad_input_is_one_line(small: Path, tmp_path: Path, cli: Callable[..., CliRun],
                               args: tuple[str, ...], code: int, needle: str) -> None:
    argv = [a.format(missing=tmp_path / "nope", session=small) for a in args]
    cli(*argv, "--out", str(tmp_path / "o"), "--no-progress").one_line_error(code, needle)
