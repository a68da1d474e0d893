"""``report``: the audio band on the timeline (loud where sound was, blank where cut), its facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.report import gather
from nitrogen_capture.report.audio import audio_facts
from nitrogen_capture.session import merge_session
from recording import record_synthetic
from session_audio import add_audio, audio_samples

pytest.importorskip("matplotlib")

RATE = 16000
CUT = (0.6, 1.2)  # seconds of session time with no sound recorded


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "s"
    record_synthetic(out, max_frames=120, fps=60.0, size=(64, 48))
    merge_session(out)
    x = audio_samples(2.0, RATE, 1, clicks_s=(0.3, 1.5), cut=[CUT])
    add_audio(out, x, RATE, cut_s=CUT[1] - CUT[0],
              lost=[{"t_ns": 1_500_000_000, "why": "device unplugged"}], drift_ppm=-42.5)
    return out


def _band_pixels(session: Path) -> tuple[np.ndarray, object, float]:
    from nitrogen_capture.report.plots import AUDIO, timeline_figure

    rep = gather(session, check_frames=False)
    assert rep.audio is not None and rep.audio.rate == RATE
    fig, ax = timeline_figure(rep)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
    colour = np.array([int(AUDIO[i:i + 2], 16) for i in (1, 3, 5)])
    hit = np.all(np.abs(img.astype(int) - colour) <= 12, axis=2)
    return hit, ax, float(img.shape[0])


def test_band_loud_where_sound_blank_where_cut(session: Path) -> None:
    hit, ax, height = _band_pixels(session)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == f"audio ({RATE} Hz)"
    y = len(labels)

    def column(t: float) -> np.ndarray:
        x_px, _y_px = ax.transData.transform((t, y))  # origin bottom left
        (_, top), (_, bottom) = (ax.transData.transform((t, y + 0.5)),
                                 ax.transData.transform((t, y - 0.5)))
        return hit[int(height - top):int(height - bottom), round(x_px)]

    for t in (0.1, 0.3, 0.5, 1.4, 1.5, 1.8):
        assert column(t).any(), t  # sound recorded: the band is drawn
    for t in (0.7, 0.9, 1.1):
        assert not column(t).any(), t  # cut: blank
    assert column(0.3).sum() > 1.5 * column(0.1).sum()  # a click is taller than the hiss


def test_audio_facts(session: Path) -> None:
    rep = gather(session, check_frames=False)
    facts = dict(rep.facts)
    assert facts["audio"] == (f"{RATE} Hz, 1 channel(s) from test clicks (synthetic); "
                              "status lost")
    assert facts["audio time"].startswith("recorded 1.4 s, cut 0.6 s (pauses, focus, start), "
                                          "lost 0.00 s")
    assert facts["audio clock"] == ("device drift -42.5 ppm over 1 run(s), corrected at merge; "
                                    "arrival jitter up to 0.50 ms")
    assert facts["audio device lost"] == "at 1.50 s: device unplugged"


def test_no_audio_says_so(tmp_path: Path) -> None:
    assert audio_facts(None) == [("audio", "not recorded (record --audio)")]
    out = tmp_path / "s"
    record_synthetic(out, max_frames=30, fps=60.0, size=(64, 48))
    merge_session(out)
    rep = gather(out, check_frames=False)
    assert rep.audio is None and dict(rep.facts)["audio"].startswith("not recorded")
    from nitrogen_capture.report.plots import timeline_figure

    _, ax = timeline_figure(rep)
    assert not any(t.get_text().startswith("audio") for t in ax.get_yticklabels())


def test_report_page_shows_the_band(session: Path, tmp_path: Path) -> None:
    from nitrogen_capture.report import write_report

    res = write_report(session, tmp_path / "r.html")
    assert res.page is not None
    page = res.page.read_text()
    assert "audio clock" in page and "device unplugged" in page
    assert 'id="timeline"' in page and "not recorded" not in page
