"""The seeds' metrics: redshift residuals, classification scores, PDF calibration.

Every function takes plain arrays (lists work too) and returns numbers or
numpy arrays; nothing here draws random numbers or needs a network. The
formulas follow the papers deepz reproduces (see each docstring):

- photometric / spectroscopic redshift point metrics: Pasquet et al. 2019
  (A&A 621, A26), Ilbert et al. 2006 (A&A 457, 841), Brammer et al. 2008
  (ApJ 686, 1503);
- GaSNet-II (Zhong et al. 2024, MNRAS 532, 643): Bias, good fraction, MAE;
- classification: Stivaktakis et al. 2019 (IEEE Trans. Big Data) accuracy
  within +/-k redshift classes, confusion matrices, precision and recall;
- PDFs and uncertainties: PIT (Dawid 1984; Polsterer et al. 2016), CRPS
  (Hersbach 2000), coverage and pulls, reliability diagrams and the expected
  calibration error (Naeini et al. 2015; Guo et al. 2017).

Argument order
--------------
Predictions come first, truths second: ``f(z_pred, z_true)``,
``f(y_pred, y_true)``. (scikit-learn uses the opposite order; keyword
arguments avoid any doubt.)

Bad input and failed predictions
--------------------------------
A shape mismatch, an empty array, a truth that is NaN or infinite, a
redshift ``z_true <= -1`` raise ``ValueError`` naming the argument. A
prediction that is NaN or infinite is a *failed prediction*, never dropped
in silence:

- rates (outlier fraction, catastrophic rate, good fraction, accuracy,
  coverage) keep failures in the denominator and count them as outliers /
  wrong / not covered;
- location and scale statistics (bias, sigma_MAD, NMAD, sigma_68, MAE) are
  computed over the finite predictions only, and a WARNING is logged with
  the number left out; :func:`summary` reports ``n_failed`` and
  ``failure_fraction`` beside them;
- the median absolute pull counts a failure as an infinite pull.

Examples
--------
>>> import numpy as np
>>> from deepz import metrics
>>> z_true = np.array([0.1, 0.5, 1.0, 2.0])
>>> z_pred = np.array([0.11, 0.5, 1.3, np.nan])
>>> s = metrics.summary(z_pred, z_true)
>>> s["n_failed"], round(s["outlier_fraction"], 3)
(1, 0.5)

"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "GAUSSIAN_COVERAGE",
    "GOOD_THRESHOLDS",
    "MAD_TO_SIGMA",
    "accuracy",
    "accuracy_within",
    "bias",
    "by_bins",
    "catastrophic_rate",
    "classification_summary",
    "confusion_matrix",
    "coverage",
    "crps",
    "gasnet_bias",
    "good_fraction",
    "good_fraction_by_class",
    "mae",
    "median_abs_pull",
    "nmad",
    "nz_comparison",
    "outlier_fraction",
    "pdf_cdf",
    "pdf_point_estimates",
    "pdf_quantile",
    "pit",
    "pit_gaussian",
    "pit_histogram",
    "precision_recall",
    "pulls",
    "reliability",
    "residuals",
    "sigma_68",
    "sigma_mad",
    "summary",
]

logger = logging.getLogger(__name__)

#: 1 / Phi^-1(3/4): turns a median absolute deviation into a Gaussian sigma.
MAD_TO_SIGMA = 1.4826

#: Fraction of a Gaussian within +-k sigma, k = 1, 2, 3.
GAUSSIAN_COVERAGE = {1: 0.6826894921370859, 2: 0.9544997361036416, 3: 0.9973002039367398}

#: Median |pull| of calibrated Gaussian errors: Phi^-1(3/4).
_MEDIAN_ABS_PULL_GAUSS = 0.6744897501960817

#: GaSNet-II's "good" thresholds on Bias = |ln((1+z_t)/(1+z_p))| per class.
GOOD_THRESHOLDS = {"GALAXY": 0.0015, "QSO": 0.015}

_ROWS_PER_CHUNK = 4096  # rows of an (N, K) PDF array processed at once


# -----------------------------------------------------------------------------
# argument checks
# -----------------------------------------------------------------------------


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else "") + ")"


def _real_1d(name: str, value, *, finite: bool) -> np.ndarray:
    """Return a non-empty 1-D float64 array; ``finite`` refuses NaN/inf."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, shape (N,), got shape {_shape(arr)}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: at least one value is needed")
    if finite and not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite: it holds {arr[i]} at index {i}")
    return arr


