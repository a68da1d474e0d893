"""Game audio on the recording's clock (docs/audio.md).

:mod:`.base` declares the source interface and settings, :mod:`.sources` the backends'
registry, :mod:`.clockmap` the fit from device sample index to session time. The recorder's
audio thread is :mod:`nitrogen_capture.record.audio`; the on-disk chunks are
:mod:`nitrogen_capture.session.audio_store`.
"""

from __future__ import annotations

from .base import AudioBlock, AudioDevice, AudioSettings, AudioSource
from .sources import AUDIO_BACKENDS, list_audio_devices, make_audio_source

__all__ = ["AUDIO_BACKENDS", "AudioBlock", "AudioDevice", "AudioSettings", "AudioSource",
           "list_audio_devices", "make_audio_source"]
