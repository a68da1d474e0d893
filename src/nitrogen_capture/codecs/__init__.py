"""Encode/decode helpers: PNG (fpng, OpenCV fallback), H.264/AV1 through PyAV, the encoder jobs.

Shared by the frame stores (``session/frames``), export and preview; a leaf that imports none of
them. What only the recorder runs (the encoder pool, its worker processes, shared-memory slots
and CPU priority) is :mod:`nitrogen_capture.encoderpool`.
"""