def _same_length(names: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
    n = arrays[0].shape[0]
    for name, arr in zip(names[1:], arrays[1:], strict=True):
        if arr.shape[0] != n:
            raise ValueError(
                f"{name} has {arr.shape[0]} values but {names[0]} has {n}: "
                "they must have the same length"
            )


def _z_pair(z_pred, z_true) -> tuple[np.ndarray, np.ndarray]:
    """Check a (prediction, truth) pair of redshifts."""
    zt = _real_1d("z_true", z_true, finite=True)
    zp = _real_1d("z_pred", z_pred, finite=False)
    _same_length(("z_pred", "z_true"), (zp, zt))
    if np.any(zt <= -1):
        i = int(np.flatnonzero(zt <= -1)[0])
        raise ValueError(f"z_true must be > -1: it holds {zt[i]} at index {i}")
    return zp, zt


def _positive_scalar(name: str, value, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        what = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {what}, got {value!r}")
    return v


def _labels(name: str, value, *, finite: bool) -> np.ndarray:
    """Return a non-empty 1-D array of labels (ints, strings, floats)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, shape (N,), got shape {_shape(arr)}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: at least one label is needed")
    if arr.dtype == object:
        raise TypeError(f"{name} must hold numbers or strings, got dtype object")
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must not hold NaN or inf: {arr[i]} at index {i}")
    return arr


def _failed_labels(arr: np.ndarray) -> np.ndarray:
    """Boolean mask of failed label predictions (NaN/inf floats)."""
    if arr.dtype.kind == "f":
        return ~np.isfinite(arr)
    return np.zeros(arr.shape, dtype=bool)


def _warn_failed(what: str, n_failed: int, n: int) -> None:
    if n_failed:
        logger.warning(
            "%s: %d of %d predictions are NaN/inf (failed); computed over the other %d",
            what,
            n_failed,
            n,
            n - n_failed,
        )


# -----------------------------------------------------------------------------
# redshift point metrics
# -----------------------------------------------------------------------------


def residuals(z_pred, z_true) -> np.ndarray:
    r"""Normalised redshift residuals, :math:`\Delta z = (z_p - z_s) / (1 + z_s)`.

    The residual of Pasquet et al. 2019 (eq. 3) and of most photo-z papers.

    Parameters
    ----------
    z_pred : array_like, shape (N,)
        Predicted redshifts; NaN/inf marks a failed prediction.
    z_true : array_like, shape (N,)
        True (spectroscopic) redshifts, finite and > -1.

    Returns
    -------
    ndarray, shape (N,)
        float64 residuals; NaN where the prediction failed.

    Raises
    ------
    ValueError
        Empty input, different lengths, ``z_true`` not finite or <= -1.

    Examples
    --------
    >>> residuals([1.1], [1.0])
    array([0.05])

    """
    zp, zt = _z_pair(z_pred, z_true)
    with np.errstate(invalid="ignore"):
        dz = (zp - zt) / (1.0 + zt)
    dz[~np.isfinite(zp)] = np.nan
    return dz


def _finite_dz(z_pred, z_true, what: str, warn: bool = True) -> tuple[np.ndarray, int]:
    dz = residuals(z_pred, z_true)
    ok = np.isfinite(dz)
    n_failed = int(dz.size - ok.sum())
    if warn:
        _warn_failed(what, n_failed, dz.size)
    return dz[ok], n_failed


def bias(z_pred, z_true) -> float:
    r"""Mean normalised residual, :math:`\langle \Delta z \rangle`.

    The bias of Pasquet et al. 2019 (section 4.1), with
    :math:`\Delta z = (z_p - z_s)/(1 + z_s)` (see :func:`residuals`).

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).

    Returns
    -------
    float
        The mean over the finite predictions (failures are left out and
        logged); NaN if every prediction failed.

    Raises
    ------
    ValueError
        As :func:`residuals`.

    """
    dz, _ = _finite_dz(z_pred, z_true, "bias")
    return float(np.mean(dz)) if dz.size else math.nan


def _sigma_mad(dz: np.ndarray) -> float:
    if dz.size == 0:
        return math.nan
    return float(MAD_TO_SIGMA * np.median(np.abs(dz - np.median(dz))))


def sigma_mad(z_pred, z_true) -> float:
    r"""Robust scatter sigma_MAD = 1.4826 median(|dz - median(dz)|).

    :math:`\sigma_{MAD} = 1.4826\,\mathrm{median}(|\Delta z - \mathrm{median}(\Delta z)|)`.

    The scatter of Pasquet et al. 2019 (section 4.1); it is the normalised
    median absolute deviation of Brammer et al. 2008 ("NMAD" in many papers;
    compare :func:`nmad`, which does not subtract the median). For Gaussian
    residuals it equals their standard deviation.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).

    Returns
    -------
    float
        Computed over the finite predictions (failures left out and logged);
        NaN if every prediction failed.

    Raises
    ------
    ValueError
        As :func:`residuals`.

    Examples
    --------
    >>> round(sigma_mad([1.0, 1.2, 1.4, 1.2], [1.0, 1.0, 1.0, 1.0]), 4)
    0.0741

    """
    dz, _ = _finite_dz(z_pred, z_true, "sigma_mad")
    return _sigma_mad(dz)


def _nmad(dz: np.ndarray) -> float:
    return float(1.48 * np.median(np.abs(dz))) if dz.size else math.nan


def nmad(z_pred, z_true) -> float:
    r"""Ilbert et al. 2006 scatter :math:`\sigma = 1.48\,\mathrm{median}(|\Delta z|)`.

    The normalised median absolute deviation *about zero* (Ilbert et al.
    2006, A&A 457, 841, section 5.1), which folds the bias into the scatter.
    The median-centred version (Brammer et al. 2008, Pasquet et al. 2019) is
    :func:`sigma_mad`; the two agree when the median residual is 0.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).

    Returns
    -------
    float
        Over the finite predictions (failures left out and logged); NaN if
        every prediction failed.

    Raises
    ------
    ValueError
        As :func:`residuals`.

    """
    dz, _ = _finite_dz(z_pred, z_true, "nmad")
    return _nmad(dz)


def _sigma_68(dz: np.ndarray) -> float:
    if dz.size == 0:
        return math.nan
    lo, hi = np.percentile(dz, [50 * (1 - GAUSSIAN_COVERAGE[1]), 50 * (1 + GAUSSIAN_COVERAGE[1])])
    return float(0.5 * (hi - lo))


def sigma_68(z_pred, z_true) -> float:
    r"""Half-width of the central 68.27 % interval of :math:`\Delta z`.

    :math:`\sigma_{68} = (P_{84.13} - P_{15.87}) / 2` of the residuals, the
    percentile scatter used by e.g. the DES and Euclid photo-z challenges;
    equal to the standard deviation for Gaussian residuals, but unlike
    :func:`sigma_mad` it feels the tails up to the 16th/84th percentile.
    Percentiles interpolate linearly between order statistics.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).

    Returns
    -------
    float
        Over the finite predictions (failures left out and logged); NaN if
        every prediction failed.

    Raises
    ------
    ValueError
        As :func:`residuals`.

    """
    dz, _ = _finite_dz(z_pred, z_true, "sigma_68")
    return _sigma_68(dz)


def _rate_above(dz: np.ndarray, threshold: float) -> float:
    # NaN residuals (failures) count as above the threshold
    with np.errstate(invalid="ignore"):
        good = np.abs(dz) <= threshold
    return float(np.mean(~good))


def outlier_fraction(z_pred, z_true, threshold: float = 0.05) -> float:
    r"""Outlier fraction :math:`\eta`: share of objects with :math:`|\Delta z| > t`.

    Pasquet et al. 2019 (section 4.1) use :math:`t = 0.05` for photometric
    redshifts.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).
    threshold : float, optional
        The bound ``t`` on ``|dz| = |z_pred - z_true| / (1 + z_true)``, > 0.

    Returns
    -------
    float
        Fraction in [0, 1]; a failed (NaN/inf) prediction counts as an outlier.

    Raises
    ------
    ValueError
        As :func:`residuals`, or ``threshold`` not > 0.

    """
    t = _positive_scalar("threshold", threshold)
    return _rate_above(residuals(z_pred, z_true), t)


def catastrophic_rate(z_pred, z_true, threshold: float = 0.01) -> float:
    r"""Catastrophic-failure rate: share of objects with :math:`|\Delta z| > t`.

    The spectroscopic counterpart of :func:`outlier_fraction` with a tighter
    default, :math:`t = 0.01` in :math:`|z_p - z_s|/(1 + z_s)` (the deepz
    goal for spectra; about 3000 km/s).

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).
    threshold : float, optional
        The bound on ``|dz|``, > 0.

    Returns
    -------
    float
        Fraction in [0, 1]; a failed prediction counts as catastrophic.

    Raises
    ------
    ValueError
        As :func:`residuals`, or ``threshold`` not > 0.

    """
    t = _positive_scalar("threshold", threshold)
    return _rate_above(residuals(z_pred, z_true), t)


def gasnet_bias(z_pred, z_true) -> np.ndarray:
    r"""GaSNet-II per-object Bias, :math:`|\ln((1 + z_t)/(1 + z_p))|`.

    Zhong et al. 2024 (MNRAS 532, 643), eq. 9. To first order it equals
    :math:`|\Delta z|`; it is symmetric in over- and under-estimates.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).

    Returns
    -------
    ndarray, shape (N,)
        float64; NaN where the prediction failed or ``z_pred <= -1``.

    Raises
    ------
    ValueError
        As :func:`residuals`.

    """
    zp, zt = _z_pair(z_pred, z_true)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.abs(np.log1p(zt) - np.log1p(zp))
    b[~np.isfinite(b)] = np.nan
    return b


def good_fraction(z_pred, z_true, threshold: float = 0.0015) -> float:
    r"""GaSNet-II good fraction: share of objects with Bias below a threshold.

    Zhong et al. 2024 count a redshift as good when
    :math:`|\ln((1+z_t)/(1+z_p))| < 0.0015` for galaxies and ``< 0.015``
    for QSOs (:data:`GOOD_THRESHOLDS`; per class: :func:`good_fraction_by_class`).

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).
    threshold : float, optional
        The bound on the Bias (strict: ``Bias < threshold``), > 0.

    Returns
    -------
    float
        Fraction in [0, 1]; a failed prediction is not good.

    Raises
    ------
    ValueError
        As :func:`residuals`, or ``threshold`` not > 0.

    """
    t = _positive_scalar("threshold", threshold)
    b = gasnet_bias(z_pred, z_true)
    with np.errstate(invalid="ignore"):
        return float(np.mean(b < t))


def _threshold_for(cls: str, thresholds: Mapping[str, float]) -> float | None:
    """Exact (case-insensitive) match first, then the longest key that prefixes ``cls``."""
    name = str(cls).upper()
    table = {str(k).upper(): float(v) for k, v in thresholds.items()}
    if name in table:
        return table[name]
    prefixes = [k for k in table if name.startswith(k)]
    return table[max(prefixes, key=len)] if prefixes else None


def good_fraction_by_class(
    z_pred, z_true, classes, thresholds: Mapping[str, float] | None = None
) -> dict[str, float]:
    """GaSNet-II good fraction per class, each with its own threshold.

    Zhong et al. 2024 use Bias < 0.0015 for galaxies and < 0.015 for QSOs.
    A class takes the threshold of its exact name (case-insensitive) or else
    of the longest name it starts with, so ``"GALAXY_SF"`` and
    ``"QSO_BAL"`` use the ``GALAXY`` and ``QSO`` values.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).
    classes : array_like of str, shape (N,)
        The (true) class of each object.
    thresholds : mapping of str to float, optional
        Class name -> Bias threshold; default :data:`GOOD_THRESHOLDS`.

    Returns
    -------
    dict of str to float
        Good fraction per class present in ``classes``. Classes with no
        threshold (e.g. ``STAR``) are left out (their redshift is not judged
        by GaSNet-II); a DEBUG message names them.

    Raises
    ------
    ValueError
        As :func:`residuals`, or ``classes`` of the wrong length.

    """
    b = gasnet_bias(z_pred, z_true)
    cl = _labels("classes", classes, finite=True).astype(str)
    _same_length(("z_pred", "classes"), (b, cl))
    thresholds = GOOD_THRESHOLDS if thresholds is None else thresholds
    out: dict[str, float] = {}
    skipped = []
    for c in np.unique(cl):
        t = _threshold_for(c, thresholds)
        if t is None:
            skipped.append(str(c))
            continue
        with np.errstate(invalid="ignore"):
            out[str(c)] = float(np.mean(b[cl == c] < t))
    if skipped:
        logger.debug("good_fraction_by_class: no threshold for %s; left out", skipped)
    return out


def mae(z_pred, z_true) -> float:
    r"""Mean absolute error in redshift, :math:`\langle |z_p - z_t| \rangle`.

    As reported by Zhong et al. 2024 (GaSNet-II) and Yurchuk & Skyruta
    (0.0169 before, 0.0139 after line correction). Note: in z, not in
    :math:`\Delta z`.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).

    Returns
    -------
    float
        Over the finite predictions (failures left out and logged); NaN if
        every prediction failed.

    Raises
    ------
    ValueError
        As :func:`residuals`.

    """
    zp, zt = _z_pair(z_pred, z_true)
    ok = np.isfinite(zp)
    _warn_failed("mae", int(zp.size - ok.sum()), zp.size)
    return float(np.mean(np.abs(zp[ok] - zt[ok]))) if ok.any() else math.nan


def summary(
    z_pred,
    z_true,
    sigma=None,
    *,
    outlier_threshold: float = 0.05,
    catastrophic_threshold: float = 0.01,
    good_threshold: float = 0.0015,
) -> dict[str, float | int]:
    """All point metrics of a set of redshift predictions, as a JSON-ready dict.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (see :func:`residuals`).
    sigma : array_like, shape (N,), optional
        Predicted 1-sigma errors on ``z_pred`` (in z). When given, the
        coverage and pull metrics are added (see :func:`coverage`).
    outlier_threshold, catastrophic_threshold : float, optional
        Bounds on ``|dz|`` of :func:`outlier_fraction` (0.05) and
        :func:`catastrophic_rate` (0.01).
    good_threshold : float, optional
        The Bias bound of :func:`good_fraction` (0.0015, GaSNet-II galaxies).

    Returns
    -------
    dict
        ``n``, ``n_failed``, ``failure_fraction``, ``bias``, ``sigma_mad``,
        ``nmad``, ``sigma_68``, ``mae``, ``outlier_fraction``,
        ``catastrophic_rate``, ``good_fraction``, ``median_gasnet_bias``;
        with ``sigma`` also ``coverage_1``, ``coverage_2``, ``coverage_3`` and
        ``median_abs_pull``. Values are Python ints and floats (NaN where
        undefined, e.g. every prediction failed). Failures are counted in the
        rates and left out of bias/scatter/MAE (see the module notes); one
        WARNING is logged when there are any.

    Raises
    ------
    ValueError
        As :func:`residuals` and :func:`coverage`.

    """
    zp, zt = _z_pair(z_pred, z_true)
    dz = residuals(zp, zt)
    ok = np.isfinite(dz)
    n, n_failed = int(dz.size), int(dz.size - ok.sum())
    _warn_failed("summary", n_failed, n)
    dzf = dz[ok]
    gb = gasnet_bias(zp, zt)
    out: dict[str, float | int] = {
        "n": n,
        "n_failed": n_failed,
        "failure_fraction": n_failed / n,
        "bias": float(np.mean(dzf)) if dzf.size else math.nan,
        "sigma_mad": _sigma_mad(dzf),
        "nmad": _nmad(dzf),
        "sigma_68": _sigma_68(dzf),
        "mae": float(np.mean(np.abs(zp[ok] - zt[ok]))) if dzf.size else math.nan,
        "outlier_fraction": _rate_above(
            dz, _positive_scalar("outlier_threshold", outlier_threshold)
        ),
        "catastrophic_rate": _rate_above(
            dz, _positive_scalar("catastrophic_threshold", catastrophic_threshold)
        ),
        "good_fraction": good_fraction(zp, zt, _positive_scalar("good_threshold", good_threshold)),
        "median_gasnet_bias": float(np.median(gb[np.isfinite(gb)])) if dzf.size else math.nan,
    }
    if sigma is not None:
        cov = coverage(zp, sigma, zt)
        for k, v in cov.items():
            out[f"coverage_{k}"] = v
        out["median_abs_pull"] = median_abs_pull(zp, sigma, zt)
    return out


# -----------------------------------------------------------------------------
# classification
# -----------------------------------------------------------------------------


def _label_pair(y_pred, y_true) -> tuple[np.ndarray, np.ndarray]:
    yt = _labels("y_true", y_true, finite=True)
    yp = _labels("y_pred", y_pred, finite=False)
    _same_length(("y_pred", "y_true"), (yp, yt))
    if (yp.dtype.kind in "US") != (yt.dtype.kind in "US"):
        raise TypeError(
            f"y_pred and y_true must both hold strings or both numbers, got dtypes "
            f"{yp.dtype} and {yt.dtype}"
        )
    return yp, yt


def accuracy(y_pred, y_true) -> float:
    """Fraction of correct labels.

    Parameters
    ----------
    y_pred : array_like, shape (N,)
        Predicted labels (integers, e.g. redshift-class indices, or strings).
        A NaN in a float array is a failed prediction and counts as wrong.
    y_true : array_like, shape (N,)
        True labels.

    Returns
    -------
    float
        Fraction in [0, 1].

    Raises
    ------
    ValueError
        Empty input, different lengths, NaN in ``y_true``.

    """
    yp, yt = _label_pair(y_pred, y_true)
    return float(np.mean(yp == yt))


def _class_indices(name: str, arr: np.ndarray, *, allow_failed: bool) -> np.ndarray:
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    ok = np.isfinite(arr)
    if not allow_failed and not ok.all():
        raise ValueError(f"{name} must be finite")
    if np.any(arr[ok] != np.round(arr[ok])):
        i = int(np.flatnonzero(ok & (arr != np.round(arr)))[0])
        raise ValueError(f"{name} must hold integer class indices: {arr[i]} at index {i}")
    return arr


def accuracy_within(y_pred, y_true, k: int = 1) -> float:
    r"""Fraction of predictions within :math:`\pm k` classes of the truth.

    Stivaktakis et al. 2019 judge a redshift-slot classifier also by whether
    the predicted slot is the true one or a neighbour ("within +/-1 class",
    i.e. +/-0.001 in z for 800 slots of 0.001): :math:`|c_p - c_t| \le k`.
    ``k = 0`` is :func:`accuracy`. The result never decreases with ``k``.

    Parameters
    ----------
    y_pred : array_like of int, shape (N,)
        Predicted class indices (ordered classes, e.g. redshift slots). A
        float array may hold NaN for failed predictions (counted as wrong).
    y_true : array_like of int, shape (N,)
        True class indices.
    k : int, optional
        Tolerance in classes, >= 0.

    Returns
    -------
    float
        Fraction in [0, 1].

    Raises
    ------
    ValueError
        Empty input, different lengths, non-integer indices, ``k < 0``.
    TypeError
        Labels that are not numbers (ordered indices are needed).

    """
    yp, yt = _label_pair(y_pred, y_true)
    yt = _class_indices("y_true", yt, allow_failed=False)
    yp = _class_indices("y_pred", yp, allow_failed=True)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    with np.errstate(invalid="ignore"):
        return float(np.mean(np.abs(yp - yt) <= k))


def confusion_matrix(y_pred, y_true, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrix: rows are true labels, columns predicted labels.

    Parameters
    ----------
    y_pred, y_true : array_like, shape (N,)
        Predicted and true labels (integers or strings). A failed prediction
        (NaN) or a predicted label not in ``labels`` falls in no column, so a
        row may sum to less than the class's support; :func:`precision_recall`
        counts it as a miss.
    labels : array_like, optional
        The classes and their order. Default: the sorted union of the true
        labels and the (finite) predicted labels.

    Returns
    -------
    matrix : ndarray of int64, shape (C, C)
        ``matrix[i, j]`` = number of objects of true class ``labels[i]``
        predicted as ``labels[j]`` (the scikit-learn convention).
    labels : ndarray, shape (C,)
        The classes, in the order of the rows and columns.

    Raises
    ------
    ValueError
        Bad input as in :func:`accuracy`; ``y_true`` holding a label not in
        ``labels``; ``labels`` with duplicates.

    """
    yp, yt = _label_pair(y_pred, y_true)
    failed = _failed_labels(yp)
    if labels is None:
        labels = np.unique(np.concatenate([yt, yp[~failed]]))
    else:
        labels = _labels("labels", labels, finite=True)
        if np.unique(labels).size != labels.size:
            raise ValueError("labels must not hold duplicates")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]

    def index_of(values: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(sorted_labels, values), 0, len(labels) - 1)
        return np.where(sorted_labels[pos] == values, order[pos], -1)

    it = index_of(yt)
    if np.any(it < 0):
        missing = np.unique(yt[it < 0])[:5]
        raise ValueError(f"y_true holds labels not in labels: {missing.tolist()}")
    ip = index_of(yp)
    ip[failed] = -1
    c = len(labels)
    keep = ip >= 0
    matrix = np.bincount(it[keep] * c + ip[keep], minlength=c * c).reshape(c, c)
    return matrix.astype(np.int64), labels


