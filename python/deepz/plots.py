"""Figures of the papers' evaluations, and an evaluation report folder.

Every ``plot_*`` function takes data and an optional matplotlib ``ax``; it
draws on ``ax`` (or on a new figure) and returns the figure. Figures are
made with :class:`matplotlib.figure.Figure` directly, not with ``pyplot``:
nothing here touches the global backend or pyplot's figure registry, so
the module works headless (Agg) and inside notebooks alike, and figures
are freed when dropped. :func:`save` writes a figure atomically;
:func:`report` writes a whole evaluation (PNGs + ``metrics.json``).

Failed predictions (NaN) are never plotted silently away: each figure that
leaves them out says how many in its text box.

Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

try:
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
except ImportError as err:  # pragma: no cover - matplotlib is installed in the test env
    raise ImportError("deepz.plots needs matplotlib: pip install matplotlib") from err

from . import metrics
from .io._atomic import atomic_path

__all__ = [
    "plot_confidence",
    "plot_confusion",
    "plot_nz",
    "plot_pit",
    "plot_pulls",
    "plot_reliability",
    "plot_residuals",
    "plot_z_pred_vs_true",
    "report",
    "save",
]

logger = logging.getLogger(__name__)

_SCATTER_MAX = 5000  # kind="auto": scatter up to this many points, hexbin above
_CONFUSION_MAX_CLASSES = 50  # report(): no confusion figure / per-class table above this
_BOX = dict(boxstyle="round", facecolor="white", alpha=0.8, edgecolor="0.7")


def _axes(ax, figsize=(5.5, 4.5)):
    """Return (figure, axes): ``ax`` and its figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def _text(ax, lines: Sequence[str], loc: str = "upper left") -> None:
    x, ha = (0.03, "left") if "left" in loc else (0.97, "right")
    y, va = (0.97, "top") if "upper" in loc else (0.03, "bottom")
    ax.text(x, y, "\n".join(lines), transform=ax.transAxes, ha=ha, va=va, fontsize=8, bbox=_BOX)


def _failed_line(n_failed: int, n: int) -> list[str]:
    return [f"failed (NaN): {n_failed} of {n}"] if n_failed else []


def _fmt(v: float, spec: str = ".4f") -> str:
    return "nan" if v is None or not math.isfinite(v) else format(v, spec)


# -----------------------------------------------------------------------------
# redshift figures
# -----------------------------------------------------------------------------


