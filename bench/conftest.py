"""Benchmark-suite settings: every benchmark sits in a group beside its peer.

Run: pytest bench --benchmark-only
Compare with the saved baseline: pytest bench --benchmark-only --benchmark-compare
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator, so every benchmark sees the same data."""
    return np.random.default_rng(20261125)
