"""deepz.metrics against hand-computed values, analytic formulas and properties."""

from __future__ import annotations

import doctest
import json
import logging
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deepz import metrics

# -- redshift point metrics --------------------------------------------------------


def test_residuals_by_hand():
    dz = metrics.residuals([1.2, 0.5, np.nan], [1.0, 0.5, 2.0])
    np.testing.assert_allclose(dz[:2], [0.1, 0.0])
    assert np.isnan(dz[2])


def test_bias_and_scatter_of_a_known_array():
    # z_true = 0, so dz = z_pred: [-0.2, 0, 0.1, 0.1, 0.3]
    zp = np.array([-0.2, 0.0, 0.1, 0.1, 0.3])
    zt = np.zeros(5)
    assert metrics.bias(zp, zt) == pytest.approx(0.06)
    # median 0.1; |dz - 0.1| = [0.3, 0.1, 0, 0, 0.2]; median 0.1
    assert metrics.sigma_mad(zp, zt) == pytest.approx(0.14826)
    # Ilbert: 1.48 median |dz| = 1.48 * 0.1
    assert metrics.nmad(zp, zt) == pytest.approx(0.148)
    assert metrics.mae(zp, zt) == pytest.approx(0.14)


def test_scatter_uses_one_plus_z():
    zt = np.array([1.0, 1.0, 3.0, 3.0])
    zp = zt + np.array([0.02, -0.02, 0.04, -0.04])  # dz = +-0.01 everywhere
    assert metrics.sigma_mad(zp, zt) == pytest.approx(1.4826 * 0.01)
    assert metrics.bias(zp, zt) == pytest.approx(0.0, abs=1e-15)


def test_gaussian_residuals_give_sigma(rng):
    zt = rng.uniform(0, 2, 100_000)
    zp = zt + 0.01 * (1 + zt) * rng.standard_normal(zt.size)
    assert metrics.sigma_mad(zp, zt) == pytest.approx(0.01, rel=0.02)
    assert metrics.sigma_68(zp, zt) == pytest.approx(0.01, rel=0.02)
    assert metrics.nmad(zp, zt) == pytest.approx(0.01, rel=0.02)
    # 5 sigma outliers: none expected among 1e5 (3e-7 each)
    assert metrics.outlier_fraction(zp, zt, threshold=0.05) == 0.0
    assert metrics.catastrophic_rate(zp, zt) == pytest.approx(0.3173, abs=0.005)


def test_sigma_68_feels_tails_that_sigma_mad_ignores(rng):
    dz = rng.standard_normal(20_000) * 0.01
    dz[:8000] = rng.uniform(-1, 1, 8000)  # 40 % outliers
    zt = np.zeros(dz.size)
    assert metrics.sigma_68(dz, zt) > 2 * metrics.sigma_mad(dz, zt)


def test_outlier_and_catastrophic_rates_count_failures():
    zt = np.array([0.0, 0.0, 0.0, 0.0])
    zp = np.array([0.0, 0.02, 0.1, np.nan])
    assert metrics.outlier_fraction(zp, zt) == pytest.approx(0.5)  # 0.1 and NaN
    assert metrics.catastrophic_rate(zp, zt) == pytest.approx(0.75)  # 0.02, 0.1, NaN
    assert metrics.catastrophic_rate(zp, zt, threshold=0.5) == pytest.approx(0.25)


def test_scale_statistics_leave_failures_out_and_say_so(caplog):
    zt = np.zeros(4)
    zp = np.array([0.1, 0.1, 0.1, np.nan])
    with caplog.at_level(logging.WARNING, logger="deepz.metrics"):
        assert metrics.bias(zp, zt) == pytest.approx(0.1)
    assert "1 of 4" in caplog.text
    assert math.isnan(metrics.sigma_mad([np.nan, np.inf], [0.0, 0.0]))


