"""Frame storage: PNG (fpng, OpenCV fallback) or H.264 in one MKV per chunk (PyAV)."""
