"""Classical baselines the networks are measured against.

- The three machine-learning baselines of Stivaktakis et al. 2019 (IEEE
  Trans. Big Data, section 5): k-nearest neighbours (k = 1, Chebyshev
  distance), a random forest of 100 trees and an RBF support-vector machine,
  each as a classifier over redshift classes or as a regressor of z, behind
  one small API (:class:`Baseline`: ``fit``, ``predict``, ``predict_proba``).
- A template-fitting redshift (:func:`template_fit`): chi-square of every
  template of a rest-frame library, moved over a grid of redshifts, against
  each spectrum with its inverse variance; a redrock-like but much simpler
  fitter (one template at a time, no PCA combinations or polynomials, no
  fine re-scan around the minima).

The machine-learning baselines need scikit-learn (``pip install
scikit-learn``); :func:`template_fit` needs only numpy.

Examples
--------
>>> import numpy as np
>>> from deepz import baselines
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 0.1, (20, 5)), rng.normal(1, 0.1, (20, 5))])
>>> y = np.repeat([0, 1], 20)
>>> model = baselines.knn().fit(X, y)
>>> model.predict([[0.9] * 5, [0.1] * 5]).tolist()
[1, 0]

"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import numpy as np

__all__ = [
    "BASELINES",
    "Baseline",
    "TemplateFit",
    "knn",
    "make_baseline",
    "random_forest",
    "svm",
    "template_fit",
]

logger = logging.getLogger(__name__)

C_KMS = 299792.458  # speed of light, km/s
_TASKS = ("classify", "regress")


# -----------------------------------------------------------------------------
# the Stivaktakis et al. 2019 baselines
# -----------------------------------------------------------------------------


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"


def _features(name: str, value) -> np.ndarray:
    try:
        x = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if x.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, M), one row of M features per object, got "
            f"{_shape(x)} (a single object is X[None, :])"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {_shape(x)}")
    if not np.all(np.isfinite(x)):
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"{name} must be finite: it holds {x[i, j]} at [{i}, {j}] (fill or drop masked "
            "pixels first; these baselines have no notion of ivar)"
        )
    return x


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError as err:  # pragma: no cover - installed in the test environment
        raise ImportError("deepz.baselines needs scikit-learn: pip install scikit-learn") from err


class Baseline:
    """A scikit-learn estimator behind deepz's small common API.

    Build one with :func:`knn`, :func:`random_forest`, :func:`svm` or
    :func:`make_baseline`. Inputs are checked (finite 2-D features, labels
    of matching length) before scikit-learn sees them.

    Parameters
    ----------
    name : str
        The baseline's name (``"knn"``, ``"random_forest"``, ``"svm"``).
    task : {"classify", "regress"}
        Classes (e.g. redshift slots, object types) or a continuous z.
    estimator : sklearn.base.BaseEstimator
        The unfitted estimator.
    has_proba : bool, optional
        Whether :meth:`predict_proba` is offered; default: for classifiers.

    Attributes
    ----------
    estimator : sklearn.base.BaseEstimator
        The wrapped estimator (fitted after :meth:`fit`).
    classes_ : ndarray
        The classes seen by :meth:`fit` (classifiers only).

    """

    def __init__(self, name: str, task: str, estimator, has_proba: bool | None = None) -> None:
        if task not in _TASKS:
            raise ValueError(f"task must be 'classify' or 'regress', got {task!r}")
        self.name = name
        self.task = task
        self.estimator = estimator
        self.has_proba = (task == "classify") if has_proba is None else bool(has_proba)
        self._n_features: int | None = None

    def __repr__(self) -> str:
        return f"Baseline({self.name!r}, task={self.task!r}, estimator={self.estimator!r})"

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, in the order of the columns of :meth:`predict_proba`."""
        if self.task != "classify":
            raise AttributeError(f"{self.name} is a regressor: it has no classes")
        self._check_fitted()
        return self.estimator.classes_

    def fit(self, X, y) -> Baseline:
        """Fit on features ``X`` (N, M) and targets ``y`` (N,).

        Parameters
        ----------
        X : array_like, shape (N, M)
            Finite features (e.g. normalised fluxes).
        y : array_like, shape (N,)
            Class labels (``classify``) or redshifts (``regress``, finite).

        Returns
        -------
        Baseline
            ``self``, fitted.

        Raises
        ------
        ValueError
            Bad shapes, non-finite values, fewer than 2 classes.

        """
        x = _features("X", X)
        t = np.asarray(y)
        if t.ndim != 1 or t.shape[0] != x.shape[0]:
            raise ValueError(f"y must have shape ({x.shape[0]},) to match X, got {_shape(t)}")
        if self.task == "regress":
            try:
                t = t.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"y must hold numbers for a regressor, got dtype {t.dtype}"
                ) from None
            if not np.all(np.isfinite(t)):
                raise ValueError("y must be finite")
        else:
            if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
                raise ValueError("y must not hold NaN")
            if np.unique(t).size < 2:
                raise ValueError("y must hold at least 2 classes to fit a classifier")
        self.estimator.fit(x, t)
        self._n_features = x.shape[1]
        logger.debug("fitted %r on %d objects x %d features", self, *x.shape)
        return self

    def _check_fitted(self) -> None:
        if self._n_features is None:
            raise RuntimeError(f"{self.name} is not fitted: call fit(X, y) first")

    def _check_x(self, X) -> np.ndarray:
        self._check_fitted()
        x = _features("X", X)
        if x.shape[1] != self._n_features:
            raise ValueError(
                f"X has {x.shape[1]} features but the model was fitted on {self._n_features}"
            )
        return x

    def predict(self, X) -> np.ndarray:
        """Predict classes or redshifts.

        Parameters
        ----------
        X : array_like, shape (N, M)
            Features, as in :meth:`fit`.

        Returns
        -------
        ndarray, shape (N,)
            Class labels or redshifts.

        Raises
        ------
        RuntimeError
            Not fitted.
        ValueError
            Bad ``X``.

        """
        return self.estimator.predict(self._check_x(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (classifiers; the SVM only with ``probability=True``).

        Parameters
        ----------
        X : array_like, shape (N, M)
            Features, as in :meth:`fit`.

        Returns
        -------
        ndarray, shape (N, C)
            Probabilities, columns in the order of :attr:`classes_`. For kNN
            with k = 1 they are 0 or 1; for the forest, the fraction of trees.

        Raises
        ------
        AttributeError
            A regressor, or an SVM built without ``probability=True``.

        """
        if self.task != "classify":
            raise AttributeError(f"{self.name} is a regressor: it has no predict_proba")
        if not self.has_proba:
            raise AttributeError(
                f"{self.name} has no predict_proba (an SVM needs svm(probability=True))"
            )
        return self.estimator.predict_proba(self._check_x(X))


def knn(
    task: str = "classify",
    n_neighbors: int = 1,
    metric: str = "chebyshev",
    n_jobs: int | None = None,
    **params,
) -> Baseline:
    """k-nearest-neighbours baseline: k = 1 with the Chebyshev (L-infinity) distance.

    Stivaktakis et al. 2019 found the Chebyshev metric the best of the kNN
    variants they tried for spectra. Deterministic (no seed needed).
    Prediction costs O(N_train x M) per object.

    Parameters
    ----------
    task : {"classify", "regress"}, optional
        ``KNeighborsClassifier`` or ``KNeighborsRegressor``.
    n_neighbors : int, optional
        k.
    metric : str, optional
        Any scikit-learn distance name.
    n_jobs : int, optional
        Parallel jobs for the neighbour search (None: 1).
    **params
        Passed to the scikit-learn estimator.

    Returns
    -------
    Baseline

    """
    _sklearn()
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if task == "classify" else KNeighborsRegressor
    return Baseline(
        "knn", task, cls(n_neighbors=n_neighbors, metric=metric, n_jobs=n_jobs, **params)
    )


def random_forest(
    task: str = "classify",
    n_estimators: int = 100,
    random_state: int = 0,
    n_jobs: int | None = None,
    **params,
) -> Baseline:
    """Random-forest baseline of 100 trees (Stivaktakis et al. 2019), seeded.

    Parameters
    ----------
    task : {"classify", "regress"}, optional
        ``RandomForestClassifier`` or ``RandomForestRegressor``.
    n_estimators : int, optional
        Number of trees.
    random_state : int, optional
        Seed of the bootstrap and feature draws (results are reproducible).
    n_jobs : int, optional
        Parallel jobs (None: 1).
    **params
        Passed to the scikit-learn estimator (e.g. ``max_depth``).

    Returns
    -------
    Baseline

    """
    _sklearn()
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classify" else RandomForestRegressor
    return Baseline(
        "random_forest",
        task,
        cls(n_estimators=n_estimators, random_state=random_state, n_jobs=n_jobs, **params),
    )


def svm(
    task: str = "classify",
    C: float = 1.0,
    gamma: str | float = "scale",  # noqa: N803
    probability: bool = False,
    random_state: int = 0,
    **params,
) -> Baseline:
    """RBF support-vector-machine baseline (Stivaktakis et al. 2019).

    The classifier is scikit-learn's ``SVC`` (one-vs-one over classes: with
    C classes it trains C(C-1)/2 machines, so 800 redshift slots are only
    practical on small training sets); the regressor is ``SVR``. Training
    scales worse than quadratically with N.

    Parameters
    ----------
    task : {"classify", "regress"}, optional
        ``SVC`` or ``SVR``.
    C : float, optional
        Regularisation.
    gamma : {"scale", "auto"} or float, optional
        RBF width; ``"scale"`` = 1 / (M Var(X)).
    probability : bool, optional
        Classifier only: wrap the SVC in ``CalibratedClassifierCV(SVC,
        method="sigmoid", ensemble=False)`` (Platt scaling from 5-fold
        cross-validation; about 5x slower to fit) so that ``predict_proba``
        exists; ``predict`` is then the argmax of the calibrated
        probabilities. (``SVC(probability=True)`` is deprecated in
        scikit-learn 1.9.)
    random_state : int, optional
        Seed passed to the SVC (classifier only; the folds are not shuffled,
        so the result is deterministic).
    **params
        Passed to the scikit-learn estimator.

    Returns
    -------
    Baseline

    """
    _sklearn()
    from sklearn.svm import SVC, SVR

    if task == "classify":
        est = SVC(C=C, kernel="rbf", gamma=gamma, random_state=random_state, **params)
        if probability:
            from sklearn.calibration import CalibratedClassifierCV

            est = CalibratedClassifierCV(est, method="sigmoid", cv=5, ensemble=False)
        return Baseline("svm", task, est, has_proba=probability)
    return Baseline("svm", task, SVR(C=C, kernel="rbf", gamma=gamma, **params))


#: Baseline constructors by name.
BASELINES: dict[str, Callable[..., Baseline]] = {
    "knn": knn,
    "random_forest": random_forest,
    "svm": svm,
}


def make_baseline(name: str, task: str = "classify", **params) -> Baseline:
    """Build a baseline by name.

    Parameters
    ----------
    name : {"knn", "random_forest", "svm"}
        Which baseline (``"rf"`` is accepted for ``"random_forest"``).
    task : {"classify", "regress"}, optional
        Classifier or regressor.
    **params
        Passed to the constructor (see :func:`knn`, :func:`random_forest`,
        :func:`svm`).

    Returns
    -------
    Baseline

    Raises
    ------
    ValueError
        Unknown name or task.

    """
    key = {"rf": "random_forest"}.get(name, name)
    if key not in BASELINES:
        raise ValueError(f"name must be one of {sorted(BASELINES)}, got {name!r}")
    if task not in _TASKS:
        raise ValueError(f"task must be 'classify' or 'regress', got {task!r}")
    return BASELINES[key](task=task, **params)


# -----------------------------------------------------------------------------
# template fitting
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TemplateFit:
    """Result of :func:`template_fit` (batched: one entry per spectrum).

    For a 1-D input spectrum the per-spectrum fields are scalars (0-d) and
    ``chi2`` is (Z,).

    Attributes
    ----------
    z : ndarray, shape (N,)
        Best redshift: the grid minimum, refined by a parabola through it and
        its two neighbours when ``refine`` (never moved by more than one
        grid step).
    z_grid_best : ndarray, shape (N,)
        The grid redshift of the minimum.
    chi2_min : ndarray, shape (N,)
        chi-square at the grid minimum.
    template : ndarray of int, shape (N,)
        Index of the best template there.
    amplitude : ndarray, shape (N,)
        Its least-squares amplitude.
    deltachi2 : ndarray, shape (N,)
        chi-square of the best *other* local minimum further than
        ``min_separation_kms`` from the best, minus ``chi2_min``; ``inf`` when
        there is none. redrock flags fits with deltachi2 < 9.
    chi2 : ndarray, shape (N, Z)
        The chi-square curve: for each z, the minimum over templates.
    z_grid : ndarray, shape (Z,)
        The redshift grid.
    npix : ndarray of int, shape (N,)
        Pixels used (ivar > 0 and finite flux).

    """

    z: np.ndarray
    z_grid_best: np.ndarray
    chi2_min: np.ndarray
    template: np.ndarray
    amplitude: np.ndarray
    deltachi2: np.ndarray
    chi2: np.ndarray
    z_grid: np.ndarray
    npix: np.ndarray


def _grid(name: str, value, min_size: int = 1) -> np.ndarray:
    try:
        g = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if g.ndim == 0:
        g = g.reshape(1)
    if g.ndim != 1 or g.size < min_size:
        raise ValueError(f"{name} must be 1-D with at least {min_size} values, got {_shape(g)}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} must be finite")
    if g.size > 1 and not np.all(np.diff(g) > 0):
        raise ValueError(f"{name} must be strictly increasing")
    return g


def _edges_from_centres(c: np.ndarray) -> np.ndarray:
    """Bin edges half-way between centres, the outer ones half a spacing outside."""
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def _parabola_vertex(z: np.ndarray, c: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through (z, c) at i-1, i, i+1, per row; z[i] where undefined."""
    zi = z[i]
    inner = (i > 0) & (i < z.size - 1)
    out = zi.copy()
    if not inner.any():
        return out
    rows = np.flatnonzero(inner)
    j = i[rows]
    z0, z1, z2 = z[j - 1], z[j], z[j + 1]
    c0, c1, c2 = c[rows, j - 1], c[rows, j], c[rows, j + 1]
    num = (z1 - z0) ** 2 * (c1 - c2) - (z1 - z2) ** 2 * (c1 - c0)
    den = (z1 - z0) * (c1 - c2) - (z1 - z2) * (c1 - c0)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = z1 - 0.5 * num / den
    good = np.isfinite(v) & (den != 0) & (v >= z0) & (v <= z2)
    out[rows[good]] = v[good]
    return out


def template_fit(
    wave,
    flux,
    ivar,
    templates,
    rest_wave,
    z_grid,
    *,
    nonnegative: bool = True,
    refine: bool = True,
    min_separation_kms: float = 1000.0,
    z_chunk: int = 64,
) -> TemplateFit:
    r"""Redshifts by chi-square template fitting over a redshift grid.

    For each spectrum f with inverse variance w, each template T_k and each
    grid redshift z, the template is averaged over the rest-frame interval
    :math:`[a, b] / (1 + z)` of every observed pixel ``[a, b]``
    (flux-conserving, the convention of :func:`deepz.redshift` and SpectRes:
    pixels are bins with edges half-way between centres; the template is 0
    outside its range), and scaled by the least-squares amplitude

    .. math:: a = \frac{\sum_i w_i f_i T_i}{\sum_i w_i T_i^2},\qquad
              \chi^2 = \sum_i w_i f_i^2 - \frac{(\sum_i w_i f_i T_i)^2}{\sum_i w_i T_i^2},

    and the curve :math:`\chi^2(z) = \min_k \chi^2_k(z)` is searched for its
    minimum. This is what redrock does (Bailey et al., DESI), much
    simplified: one template at a time instead of linear combinations of
    PCA eigenspectra, no Legendre polynomials, no per-pixel resolution
    matrix, and a parabola through the grid minimum instead of a fine
    re-scan. Fully vectorised numpy: per chunk of redshifts, two matrix
    products over all spectra and templates.

    Parameters
    ----------
    wave : array_like, shape (M,)
        Observed pixel centres in Angstrom, strictly increasing.
    flux : array_like, shape (N, M) or (M,)
        Spectra (any f_lambda units). NaN/inf pixels are masked.
    ivar : array_like, shape of ``flux``, or None
        Inverse variances, finite and >= 0 (0 = masked). None: all 1.
    templates : array_like, shape (K, M_rest) or (M_rest,)
        Rest-frame templates on ``rest_wave``. They should cover
        ``wave / (1 + z)`` for every grid z: outside their range they are 0,
        so uncovered pixels count in chi-square as unfitted flux (which
        penalises such redshifts rather than dropping pixels and making
        chi-square values incomparable across z).
    rest_wave : array_like, shape (M_rest,)
        Rest-frame wavelengths in Angstrom, strictly increasing.
    z_grid : array_like, shape (Z,)
        Trial redshifts, strictly increasing, > -1. The result is only as
        good as the grid: steps much coarser than the line widths miss
        minima (redrock's own weakness); the parabola refines within a step.
    nonnegative : bool, optional
        Refuse negative amplitudes (a negative galaxy is unphysical): such
        fits get a = 0 and chi2 = sum(w f^2).
    refine : bool, optional
        Refine ``z`` by a parabola through the grid minimum.
    min_separation_kms : float, optional
        Velocity separation :math:`c |z - z_{best}| / (1 + z_{best})` beyond
        which a local minimum counts as a distinct solution for
        ``deltachi2``.
    z_chunk : int, optional
        Redshifts evaluated at once (memory: ``z_chunk * K * M`` floats).

    Returns
    -------
    TemplateFit
        Best z, chi-square curve, deltachi2, template and amplitude; see
        :class:`TemplateFit`.

    Raises
    ------
    ValueError
        Shapes that do not match, non-increasing grids, ``z_grid <= -1``,
        negative or NaN ``ivar``, a spectrum with no usable pixel.

    Examples
    --------
    >>> import numpy as np
    >>> rest = np.linspace(3000, 8000, 5001)
    >>> tmpl = 1 + np.exp(-0.5 * ((rest - 5000) / 3) ** 2)
    >>> wave = np.linspace(6000, 7000, 1001)
    >>> flux = np.interp(wave / 1.3, rest, tmpl)
    >>> fit = template_fit(wave, flux, None, tmpl, rest, np.arange(1.0, 1.6, 0.001) - 0.9)
    >>> round(float(fit.z), 3)
    0.3

    """
    w_obs = _grid("wave", wave, min_size=2)
    try:
        f = np.array(flux, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"flux must be an array of real numbers: {err}") from None
    was_1d = f.ndim == 1
    if was_1d:
        f = f[None, :]
    if f.ndim != 2 or f.shape[1] != w_obs.size or f.shape[0] == 0:
        raise ValueError(
            f"flux must have shape ({w_obs.size},) or (N, {w_obs.size}) to match "
            f"wave, got {_shape(np.asarray(flux))}"
        )
    if ivar is None:
        iv = np.ones_like(f)
    else:
        iv = np.array(ivar, dtype=np.float64)
        if was_1d and iv.ndim == 1:
            iv = iv[None, :]
        if iv.shape != f.shape:
            raise ValueError(f"ivar must have the shape of flux {_shape(f)}, got {_shape(iv)}")
        if not np.all(np.isfinite(iv)) or np.any(iv < 0):
            raise ValueError("ivar must be finite and >= 0 (0 marks a masked pixel)")
    bad = ~np.isfinite(f)
    iv[bad] = 0.0
    f[bad] = 0.0
    npix = (iv > 0).sum(axis=1)
    if np.any(npix == 0):
        raise ValueError(
            f"flux: spectrum {int(np.flatnonzero(npix == 0)[0])} has no pixel with ivar > 0"
        )
    rw = _grid("rest_wave", rest_wave, min_size=2)
    try:
        t = np.asarray(templates, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"templates must be an array of real numbers: {err}") from None
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[1] != rw.size or t.shape[0] == 0:
        raise ValueError(
            f"templates must have shape ({rw.size},) or (K, {rw.size}) to match "
            f"rest_wave, got {_shape(np.asarray(templates))}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError("templates must be finite")
    zg = _grid("z_grid", z_grid, min_size=1)
    if np.any(zg <= -1):
        raise ValueError("z_grid must be > -1")
    sep = float(min_separation_kms)
    if not sep >= 0:
        raise ValueError(f"min_separation_kms must be >= 0, got {min_separation_kms!r}")
    if int(z_chunk) < 1:
        raise ValueError(f"z_chunk must be >= 1, got {z_chunk!r}")

    n, k, nz = f.shape[0], t.shape[0], zg.size
    obs_edges = _edges_from_centres(w_obs)
    rest_edges = _edges_from_centres(rw)
    # cumulative integral of each piecewise-constant template at its bin edges: (K, M_rest+1)
    cum = np.zeros((k, rw.size + 1))
    np.cumsum(t * np.diff(rest_edges)[None, :], axis=1, out=cum[:, 1:])
    wf = iv * f  # (N, M)
    ff = np.einsum("nm,nm->n", wf, f)  # (N,)
    chi2 = np.empty((n, nz))
    best_t = np.empty((n, nz), dtype=np.int64)
    best_a = np.empty((n, nz))
    for s in range(0, nz, int(z_chunk)):
        zc = zg[s : s + int(z_chunk)]
        # rest-frame edges of every observed pixel at every z: (Zc, M+1)
        x = obs_edges[None, :] / (1.0 + zc[:, None])
        width = np.diff(x, axis=1)  # (Zc, M)
        xf = x.ravel()
        # mean of each template over each pixel's rest interval, from its cumulative integral
        model = np.stack(
            [
                np.diff(np.interp(xf, rest_edges, ck).reshape(zc.size, -1), axis=1) / width
                for ck in cum
            ]
        )  # (K, Zc, M)
        model = model.transpose(1, 0, 2).reshape(-1, w_obs.size)  # (Zc*K, M)
        ft = wf @ model.T  # (N, Zc*K)
        tt = iv @ (model * model).T
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(tt > 0, ft / tt, 0.0)
            c2 = np.where(tt > 0, ff[:, None] - ft * a, ff[:, None])
        if nonnegative:
            neg = a < 0
            a = np.where(neg, 0.0, a)
            c2 = np.where(neg, ff[:, None], c2)
        c2 = c2.reshape(n, zc.size, k)
        a = a.reshape(n, zc.size, k)
        j = np.argmin(c2, axis=2)  # (N, Zc)
        chi2[:, s : s + zc.size] = np.take_along_axis(c2, j[..., None], axis=2)[..., 0]
        best_t[:, s : s + zc.size] = j
        best_a[:, s : s + zc.size] = np.take_along_axis(a, j[..., None], axis=2)[..., 0]

    rows = np.arange(n)
    i = np.argmin(chi2, axis=1)
    z_best_grid = zg[i]
    z_best = _parabola_vertex(zg, chi2, i) if refine else z_best_grid.copy()
    # local minima of each chi2 curve (end points compared with their one neighbour)
    left = np.concatenate([np.full((n, 1), np.inf), chi2[:, :-1]], axis=1)
    right = np.concatenate([chi2[:, 1:], np.full((n, 1), np.inf)], axis=1)
    is_min = (chi2 <= left) & (chi2 <= right)
    dv = C_KMS * np.abs(zg[None, :] - z_best_grid[:, None]) / (1.0 + z_best_grid[:, None])
    other = np.where(is_min & (dv > sep), chi2, np.inf).min(axis=1)
    chi2_min = chi2[rows, i]
    deltachi2 = other - chi2_min

    def shape_out(v):
        return v[0] if was_1d else v

    return TemplateFit(
        z=shape_out(z_best),
        z_grid_best=shape_out(z_best_grid),
        chi2_min=shape_out(chi2_min),
        template=shape_out(best_t[rows, i]),
        amplitude=shape_out(best_a[rows, i]),
        deltachi2=shape_out(deltachi2),
        chi2=shape_out(chi2),
        z_grid=zg,
        npix=shape_out(npix),
    )
