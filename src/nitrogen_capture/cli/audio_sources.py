"""``audio-sources``: list what ``record --audio`` can record (``--audio-source`` takes the id).

One row per device, the default first: its id, kind (``monitor``: what an output plays, the
game's sound; ``input``: a microphone; ``application``: one program's stream), and name.
``--json`` prints the devices as a JSON list. No sound server: exit 1 with one line.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``audio-sources``."""
    from ..audio.sources import AUDIO_BACKENDS
    from .args import add_common

    a: argparse.ArgumentParser = sub.add_parser(
        "audio-sources", help="list the sound sources record --audio can record",
        description="List the sound sources record --audio can record, the default first "
                    "(pass an id, or a part of a name, to --audio-source).")
    a.add_argument("--backend", choices=AUDIO_BACKENDS, default="auto",
                   help="auto: pulse on Linux (PulseAudio or PipeWire), wasapi on Windows")
    a.add_argument("--json", action="store_true", help="print a JSON list of the devices")
    add_common(a)
    return a


def run(args: argparse.Namespace) -> int:
    """Print the device table (or JSON)."""
    from ..audio.sources import list_audio_devices

    devices = list_audio_devices(args.backend)
    if args.json:
        print(json.dumps([d.to_json() for d in devices], indent=2))
        return 0
    if not devices:
        print("no sound sources")
        return 0
    width = max(len("ID"), *(len(d.id) for d in devices))
    print(f"  {'ID':<{width}}  {'KIND':<11}  NAME")
    for d in devices:
        mark = "*" if d.default else " "
        extra = f" ({d.details})" if d.details else ""
        print(f"{mark} {d.id:<{width}}  {d.kind:<11}  {d.name}{extra}")
    return 0
