import numpy as np
import pytest

from deepz import grids


def test_euclid_presets_match_the_paper():
    rest = grids.preset("euclid_rest")
    obs = grids.preset("euclid_nisp")
    assert rest.size == 3750
    assert obs.size == 1800
    np.testing.assert_allclose(np.diff(rest), 5.0)
    # bin edges of the paper: rest 1252.5-20002.5 A, observed 11000-20000 A
    assert rest[0] - 2.5 == 1252.5
    assert rest[-1] + 2.5 == 20002.5
    assert obs[0] - 2.5 == 11000.0
    assert obs[-1] + 2.5 == 20000.0


def test_gasnet_grid():
    g = grids.preset("gasnet")
    assert g.size == 5001
    assert g[0] == 4000.0
    assert g[-1] == 9000.0


@pytest.mark.parametrize("name", sorted(grids.PRESETS))
def test_presets_are_increasing_and_fresh(name):
    g = grids.preset(name)
    assert np.all(np.diff(g) > 0)
    g[0] = -1
    assert grids.preset(name)[0] > 0


def test_loglinear_detection():
    w = grids.loglinear(3600.0, 9800.0, 1e-4)
    assert grids.dloglam(w) == pytest.approx(1e-4, rel=1e-9)
    assert grids.is_loglinear(grids.preset("sdss"))
    assert not grids.is_loglinear(grids.linear(4000.0, 9000.0, 1.0))


def test_linear_counts():
    w = grids.linear(4000.0, 9000.0, 1.0)
    assert w.size == 5001
    assert w[-1] == 9000.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: grids.linear(1.0, 2.0, 0.0), "step"),
        (lambda: grids.linear(2.0, 1.0, 0.1), "stop"),
        (lambda: grids.loglinear(1.0, 2.0, -1e-4), "dlog10"),
        (lambda: grids.preset("hubble"), "hubble"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