def plot_z_pred_vs_true(
    z_pred,
    z_true,
    ax=None,
    *,
    kind: str = "auto",
    outlier_threshold: float = 0.05,
    gridsize: int = 60,
    title: str | None = None,
) -> Figure:
    r"""Predicted against true redshift, with the 1:1 line and the outlier bounds.

    The dashed lines are :math:`z_p = z_t \pm t (1 + z_t)`, the bounds of
    :func:`deepz.metrics.outlier_fraction`; the text box gives N, sigma_MAD,
    bias and the outlier fraction (Pasquet et al. 2019, Fig. 6).

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (NaN predictions are counted, not drawn).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.
    kind : {"auto", "scatter", "hexbin"}, optional
        ``auto``: scatter up to 5000 points, hexbin (log counts) above.
    outlier_threshold : float, optional
        ``t`` above, in ``|dz| = |z_p - z_t|/(1 + z_t)``.
    gridsize : int, optional
        Hexagons across the x axis (hexbin only).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.residuals`; unknown ``kind``.

    """
    if kind not in ("auto", "scatter", "hexbin"):
        raise ValueError(f"kind must be 'auto', 'scatter' or 'hexbin', got {kind!r}")
    zp, zt = metrics._z_pair(z_pred, z_true)
    dz = metrics.residuals(zp, zt)
    ok = np.isfinite(dz)
    t = float(outlier_threshold)
    s = {
        "n": dz.size,
        "n_failed": int((~ok).sum()),
        "sigma_mad": metrics._sigma_mad(dz[ok]),
        "bias": float(np.mean(dz[ok])) if ok.any() else math.nan,
        "outlier_fraction": metrics._rate_above(dz, t),
    }
    fig, ax = _axes(ax)
    lo = float(min(zt.min(), zp[ok].min() if ok.any() else zt.min()))
    hi = float(max(zt.max(), zp[ok].max() if ok.any() else zt.max()))
    pad = 0.02 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    if kind == "hexbin" or (kind == "auto" and ok.sum() > _SCATTER_MAX):
        hb = ax.hexbin(
            zt[ok],
            zp[ok],
            gridsize=gridsize,
            norm=LogNorm(),
            mincnt=1,
            cmap="viridis",
            extent=(lo, hi, lo, hi),
        )
        fig.colorbar(hb, ax=ax, label="objects per cell")
    else:
        ax.scatter(zt[ok], zp[ok], s=4, alpha=0.5, lw=0, color="C0", rasterized=True)
    line = np.array([lo, hi])
    ax.plot(line, line, color="k", lw=1, label="1:1")
    ax.plot(line, line + t * (1 + line), "--", color="C3", lw=1, label=f"|dz| = {t:g}")
    ax.plot(line, line - t * (1 + line), "--", color="C3", lw=1)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel=r"$z_{\rm true}$", ylabel=r"$z_{\rm pred}$")
    ax.set_aspect("equal", adjustable="box")
    _text(
        ax,
        [
            f"N = {s['n']}",
            f"sigma_MAD = {_fmt(s['sigma_mad'])}",
            f"bias = {_fmt(s['bias'], '+.4f')}",
            f"eta(>{t:g}) = {_fmt(s['outlier_fraction'])}",
            *_failed_line(s["n_failed"], s["n"]),
        ],
    )
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_residuals(
    z_pred,
    z_true,
    ax=None,
    *,
    outlier_threshold: float = 0.05,
    n_bins: int = 20,
    ylim: float | None = None,
) -> Figure:
    r"""Residuals :math:`\Delta z = (z_p - z_t)/(1 + z_t)` against true redshift.

    Points (or a hexbin for many objects), the running median and the
    running sigma_MAD band in ``n_bins`` bins of true z, and the outlier
    bounds. Residuals beyond the y range are drawn on its edge as triangles.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts (NaN predictions counted, not drawn).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    outlier_threshold : float, optional
        The dashed bounds ``|dz| = t``.
    n_bins : int, optional
        Bins of true z for the running statistics.
    ylim : float, optional
        Half-height of the y range; default ``2 t``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.residuals`.

    """
    zp, zt = metrics._z_pair(z_pred, z_true)
    dz = metrics.residuals(zp, zt)
    ok = np.isfinite(dz)
    fig, ax = _axes(ax, figsize=(6.5, 4))
    t = float(outlier_threshold)
    ymax = 2 * t if ylim is None else float(ylim)
    clipped = np.clip(dz[ok], -ymax, ymax)
    inside = np.abs(dz[ok]) < ymax
    if ok.sum() > _SCATTER_MAX:
        hb = ax.hexbin(
            zt[ok][inside],
            dz[ok][inside],
            gridsize=(60, 30),
            norm=LogNorm(),
            mincnt=1,
            cmap="viridis",
        )
        fig.colorbar(hb, ax=ax, label="objects per cell")
    else:
        ax.scatter(
            zt[ok][inside], dz[ok][inside], s=4, alpha=0.5, lw=0, color="C0", rasterized=True
        )
    high, low = ~inside & (clipped > 0), ~inside & (clipped < 0)
    for sel, marker in ((high, "^"), (low, "v")):
        if sel.any():
            ax.scatter(
                zt[ok][sel],
                clipped[sel],
                marker=marker,
                s=12,
                color="C3",
                label=f"beyond +-{ymax:g}" if marker == "^" or not high.any() else None,
            )
    if ok.sum() >= 2 * n_bins:
        edges = np.quantile(zt[ok], np.linspace(0, 1, n_bins + 1))
        edges = np.unique(edges)
        mids, med, sig = [], [], []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            sel = ok & (zt >= a) & (zt <= b)
            if sel.sum() >= 5:
                d = dz[sel]
                mids.append(0.5 * (a + b))
                med.append(np.median(d))
                sig.append(metrics.MAD_TO_SIGMA * np.median(np.abs(d - np.median(d))))
        mids, med, sig = map(np.asarray, (mids, med, sig))
        if mids.size:
            ax.plot(mids, med, color="k", lw=1.5, label="running median")
            ax.fill_between(mids, med - sig, med + sig, color="0.5", alpha=0.3, label="+-sigma_MAD")
    ax.axhline(0, color="k", lw=0.5)
    for sgn in (-1, 1):
        ax.axhline(sgn * t, color="C3", ls="--", lw=1, label=f"|dz| = {t:g}" if sgn > 0 else None)
    ax.set(
        ylim=(-1.05 * ymax, 1.05 * ymax),
        xlabel=r"$z_{\rm true}$",
        ylabel=r"$(z_{\rm pred} - z_{\rm true}) / (1 + z_{\rm true})$",
    )
    _text(
        ax,
        [
            f"N = {dz.size}",
            f"sigma_MAD = {_fmt(metrics._sigma_mad(dz[ok]))}",
            *_failed_line(int((~ok).sum()), dz.size),
        ],
    )
    ax.legend(loc="upper right", fontsize=7)
    return fig


