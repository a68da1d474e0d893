"""The recorder's encoder pool: worker processes fed through shared-memory slots.

Recording-only: :mod:`.pool` (the pool), :mod:`.worker` (what runs first in each worker
process), :mod:`.slots` (the shared memory, per platform) and :mod:`.priority` (the workers'
CPU priority policy). The frame stores describe their encoder with
:class:`~nitrogen_capture.codecs.jobs.EncoderSpec` and never import this package; neither do
export and preview (tests/test_layers.py pins that).
"""
