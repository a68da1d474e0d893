"""Conditions shared by several test files.

``needs_torch``: the test writes or reads a ``.pt`` file. torch is an optional extra
(``nitrogen-capture[torch]``), and the Windows tier under Wine (tests_wine/) has no torch wheel,
so there these tests are skipped with this reason, not left to fail on the missing package.
"""

from __future__ import annotations

import importlib.util

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None

needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="needs torch (.pt output; the optional extra, absent in the Windows "
                          "tier)")
