"""A figure gallery: what each observer makes, in the style of Stivaktakis et al. (2019), Fig. 1.

For every survey and object class, one PNG with three panels -- the
rest-frame template, the same object redshifted and observed without noise,
and observed with noise -- with the main lines marked at their redshifted
positions. Photometry gets the observed-frame spectrum with the band fluxes
(and their errors) over it and the filter curves underneath. Matplotlib is
used through its object API (no pyplot state, no backend switching).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("deepz.simulate")

__all__ = ["plot_gallery", "plot_observer"]

_LINES = (
    ("Lya", 1215.67),
    ("CIV", 1549.06),
    ("CIII]", 1908.73),
    ("MgII", 2799.49),
    ("[OII]", 3728.5),
    ("CaK", 3934.78),
    ("Hb", 4862.68),
    ("[OIII]", 5008.24),
    ("NaD", 5895.6),
    ("Ha", 6564.61),
    ("[SII]", 6725.0),
    ("CaT", 8544.4),
)


def _figure(nrows: int, height: float = 2.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, height * nrows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _mark_lines(ax, z: float, lo: float, hi: float) -> None:
    for name, rest in _LINES:
        w = rest * (1 + z)
        if lo < w < hi:
            ax.axvline(w, color="0.6", lw=0.6, ls=":", zorder=0)
            ax.text(
                w,
                0.97,
                name,
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
                color="0.35",
                transform=ax.get_xaxis_transform(),
            )


def _pick(batch, n_per_class: int = 1) -> list[int]:
    """One sample per target (or class), in the order of the targets."""
    key = batch.extra.get("target", batch.subclass)
    out = []
    for t in np.unique(key):
        out.extend(np.flatnonzero(key == t)[:n_per_class].tolist())
    return out


def _title(batch, i: int) -> str:
    sub = batch.subclass_names[batch.subclass[i]]
    names = batch.meta.get("targets")
    tgt = f"{names[batch.extra['target'][i]]} " if names and "target" in batch.extra else ""
    return f"{batch.observer}: {tgt}{sub}, z = {batch.z[i]:.4f} (sample {batch.offset + i})"


def _spectra_figure(observer, clean, noisy, i: int, prep):
    fig = _figure(3)
    axes = fig.subplots(3, 1)
    k = clean.template[i]
    z = float(clean.z[i])
    wave = clean.wave
    lib = observer.template_library()
    rest = lib.wave
    obs_lo, obs_hi = float(np.min(wave)), float(np.max(wave))
    # rest-frame: the part that lands in the observed window, plus a margin
    sel = (rest > obs_lo / (1 + z) / 1.15) & (rest < obs_hi / (1 + z) * 1.15)
    axes[0].plot(rest[sel], lib.flux[k, sel], lw=0.5, color="k")
    axes[0].axvspan(obs_lo / (1 + z), obs_hi / (1 + z), color="C0", alpha=0.07, lw=0)
    _mark_lines(axes[0], 0.0, rest[sel][0], rest[sel][-1])
    axes[0].set_ylabel(
        "template f$_\\lambda$ (10 pc)\n[erg s$^{-1}$ cm$^{-2}$ Å$^{-1}$]", fontsize=8
    )
    axes[0].set_xlabel("rest-frame wavelength [Å] (shaded: the observed window)", fontsize=8)
    axes[0].set_title(_title(clean, i), fontsize=9)
    arms = clean.meta.get("arms") or {"": (0, wave.size)}
    for ax, b, label in (
        (axes[1], clean, "observed, no noise"),
        (axes[2], noisy, "observed, noisy"),
    ):
        f = b.physical_flux[i]
        good = b.ivar[i] > 0
        for j, (name, (s, e)) in enumerate(arms.items()):
            ww, ff, gg = wave[s:e], f[s:e], good[s:e]
            ax.plot(
                ww,
                np.where(gg, ff, np.nan),
                lw=0.5,
                color=f"C{j}" if name else "k",
                label=f"arm {name}" if name and len(arms) > 1 else None,
            )
        if label.endswith("noisy"):
            ax.plot(
                wave,
                np.where(good, clean.physical_flux[i], np.nan),
                lw=0.4,
                color="k",
                alpha=0.7,
                label="no noise",
            )
            sigma = (
                np.where(good, 1.0 / np.sqrt(np.where(good, b.ivar[i], 1.0)), np.nan) * b.norm[i]
            )
            if arms and len(arms) == 1:
                ax.plot(wave, sigma, lw=0.5, color="C3", alpha=0.8, label="1 sigma")
            masked = np.flatnonzero(~good)
            if masked.size:
                ax.plot(
                    wave[masked],
                    np.zeros(masked.size),
                    "|",
                    color="C3",
                    ms=4,
                    label=f"masked ({masked.size} px)",
                )
            lo, hi = np.nanpercentile(np.where(good, f, np.nan), [0.5, 99.5])
            pad = 0.1 * (hi - lo)
            ax.set_ylim(lo - pad, hi + pad)
        _mark_lines(ax, z, obs_lo, obs_hi)
        ax.set_ylabel(
            f"f$_\\lambda$ [{b.unit.split(' ')[0]} erg s$^{{-1}}$ cm$^{{-2}}$ Å$^{{-1}}$]"
            if b.unit.startswith("1e-17")
            else "flux",
            fontsize=8,
        )
        ax.text(0.01, 0.95, label, transform=ax.transAxes, fontsize=8, va="top")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right")
    axes[2].set_xlabel("observed wavelength [Å]", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=7)
    return fig


def _photometry_figure(observer, clean, noisy, i: int, prep):
    from .. import filters as flt
    from .. import kernels

    fig = _figure(2, height=2.8)
    ax, axf = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    k = clean.template[i]
    z = float(clean.z[i])
    obs = observer.obs_wave
    spec = kernels.redshift(prep.flux[k : k + 1], prep.rest_wave, [0], [z], obs)[0].astype(
        np.float64
    )
    if clean.label[i] != 1:
        from ..templates import lya_forest_transmission

        spec *= lya_forest_transmission(obs, z)
    fnu = spec * 1e-17 * clean.extra["flux_scale"][i] * obs**2 / flt.C_AA / 1e-29  # uJy
    mag = noisy.extra["mag"][i]
    err = noisy.extra["mag_err"][i]
    true_mag = clean.extra["mag_true"][i]
    with np.errstate(divide="ignore", invalid="ignore"):
        spec_mag = flt.AB_ZEROPOINT_UJY - 2.5 * np.log10(np.where(fnu > 0, fnu, np.nan))
    ax.plot(obs, spec_mag, lw=0.6, color="0.5", label="spectrum (no noise)")
    piv = clean.wave
    ax.plot(piv, true_mag, "o", mfc="none", color="k", ms=5, label="true magnitude")
    det = (mag > -90) & (mag < 90)
    ax.errorbar(
        piv[det],
        mag[det],
        yerr=err[det],
        fmt="s",
        color="C3",
        ms=3,
        lw=0.8,
        label="observed (noisy)",
    )
    und = mag >= 90
    if np.any(und):
        ax.plot(piv[und], err[und], "v", color="C0", ms=5, label="undetected: 1-sigma limit")
    sat = mag <= -90
    if np.any(sat):
        ax.plot(piv[sat], true_mag[sat], "*", color="C1", ms=8, label="saturated (-99)")
    finite = np.concatenate([true_mag[np.isfinite(true_mag) & (true_mag < 90)], mag[det]])
    if finite.size:
        ax.set_ylim(finite.max() + 1.5, finite.min() - 1.5)
    ax.set_ylabel("AB magnitude", fontsize=8)
    ax.set_title(_title(clean, i), fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    for b in observer.bands:
        axf.fill_between(b.wave, b.throughput / b.throughput.max(), alpha=0.3)
    axf.set_ylabel("T", fontsize=8)
    axf.set_xlabel("observed wavelength [Å]", fontsize=8)
    axf.set_xscale("log")
    _mark_lines(ax, z, obs[0], obs[-1])
    for a in (ax, axf):
        a.tick_params(labelsize=7)
    return fig


def plot_observer(
    observer, out_dir, seed: int = 0, n_search: int = 200, name: str | None = None, dpi: int = 110
) -> list[Path]:
    """Write one PNG per target/class of ``observer`` into ``out_dir``; return their paths.

    The first sample of each target among the first ``n_search`` of ``seed``
    is drawn twice, with and without noise (same z, template and, for the
    noisy one, the observer's noise), and plotted as described in the module
    docstring. Files are named ``<name>_<target>.png``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    noisy_obs = dataclasses.replace(observer, noise=True)
    clean_obs = dataclasses.replace(observer, noise=False)
    if hasattr(observer, "mask_fraction"):
        clean_obs = dataclasses.replace(clean_obs, mask_fraction=0.0)
    noisy = noisy_obs.simulate(n_search, seed)
    clean = clean_obs.simulate(n_search, seed)
    is_phot = getattr(observer, "kind", "") == "photometry"
    prep = (
        observer.prepared()
        if is_phot or not hasattr(observer, "arms")
        else observer.prepared(observer.arms[0])
    )
    label = name or (observer.name if hasattr(observer, "arms") else observer.kind)
    paths = []
    for i in _pick(noisy):
        names = noisy.meta.get("targets")
        tag = (
            names[noisy.extra["target"][i]]
            if names and "target" in noisy.extra
            else noisy.subclass_names[noisy.subclass[i]].split(":")[-1]
        )
        fig = (_photometry_figure if is_phot else _spectra_figure)(observer, clean, noisy, i, prep)
        path = out / f"{label}_{tag.lower()}.png"
        fig.savefig(path, dpi=dpi)
        paths.append(path)
        log.info("wrote %s", path)
    return paths


def plot_gallery(out_dir, seed: int = 0, observers: dict | None = None, **kwargs) -> list[Path]:
    """Write the gallery of every preset observer (or of ``observers``, name -> observer).

    Returns the PNG paths. Keywords go to :func:`plot_observer`.
    """
    from . import OBSERVERS

    if observers is None:
        observers = {name: make() for name, make in OBSERVERS.items()}
    paths = []
    for name, obs in observers.items():
        paths.extend(plot_observer(obs, out_dir, seed=seed, name=name, **kwargs))
    return paths
