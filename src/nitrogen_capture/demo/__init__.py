"""The bundled demo game, its scripted XTEST player and the end-to-end check.

* :mod:`.game` (with :mod:`.scene`): a pygame game that draws its own truth into every frame;
* :mod:`.markers`: the truth overlay (frame barcode, press counter, held-key cells), decoder;
* :mod:`.player`: a seeded input script injected through XTEST, with a truth log;
* :mod:`.xvfb`: a private Xvfb display;
* :mod:`.check`: compare a recorded session with the pixels, the game's log and the truth log;
* :mod:`.runner`: ``nitrogen-capture demo``, which ties them together around a real recording.

Nothing here is imported by ``import nitrogen_capture``; pygame and python-xlib load lazily.
"""
