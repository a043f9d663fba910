"""Plain-loop numpy reference of deepz.line_search (same signature).

Written for clarity, not speed: every spectrum, line, and pixel is a Python
loop over Python floats (IEEE doubles), doing the same arithmetic in the same
order as cpp/include/deepz/line_search.hpp, so float64 results agree bit for
bit. It validates nothing beyond what it needs to run.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from deepz.lines import YURCHUK_SKYRUTA, Line, get

MAD_TO_SIGMA = 1.4826


class Result(NamedTuple):
    z: np.ndarray
    line_wave: np.ndarray
    line_snr: np.ndarray
    n_found: np.ndarray
    quality: np.ndarray
    lines: tuple


def _resolve(lines):
    if lines is None:
        return YURCHUK_SKYRUTA
    if isinstance(lines, (str, Line)):
        lines = [lines]
    out = []
    for item in lines:
        if isinstance(item, (str, Line)):
            out.extend(get(item))
        else:
            out.append(Line(f"{float(item):.2f}", float(item), "emission", 1.0, False))
    return tuple(out)


def _median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 == 1 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _vertex(x0, y0, x1, y1, x2, y2):
    d1 = (y1 - y0) / (x1 - x0)
    d2 = (y2 - y1) / (x2 - x1)
    a = (d2 - d1) / (x2 - x0)
    if not a < 0.0:
        return x1
    return 0.5 * (x0 + x1) - d1 / (2.0 * a)


def _one(wave, flux, ivar, z0, lines, window, w_dist, w_height, w_spacing, snr_min):
    """One spectrum: lists of floats in, (z, line_wave, line_snr, n_found, quality) out."""
    m = len(wave)
    n_lines = len(lines)
    usable = [
        math.isfinite(flux[i]) and (ivar is None or (ivar[i] > 0.0 and math.isfinite(ivar[i])))
        for i in range(m)
    ]
    line_wave = [math.nan] * n_lines
    line_snr = [math.nan] * n_lines
    order = sorted(range(n_lines), key=lambda j: -lines[j].strength)  # stable
    found_z, found_w = [], []
    sum_w = sum_wz = 0.0
    zbar = z0
    strength_searched = strength_found = 0.0

    for j in order:
        rest, sg = lines[j].wave, lines[j].sign
        lo = rest * (1.0 + z0 - window)
        hi = rest * (1.0 + z0 + window)
        pixels = [i for i in range(m) if lo <= wave[i] <= hi]
        if not pixels:
            continue
        strength_searched += lines[j].strength
        good = [i for i in pixels if usable[i]]
        sigma = 0.0
        if ivar is None:
            if not good:
                continue
            values = [sg * flux[i] for i in good]
            med = _median(values)
            sigma = MAD_TO_SIGMA * _median([abs(v - med) for v in values])
            if not sigma > 0.0:
                s2 = 0.0
                for v in values:
                    s2 += v * v
                sigma = math.sqrt(s2 / len(values))

        # Candidates: usable local maxima with usable neighbours (anywhere on the grid).
        candidates = []  # (i, left, right, snr)
        for i in good:
            left = next((j for j in range(i - 1, -1, -1) if usable[j]), None)
            right = next((j for j in range(i + 1, m) if usable[j]), None)
            if left is None or right is None:
                continue
            yl, yc, yr = sg * flux[left], sg * flux[i], sg * flux[right]
            if not (yc > yl and yc >= yr):
                continue
            if ivar is not None:
                snr = yc * math.sqrt(ivar[i])
            else:
                snr = yc / sigma if sigma > 0.0 else 0.0
            candidates.append((i, left, right, snr))
        if not candidates:
            continue
        max_snr = max(c[3] for c in candidates)

        best = None  # (cost, x, z, snr)
        for i, left, right, snr in candidates:
            sl, sc, sr = sg * flux[left], sg * flux[i], sg * flux[right]
            x = _vertex(wave[left], sl, wave[i], sc, wave[right], sr)
            zc = x / rest - 1.0
            u = abs(zc - z0) / window
            dist = u * u
            height = 1.0 - max(snr, 0.0) / max_snr if max_snr > 0.0 else 1.0
            spacing = 0.0
            if found_z:
                spacing = abs(zc - zbar) / (0.5 * (wave[i + 1] - wave[i - 1]) / rest)
            cost = w_dist * dist + w_height * height + w_spacing * spacing
            if best is None or cost < best[0]:
                best = (cost, x, zc, snr)

        _, x, zc, snr = best
        line_snr[j] = snr
        if snr >= snr_min and snr > 0.0:
            line_wave[j] = x
            w = snr * snr
            found_z.append(zc)
            found_w.append(w)
            sum_w += w
            sum_wz += w * zc
            zbar = sum_wz / sum_w
            strength_found += lines[j].strength

    if not found_z:
        return z0, line_wave, line_snr, 0, 0.0
    s2 = 0.0
    for zl, w in zip(found_z, found_w, strict=True):
        dz = zl - zbar
        s2 += w * (dz * dz)
    scatter = math.sqrt(s2 / sum_w)
    agree = max(1.0 - scatter / window, 0.0)
    return zbar, line_wave, line_snr, len(found_z), (strength_found / strength_searched) * agree


def line_search(
    wave,
    flux,
    z0,
    lines=None,
    window=0.01,
    ivar=None,
    weights=(1.0, 1.0, 1.0),
    snr_min=3.0,
    threads=None,
):
    """Reference line search: see deepz.kernels.line_search for the contract."""
    del threads
    flux = np.asarray(flux)
    dtype = flux.dtype
    was_1d = flux.ndim == 1
    flux2 = np.atleast_2d(flux).astype(np.float64)
    n = flux2.shape[0]
    wave2 = np.atleast_2d(np.asarray(wave, dtype=np.float64))
    ivar2 = None if ivar is None else np.atleast_2d(np.asarray(ivar)).astype(np.float64)
    if wave2.shape[1] > 1 and wave2[0, 1] < wave2[0, 0]:  # decreasing: flip everything
        wave2, flux2 = wave2[:, ::-1], flux2[:, ::-1]
        ivar2 = None if ivar2 is None else ivar2[:, ::-1]
    z0 = np.broadcast_to(np.asarray(z0, dtype=np.float64), (n,))
    line_tuple = _resolve(lines)
    w_dist, w_height, w_spacing = (float(w) for w in weights)

    n_lines = len(line_tuple)
    z = np.empty(n)
    line_wave = np.empty((n, n_lines))
    line_snr = np.empty((n, n_lines))
    n_found = np.empty(n, dtype=np.int64)
    quality = np.empty(n)
    for s in range(n):
        w_row = wave2[0] if wave2.shape[0] == 1 else wave2[s]
        out = _one(
            w_row.tolist(),
            flux2[s].tolist(),
            None if ivar2 is None else ivar2[s].tolist(),
            float(z0[s]),
            line_tuple,
            float(window),
            w_dist,
            w_height,
            w_spacing,
            float(snr_min),
        )
        z[s], line_wave[s], line_snr[s], n_found[s], quality[s] = out
    z, line_wave, line_snr, quality = (a.astype(dtype) for a in (z, line_wave, line_snr, quality))
    if was_1d:
        return Result(z[0], line_wave[0], line_snr[0], n_found[0], quality[0], line_tuple)
    return Result(z, line_wave, line_snr, n_found, quality, line_tuple)


# -- test data (not part of the reference algorithm) -------------------------------

C_KMS = 299792.458


def simulate_line_spectra(
    n,
    rng,
    z_range=(0.01, 0.3),
    snr_range=(10.0, 20.0),
    lines=None,
    wave=None,
    sigma_v_range=(70.0, 110.0),
    scatter_dex=0.1,
    snr_lines=("Halpha", "Hbeta", "[OIII]5007"),
):
    """SDSS-like continuum-subtracted spectra of Gaussian emission lines.

    Returns ``(wave, flux, ivar, z)``: a 4000-9000 A grid at 1 A (unless
    ``wave`` is given), N spectra holding the lines (default: the eight of
    Yurchuk & Skyruta) at random z in ``z_range``, with the catalogue flux
    ratios scattered by ``scatter_dex`` (lognormal, each line independently,
    clipped at 2 sigma),
    Gaussian profiles of sigma_v km/s (SDSS resolution and galaxy dispersion
    together), a flat zero continuum, and white noise whose level puts the
    weakest peak of the strongest lines (``snr_lines``, those of them in
    ``lines``) at an S/N drawn from ``snr_range``. float64.
    """
    lines = YURCHUK_SKYRUTA if lines is None else lines
    wave = np.arange(4000.0, 9000.5, 1.0) if wave is None else np.asarray(wave, dtype=np.float64)
    z = rng.uniform(*z_range, size=n)
    sigma_v = rng.uniform(*sigma_v_range, size=n)
    strength = np.array([line.strength for line in lines])
    # Clipped at 2 sigma, so that no galaxy leaves the star-forming locus.
    scatter = np.clip(rng.standard_normal((n, len(lines))), -2.0, 2.0)
    ratios = strength[None, :] * 10.0 ** (scatter_dex * scatter)
    flux = np.zeros((n, wave.size))
    peaks = np.zeros((n, len(lines)))
    for j, line in enumerate(lines):
        centre = line.wave * (1.0 + z)
        width = centre * sigma_v / C_KMS
        peaks[:, j] = ratios[:, j] / (np.sqrt(2.0 * np.pi) * width)
        profile = np.exp(-0.5 * ((wave[None, :] - centre[:, None]) / width[:, None]) ** 2)
        flux += line.sign * peaks[:, j, None] * profile
    strong = [j for j, line in enumerate(lines) if line.name in snr_lines] or [
        int(np.argmax(strength))
    ]
    sigma = peaks[:, strong].min(axis=1) / rng.uniform(*snr_range, size=n)
    flux += sigma[:, None] * rng.standard_normal(flux.shape)
    ivar = np.broadcast_to(1.0 / sigma[:, None] ** 2, flux.shape).copy()
    return wave, flux, ivar, z
