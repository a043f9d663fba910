"""deepz.calibration: temperature scaling, ZERR scale, the held-out tables."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from deepz.calibration import fit_temperature, fit_zerr_scale, score_table


def nll(logits, labels, t):
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))


@pytest.mark.parametrize("t_true", [0.5, 1.0, 3.0])
def test_temperature_recovers_the_generating_one(t_true):
    rng = np.random.default_rng(1)
    n, k = 20000, 6
    logits = 3.0 * rng.normal(size=(n, k))
    p = np.exp(logits / t_true)
    p /= p.sum(axis=1, keepdims=True)
    labels = (p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    t = fit_temperature(logits, labels)
    assert abs(t / t_true - 1) < 0.05
    # it is the minimum of the NLL on a brute-force grid
    grid = np.linspace(0.8 * t, 1.2 * t, 81)
    best = grid[np.argmin([nll(logits, labels, g) for g in grid])]
    assert abs(best - t) <= (grid[1] - grid[0])


def test_temperature_bad_input():
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        fit_temperature(np.zeros(3), np.array([0, 1, 1]))


def test_zerr_scale_gives_68_percent_coverage():
    rng = np.random.default_rng(2)
    sigma = rng.uniform(0.001, 0.01, 5000)
    dz = 2.5 * sigma * rng.normal(size=sigma.size)  # errors 2.5x too small
    s = fit_zerr_scale(dz, sigma)
    assert abs(s / 2.5 - 1) < 0.05
    assert abs(np.mean(np.abs(dz) < s * sigma) - 0.68) < 0.005
    assert fit_zerr_scale(np.array([np.nan]), np.array([1.0])) == 1.0


def test_score_table_by_hand():
    cat = Table(
        {
            "Z": [0.1, 0.5, 0.2, 2.0, 0.0],
            "Z_TRUE": [0.1, 0.3, 0.2, 2.01, 0.0001],
            "SPECTYPE": ["GALAXY", "GALAXY", "QSO", "QSO", "STAR"],
            "CLASS_TRUE": ["GALAXY", "GALAXY", "GALAXY", "QSO", "STAR"],
            "SNR_TRUE": [0.5, 4.0, 25.0, 4.0, 8.0],
        }
    )
    rows = {(r["class"], r["snr"]): r for r in score_table(cat)}
    g = rows[("GALAXY", "all")]
    assert g["n"] == 3
    assert g["catastrophic"] == pytest.approx(1 / 3)  # 0.2/1.3 > 0.01
    assert g["class_accuracy"] == pytest.approx(2 / 3)
    assert rows[("GALAXY", "S/N>=3")]["n"] == 2
    assert rows[("GALAXY", "0-1")]["n"] == 1
    assert ("GALAXY", "1-2") not in rows
    q = rows[("QSO", "all")]
    assert q["catastrophic"] == 0.0  # 0.01 / 3.01 < 0.01
    assert q["sigma_mad"] == 0.0
    assert q["class_accuracy"] == 1.0