def plot_nz(z_pred, z_true, ax=None, *, bins=50) -> Figure:
    """Redshift distributions N(z_pred) and N(z_true), with the chi2 and KS statistics.

    The check for "wiggles" (predictions piling onto preferred redshifts,
    QuasarNET's problem, desispec#2293): see
    :func:`deepz.metrics.nz_comparison`. Use bins as fine as the classes.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    bins : int or array_like, optional
        As :func:`deepz.metrics.nz_comparison`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.nz_comparison`.

    """
    c = metrics.nz_comparison(z_pred, z_true, bins=bins)
    fig, ax = _axes(ax, figsize=(6.5, 4))
    e = c["edges"]
    ax.stairs(c["n_true"], e, color="k", lw=1.5, label=r"$N(z_{\rm true})$")
    ax.stairs(c["n_pred"], e, color="C1", lw=1.2, label=r"$N(z_{\rm pred})$")
    ax.set(xlabel="z", ylabel="objects per bin", xlim=(e[0], e[-1]))
    lines = [
        f"chi2/dof = {_fmt(c['chi2'], '.1f')}/{c['dof']} (p = {_fmt(c['chi2_pvalue'], '.3g')})",
        f"KS D = {_fmt(c['ks_statistic'], '.4f')} (p = {_fmt(c['ks_pvalue'], '.3g')})",
    ]
    if c["n_pred_outside"]:
        lines.append(f"predictions outside the range: {c['n_pred_outside']}")
    lines += _failed_line(c["n_failed"], int(c["n_true"].sum()))
    _text(ax, lines, loc="upper left")
    ax.legend(loc="upper right", fontsize=8)
    return fig


# -----------------------------------------------------------------------------
# classification figures
# -----------------------------------------------------------------------------


