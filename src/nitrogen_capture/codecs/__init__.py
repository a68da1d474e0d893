"""Frame storage: lossless PNG (fpng fast path, OpenCV fallback) in encoder processes."""
