"""Shared fixtures and the hypothesis profiles of the test suite."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# One fixed, derandomised profile for CI; "dev" explores more when asked:
#   HYPOTHESIS_PROFILE=dev pytest
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    """Each float dtype the kernels accept."""
    return request.param


@pytest.fixture
def rng():
    """A seeded generator: every random draw of the tests is reproducible."""
    return np.random.default_rng(20261125)
