import numpy as np
import pytest

from deepz._validate import float_array, scalar, wave_grid


def test_scalar_check_refuses_strings_and_bools():
    for bad in ("1", True):
        with pytest.raises(TypeError, match="window"):
            scalar("window", bad)
    assert scalar("window", 2) == 2.0


def test_float_array_refuses_integers():
    with pytest.raises(TypeError, match="flux"):
        float_array("flux", np.arange(3))


def test_wave_grid_flips_decreasing_and_names_the_bad_pixel():
    w, dec = wave_grid("wave", [3.0, 2.0, 1.0])
    assert dec
    assert w.tolist() == [[1.0, 2.0, 3.0]]
    with pytest.raises(ValueError, match=r"wave\[0, 2\]"):
        wave_grid("wave", [1.0, 2.0, 2.0])