def test_gasnet_metrics_by_hand():
    zt = np.array([1.0, 1.0, 2.0, 0.5])
    zp = np.array([0.5, 1.001, 2.0, np.nan])
    b = metrics.gasnet_bias(zp, zt)
    np.testing.assert_allclose(b[:3], [math.log(2 / 1.5), math.log(2.001 / 2), 0.0])
    assert np.isnan(b[3])
    assert metrics.good_fraction(zp, zt) == pytest.approx(0.5)  # 0.0005 and 0 are good
    assert metrics.good_fraction(zp, zt, threshold=0.5) == pytest.approx(0.75)
    assert metrics.mae(zp, zt) == pytest.approx((0.5 + 0.001 + 0) / 3)


def test_good_fraction_by_class_uses_class_thresholds():
    zt = np.ones(6)
    zp = 1 + np.array([0.002, 0.002, 0.02, 0.04, 0.0, 0.002])  # Bias ~ dz/2
    classes = ["GALAXY", "galaxy", "QSO", "QSO_BAL", "STAR", "GALAXY_SF"]
    out = metrics.good_fraction_by_class(zp, zt, classes)
    # galaxies: Bias 0.001 < 0.0015 all good; QSO 0.00995 < 0.015 good, QSO_BAL 0.0198 bad
    assert out == {"GALAXY": 1.0, "galaxy": 1.0, "GALAXY_SF": 1.0, "QSO": 1.0, "QSO_BAL": 0.0}
    tight = metrics.good_fraction_by_class(zp, zt, classes, thresholds={"GALAXY": 0.0005})
    assert set(tight) == {"GALAXY", "galaxy", "GALAXY_SF"}
    assert tight["GALAXY"] == 0.0


def test_summary_is_complete_and_json_ready(rng):
    zt = rng.uniform(0, 1, 1000)
    zp = zt + 0.01 * rng.standard_normal(1000)
    zp[:10] = np.nan
    s = metrics.summary(zp, zt, sigma=np.full(1000, 0.01))
    assert s["n"] == 1000
    assert s["n_failed"] == 10
    assert s["failure_fraction"] == 0.01
    for key in (
        "bias",
        "sigma_mad",
        "nmad",
        "sigma_68",
        "mae",
        "outlier_fraction",
        "catastrophic_rate",
        "good_fraction",
        "median_gasnet_bias",
        "coverage_1",
        "coverage_2",
        "coverage_3",
        "median_abs_pull",
    ):
        assert isinstance(s[key], float), key
    json.dumps(s, allow_nan=False)
    assert s["sigma_mad"] == pytest.approx(metrics.sigma_mad(zp, zt))
    assert s["outlier_fraction"] >= 0.01  # the failures are outliers


@pytest.mark.parametrize(
    ("z_pred", "z_true", "match"),
    [
        ([0.1, 0.2], [0.1], "z_true has 1 values but z_pred has 2|z_pred"),
        ([0.1], [np.nan], "z_true must be finite"),
        ([], [], "empty"),
        ([0.1], [-1.0], "z_true must be > -1"),
        ([[0.1]], [[0.1]], "z_true must be 1-D"),
    ],
)
def test_bad_redshift_input(z_pred, z_true, match):
    with pytest.raises(ValueError, match=match):
        metrics.summary(z_pred, z_true)


def test_bad_thresholds():
    with pytest.raises(ValueError, match="threshold"):
        metrics.outlier_fraction([0.1], [0.1], threshold=0)
    with pytest.raises(ValueError, match="outlier_threshold"):
        metrics.summary([0.1], [0.1], outlier_threshold=-1)


# -- classification ------------------------------------------------------------------


def test_accuracy_and_within_k_by_hand():
    yt = np.array([10, 10, 10, 10, 10])
    yp = np.array([10, 11, 9, 12, 7])
    assert metrics.accuracy(yp, yt) == pytest.approx(0.2)
    assert metrics.accuracy_within(yp, yt, 0) == pytest.approx(0.2)
    assert metrics.accuracy_within(yp, yt, 1) == pytest.approx(0.6)
    assert metrics.accuracy_within(yp, yt, 2) == pytest.approx(0.8)
    assert metrics.accuracy_within(yp, yt, 3) == pytest.approx(1.0)