def plot_confidence(confidence, correct, ax=None, *, bins: int = 20, log: bool = False) -> Figure:
    """Histogram of the confidence (max softmax), split by correct and wrong predictions.

    Stivaktakis et al. 2019 (Figs. 8-9): a well-behaved classifier is
    confident when right and unsure when wrong, so a cut on confidence
    removes most errors.

    Parameters
    ----------
    confidence : array_like, shape (N,)
        The largest class probability of each prediction, in [0, 1]; NaN
        marks a failed prediction (counted in the text box, not drawn).
    correct : array_like of bool, shape (N,)
        Whether the prediction is right (e.g. class == true class, or within
        +-1 class).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    bins : int, optional
        Equal bins over [0, 1].
    log : bool, optional
        Logarithmic counts.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Different lengths, empty input, confidences outside [0, 1].

    """
    conf = metrics._real_1d("confidence", confidence, finite=False)
    ok_c = np.asarray(correct)
    if ok_c.shape != conf.shape:
        raise ValueError(f"correct has shape {ok_c.shape} but confidence has {conf.shape}")
    ok_c = ok_c.astype(bool)
    good = np.isfinite(conf)
    if np.any((conf[good] < 0) | (conf[good] > 1)):
        raise ValueError("confidence must lie in [0, 1]")
    fig, ax = _axes(ax, figsize=(6, 4))
    edges = np.linspace(0, 1, int(bins) + 1)
    ax.hist(
        conf[good & ok_c],
        bins=edges,
        histtype="stepfilled",
        alpha=0.5,
        color="C2",
        label=f"correct ({int((good & ok_c).sum())})",
        log=log,
    )
    ax.hist(
        conf[good & ~ok_c],
        bins=edges,
        histtype="stepfilled",
        alpha=0.5,
        color="C3",
        label=f"wrong ({int((good & ~ok_c).sum())})",
        log=log,
    )
    ax.set(xlabel="confidence (max class probability)", ylabel="objects", xlim=(0, 1))
    lines = [f"accuracy = {_fmt(float(np.mean(ok_c & good)), '.4f')}"]
    _text(ax, lines + _failed_line(int((~good).sum()), conf.size), loc="upper left")
    ax.legend(loc="upper center", fontsize=8)
    return fig