def precision_recall(y_pred, y_true, labels=None) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support.

    precision = TP / (number predicted as the class), recall = TP / (number
    truly in the class), F1 their harmonic mean.

    Parameters
    ----------
    y_pred, y_true, labels
        As :func:`confusion_matrix`. Failed predictions count as misses in
        recall and in no class's precision.

    Returns
    -------
    dict
        ``labels``, ``precision``, ``recall``, ``f1`` (float arrays, NaN for
        a class never predicted / absent from the truths), ``support`` (int).

    Raises
    ------
    ValueError
        As :func:`confusion_matrix`.

    """
    m, labels = confusion_matrix(y_pred, y_true, labels)
    yt = _labels("y_true", y_true, finite=True)
    support = np.array([(yt == lab).sum() for lab in labels], dtype=np.int64)
    tp = np.diag(m).astype(np.float64)
    predicted = m.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        f1 = np.where(
            precision + recall > 0,
            2 * precision * recall / (precision + recall),
            np.where(np.isfinite(precision + recall), 0.0, np.nan),
        )
    return {
        "labels": labels,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
    }


def classification_summary(y_pred, y_true, k: int | None = 1) -> dict[str, float | int]:
    """Accuracy, failed count and, for ordered classes, accuracy within +-k.

    Parameters
    ----------
    y_pred, y_true : array_like, shape (N,)
        Predicted and true labels.
    k : int or None, optional
        Tolerance of :func:`accuracy_within`; ``None`` (or non-integer labels)
        skips it.

    Returns
    -------
    dict
        ``n``, ``n_failed``, ``accuracy`` and, where it applies,
        ``accuracy_within_<k>``.

    Raises
    ------
    ValueError
        As :func:`accuracy`.

    """
    yp, yt = _label_pair(y_pred, y_true)
    out: dict[str, float | int] = {
        "n": int(yt.size),
        "n_failed": int(_failed_labels(yp).sum()),
        "accuracy": accuracy(yp, yt),
    }
    if k is not None and yp.dtype.kind in "iubf" and yt.dtype.kind in "iubf":
        out[f"accuracy_within_{k}"] = accuracy_within(yp, yt, k)
    return out


# -----------------------------------------------------------------------------
# PDFs over redshift bins
# -----------------------------------------------------------------------------


def _edges(bins, k: int) -> np.ndarray:
    """Bin edges from ``bins``: K+1 edges, or K centres (edges half-way)."""
    b = _real_1d("bins", bins, finite=True)
    if b.size >= 2 and not np.all(np.diff(b) > 0):
        raise ValueError("bins must be strictly increasing")
    if b.size == k + 1:
        return b
    if b.size == k:
        if k < 2:
            raise ValueError("bins: one centre does not define a bin; give its two edges")
        mid = 0.5 * (b[1:] + b[:-1])
        return np.concatenate([[b[0] - (mid[0] - b[0])], mid, [b[-1] + (b[-1] - mid[-1])]])
    raise ValueError(
        f"bins must hold K+1 = {k + 1} edges or K = {k} centres for a pdf of K = {k} "
        f"bins, got {b.size} values"
    )


def _pdf_rows(pdf, bins) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (probabilities normalised per row, edges, failed rows)."""
    try:
        p = np.asarray(pdf, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"pdf must be an array of real numbers: {err}") from None
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2:
        raise ValueError(f"pdf must have shape (K,) or (N, K), got {_shape(p)}")
    if p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"pdf is empty: shape {_shape(p)}")
    edges = _edges(bins, p.shape[1])
    finite_rows = np.all(np.isfinite(p), axis=1)
    if np.any(p[finite_rows] < 0):
        raise ValueError("pdf must be >= 0 (probabilities per bin)")
    total = np.where(finite_rows, p.sum(axis=1, where=np.isfinite(p)), 0.0)
    failed = ~finite_rows | ~(total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / np.where(failed, 1.0, total)[:, None]
    p[failed] = np.nan
    return p, edges, failed


def _z_for_rows(name: str, value, n: int) -> np.ndarray:
    z = _real_1d(name, value, finite=True)
    if z.size == 1 and n > 1:
        z = np.full(n, z[0])
    if z.size != n:
        raise ValueError(f"{name} has {z.size} values but pdf has {n} rows")
    return z


def _cdf_at(p: np.ndarray, edges: np.ndarray, z: np.ndarray) -> np.ndarray:
    """CDF of each row's piecewise-constant density at z (one z per row)."""
    n, k = p.shape
    cum = np.zeros((n, k + 1))
    np.cumsum(p, axis=1, out=cum[:, 1:])
    j = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, k - 1)
    rows = np.arange(n)
    frac = np.clip((z - edges[j]) / (edges[j + 1] - edges[j]), 0.0, 1.0)
    f = cum[rows, j] + p[rows, j] * frac
    return np.clip(f, 0.0, 1.0)


