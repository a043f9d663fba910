"""deepz.baselines: the Stivaktakis kNN / RF / SVM baselines and the template fitter."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import deepz
from deepz import baselines, metrics

pytest.importorskip("sklearn")

NAMES = ["knn", "random_forest", "svm"]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrix products: BLAS threads only spin on a busy 2-core machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def blobs(rng):
    """Three well-separated classes in 8 dimensions: trivially separable."""
    centres = np.array([[0.0] * 8, [1.0] * 8, [0.0] * 4 + [1.0] * 4])
    y = np.repeat([0, 1, 2], 60)
    x = centres[y] + rng.normal(0, 0.05, (y.size, 8))
    order = rng.permutation(y.size)
    return x[order], y[order]


@pytest.mark.parametrize("name", NAMES)
def test_classifiers_separate_blobs(name, blobs):
    x, y = blobs
    model = (
        baselines.make_baseline(name, probability=True)
        if name == "svm"
        else baselines.make_baseline(name)
    )
    model.fit(x[:120], y[:120])
    assert metrics.accuracy(model.predict(x[120:]), y[120:]) == 1.0
    proba = model.predict_proba(x[120:])
    assert proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert np.mean(model.classes_[proba.argmax(axis=1)] == y[120:]) == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_regressors_follow_a_smooth_relation(name, rng):
    x = rng.uniform(0, 1, (300, 2))
    z = 1.0 + 0.8 * x[:, 0]  # z in [1, 1.8), the Euclid range
    model = baselines.make_baseline(name, task="regress").fit(x[:200], z[:200])
    pred = model.predict(x[200:])
    assert metrics.mae(pred, z[200:]) < 0.05
    with pytest.raises(AttributeError, match="regressor"):
        model.predict_proba(x[200:])
    with pytest.raises(AttributeError, match="regressor"):
        _ = model.classes_


def test_defaults_are_the_papers_and_seeded(blobs):
    x, y = blobs
    k = baselines.knn()
    assert k.estimator.n_neighbors == 1
    assert k.estimator.metric == "chebyshev"
    rf1 = baselines.random_forest().fit(x, y)
    rf2 = baselines.random_forest().fit(x, y)
    assert rf1.estimator.n_estimators == 100
    np.testing.assert_array_equal(rf1.predict_proba(x[:10]), rf2.predict_proba(x[:10]))
    s = baselines.svm()
    assert s.estimator.kernel == "rbf"
    s.fit(x, y)
    with pytest.raises(AttributeError, match="probability=True"):
        s.predict_proba(x)
    assert baselines.make_baseline("rf").name == "random_forest"


def test_knn_classifies_redshift_slots_of_simulated_spectra(rng):
    """Noiseless spectra of one template in 10 redshift classes of 0.01 (Stivaktakis-like)."""
    rest = np.arange(3000.0, 10000.0, 2.0)
    tmpl = 1.0 + 5.0 * np.exp(-0.5 * ((rest - 6564.6) / 4.0) ** 2)  # H-alpha on a continuum
    obs = np.arange(11000.0, 20000.0, 10.0)
    z = rng.uniform(1.0, 1.1, 400)
    x = deepz.redshift(tmpl[None, :], rest, 0, z, obs)
    x = x / (2 * x.max(axis=1, keepdims=True))  # the paper's X / (2 Xmax)
    y = np.floor((z - 1.0) / 0.01).astype(int)
    model = baselines.knn().fit(x[:300], y[:300])
    assert metrics.accuracy_within(model.predict(x[300:]), y[300:], 1) == 1.0


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.ones(5), np.ones(5), "X must have shape \\(N, M\\)"),
        (np.full((2, 3), np.nan), [0, 1], "X must be finite"),
        (np.ones((2, 3)), [0, 1, 1], "y must have shape \\(2,\\)"),
        (np.ones((2, 3)), [0, 0], "at least 2 classes"),
        (np.ones((0, 3)), [], "X is empty"),
    ],
)
def test_bad_training_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        baselines.knn().fit(x, y)


def test_bad_use():
    with pytest.raises(RuntimeError, match="not fitted"):
        baselines.knn().predict(np.ones((1, 3)))
    model = baselines.knn().fit(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="X has 2 features but the model was fitted on 3"):
        model.predict(np.ones((1, 2)))
    with pytest.raises(ValueError, match="name must be one of"):
        baselines.make_baseline("xgboost")
    with pytest.raises(ValueError, match="task"):
        baselines.make_baseline("knn", task="cluster")
    with pytest.raises(ValueError, match="y must be finite"):
        baselines.knn(task="regress").fit(np.eye(2), [0.0, np.nan])


# -- template fitting --------------------------------------------------------------

REST = np.arange(2000.0, 12000.0, 1.0)
OBS = np.arange(4000.0, 9000.0, 2.0)
LINES = (3727.4, 4862.7, 5008.2, 6564.6)


def _library():
    """Three rest-frame templates: emission-line galaxy, red continuum, broad lines."""
    t0 = 1.0 + sum(
        a * np.exp(-0.5 * ((REST - lam) / 3.0) ** 2)
        for a, lam in zip((3, 2, 5, 6), LINES, strict=True)
    )
    t1 = 0.2 + (REST / 6000.0) ** 2 - 0.5 * np.exp(-0.5 * ((REST - 4000.0) / 30.0) ** 2)
    t2 = 1.0 + sum(2 * np.exp(-0.5 * ((REST - lam) / 40.0) ** 2) for lam in (2799.1, 4862.7))
    return np.stack([t0, t1, t2])


def test_noiseless_redshifted_template_is_recovered_within_a_step():
    lib = _library()
    z_grid = np.arange(0.05, 0.6, 0.0005)
    z0 = 0.31234  # between grid points
    flux = deepz.redshift(lib, REST, 0, z0, OBS)  # flux-conserving, f_lambda / (1+z)
    fit = baselines.template_fit(OBS, flux, None, lib, REST, z_grid)
    assert abs(fit.z - z0) <= 0.0005
    assert abs(fit.z_grid_best - z0) <= 0.0005
    assert fit.template == 0
    assert fit.amplitude == pytest.approx(1 / (1 + z0), rel=0.01)
    assert fit.deltachi2 > 100
    assert fit.chi2.shape == z_grid.shape
    assert fit.chi2_min == fit.chi2.min()
    coarse = baselines.template_fit(OBS, flux, None, lib, REST, z_grid, refine=False)
    assert coarse.z == coarse.z_grid_best


def test_template_model_is_the_flux_conserving_one(rng):
    """A spiky template, binned by deepz.redshift, is fitted exactly at its z (chi2 ~ 0)."""
    spiky = rng.uniform(0.5, 2.0, REST.size)  # every rest pixel different
    z0 = 0.25
    flux = deepz.redshift(spiky[None, :], REST, 0, z0, OBS)
    fit = baselines.template_fit(OBS, flux, None, spiky, REST, [0.2, z0, 0.3])
    assert fit.chi2[1] <= 1e-12 * np.sum(flux**2)
    assert fit.amplitude == pytest.approx(1 / (1 + z0), rel=1e-9)


def test_batch_with_noise_masks_and_ivar(rng):
    lib = _library()
    n = 12
    idx = np.arange(n) % 3
    z0 = rng.uniform(0.1, 0.5, n)
    clean = deepz.redshift(lib, REST, idx, z0, OBS)
    sigma = 0.05 * np.median(clean, axis=1, keepdims=True)
    flux = clean + sigma * rng.standard_normal(clean.shape)
    ivar = np.broadcast_to(1 / sigma**2, flux.shape).copy()
    flux[:, 100:140] = np.nan  # a masked stretch: NaN flux is treated as ivar 0
    ivar[:, 500:520] = 0.0
    z_grid = np.arange(0.05, 0.6, 0.0005)
    fit = baselines.template_fit(OBS, flux, ivar, lib, REST, z_grid, z_chunk=37)
    assert fit.z.shape == (n,)
    assert fit.chi2.shape == (n, z_grid.size)
    assert np.all(np.abs(fit.z - z0) <= 0.001)
    np.testing.assert_array_equal(fit.template, idx)
    np.testing.assert_array_equal(fit.npix, OBS.size - 60)
    # at the true z the model is the spectrum the kernel made: chi2 per pixel ~ 1 +- 0.03
    for i in range(n):
        at_truth = baselines.template_fit(OBS, flux[i], ivar[i], lib[idx[i]], REST, [z0[i]])
        assert at_truth.chi2_min / at_truth.npix == pytest.approx(1.0, abs=0.12)
    one = baselines.template_fit(OBS, flux[3], ivar[3], lib, REST, z_grid)
    assert one.z == pytest.approx(fit.z[3])
    assert one.chi2.shape == z_grid.shape


def test_featureless_spectrum_is_ambiguous():
    flat = np.ones((1, REST.size))
    flux = np.ones(OBS.size)
    fit = baselines.template_fit(OBS, flux, None, flat, REST, np.arange(0.0, 0.5, 0.01))
    assert fit.deltachi2 == pytest.approx(0.0, abs=1e-9)


def test_negative_amplitudes_are_refused():
    lib = _library()[:1]
    flux = -deepz.redshift(lib, REST, 0, 0.2, OBS)  # an "absorption" mirror image
    z_grid = np.arange(0.1, 0.3, 0.001)
    fit = baselines.template_fit(OBS, flux, None, lib, REST, z_grid)
    assert fit.amplitude == 0.0
    assert np.allclose(fit.chi2, np.sum(flux**2))
    free = baselines.template_fit(OBS, flux, None, lib, REST, z_grid, nonnegative=False)
    assert free.amplitude < 0
    assert abs(free.z - 0.2) <= 0.001


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(flux=np.ones(10)), "flux must have shape"),
        (dict(ivar=-np.ones(OBS.size)), "ivar must be finite and >= 0"),
        (dict(ivar=np.ones(5)), "ivar must have the shape of flux"),
        (dict(templates=np.ones((2, 7))), "templates must have shape"),
        (dict(z_grid=[0.2, 0.1]), "z_grid must be strictly increasing"),
        (dict(z_grid=[-1.0, 0.1]), "z_grid must be > -1"),
        (dict(wave=OBS[::-1]), "wave must be strictly increasing"),
        (dict(flux=np.full(OBS.size, np.nan)), "no pixel with ivar > 0"),
        (dict(min_separation_kms=-1), "min_separation_kms"),
    ],
)
def test_template_fit_bad_input(kwargs, match):
    args = dict(
        wave=OBS,
        flux=np.ones(OBS.size),
        ivar=None,
        templates=_library(),
        rest_wave=REST,
        z_grid=np.arange(0.1, 0.2, 0.01),
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        baselines.template_fit(**args)


def test_docstring_examples_run():
    assert doctest.testmod(baselines).failed == 0