def plot_confusion(
    y_pred,
    y_true,
    ax=None,
    *,
    labels=None,
    names=None,
    normalize: str | None = "true",
    annotate: bool | None = None,
) -> Figure:
    """Confusion matrix as an image (rows true, columns predicted).

    Parameters
    ----------
    y_pred, y_true : array_like, shape (N,)
        Predicted and true labels (see :func:`deepz.metrics.confusion_matrix`).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    labels : array_like, optional
        Classes and their order.
    names : sequence of str, optional
        Display names of the classes, one per row (default: the labels).
    normalize : {"true", "pred", None}, optional
        Divide each row by the class's support (``"true"``: the diagonal is
        the recall), each column by the number predicted (``"pred"``:
        precision), or show counts.
    annotate : bool, optional
        Write the value in each cell; default when there are at most 15
        classes.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.confusion_matrix`; bad ``normalize``.

    """
    if normalize not in ("true", "pred", None):
        raise ValueError(f"normalize must be 'true', 'pred' or None, got {normalize!r}")
    m, labs = metrics.confusion_matrix(y_pred, y_true, labels)
    yt = np.asarray(y_true)
    support = np.array([(yt == lab).sum() for lab in labs], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            shown = m / support[:, None]
        elif normalize == "pred":
            shown = m / m.sum(axis=0, keepdims=True)
        else:
            shown = m.astype(np.float64)
    c = len(labs)
    if names is None:
        names = [str(x) for x in labs]
    elif len(names) != c:
        raise ValueError(f"names has {len(names)} entries for {c} classes")
    fig, ax = _axes(
        ax, figsize=(max(4.5, 0.45 * c + 2), max(4, 0.45 * c + 1.5)) if c <= 30 else (7, 6)
    )
    im = ax.imshow(
        shown,
        cmap="Blues",
        interpolation="nearest",
        origin="upper",
        vmin=0,
        vmax=1 if normalize else None,
    )
    fig.colorbar(
        im,
        ax=ax,
        label={
            "true": "fraction of true class",
            "pred": "fraction of predicted class",
            None: "objects",
        }[normalize],
    )
    if c <= 30:
        ticks = np.arange(c)
        ax.set_xticks(ticks, [str(x) for x in names], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(ticks, [str(x) for x in names], fontsize=8)
    if annotate or (annotate is None and c <= 15):
        for i in range(c):
            for j in range(c):
                v = shown[i, j]
                if np.isfinite(v):
                    txt = f"{v:.2f}" if normalize else f"{int(v)}"
                    ax.text(
                        j,
                        i,
                        txt,
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if normalize and v > 0.5 else "black",
                    )
    ax.set(xlabel="predicted", ylabel="true")
    return fig


def plot_reliability(probs, y_true, ax=None, *, n_bins: int = 10, mode: str = "top") -> Figure:
    """Reliability diagram of class probabilities, with the ECE.

    Observed frequency against mean predicted probability per bin (see
    :func:`deepz.metrics.reliability`); a calibrated classifier lies on the
    diagonal. Marker area follows the number of objects in each bin.

    Parameters
    ----------
    probs, y_true, n_bins, mode
        As :func:`deepz.metrics.reliability`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.reliability`.

    """
    r = metrics.reliability(probs, y_true, n_bins=n_bins, mode=mode)
    fig, ax = _axes(ax, figsize=(5, 5))
    e = r["edges"]
    centres = 0.5 * (e[1:] + e[:-1])
    ne = r["counts"] > 0
    ax.bar(
        centres[ne],
        r["frequency"][ne],
        width=np.diff(e)[ne],
        color="C0",
        alpha=0.35,
        edgecolor="C0",
        label="observed frequency",
    )
    size = 10 + 190 * r["counts"][ne] / max(r["counts"].max(), 1)
    ax.scatter(r["confidence"][ne], r["frequency"][ne], s=size, color="C0", zorder=3)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability", ylabel="observed frequency")
    ax.set_aspect("equal")
    _text(
        ax,
        [
            f"ECE = {_fmt(r['ece'])}",
            f"MCE = {_fmt(r['mce'])}",
            f"N = {r['n']}",
            *_failed_line(r["n_failed"], r["n"]),
        ],
    )
    ax.legend(loc="lower right", fontsize=8)
    return fig


# -----------------------------------------------------------------------------
# calibration of redshift uncertainties
# -----------------------------------------------------------------------------


def plot_pit(pit_values, ax=None, *, n_bins: int = 20) -> Figure:
    """PIT histogram, normalised so that calibrated PDFs give 1, with the Poisson band.

    See :func:`deepz.metrics.pit`: U shape = PDFs too narrow, hump = too
    wide, slope = biased.

    Parameters
    ----------
    pit_values : array_like, shape (N,)
        From :func:`deepz.metrics.pit` or :func:`deepz.metrics.pit_gaussian`
        (NaN: failed, counted in the text box).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    n_bins : int, optional
        Bins over [0, 1].

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.pit_histogram`.

    """
    v = metrics._real_1d("pit_values", pit_values, finite=False)
    density, edges = metrics.pit_histogram(v, n_bins=n_bins)
    n_ok = int(np.isfinite(v).sum())
    fig, ax = _axes(ax, figsize=(5.5, 4))
    ax.stairs(density, edges, fill=True, alpha=0.5, color="C0", label="PIT")
    band = math.sqrt(n_bins / n_ok)  # relative Poisson error of a bin's count
    ax.axhspan(1 - band, 1 + band, color="0.6", alpha=0.3, label="uniform +-1 sigma")
    ax.axhline(1, color="k", lw=1)
    ax.set(
        xlim=(0, 1), ylim=(0, max(2.0, 1.1 * float(density.max()))), xlabel="PIT", ylabel="density"
    )
    srt = np.sort(v[np.isfinite(v)])
    ranks = np.arange(1, n_ok + 1)
    ks = float(max(np.max(ranks / n_ok - srt), np.max(srt - (ranks - 1) / n_ok)))
    _text(ax, [f"N = {n_ok}", f"KS vs uniform: {ks:.4f}", *_failed_line(v.size - n_ok, v.size)])
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_pulls(z_pred, sigma, z_true, ax=None, *, bins: int = 60, xmax: float = 5.0) -> Figure:
    r"""Histogram of pulls :math:`(z_p - z_t)/\sigma` against the standard normal.

    The text box gives the coverage at 1, 2, 3 sigma (goals 0.683, 0.954,
    0.997) and the median |pull| (0.674 when calibrated).

    Parameters
    ----------
    z_pred, sigma, z_true : array_like, shape (N,)
        As :func:`deepz.metrics.pulls`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    bins : int, optional
        Bins over ``[-xmax, xmax]``; pulls beyond are counted in the text box.
    xmax : float, optional
        Half-range of the x axis.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`deepz.metrics.pulls`.

    """
    pl = metrics.pulls(z_pred, sigma, z_true)
    cov = metrics.coverage(z_pred, sigma, z_true)
    mp = metrics.median_abs_pull(z_pred, sigma, z_true)
    ok = np.isfinite(pl)
    fig, ax = _axes(ax, figsize=(5.5, 4))
    edges = np.linspace(-xmax, xmax, int(bins) + 1)
    counts, _ = np.histogram(pl[ok], bins=edges)
    width = edges[1] - edges[0]
    density = counts / (max(int(ok.sum()), 1) * width)
    ax.stairs(density, edges, fill=True, alpha=0.5, color="C0", label="pulls")
    x = np.linspace(-xmax, xmax, 400)
    ax.plot(x, np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi), "k", lw=1, label="N(0, 1)")
    ax.set(
        xlim=(-xmax, xmax), xlabel=r"$(z_{\rm pred} - z_{\rm true}) / \sigma_z$", ylabel="density"
    )
    goal = metrics.GAUSSIAN_COVERAGE
    lines = [f"<{k} sigma: {_fmt(cov[k], '.3f')} (goal {goal[k]:.3f})" for k in (1, 2, 3)]
    lines.append(f"median |pull| = {_fmt(mp, '.3f')} (goal 0.674)")
    beyond = int((np.abs(pl[ok]) > xmax).sum())
    if beyond:
        lines.append(f"|pull| > {xmax:g}: {beyond}")
    _text(ax, lines + _failed_line(int((~ok).sum()), pl.size))
    ax.legend(loc="upper right", fontsize=8)
    return fig


# -----------------------------------------------------------------------------
# writing
# -----------------------------------------------------------------------------


def save(fig: Figure, path, *, dpi: int = 120, overwrite: bool = True) -> str:
    """Write a figure atomically (temporary file, then rename).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (e.g. returned by a ``plot_*`` function).
    path : str or os.PathLike
        Target file; the format comes from its suffix (``.png``, ``.pdf``,
        ``.svg``...). The directory must exist.
    dpi : int, optional
        Resolution of raster formats.
    overwrite : bool, optional
        Replace an existing file (default); if False, ``FileExistsError``.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        A path without a suffix.
    FileExistsError
        ``overwrite=False`` and the file exists.

    """
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if not fmt:
        raise ValueError(f"path must end with a format suffix such as .png, got {path!r}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def _jsonable(obj):
    """Numpy scalars/arrays -> Python; NaN and inf -> None (JSON has neither)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _table_rows(table) -> list[dict]:
    return [{name: row[name] for name in table.colnames} for row in table]


def report(
    out_dir,
    z_pred,
    z_true,
    *,
    sigma=None,
    pdf=None,
    bins=None,
    y_pred=None,
    y_true=None,
    probs=None,
    confidence=None,
    labels=None,
    snr=None,
    snr_bins: Sequence[float] = (0, 1, 3, 10, 30, np.inf),
    classes=None,
    outlier_threshold: float = 0.05,
    catastrophic_threshold: float = 0.01,
    nz_bins=50,
    within_k: int | None | str = "auto",
    meta: Mapping | None = None,
    overwrite: bool = False,
    dpi: int = 120,
) -> dict:
    """Write an evaluation folder: one PNG per figure and ``metrics.json``.

    What is written depends on what is given:

    ==========================  ===================================================
    always                      ``z_pred_vs_true.png``, ``residuals.png``,
                                ``nz.png``; metrics ``redshift`` (see
                                :func:`deepz.metrics.summary`) and ``nz``
    ``sigma``                   ``pulls.png``; coverage and median |pull| in
                                ``redshift``; ``pit.png`` from Gaussian PIT when
                                no ``pdf``
    ``pdf`` and ``bins``        ``pit.png``; metrics ``pdf`` (CRPS, PIT histogram)
    ``y_pred`` and ``y_true``   metrics ``classification``; ``confusion.png`` and
                                per-class precision/recall when at most 50 classes
    ``probs`` (N, C)            ``reliability.png``, ``confidence.png``; metrics
                                ``reliability``; ``y_pred`` defaults to argmax
                                (``y_true`` then holds indices in [0, C))
    ``confidence``              ``confidence.png`` (correct = class right when
                                classes are given, else ``|dz| <=
                                catastrophic_threshold``)
    ``snr``                     metrics ``by_snr``: the redshift summary per S/N bin
    ``classes``                 metrics ``by_class`` and GaSNet-II good fractions
    ==========================  ===================================================

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder to write (created with its parents if needed).
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts.
    sigma : array_like, shape (N,), optional
        Predicted redshift errors.
    pdf : array_like, shape (N, K), optional
        Redshift PDFs over ``bins`` (see :func:`deepz.metrics.pit`).
    bins : array_like, shape (K+1,) or (K,), optional
        Edges or centres of the PDF bins.
    y_pred, y_true : array_like, shape (N,), optional
        Predicted and true class labels (object classes, or redshift slots).
    probs : array_like, shape (N, C), optional
        Class probabilities (softmax), columns in the order of class index.
    confidence : array_like, shape (N,), optional
        Max class probability, when ``probs`` are not kept.
    labels : sequence of str, optional
        Names of the classes when ``y_pred``/``y_true`` (or ``probs``
        columns) are class indices 0..C-1: ``labels[i]`` names class ``i``.
    snr : array_like, shape (N,), optional
        Signal-to-noise per object, binned by ``snr_bins``.
    snr_bins : sequence of float, optional
        Bin edges for ``snr``.
    classes : array_like of str, shape (N,), optional
        True object class (GALAXY, QSO, STAR...) for per-class metrics.
    outlier_threshold, catastrophic_threshold : float, optional
        As :func:`deepz.metrics.summary`.
    nz_bins : int or array_like, optional
        As :func:`deepz.metrics.nz_comparison`.
    within_k : int, None or "auto", optional
        Tolerance of ``accuracy_within_<k>`` in the classification metrics,
        for ordered classes (redshift slots, Stivaktakis et al. 2019). None
        skips it (unordered object classes). ``"auto"``: 1 when no
        ``labels`` are given (classes are plain indices, taken as redshift
        slots), None when they are.
    meta : mapping, optional
        Stored under ``meta`` in ``metrics.json`` (model, data, seed...).
    overwrite : bool, optional
        If False (default) and any file to be written exists, raise
        ``FileExistsError`` before writing anything.
    dpi : int, optional
        PNG resolution.

    Returns
    -------
    dict
        The content of ``metrics.json`` (NaN and inf written as ``null``).

    Raises
    ------
    ValueError
        Bad arrays (as the metrics functions), ``pdf`` without ``bins``.
    FileExistsError
        See ``overwrite``.

    Notes
    -----
    Every file is written atomically; ``metrics.json`` is written last and
    lists the figures, so its presence means the folder is complete.

    """
    from . import __version__

    zp, zt = metrics._z_pair(z_pred, z_true)
    n = zt.size
    kw = dict(outlier_threshold=outlier_threshold, catastrophic_threshold=catastrophic_threshold)
    if (pdf is None) != (bins is None):
        raise ValueError("pdf and bins must be given together")
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[0] != n:
            raise ValueError(f"probs must have shape ({n}, C), got {probs.shape}")
        if y_true is None:
            raise ValueError("probs needs y_true (class indices) to be judged")
        if y_pred is None:
            y_pred = np.where(
                np.all(np.isfinite(probs), axis=1),
                np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1),
                -1,
            )
        if confidence is None:
            confidence = probs.max(axis=1)
    if (y_pred is None) != (y_true is None):
        raise ValueError("y_pred and y_true must be given together")

    figures: dict[str, Figure] = {}
    out: dict = {"deepz_version": __version__, "n": n}
    if meta is not None:
        out["meta"] = dict(meta)

    out["redshift"] = metrics.summary(zp, zt, sigma, **kw)
    figures["z_pred_vs_true.png"] = plot_z_pred_vs_true(zp, zt, outlier_threshold=outlier_threshold)
    figures["residuals.png"] = plot_residuals(zp, zt, outlier_threshold=outlier_threshold)
    nz = metrics.nz_comparison(zp, zt, bins=nz_bins)
    out["nz"] = nz
    figures["nz.png"] = plot_nz(zp, zt, bins=nz_bins)

    if sigma is not None:
        figures["pulls.png"] = plot_pulls(zp, sigma, zt)
    if pdf is not None:
        pit_values = metrics.pit(pdf, bins, zt)
        c = metrics.crps(pdf, bins, zt)
        density, edges = metrics.pit_histogram(pit_values, n_bins=20)
        okc = np.isfinite(c)
        out["pdf"] = {
            "crps_mean": float(np.mean(c[okc])) if okc.any() else math.nan,
            "crps_median": float(np.median(c[okc])) if okc.any() else math.nan,
            "n_failed": int((~okc).sum()),
            "pit_histogram": {"density": density, "edges": edges},
        }
        figures["pit.png"] = plot_pit(pit_values)
    elif sigma is not None:
        pit_values = metrics.pit_gaussian(zp, sigma, zt)
        density, edges = metrics.pit_histogram(pit_values, n_bins=20)
        out["pit_gaussian"] = {"density": density, "edges": edges}
        figures["pit.png"] = plot_pit(pit_values)

    correct = None
    if y_pred is not None:
        if within_k == "auto":
            within_k = 1 if labels is None else None
        cs = metrics.classification_summary(y_pred, y_true, k=within_k)
        order = None if labels is None else np.arange(len(labels))  # labels name indices
        m, labs = metrics.confusion_matrix(y_pred, y_true, order)
        if len(labs) <= _CONFUSION_MAX_CLASSES:
            pr = metrics.precision_recall(y_pred, y_true, order)
            names = [str(x) for x in (labs if labels is None else labels)]
            cs["per_class"] = {
                name: {
                    "precision": pr["precision"][i],
                    "recall": pr["recall"][i],
                    "f1": pr["f1"][i],
                    "support": pr["support"][i],
                }
                for i, name in enumerate(names)
            }
            cs["confusion_matrix"] = {"labels": names, "matrix": m}
            figures["confusion.png"] = plot_confusion(y_pred, y_true, labels=order, names=names)
        else:
            logger.info("report: %d classes; no confusion figure or per-class table", len(labs))
        out["classification"] = cs
        correct = np.asarray(y_pred) == np.asarray(y_true)
    if probs is not None:
        rel = metrics.reliability(probs, y_true)
        out["reliability"] = rel
        figures["reliability.png"] = plot_reliability(probs, y_true)
    if confidence is not None:
        if correct is None:
            with np.errstate(invalid="ignore"):
                correct = np.abs(metrics.residuals(zp, zt)) <= catastrophic_threshold
        figures["confidence.png"] = plot_confidence(confidence, correct)

    if snr is not None:
        table = metrics.by_bins(snr, snr_bins, metrics.summary, zp, zt, **kw)
        out["by_snr"] = _table_rows(table)
    if classes is not None:
        table = metrics.by_bins(
            np.asarray(classes).astype(str), None, metrics.summary, zp, zt, **kw
        )
        out["by_class"] = _table_rows(table)
        out["good_fraction_by_class"] = metrics.good_fraction_by_class(zp, zt, classes)

    out["figures"] = sorted(figures)
    out = _jsonable(out)
    text = json.dumps(out, indent=2, allow_nan=False)

    out_dir = os.fspath(out_dir)
    targets = [os.path.join(out_dir, name) for name in [*figures, "metrics.json"]]
    if not overwrite:
        existing = [t for t in targets if os.path.exists(t)]
        if existing:
            raise FileExistsError(
                f"{existing[0]} exists ({len(existing)} report file(s) in all); "
                "pass overwrite=True to replace them"
            )
    os.makedirs(out_dir, exist_ok=True)
    for name, fig in figures.items():
        save(fig, os.path.join(out_dir, name), dpi=dpi, overwrite=True)
    with atomic_path(os.path.join(out_dir, "metrics.json"), overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    logger.info("report: wrote %d figures and metrics.json to %s", len(figures), out_dir)
    return out