def pdf_cdf(pdf, bins, z) -> np.ndarray:
    r"""CDF of binned PDFs at given redshifts (piecewise-linear inside bins).

    Each row of ``pdf`` is read as a piecewise-constant density: probability
    ``p_k`` spread uniformly over bin ``[e_k, e_{k+1})``. Its CDF is
    :math:`F(z) = \sum_{j<k} p_j + p_k (z - e_k)/(e_{k+1} - e_k)` inside bin
    k, 0 below the first edge and 1 above the last.

    Parameters
    ----------
    pdf : array_like, shape (N, K) or (K,)
        Probability of each bin (e.g. a softmax output); each row is
        normalised to sum 1. A row with NaN/inf or summing to 0 is a failed
        prediction (NaN result). Negative values raise.
    bins : array_like, shape (K+1,) or (K,)
        Bin edges, or bin centres (edges then lie half-way between centres,
        the outer ones half a spacing outside), strictly increasing.
    z : array_like, shape (N,) or scalar
        One redshift per row (a scalar is used for every row).

    Returns
    -------
    ndarray, shape (N,)
        F(z) in [0, 1]; NaN for failed rows.

    Raises
    ------
    ValueError
        Bad shapes, negative probabilities, non-increasing ``bins``,
        non-finite ``z``.

    """
    p, edges, failed = _pdf_rows(pdf, bins)
    z = _z_for_rows("z", z, p.shape[0])
    out = _cdf_at(np.nan_to_num(p), edges, z)
    out[failed] = np.nan
    return out