def test_failed_class_predictions_are_wrong():
    yt = np.array([1, 2, 3, 4])
    yp = np.array([1.0, 2.0, np.nan, np.nan])
    assert metrics.accuracy(yp, yt) == 0.5
    assert metrics.accuracy_within(yp, yt, 5) == 0.5
    c = metrics.classification_summary(yp, yt)
    assert c == {"n": 4, "n_failed": 2, "accuracy": 0.5, "accuracy_within_1": 0.5}


@given(
    yt=hnp.arrays(np.int64, st.integers(1, 40), elements=st.integers(0, 30)),
    offsets=st.lists(st.integers(-8, 8), min_size=40, max_size=40),
)
def test_accuracy_within_k_never_decreases(yt, offsets):
    yp = yt + np.asarray(offsets[: yt.size])
    values = [metrics.accuracy_within(yp, yt, k) for k in range(10)]
    assert values[0] == metrics.accuracy(yp, yt)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert values[-1] == 1.0


def test_accuracy_within_refuses_strings_and_bad_k():
    with pytest.raises(TypeError, match="y_true"):
        metrics.accuracy_within(["a"], ["a"])
    with pytest.raises(ValueError, match="k must"):
        metrics.accuracy_within([1], [1], k=-1)
    with pytest.raises(ValueError, match="y_pred must hold integer"):
        metrics.accuracy_within([1.5], [1])


