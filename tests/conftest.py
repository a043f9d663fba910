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


# -- GPU tests -----------------------------------------------------------------------
# Tests marked @pytest.mark.gpu need deepz._cuda, a CUDA device and CuPy or torch
# with CUDA; elsewhere they are skipped (reported as such by `pytest -ra`) with
# the reason. Which of CuPy / torch a test needs is its own business (see the
# `gpu_lib` fixture of tests/test_cuda_module.py).


def _gpu_skip_reason() -> str | None:
    """Why the GPU tests cannot run here, or None when they can."""
    import importlib
    import warnings

    try:
        cuda = importlib.import_module("deepz._cuda")
    except ImportError:
        return "needs a GPU: deepz was built without CUDA (nvcc not found at build time)"
    if cuda.device_count() == 0:
        return f"needs a GPU: no CUDA device found ({cuda.no_device_reason()})"
    for name in ("cupy", "torch"):  # import only once a device is known to exist
        try:
            with warnings.catch_warnings():  # a noisy import must not fail the collection
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except ImportError:
            continue
        if name == "cupy" or module.cuda.is_available():
            return None
    return "needs CuPy or torch with CUDA: neither is installed with CUDA support"


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    reason = _gpu_skip_reason()
    if reason is not None:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))