def pit(pdf, bins, z_true) -> np.ndarray:
    r"""Probability integral transform: the predicted CDF at the true redshift.

    :math:`\mathrm{PIT} = F(z_{true})` (Dawid 1984; Polsterer et al. 2016;
    used by Pasquet et al. 2019, Fig. 9). For calibrated PDFs the PIT values
    are uniform on [0, 1]: a U-shaped histogram means over-confident PDFs
    (too narrow), a hump under-confident ones, a slope a bias. The density
    is taken constant inside each bin, so F is interpolated linearly there
    (see :func:`pdf_cdf`).

    Parameters
    ----------
    pdf : array_like, shape (N, K) or (K,)
        Probability of each redshift bin (see :func:`pdf_cdf`).
    bins : array_like, shape (K+1,) or (K,)
        Bin edges or centres (see :func:`pdf_cdf`).
    z_true : array_like, shape (N,)
        True redshifts, finite. Below the first edge PIT = 0, above the last 1.

    Returns
    -------
    ndarray, shape (N,)
        PIT values in [0, 1]; NaN for failed (NaN/all-zero) PDF rows.

    Raises
    ------
    ValueError
        As :func:`pdf_cdf`.

    Examples
    --------
    >>> round(float(pit([[0.0, 1.0, 0.0]], [0.0, 0.1, 0.2, 0.3], [0.125])[0]), 12)
    0.25

    """
    p, edges, failed = _pdf_rows(pdf, bins)
    zt = _z_for_rows("z_true", z_true, p.shape[0])
    out = _cdf_at(np.nan_to_num(p), edges, zt)
    out[failed] = np.nan
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def pit_gaussian(z_pred, sigma, z_true) -> np.ndarray:
    r"""PIT of Gaussian predictions :math:`N(z_p, \sigma)`: :math:`\Phi((z_t - z_p)/\sigma)`.

    For regressors and ensembles that return a redshift and an error (e.g.
    GaSNet-II's ensemble mean and standard deviation) instead of a binned
    PDF; read the result like :func:`pit`.

    Parameters
    ----------
    z_pred : array_like, shape (N,)
        Predicted redshifts (NaN/inf: failed).
    sigma : array_like, shape (N,)
        Predicted 1-sigma errors, > 0 (NaN: failed).
    z_true : array_like, shape (N,)
        True redshifts.

    Returns
    -------
    ndarray, shape (N,)
        Values in [0, 1]; NaN where the prediction failed.

    Raises
    ------
    ValueError
        As :func:`pulls`.

    """
    t = -pulls(z_pred, sigma, z_true)
    out = np.full(t.shape, np.nan)
    ok = np.isfinite(t)
    out[ok] = 0.5 * (1.0 + _erf(t[ok] / math.sqrt(2.0)))
    return out


