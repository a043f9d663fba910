"""deepz.simulate.Mixture: several observers on one grid, interleaved, batch-split invariant."""

from __future__ import annotations

import numpy as np
import pytest

from deepz import simulate
from deepz.simulate._seeding import derive_seed

SMALL = {"n_galaxies": 40, "n_stars": 6, "n_qsos": 6, "pilot_n": 50}


@pytest.fixture(scope="module")
def mix():
    return simulate.mixture(
        [
            {"preset": "sdss", "grid": "optical", **SMALL},
            {
                "preset": "sdss",
                "name": "lowres",
                "grid": "optical",
                "arms": [{"name": "lo", "grid": "boss", "resolution": 1000.0}],
                **SMALL,
            },
            {"preset": "desi", "grid": "optical", **SMALL},
        ]
    )


def test_sample_i_is_sample_i_div_m_of_observer_i_mod_m(mix):
    b = mix.simulate(10, seed=5, offset=4)
    m = len(mix.observers)
    gidx = np.arange(4, 14)
    np.testing.assert_array_equal(b.extra["observer"], gidx % m)
    for j, obs in enumerate(mix.observers):
        rows = np.flatnonzero(gidx % m == j)
        local = gidx[rows] // m
        ref = obs.simulate(local.size, seed=derive_seed(5, 6, j), offset=int(local[0]))
        np.testing.assert_array_equal(b.flux[rows], ref.flux)
        np.testing.assert_array_equal(b.ivar[rows], ref.ivar)
        np.testing.assert_array_equal(b.z[rows], ref.z)
        np.testing.assert_array_equal(b.subclass[rows], ref.subclass)


@pytest.mark.parametrize("split", [1, 2, 5, 7])
def test_batch_split_invariance(mix, split):
    whole = mix.simulate(11, seed=3)
    parts = [mix.simulate(min(split, 11 - a), seed=3, offset=a) for a in range(0, 11, split)]
    np.testing.assert_array_equal(np.concatenate([p.flux for p in parts]), whole.flux)
    np.testing.assert_array_equal(np.concatenate([p.z for p in parts]), whole.z)
    np.testing.assert_array_equal(
        np.concatenate([p.extra["observer"] for p in parts]), whole.extra["observer"]
    )


def test_batch_fields(mix):
    b = mix.simulate(6, seed=1)
    assert b.flux.shape == (6, mix.n_pixels) == (6, 1088)
    np.testing.assert_array_equal(b.wave, simulate.sdss(grid="optical", **SMALL).wave)
    assert np.isfinite(b.flux).all()
    assert (b.ivar >= 0).all()
    assert b.config["kind"] == "mixture"
    assert len(b.config["observers"]) == 3
    assert len(b) == 6
    assert b.offset == 0
    assert b.seed == 1


def test_bad_mixtures_raise():
    with pytest.raises(ValueError, match="at least one"):
        simulate.Mixture(())
    with pytest.raises(ValueError, match=r"observers\[1\].*another grid"):
        simulate.mixture([simulate.sdss(**SMALL), simulate.desi(combine=True, **SMALL)])
    with pytest.raises(ValueError, match=r"observers\[0\]: unknown preset"):
        simulate.mixture([{"preset": "nope"}])
