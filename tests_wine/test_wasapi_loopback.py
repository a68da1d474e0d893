"""The wasapi audio source for real under Wine: soundcard's WASAPI code on Wine's winepulse.

Wine's mmdevapi answers through winepulse, which talks to a PulseAudio server: this module starts
a private one (a null sink ``game``; ``PULSE_SERVER`` in Wine's environment), so the Windows
interpreter sees two render endpoints (``PulseAudio``, the default, and ``Null Output``) and two
capture endpoints (``PulseAudio`` and ``Monitor of Null Output``, the sink's monitor).

What Wine 8 allows, measured here (docs/audio.md "Windows"):

* listing: real, through ``IMMDeviceEnumerator`` (``scripts/wasapi_devices.py``, the script the
  real-Windows workflow runs);
* loopback of a render endpoint: refused. Stereo fails ``IAudioClient::Initialize`` with
  ``AUDCLNT_E_UNSUPPORTED_FORMAT``: soundcard's cffi declares ``WAVEFORMATEXTENSIBLE`` without
  ``#pragma pack(1)``, so its write of ``wValidBitsPerSample`` lands in ``dwChannelMask`` (0x20,
  one speaker for two channels), which winepulse rejects ("Invalid channel mask") and Windows
  does not check. Mono passes that check, but winepulse ignores ``AUDCLNT_STREAMFLAGS_LOOPBACK``
  and opens a playback stream, so ``GetService(IAudioCaptureClient)`` fails with
  ``AUDCLNT_E_WRONG_ENDPOINT_TYPE``;
* a capture endpoint in mono: real. The sink's monitor, a capture endpoint there, records what a
  program plays into the sink: a 1 kHz tone played with ``pacat`` arrives through soundcard,
  WASAPI and this package's reader thread as int16.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from winetier import ROOT, WineTier, winpath

TONE_HZ = 1000.0
TONE_AMP = 0.5
SINK_RATE = 44100

OPEN = '''
import json, sys
from nitrogen_capture import winecompat
winecompat.prepare()
from nitrogen_capture.audio import AudioSettings, make_audio_source
from nitrogen_capture.errors import AudioError
source, channels = sys.argv[1], int(sys.argv[2])
src = make_audio_source(AudioSettings(source=source, backend="wasapi", channels=channels))
try:
    src.open()
except AudioError as exc:
    print("REFUSED " + str(exc), flush=True)
    raise SystemExit(0)
print("OPENED " + json.dumps(src.device), flush=True)
src.close()
'''

RECORD = '''
import json, time
from nitrogen_capture import winecompat
winecompat.prepare()
import numpy as np
from nitrogen_capture.audio import AudioSettings, make_audio_source
settings = AudioSettings(source="monitor of null", backend="wasapi", rate=48000, channels=1)
src = make_audio_source(settings)
blocks, nones = [], 0
with src:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        block = src.read()
        if block is None:
            nones += 1
        else:
            blocks.append(block)
    elapsed = time.perf_counter() - t0
a = np.concatenate(blocks)
tail = a[-24000:, 0].astype(np.float64)
spectrum = np.abs(np.fft.rfft(tail))
print("RECORDED " + json.dumps({
    "device": src.device, "dtype": str(a.dtype), "shape": list(a.shape), "reads": len(blocks),
    "nones": nones, "elapsed": elapsed, "peak_hz": float(np.argmax(spectrum) * 48000 / len(tail)),
    "amp": int(np.abs(tail).max())}), flush=True)
'''


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private PulseAudio server with a null sink ``game``: the environment that reaches it."""
    if not shutil.which("pulseaudio") or not shutil.which("pacat"):
        pytest.skip("needs Debian's pulseaudio and pulseaudio-utils (make system-deps)")
    home = tmp_path_factory.mktemp("pulse")
    socket = home / "native"
    (home / "pa.cfg").write_text(
        f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket}\n"
        "load-module module-null-sink sink_name=game\nset-default-sink game\n")
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
           "PULSE_RUNTIME_PATH": str(home), "PULSE_SERVER": f"unix:{socket}"}
    server = subprocess.Popen(
        ["pulseaudio", "-n", "-F", str(home / "pa.cfg"), "--daemonize=no", "--use-pid-file=no",
         "--exit-idle-time=-1", "--disallow-exit"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30  # a margin on a busy machine; ready in ~0.2 s
        while subprocess.run(["pactl", "info"], env=env, capture_output=True,
                             timeout=10).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the private PulseAudio server did not start "
                                     f"(exit {server.poll()})")
            time.sleep(0.05)
        yield {"PULSE_SERVER": f"unix:{socket}", "HOME": str(home)}
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run(wine: WineTier, tmp_path: Path, code: str, pulse: dict[str, str], *args: str,
         marker: str) -> str:
    script = tmp_path / "script.py"
    script.write_text(code)
    done = wine.python(winpath(script), *args, timeout=120,
                       env={"PULSE_SERVER": pulse["PULSE_SERVER"]})
    assert done.returncode == 0 and marker in done.stdout, done.stdout + done.stderr
    return done.stdout.split(marker + " ", 1)[1].splitlines()[0]


def test_list_devices_loopbacks_first_then_capture_endpoints(
        wine: WineTier, pulse: dict[str, str]) -> None:
    """scripts/wasapi_devices.py, the real-Windows workflow's step, lists Wine's endpoints."""
    done = wine.python(winpath(ROOT / "scripts" / "wasapi_devices.py"), timeout=120,
                       env={"PULSE_SERVER": pulse["PULSE_SERVER"]})
    assert done.returncode == 0, done.stdout + done.stderr
    devices = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    kinds = [(d["name"], d["kind"]) for d in devices]
    assert ("Null Output", "monitor") in kinds and ("Monitor of Null Output", "input") in kinds
    assert [k for _, k in kinds] == sorted((k for _, k in kinds), key=lambda k: k != "monitor")
    assert devices[0]["default"] and devices[0]["kind"] == "monitor"
    assert sum(d["default"] for d in devices) == 1
    assert {d["backend"] for d in devices} == {"wasapi"}


def test_loopback_is_refused_by_wine_8_with_its_real_hresults(
        wine: WineTier, pulse: dict[str, str], tmp_path: Path) -> None:
    stereo = _run(wine, tmp_path, OPEN, pulse, "default", "2", marker="REFUSED")
    assert "AUDCLNT_E_UNSUPPORTED_FORMAT" in stereo, stereo
    mono = _run(wine, tmp_path, OPEN, pulse, "Null Output", "1", marker="REFUSED")
    assert "AUDCLNT_E_WRONG_ENDPOINT_TYPE" in mono, mono
    print(stereo, mono, sep="\n")  # quoted in the report
    pytest.xfail("Wine 8 winepulse has no WASAPI loopback: stereo Initialize refuses "
                 "soundcard's channel mask 0x20 (AUDCLNT_E_UNSUPPORTED_FORMAT); mono opens a "
                 "playback stream and IAudioCaptureClient fails (AUDCLNT_E_WRONG_ENDPOINT_TYPE)")


def test_monitor_capture_endpoint_records_a_played_tone(
        wine: WineTier, pulse: dict[str, str], tmp_path: Path) -> None:
    t = np.arange(SINK_RATE * 60) / SINK_RATE
    tone = np.round(TONE_AMP * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
    raw = tmp_path / "tone.raw"
    raw.write_bytes(np.repeat(tone[:, None], 2, axis=1).tobytes())
    env = {**os.environ, "PULSE_SERVER": pulse["PULSE_SERVER"], "HOME": pulse["HOME"]}
    player = subprocess.Popen(
        # A low latency: with pacat's default (2 s) the null sink renders, and so its monitor
        # delivers, in bursts seconds apart (measured: the first sound ~1.96 s into a stream).
        ["pacat", "--latency-msec=20", "--device=game", "--format=s16le",
         f"--rate={SINK_RATE}", "--channels=2", str(raw)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while b"\t" not in subprocess.run(["pactl", "list", "short", "sink-inputs"], env=env,
                                          capture_output=True, timeout=10).stdout:
            assert player.poll() is None and time.monotonic() < deadline, \
                f"pacat is not playing: {player.poll()} {player.stderr}"
            time.sleep(0.05)
        facts = json.loads(_run(wine, tmp_path, RECORD, pulse, marker="RECORDED"))
        assert player.poll() is None, "pacat stopped before the recording ended"
    finally:
        player.terminate()
        _, err = player.communicate(timeout=10)
    print(facts, err)  # quoted in the report
    assert facts["device"]["name"] == "Monitor of Null Output"
    assert facts["device"]["kind"] == "input"
    assert facts["dtype"] == "int16" and facts["shape"][1] == 1
    assert abs(facts["peak_hz"] - TONE_HZ) <= 10, facts
    assert abs(facts["amp"] - TONE_AMP * 32767) <= 0.1 * TONE_AMP * 32767, facts
    # 1.5 s of reads: most of it arrived (Wine's start-up aside), none of it made up twice.
    assert 0.5 * 48000 * facts["elapsed"] <= facts["shape"][0] <= 1.1 * 48000 * facts["elapsed"]