def pit_histogram(pit_values, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of PIT values, normalised so that a calibrated PDF gives 1.

    Parameters
    ----------
    pit_values : array_like, shape (N,)
        Output of :func:`pit` or :func:`pit_gaussian`. NaN values (failed
        predictions) are left out of the histogram and logged at WARNING;
        values outside [0, 1] raise.
    n_bins : int, optional
        Number of equal bins over [0, 1].

    Returns
    -------
    density : ndarray, shape (n_bins,)
        Counts divided by the mean count (1 everywhere for a flat histogram).
    edges : ndarray, shape (n_bins + 1,)
        Bin edges over [0, 1].

    Raises
    ------
    ValueError
        Empty input, every value NaN, values outside [0, 1], ``n_bins < 1``.

    """
    v = _real_1d("pit_values", pit_values, finite=False)
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    ok = np.isfinite(v)
    _warn_failed("pit_histogram", int(v.size - ok.sum()), v.size)
    v = v[ok]
    if v.size == 0:
        raise ValueError("pit_values holds no finite value")
    if np.any((v < 0) | (v > 1)):
        raise ValueError("pit_values must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    counts, _ = np.histogram(v, bins=edges)
    return counts * (int(n_bins) / v.size), edges


def _segment_sq_integral(width, fa, fb):
    """Exact integral of (F - h)^2 over a segment where F - h runs linearly fa -> fb."""
    return width * (fa * fa + fa * fb + fb * fb) / 3.0


def crps(pdf, bins, z_true) -> np.ndarray:
    r"""Continuous ranked probability score of binned PDFs, exactly.

    :math:`\mathrm{CRPS} = \int (F(z) - H(z - z_t))^2\,dz` (Hersbach 2000;
    Pasquet et al. 2019, eq. 6), with H the Heaviside step. F is the CDF of
    the piecewise-constant density of each row (:func:`pdf_cdf`), so it is
    linear inside every bin and the integral is computed in closed form bin
    by bin (the bin holding :math:`z_t` split in two), not by quadrature.
    A true redshift outside the bins adds its distance to the nearest edge.
    Units: redshift; lower is better, 0 only for a delta at :math:`z_t`.

    Parameters
    ----------
    pdf : array_like, shape (N, K) or (K,)
        Probability of each redshift bin (see :func:`pdf_cdf`).
    bins : array_like, shape (K+1,) or (K,)
        Bin edges or centres (see :func:`pdf_cdf`).
    z_true : array_like, shape (N,)
        True redshifts.

    Returns
    -------
    ndarray, shape (N,)
        CRPS >= 0 per object; NaN for failed PDF rows.

    Raises
    ------
    ValueError
        As :func:`pdf_cdf`.

    Notes
    -----
    For a uniform density on [a, b] and :math:`a \le z_t \le b`,
    :math:`\mathrm{CRPS} = ((z_t - a)^3 + (b - z_t)^3) / (3 (b - a)^2)`.
    Memory: rows are processed in chunks of 4096.

    """
    p, edges, failed = _pdf_rows(pdf, bins)
    zt = _z_for_rows("z_true", z_true, p.shape[0])
    p = np.nan_to_num(p)
    n, k = p.shape
    lo, hi = edges[:-1], edges[1:]
    w = hi - lo
    out = np.empty(n)
    for s in range(0, n, _ROWS_PER_CHUNK):
        pc, z = p[s : s + _ROWS_PER_CHUNK], zt[s : s + _ROWS_PER_CHUNK, None]
        cum = np.zeros((pc.shape[0], k + 1))
        np.cumsum(pc, axis=1, out=cum[:, 1:])
        fl, fr = cum[:, :-1], cum[:, 1:]
        below = hi <= z  # whole bin left of z_true: H = 0
        above = lo >= z  # whole bin right of z_true: H = 1
        inside = ~below & ~above
        total = np.where(below, _segment_sq_integral(w, fl, fr), 0.0)
        total += np.where(above, _segment_sq_integral(w, 1.0 - fl, 1.0 - fr), 0.0)
        # the bin containing z_true: [lo, z] with H = 0 and [z, hi] with H = 1
        fz = fl + pc * np.clip((z - lo) / w, 0.0, 1.0)
        part = _segment_sq_integral(z - lo, fl, fz)
        part += _segment_sq_integral(hi - z, 1.0 - fz, 1.0 - fr)
        total += np.where(inside, part, 0.0)
        res = total.sum(axis=1)
        zc = z[:, 0]
        res += np.clip(edges[0] - zc, 0.0, None)  # F = 0, H = 1 on [z_true, e_0]
        res += np.clip(zc - edges[-1], 0.0, None)  # F = 1, H = 0 on [e_K, z_true]
        out[s : s + _ROWS_PER_CHUNK] = res
    out[failed] = np.nan
    return out


def _quantiles(p: np.ndarray, edges: np.ndarray, q: float) -> np.ndarray:
    n, k = p.shape
    cum = np.cumsum(p, axis=1)
    j = np.argmax(cum >= q - 1e-12, axis=1)  # first bin whose right CDF reaches q
    rows = np.arange(n)
    before = cum[rows, j] - p[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(p[rows, j] > 0, (q - before) / p[rows, j], 0.0)
    return edges[j] + np.clip(frac, 0.0, 1.0) * (edges[j + 1] - edges[j])


def pdf_quantile(pdf, bins, q) -> np.ndarray:
    """Quantiles of binned PDFs (the inverse of :func:`pdf_cdf`).

    Parameters
    ----------
    pdf : array_like, shape (N, K) or (K,)
        Probability of each bin (see :func:`pdf_cdf`).
    bins : array_like, shape (K+1,) or (K,)
        Bin edges or centres.
    q : float
        Probability in [0, 1].

    Returns
    -------
    ndarray, shape (N,)
        z with F(z) = q, interpolated linearly inside the bin (the lowest
        such z where F is flat); NaN for failed rows.

    Raises
    ------
    ValueError
        As :func:`pdf_cdf`, or ``q`` outside [0, 1].

    """
    qv = float(q)
    if not 0.0 <= qv <= 1.0:
        raise ValueError(f"q must lie in [0, 1], got {q!r}")
    p, edges, failed = _pdf_rows(pdf, bins)
    out = _quantiles(np.nan_to_num(p), edges, qv)
    out[failed] = np.nan
    return out


def pdf_point_estimates(pdf, bins) -> dict[str, np.ndarray]:
    r"""Point estimates and widths of binned redshift PDFs.

    - ``mean`` :math:`= \sum_k z_k P(z_k)` with bin centres :math:`z_k` —
      Pasquet et al. 2019, eq. 2 (also the exact mean of the
      piecewise-constant density);
    - ``median``: F(z) = 0.5, linear inside the bin;
    - ``mode``: centre of the most probable bin (the argmax a classifier
      returns; the first one on ties);
    - ``std``: standard deviation of the piecewise-constant density,
      :math:`\sqrt{\sum_k P_k (z_k^2 + w_k^2/12) - \mathrm{mean}^2}`;
    - ``lo68``, ``hi68``: the 15.87 % and 84.13 % quantiles; ``width68`` =
      ``hi68 - lo68`` (2 sigma for a Gaussian);
    - ``confidence``: the largest bin probability (max softmax, the
      confidence of Stivaktakis et al. 2019).

    Parameters
    ----------
    pdf : array_like, shape (N, K) or (K,)
        Probability of each bin (see :func:`pdf_cdf`).
    bins : array_like, shape (K+1,) or (K,)
        Bin edges or centres.

    Returns
    -------
    dict of str to ndarray, shape (N,)
        Keys above; NaN for failed rows.

    Raises
    ------
    ValueError
        As :func:`pdf_cdf`.

    """
    p, edges, failed = _pdf_rows(pdf, bins)
    p0 = np.nan_to_num(p)
    centres = 0.5 * (edges[1:] + edges[:-1])
    w = np.diff(edges)
    mean = p0 @ centres
    var = p0 @ (centres**2 + w**2 / 12.0) - mean**2
    lo = _quantiles(p0, edges, 0.5 * (1 - GAUSSIAN_COVERAGE[1]))
    hi = _quantiles(p0, edges, 0.5 * (1 + GAUSSIAN_COVERAGE[1]))
    out = {
        "mean": mean,
        "median": _quantiles(p0, edges, 0.5),
        "mode": centres[np.argmax(p0, axis=1)],
        "std": np.sqrt(np.clip(var, 0.0, None)),
        "lo68": lo,
        "hi68": hi,
        "width68": hi - lo,
        "confidence": p0.max(axis=1),
    }
    for v in out.values():
        v[failed] = np.nan
    return out


# -----------------------------------------------------------------------------
# Gaussian errors: pulls and coverage
# -----------------------------------------------------------------------------


def pulls(z_pred, sigma, z_true) -> np.ndarray:
    r"""Compute pulls :math:`(z_p - z_t)/\sigma`: standard normal when errors are calibrated.

    Parameters
    ----------
    z_pred : array_like, shape (N,)
        Predicted redshifts (NaN/inf: failed).
    sigma : array_like, shape (N,)
        Predicted 1-sigma errors in z, > 0; NaN marks a failed prediction.
    z_true : array_like, shape (N,)
        True redshifts.

    Returns
    -------
    ndarray, shape (N,)
        NaN where the prediction or its error failed.

    Raises
    ------
    ValueError
        Shapes differ, ``z_true`` not finite, a finite ``sigma <= 0``.

    """
    zp, zt = _z_pair(z_pred, z_true)
    s = _real_1d("sigma", sigma, finite=False)
    _same_length(("z_pred", "sigma"), (zp, s))
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(s) & ~(s > 0)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"sigma must be > 0: it holds {s[i]} at index {i}")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (zp - zt) / s
    out[~(np.isfinite(zp) & np.isfinite(s))] = np.nan
    return out


def coverage(z_pred, sigma, z_true, k: Sequence[float] = (1, 2, 3)) -> dict[float, float]:
    r"""Fraction of objects with :math:`|z_p - z_t| / \sigma < k`.

    For calibrated Gaussian errors the fractions are 0.683, 0.954 and 0.997
    for k = 1, 2, 3 (:data:`GAUSSIAN_COVERAGE`); lower values mean the errors
    are too small. Failed predictions count as not covered.

    Parameters
    ----------
    z_pred, sigma, z_true : array_like, shape (N,)
        As :func:`pulls`.
    k : sequence of float, optional
        Thresholds in sigma, > 0.

    Returns
    -------
    dict
        ``{k: fraction}``; integer-valued k are given as ``int`` keys.

    Raises
    ------
    ValueError
        As :func:`pulls`, or a ``k`` not > 0.

    """
    a = np.abs(pulls(z_pred, sigma, z_true))
    out: dict[float, float] = {}
    for kk in np.atleast_1d(k):
        kv = _positive_scalar("k", kk)
        key = int(kv) if kv == int(kv) else kv
        with np.errstate(invalid="ignore"):
            out[key] = float(np.mean(a < kv))
    return out


def median_abs_pull(z_pred, sigma, z_true) -> float:
    r"""Median of :math:`|z_p - z_t|/\sigma`: 0.6745 for calibrated Gaussian errors.

    Below 0.6745 the errors are too large, above too small. (The published
    GaSNet-II ensemble errors give 0.44: too large where they should be
    calibrated.) A failed prediction counts as an infinite pull.

    Parameters
    ----------
    z_pred, sigma, z_true : array_like, shape (N,)
        As :func:`pulls`.

    Returns
    -------
    float
        The median absolute pull (``inf`` if more than half failed).

    Raises
    ------
    ValueError
        As :func:`pulls`.

    """
    a = np.abs(pulls(z_pred, sigma, z_true))
    a[np.isnan(a)] = np.inf
    return float(np.median(a))


# -----------------------------------------------------------------------------
# class-probability calibration
# -----------------------------------------------------------------------------


def reliability(probs, y_true, n_bins: int = 10, mode: str = "top") -> dict:
    r"""Reliability-diagram data and the expected calibration error (ECE).

    Predicted probabilities are binned on [0, 1]; in each bin the mean
    predicted probability is compared with the observed frequency of the
    event. :math:`\mathrm{ECE} = \sum_b (n_b / n) |\mathrm{freq}_b -
    \mathrm{conf}_b|` (Naeini et al. 2015; Guo et al. 2017, eq. 3), MCE the
    largest gap over non-empty bins.

    Parameters
    ----------
    probs : array_like, shape (N,) or (N, C)
        Binary case: the probability of the event for each object. Multiclass:
        class probabilities (rows should sum to 1; not renormalised).
        A row with NaN is a failed prediction: left out of the bins and
        counted in ``n_failed``.
    y_true : array_like, shape (N,)
        Binary case: 0/1 or bool outcomes. Multiclass: true class indices in
        ``[0, C)``.
    n_bins : int, optional
        Number of equal-width probability bins (the last one closed).
    mode : {"top", "classwise"}, optional
        Multiclass only. ``"top"``: the confidence (max probability) against
        whether the argmax is right (Guo et al. 2017). ``"classwise"``:
        every one of the N x C probabilities against the one-hot truth.

    Returns
    -------
    dict
        ``edges`` (n_bins+1,), ``confidence`` and ``frequency`` (n_bins,;
        NaN in empty bins), ``counts`` (n_bins,), ``ece``, ``mce`` (floats),
        ``n``, ``n_failed``.

    Raises
    ------
    ValueError
        Bad shapes, probabilities outside [0, 1], labels out of range, bad
        ``mode`` or ``n_bins``.

    """
    try:
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"probs must be an array of real numbers: {err}") from None
    if p.ndim not in (1, 2) or p.shape[0] == 0 or (p.ndim == 2 and p.shape[1] == 0):
        raise ValueError(f"probs must be a non-empty (N,) or (N, C) array, got shape {_shape(p)}")
    if mode not in ("top", "classwise"):
        raise ValueError(f"mode must be 'top' or 'classwise', got {mode!r}")
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    yt = _labels("y_true", y_true, finite=True)
    _same_length(("probs", "y_true"), (p, yt))
    rows_ok = np.all(np.isfinite(p), axis=1) if p.ndim == 2 else np.isfinite(p)
    if np.any((p[rows_ok] < 0) | (p[rows_ok] > 1)):
        raise ValueError("probs must lie in [0, 1]")
    y = _class_indices("y_true", yt, allow_failed=False).astype(np.int64)
    if p.ndim == 1:
        if np.any((y != 0) & (y != 1)):
            raise ValueError("y_true must be 0/1 (or bool) for 1-D probs")
        conf, hit = p[rows_ok], y[rows_ok].astype(np.float64)
    else:
        c = p.shape[1]
        if np.any((y < 0) | (y >= c)):
            raise ValueError(f"y_true must hold class indices in [0, {c}) for probs of {c} columns")
        pr, yr = p[rows_ok], y[rows_ok]
        if mode == "top":
            conf = pr.max(axis=1)
            hit = (pr.argmax(axis=1) == yr).astype(np.float64)
        else:
            conf = pr.ravel()
            hit = (np.arange(c)[None, :] == yr[:, None]).astype(np.float64).ravel()
    nb = int(n_bins)
    edges = np.linspace(0.0, 1.0, nb + 1)
    idx = np.clip(np.floor(conf * nb).astype(np.int64), 0, nb - 1)
    counts = np.bincount(idx, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=nb) / counts
        freq = np.bincount(idx, weights=hit, minlength=nb) / counts
    gaps = np.abs(freq - mean_conf)
    total = counts.sum()
    nonempty = counts > 0
    ece = float(np.sum(counts[nonempty] * gaps[nonempty]) / total) if total else math.nan
    mce = float(gaps[nonempty].max()) if total else math.nan
    n_failed = int(p.shape[0] - rows_ok.sum())
    _warn_failed("reliability", n_failed, p.shape[0])
    return {
        "edges": edges,
        "confidence": mean_conf,
        "frequency": freq,
        "counts": counts,
        "ece": ece,
        "mce": mce,
        "n": int(p.shape[0]),
        "n_failed": n_failed,
    }


# -----------------------------------------------------------------------------
# tables per bin, N(z)
# -----------------------------------------------------------------------------


def by_bins(values, bins, fn: Callable, *arrays, min_count: int = 1, **kwargs):
    """Tabulate a metric per bin of another quantity (S/N, magnitude, class).

    Objects are grouped by ``values``; for each group ``fn`` is called on the
    group's slice of every array in ``arrays`` (plus ``kwargs`` unchanged),
    e.g. ``by_bins(snr, [1, 3, 10, 50], summary, z_pred, z_true)`` or
    ``by_bins(classes, None, summary, z_pred, z_true)``.

    Parameters
    ----------
    values : array_like, shape (N,)
        What the groups are made of: numbers binned by ``bins``, or labels
        (strings or integers, when ``bins`` is None).
    bins : array_like or None
        Numeric bin edges, strictly increasing (the outer ones may be
        infinite): bins are ``[lo, hi)``, the last one ``[lo, hi]``. Objects
        outside every bin or with NaN ``values`` are left out (a WARNING
        gives their number). ``None``:
        one group per distinct value of ``values`` (sorted).
    fn : callable
        Called as ``fn(*sliced_arrays, **kwargs)``; returns a dict of scalars
        (one column each) or a scalar (column ``value``).
    *arrays : array_like, shape (N,) or (N, ...)
        Per-object arrays sliced along their first axis.
    min_count : int, optional
        Groups with fewer objects get NaN metrics instead of a call to ``fn``.
    **kwargs
        Passed to ``fn`` unchanged.

    Returns
    -------
    astropy.table.Table
        One row per bin: ``lo``, ``hi`` (numeric bins) or ``group`` (labels),
        ``n``, then ``fn``'s columns. Convert with ``list(map(dict, table))``
        or ``table.to_pandas()``.

    Raises
    ------
    ValueError
        ``values`` and ``arrays`` of different lengths, bad ``bins``.

    """
    from astropy.table import Table

    v = np.asarray(values)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {_shape(v)}")
    arrs = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrs):
        if a.ndim == 0 or a.shape[0] != v.size:
            raise ValueError(
                f"arrays[{i}] has {a.shape[0] if a.ndim else 0} rows but values has {v.size}"
            )
    if bins is None:
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            raise ValueError("values must not hold NaN when bins is None (groups by value)")
        groups = np.unique(v)
        selections = [(dict(group=g.item() if hasattr(g, "item") else g), v == g) for g in groups]
    else:
        edges = _real_1d("bins", bins, finite=False)
        if edges.size < 2 or np.any(np.isnan(edges)) or not np.all(np.diff(edges) > 0):
            raise ValueError("bins must hold at least 2 strictly increasing edges (inf allowed)")
        vf = _real_1d("values", v, finite=False)
        selections = []
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            sel = (vf >= lo) & ((vf < hi) if i < edges.size - 2 else (vf <= hi))
            selections.append((dict(lo=float(lo), hi=float(hi)), sel))
        used = np.zeros(v.size, dtype=bool)
        for _, sel in selections:
            used |= sel
        if not used.all():
            logger.warning(
                "by_bins: %d of %d objects fall in no bin (outside or NaN)",
                int((~used).sum()),
                v.size,
            )
    rows = []
    for key, sel in selections:
        row: dict = dict(key)
        row["n"] = int(sel.sum())
        if row["n"] >= max(int(min_count), 1):
            res = fn(*(a[sel] for a in arrs), **kwargs)
            row.update(res if isinstance(res, Mapping) else {"value": res})
        rows.append(row)
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    columns = {name: [row.get(name, np.nan) for row in rows] for name in names}
    return Table(columns, names=names)


def _chi2_sf(x: float, dof: int) -> float:
    """Survival function of the chi-square law (scipy when installed, else NaN)."""
    try:
        from scipy.special import gammaincc
    except ImportError:  # pragma: no cover - scipy is installed with the test extra
        return math.nan
    return float(gammaincc(dof / 2.0, x / 2.0)) if dof > 0 else math.nan


def _kolmogorov_sf(lam: float) -> float:
    """Q_KS(lambda) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2) (Numerical Recipes 14.3)."""
    if lam < 0.2:
        return 1.0
    j = np.arange(1, 101)
    return float(np.clip(2.0 * np.sum((-1.0) ** (j - 1) * np.exp(-2.0 * j**2 * lam**2)), 0, 1))


def nz_comparison(z_pred, z_true, bins=50) -> dict:
    r"""Compare the redshift distribution of predictions with the truth.

    A classifier over redshift slots (or a per-box line finder such as
    QuasarNET, desispec#2293) can pile predictions onto preferred values and
    leave "wiggles" in :math:`N(z_{pred})` that a scatter plot hides. Two
    statistics, one per scale:

    - binned :math:`\chi^2` for two histograms R (true) and S (predicted)
      (Numerical Recipes, eq. 14.3.3):
      :math:`\chi^2 = \sum_i (\sqrt{S/R} R_i - \sqrt{R/S} S_i)^2/(R_i + S_i)`
      over bins with :math:`R_i + S_i > 0`, ``dof`` = that number of bins
      minus 1. It sees wiggles on the bin scale: use bins as fine as the
      classes (e.g. the 0.001 slots) when there are enough objects per bin.
    - the two-sample Kolmogorov-Smirnov distance D between the unbinned
      samples and its asymptotic p-value (Numerical Recipes 14.3.9); it
      sees shifts and broad distortions, not fine wiggles.

    Both tests assume independent samples; ``z_pred`` and ``z_true`` are
    paired (the same objects), which makes the two histograms more alike
    than independent draws would be. The p-values are therefore
    conservative: a small p-value is a real distortion, a large one does
    not prove its absence. Compare ``chi2/dof`` between models instead.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts. Failed (NaN) predictions are in no bin
        and counted in ``n_failed``.
    bins : int or array_like, optional
        Number of equal bins over the range of ``z_true``, or bin edges.

    Returns
    -------
    dict
        ``edges``, ``n_pred``, ``n_true`` (histograms), ``n_failed``,
        ``n_pred_outside`` (finite predictions outside the edges), ``chi2``,
        ``dof``, ``chi2_pvalue`` (NaN without scipy), ``ks_statistic``,
        ``ks_pvalue``.

    Raises
    ------
    ValueError
        As :func:`residuals`, bad ``bins``.

    """
    zp, zt = _z_pair(z_pred, z_true)
    if np.ndim(bins) == 0:
        nb = int(bins)
        if nb != bins or nb < 1:
            raise ValueError(f"bins must be a positive integer or edges, got {bins!r}")
        lo, hi = float(zt.min()), float(zt.max())
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, nb + 1)
    else:
        edges = _real_1d("bins", bins, finite=True)
        if edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError("bins must hold at least 2 strictly increasing edges")
    ok = np.isfinite(zp)
    zpf = zp[ok]
    n_true, _ = np.histogram(zt, bins=edges)
    n_pred, _ = np.histogram(zpf, bins=edges)
    r, s = float(n_true.sum()), float(n_pred.sum())
    used = (n_true + n_pred) > 0
    if r > 0 and s > 0:
        num = (math.sqrt(s / r) * n_true - math.sqrt(r / s) * n_pred)[used] ** 2
        chi2 = float(np.sum(num / (n_true + n_pred)[used]))
    else:
        chi2 = math.nan
    dof = int(used.sum()) - 1
    if zpf.size:
        both = np.sort(np.concatenate([zpf, zt]))
        cdf_p = np.searchsorted(np.sort(zpf), both, side="right") / zpf.size
        cdf_t = np.searchsorted(np.sort(zt), both, side="right") / zt.size
        d = float(np.max(np.abs(cdf_p - cdf_t)))
        ne = zpf.size * zt.size / (zpf.size + zt.size)
        ks_p = _kolmogorov_sf((math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d)
    else:
        d, ks_p = math.nan, math.nan
    return {
        "edges": edges,
        "n_pred": n_pred,
        "n_true": n_true,
        "n_failed": int(zp.size - ok.sum()),
        "n_pred_outside": int(zpf.size - n_pred.sum()),
        "chi2": chi2,
        "dof": dof,
        "chi2_pvalue": _chi2_sf(chi2, dof) if math.isfinite(chi2) else math.nan,
        "ks_statistic": d,
        "ks_pvalue": ks_p,
    }
