"""Print what WASAPI offers to ``record --audio`` on this Windows machine (the workflow's step).

One JSON line per endpoint: the loopbacks of the render endpoints (the default first), then the
capture endpoints (docs/audio.md "Windows"). A machine without sound (a CI runner may have no
endpoint) prints the one-line reason instead; both exit 0, so the step shows what there is.
A missing ``soundcard`` (the ``audio`` extra) exits 1.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    """List the endpoints, or say in one line why there are none."""
    from nitrogen_capture.audio import list_audio_devices
    from nitrogen_capture.errors import AudioError, DependencyError

    try:
        devices = list_audio_devices("wasapi")
    except DependencyError as exc:
        print(exc, file=sys.stderr)
        return 1
    except AudioError as exc:
        print(f"no WASAPI endpoints: {exc}")
        return 0
    for device in devices:
        print(json.dumps(device.to_json()))
    if not devices:
        print("no WASAPI endpoints: none active")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