def test_confusion_matrix_and_precision_recall_by_hand():
    yt = ["G", "G", "G", "Q", "Q", "S"]
    yp = ["G", "G", "Q", "Q", "G", "S"]
    m, labels = metrics.confusion_matrix(yp, yt)
    assert labels.tolist() == ["G", "Q", "S"]
    np.testing.assert_array_equal(m, [[2, 1, 0], [1, 1, 0], [0, 0, 1]])
    pr = metrics.precision_recall(yp, yt)
    np.testing.assert_allclose(pr["precision"], [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(pr["recall"], [2 / 3, 1 / 2, 1])
    np.testing.assert_array_equal(pr["support"], [3, 2, 1])
    m2, labels2 = metrics.confusion_matrix(yp, yt, labels=["S", "Q", "G"])
    np.testing.assert_array_equal(m2, m[::-1, ::-1])
    assert labels2.tolist() == ["S", "Q", "G"]


def test_confusion_matrix_failures_fall_in_no_column():
    m, labels = metrics.confusion_matrix([0.0, np.nan, 1.0], [0, 1, 1])
    np.testing.assert_array_equal(m, [[1, 0], [0, 1]])
    pr = metrics.precision_recall([0.0, np.nan, 1.0], [0, 1, 1])
    np.testing.assert_allclose(pr["recall"], [1.0, 0.5])  # the failure is a miss
    with pytest.raises(ValueError, match="y_true holds labels not in labels"):
        metrics.confusion_matrix([0, 1], [0, 2], labels=[0, 1])
    with pytest.raises(TypeError, match="strings or both numbers"):
        metrics.confusion_matrix(["a"], [1])


def test_precision_of_a_never_predicted_class_is_nan():
    pr = metrics.precision_recall([0, 0], [0, 1])
    assert np.isnan(pr["precision"][1])
    assert pr["recall"][1] == 0.0


# -- binned PDFs -------------------------------------------------------------------


EDGES = np.linspace(0.0, 1.0, 11)


def test_pit_of_a_delta_like_pdf():
    pdf = np.zeros((4, 10))
    pdf[:, 3] = 1.0  # all mass in [0.3, 0.4)
    zt = np.array([0.325, 0.39, 0.1, 0.9])
    np.testing.assert_allclose(metrics.pit(pdf, EDGES, zt), [0.25, 0.9, 0.0, 1.0], atol=1e-12)


def test_pit_outside_the_bins_and_centres_equal_edges():
    pdf = np.full((2, 10), 0.1)
    np.testing.assert_allclose(metrics.pit(pdf, EDGES, [-1.0, 2.0]), [0.0, 1.0])
    centres = 0.5 * (EDGES[1:] + EDGES[:-1])
    zt = [0.123, 0.777]
    np.testing.assert_allclose(metrics.pit(pdf, centres, zt), metrics.pit(pdf, EDGES, zt))
    np.testing.assert_allclose(metrics.pit(pdf, EDGES, zt), zt)  # uniform: F(z) = z


def test_pdf_rows_are_normalised_and_failures_are_nan():
    pdf = np.array([[2.0, 2.0], [0.0, 0.0], [np.nan, 1.0]])
    out = metrics.pit(pdf, [0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    assert out[0] == pytest.approx(0.5)
    assert np.isnan(out[1])
    assert np.isnan(out[2])
    assert np.isnan(metrics.crps(pdf, [0.0, 1.0, 2.0], [1.0, 1.0, 1.0])[1:]).all()


def test_calibrated_gaussian_pdfs_give_flat_pit(rng):
    edges = np.linspace(-1, 3, 401)
    c = 0.5 * (edges[1:] + edges[:-1])
    mu = rng.uniform(0.5, 1.5, 20_000)
    s = 0.05
    zt = mu + s * rng.standard_normal(mu.size)
    pdf = np.exp(-0.5 * ((c[None, :] - mu[:, None]) / s) ** 2)
    density, _ = metrics.pit_histogram(metrics.pit(pdf, edges, zt), n_bins=10)
    np.testing.assert_allclose(density, 1.0, atol=0.06)
    # too narrow PDFs give a U shape: the outer bins are overfull
    narrow = np.exp(-0.5 * ((c[None, :] - mu[:, None]) / (s / 2)) ** 2)
    d_narrow, _ = metrics.pit_histogram(metrics.pit(narrow, edges, zt), n_bins=10)
    assert d_narrow[0] > 1.5
    assert d_narrow[-1] > 1.5
    assert d_narrow[5] < 0.8


def _uniform_crps(a, b, z):
    length = b - a
    if z < a:
        return a - z + length / 3
    if z > b:
        return z - b + length / 3
    return ((z - a) ** 3 + (b - z) ** 3) / (3 * length**2)


@pytest.mark.parametrize("zt", [0.0, 0.2, 0.37, 0.5, 0.999, 1.0, -0.3, 1.4])
@pytest.mark.parametrize("nbins", [1, 7, 10])
def test_crps_of_a_uniform_pdf_is_analytic(zt, nbins):
    edges = np.linspace(0.0, 1.0, nbins + 1)
    got = metrics.crps(np.ones(nbins), edges, [zt])[0]
    assert got == pytest.approx(_uniform_crps(0.0, 1.0, zt), rel=1e-12, abs=1e-15)


def test_crps_of_a_narrow_bin_is_the_distance():
    edges = np.array([0.0, 0.5, 0.5001, 1.0])
    got = metrics.crps([[0.0, 1.0, 0.0]] * 2, edges, [0.2, 0.9])
    np.testing.assert_allclose(got, [0.30005, 0.39995], atol=1e-4)


def _numeric_crps(p, edges, zt):
    """Trapezoid quadrature, split at z_true (the step of H) and at every bin edge."""
    lo, hi = min(edges[0], zt) - 0.5, max(edges[-1], zt) + 0.5
    p = p / p.sum()
    cum = np.concatenate([[0.0], np.cumsum(p)])
    total = 0.0
    for a, b, h in ((lo, zt, 0.0), (zt, hi, 1.0)):
        grid = np.union1d(np.linspace(a, b, 100_001), edges[(edges > a) & (edges < b)])
        f = np.interp(grid, edges, cum)  # F is linear inside each bin
        total += np.trapezoid((f - h) ** 2, grid)
    return total


@given(
    p=hnp.arrays(np.float64, st.integers(1, 12), elements=st.floats(0, 1)),
    zt=st.floats(-0.5, 1.5),
    widths=st.lists(st.floats(0.01, 0.3), min_size=12, max_size=12),
)
def test_crps_matches_quadrature_and_pit_is_a_probability(p, zt, widths):
    if p.sum() == 0:
        p[0] = 1.0
    edges = np.concatenate([[0.0], np.cumsum(widths[: p.size])])
    got = metrics.crps(p, edges, [zt])[0]
    assert got >= 0
    assert got == pytest.approx(_numeric_crps(p, edges, zt), rel=1e-4, abs=1e-7)
    v = metrics.pit(p, edges, [zt])[0]
    assert 0.0 <= v <= 1.0
    q = metrics.pdf_quantile(p, edges, v)[0]
    assert metrics.pdf_cdf(p, edges, [q])[0] == pytest.approx(v, abs=1e-9)


def test_crps_in_chunks_matches_row_by_row(rng):
    pdf = rng.random((5000, 20))  # more rows than one chunk
    zt = rng.uniform(-0.1, 1.1, 5000)
    edges = np.linspace(0, 1, 21)
    all_rows = metrics.crps(pdf, edges, zt)
    some = [metrics.crps(pdf[i], edges, zt[i])[0] for i in (0, 4095, 4096, 4999)]
    np.testing.assert_allclose(all_rows[[0, 4095, 4096, 4999]], some, rtol=1e-12)


def test_point_estimates_of_a_binned_gaussian():
    edges = np.linspace(0, 2, 2001)
    c = 0.5 * (edges[1:] + edges[:-1])
    pdf = np.exp(-0.5 * ((c - 1.2345) / 0.02) ** 2)
    pe = metrics.pdf_point_estimates(pdf, edges)
    assert pe["mean"][0] == pytest.approx(1.2345, abs=1e-6)
    assert pe["median"][0] == pytest.approx(1.2345, abs=1e-5)
    assert pe["mode"][0] == pytest.approx(1.2345, abs=0.001)
    assert pe["std"][0] == pytest.approx(0.02, rel=1e-3)
    assert pe["width68"][0] == pytest.approx(0.04, rel=1e-3)
    assert pe["lo68"][0] < pe["median"][0] < pe["hi68"][0]
    assert 0 < pe["confidence"][0] < 0.05


def test_point_estimates_by_hand():
    pe = metrics.pdf_point_estimates([[0.0, 0.75, 0.25]], [0.0, 1.0, 2.0, 3.0])
    assert pe["mean"][0] == pytest.approx(0.75 * 1.5 + 0.25 * 2.5)
    assert pe["mode"][0] == 1.5
    assert pe["median"][0] == pytest.approx(1 + 0.5 / 0.75)
    assert pe["confidence"][0] == 0.75


@pytest.mark.parametrize(
    ("pdf", "bins", "match"),
    [
        (np.ones((2, 3)), np.linspace(0, 1, 6), "bins must hold K\\+1 = 4 edges"),
        (np.ones((2, 3)), [0.0, 0.5, 0.4, 1.0], "bins must be strictly increasing"),
        (-np.ones((2, 3)), np.linspace(0, 1, 4), "pdf must be >= 0"),
        (np.ones((2, 3, 1)), np.linspace(0, 1, 4), "pdf must have shape"),
        (np.ones((2, 1)), [0.5], "one centre"),
    ],
)
def test_bad_pdf_input(pdf, bins, match):
    with pytest.raises(ValueError, match=match):
        metrics.pit(pdf, bins, [0.5, 0.5])


def test_bad_pdf_truths():
    with pytest.raises(ValueError, match="z_true has 3 values but pdf has 2 rows"):
        metrics.crps(np.ones((2, 3)), np.linspace(0, 1, 4), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="z_true must be finite"):
        metrics.pit(np.ones((1, 3)), np.linspace(0, 1, 4), [np.nan])
    with pytest.raises(ValueError, match="q must lie"):
        metrics.pdf_quantile(np.ones(3), np.linspace(0, 1, 4), 1.5)


# -- Gaussian errors -------------------------------------------------------------------


def test_coverage_of_exactly_gaussian_errors(rng):
    n = 100_000
    zt = rng.uniform(0, 3, n)
    sigma = rng.uniform(0.001, 0.05, n)
    zp = zt + sigma * rng.standard_normal(n)
    cov = metrics.coverage(zp, sigma, zt)
    for k in (1, 2, 3):
        assert cov[k] == pytest.approx(metrics.GAUSSIAN_COVERAGE[k], abs=0.005)
    assert metrics.median_abs_pull(zp, sigma, zt) == pytest.approx(0.6745, abs=0.01)
    density, _ = metrics.pit_histogram(metrics.pit_gaussian(zp, sigma, zt), n_bins=10)
    np.testing.assert_allclose(density, 1.0, atol=0.04)


def test_overestimated_errors_give_small_pulls(rng):
    # GaSNet-II's published errors: median |pull| 0.44, i.e. sigma ~1.5x too large
    zt = np.zeros(100_000)
    zp = rng.standard_normal(zt.size)
    assert metrics.median_abs_pull(zp, np.full(zt.size, 1.53), zt) == pytest.approx(0.44, abs=0.01)


def test_pulls_failures_and_bad_sigma():
    p = metrics.pulls([1.0, np.nan, 1.0], [0.5, 0.1, np.nan], [0.0, 0.0, 0.0])
    assert p[0] == 2.0
    assert np.isnan(p[1:]).all()
    cov = metrics.coverage([1.0, np.nan, 1.0], [0.5, 0.1, np.nan], [0.0, 0.0, 0.0], k=(2.5,))
    assert cov == {2.5: pytest.approx(1 / 3)}
    assert metrics.median_abs_pull([1.0, np.nan, np.nan], [1.0, 1.0, 1.0], [0, 0, 0]) == math.inf
    with pytest.raises(ValueError, match="sigma must be > 0"):
        metrics.pulls([1.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="sigma has 2 values"):
        metrics.pulls([1.0], [1.0, 1.0], [1.0])


def test_pit_histogram_checks(caplog):
    with caplog.at_level(logging.WARNING, logger="deepz.metrics"):
        d, e = metrics.pit_histogram([0.1, 0.6, np.nan], n_bins=2)
    np.testing.assert_allclose(d, [1.0, 1.0])
    np.testing.assert_allclose(e, [0, 0.5, 1])
    assert "1 of 3" in caplog.text
    with pytest.raises(ValueError, match="pit_values must lie"):
        metrics.pit_histogram([1.5])
    with pytest.raises(ValueError, match="n_bins"):
        metrics.pit_histogram([0.5], n_bins=0)


# -- reliability -----------------------------------------------------------------------


def test_reliability_by_hand():
    r = metrics.reliability([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1], n_bins=2)
    np.testing.assert_allclose(r["confidence"], [0.1, 0.9])
    np.testing.assert_allclose(r["frequency"], [0.5, 1.0])
    np.testing.assert_array_equal(r["counts"], [2, 2])
    assert r["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert r["mce"] == pytest.approx(0.4)


def test_reliability_calibrated_vs_overconfident(rng):
    n = 100_000
    p = rng.uniform(0, 1, n)
    y = rng.random(n) < p
    assert metrics.reliability(p, y)["ece"] < 0.01
    y_flat = rng.random(n) < 0.5 + (p - 0.5) / 2  # the truth is less extreme than p
    assert metrics.reliability(p, y_flat)["ece"] > 0.1


def test_reliability_multiclass(rng):
    logits = rng.normal(0, 2, (5000, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in probs])  # calibrated by construction
    top = metrics.reliability(probs, y, mode="top")
    cw = metrics.reliability(probs, y, mode="classwise")
    assert top["ece"] < 0.03
    assert cw["ece"] < 0.03
    assert cw["counts"].sum() == 4 * 5000
    probs[0] = np.nan
    assert metrics.reliability(probs, y)["n_failed"] == 1
    with pytest.raises(ValueError, match="y_true must hold class indices"):
        metrics.reliability(probs, y + 1)
    with pytest.raises(ValueError, match="mode"):
        metrics.reliability(probs, y, mode="x")
    with pytest.raises(ValueError, match="probs must lie"):
        metrics.reliability([1.5], [1])


# -- tables per bin, N(z) ----------------------------------------------------------


def test_by_bins_numeric(caplog):
    snr = np.array([0.5, 2.0, 2.5, 7.0, 100.0])
    zt = np.zeros(5)
    zp = np.array([0.1, 0.0, 0.2, 0.0, 0.0])
    with caplog.at_level(logging.WARNING, logger="deepz.metrics"):
        t = metrics.by_bins(snr, [1, 3, 10], metrics.outlier_fraction, zp, zt)
    assert "2 of 5 objects fall in no bin" in caplog.text
    assert t.colnames == ["lo", "hi", "n", "value"]
    assert list(t["n"]) == [2, 1]
    np.testing.assert_allclose(t["value"], [0.5, 0.0])
    t2 = metrics.by_bins(snr, [0, 3, np.inf], metrics.summary, zp, zt, outlier_threshold=0.15)
    assert list(t2["n"]) == [3, 2]
    assert t2["outlier_fraction"][0] == pytest.approx(1 / 3)


def test_by_bins_categorical_and_min_count():
    cl = np.array(["QSO", "GALAXY", "GALAXY", "STAR"])
    yp = np.array([1, 1, 0, 2])
    yt = np.array([1, 1, 1, 2])
    t = metrics.by_bins(cl, None, metrics.classification_summary, yp, yt, min_count=2)
    assert list(t["group"]) == ["GALAXY", "QSO", "STAR"]
    assert t["accuracy"][0] == 0.5
    assert np.isnan(t["accuracy"][1])  # one object < min_count
    with pytest.raises(ValueError, match="arrays\\[1\\] has 3 rows"):
        metrics.by_bins(cl, None, metrics.accuracy, yp, yt[:3])


def test_nz_comparison_sees_wiggles(rng):
    zt = rng.uniform(1.0, 1.8, 50_000)
    smooth = zt + 0.002 * rng.standard_normal(zt.size)
    wiggly = np.round(zt / 0.02) * 0.02  # predictions snap to preferred values
    edges = np.linspace(1.0, 1.8, 161)
    ok = metrics.nz_comparison(smooth, zt, bins=edges)
    bad = metrics.nz_comparison(wiggly, zt, bins=edges)
    assert ok["chi2"] / ok["dof"] < 2
    assert ok["chi2_pvalue"] > 0.01
    assert bad["chi2"] / bad["dof"] > 50
    assert bad["chi2_pvalue"] < 1e-10
    assert ok["n_pred"].sum() + ok["n_pred_outside"] == zt.size


def test_nz_statistics_against_scipy(rng):
    stats = pytest.importorskip("scipy.stats")
    a = rng.normal(0.5, 0.1, 3000)
    b = rng.normal(0.52, 0.1, 3000)
    c = metrics.nz_comparison(a, b, bins=20)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert c["ks_statistic"] == pytest.approx(ref.statistic)
    assert c["ks_pvalue"] == pytest.approx(ref.pvalue, rel=0.1, abs=1e-4)
    assert c["chi2_pvalue"] == pytest.approx(stats.chi2.sf(c["chi2"], c["dof"]))
    identical = metrics.nz_comparison(b, b, bins=20)
    assert identical["chi2"] == 0
    assert identical["ks_statistic"] == 0


def test_nz_comparison_counts_failures():
    c = metrics.nz_comparison([0.1, np.nan, 5.0], [0.1, 0.2, 0.3], bins=2)
    assert c["n_failed"] == 1
    assert c["n_pred_outside"] == 1
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        metrics.nz_comparison([0.1], [0.1], bins=0)


def test_docstring_examples_run():
    assert doctest.testmod(metrics).failed == 0
