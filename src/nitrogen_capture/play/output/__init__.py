"""Output backends of ``play``: one registry line each, imported only when chosen.

=============  ========  ==========================================================================
name           kind      what it drives
=============  ========  ==========================================================================
``xtest``      keyboard  keys, buttons, wheel and motion through the X server's XTEST extension
``sendinput``  keyboard  the same through Windows ``SendInput`` (scan codes, like a keyboard)
``uinput``     gamepad   a virtual Xbox-style pad through python-evdev's ``UInput`` (Linux)
``vigem``      gamepad   a virtual Xbox 360 pad through vgamepad/ViGEmBus (Windows; unmaintained
                         driver: chosen only when asked for, docs/play.md)
``none``       keyboard  nothing: a dry run (the proposals are recorded, the game gets nothing)
=============  ========  ==========================================================================

``auto`` is ``sendinput`` on Windows and ``xtest`` elsewhere.
"""

from __future__ import annotations

import importlib
import sys

from ...errors import ConfigError
from .base import KINDS, ActionOutput, OutputSettings

__all__ = ["KINDS", "OUTPUTS", "ActionOutput", "OutputSettings", "get_output", "output_kind"]

#: name -> (module, class, kind)
OUTPUTS: dict[str, tuple[str, str, str]] = {
    "xtest": ("._xtest", "XTestOutput", "keyboard"),
    "sendinput": ("._sendinput", "SendInputOutput", "keyboard"),
    "uinput": ("._uinput", "UInputGamepad", "gamepad"),
    "vigem": ("._vigem", "ViGEmGamepad", "gamepad"),
    "none": ("._none", "NoOutput", "keyboard"),
}


def _resolve(name: str) -> str:
    if name == "auto":
        return "sendinput" if sys.platform == "win32" else "xtest"
    if name not in OUTPUTS:
        raise ConfigError(f"--output must be auto or one of {', '.join(OUTPUTS)}, got {name!r}",
                          setting="output")
    return name


def output_kind(name: str) -> str:
    """``keyboard`` or ``gamepad``: what the output ``name`` drives."""
    return OUTPUTS[_resolve(name)][2]


def get_output(settings: OutputSettings) -> ActionOutput:
    """Open the output ``settings.name`` names (its platform package imported here, lazily)."""
    module, cls, _kind = OUTPUTS[_resolve(settings.name)]
    factory = getattr(importlib.import_module(module, __name__), cls)
    output: ActionOutput = factory(settings)
    return output
