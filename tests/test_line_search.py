import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_line_search import line_search as ref_line_search
from reference_line_search import simulate_line_spectra

import deepz
from deepz.kernels import LineSearchResult
from deepz.lines import BY_NAME, YURCHUK_SKYRUTA, Line

WAVE = np.arange(4000.0, 9000.5, 1.0)  # SDSS-like, 1 A


def gaussian_lines(wave, z, names, amplitude=1.0, sigma=2.0):
    """Noiseless emission (or absorption) lines of the given names at z."""
    flux = np.zeros_like(wave)
    for name in names:
        line = BY_NAME[name]
        flux += (
            line.sign
            * amplitude
            * line.strength
            * np.exp(-0.5 * ((wave - line.wave * (1 + z)) / sigma) ** 2)
        )
    return flux


def assert_same(got, want, exact):
    assert got.lines == want.lines
    np.testing.assert_array_equal(got.n_found, want.n_found)
    for field in ("z", "line_wave", "line_snr", "quality"):
        a, b = getattr(got, field), getattr(want, field)
        assert a.dtype == b.dtype, field
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=field)
        if exact:
            np.testing.assert_array_equal(a, b, err_msg=field)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=field)


# -- against the reference ------------------------------------------------------------


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 3))
    start = draw(st.floats(4000.0, 4800.0))
    step = draw(st.floats(0.7, 2.5))
    wave = start + step * np.arange(int((7400.0 - start) / step))
    z = rng.uniform(0.0, 0.1, n)
    z0 = z + draw(st.floats(-0.012, 0.012))
    names = draw(
        st.lists(
            st.sampled_from([line.name for line in YURCHUK_SKYRUTA] + ["CaII_K", "Hgamma"]),
            min_size=1,
            max_size=6,
        )
    )
    lines = [BY_NAME[name] for name in names]
    width = draw(st.floats(0.8, 4.0))
    flux = np.zeros((n, wave.size))
    for line in lines:
        amp = rng.uniform(0.0, 3.0, n)[:, None]
        centre = line.wave * (1 + z[:, None])
        flux += line.sign * amp * np.exp(-0.5 * ((wave - centre) / width) ** 2)
    sigma = rng.uniform(0.05, 1.0, (n, 1))
    flux += sigma * rng.standard_normal(flux.shape)
    ivar = np.broadcast_to(1.0 / sigma**2, flux.shape).copy()
    mask = rng.random(flux.shape) < draw(st.sampled_from([0.0, 0.05, 0.3]))
    if draw(st.booleans()):  # mask by ivar
        ivar[mask] = 0.0
        flux[mask] = 1e3  # masked spikes must never be seen
    else:  # mask by NaN flux
        flux[mask] = np.nan
    if draw(st.booleans()):
        ivar = None
    kwargs = {
        "lines": lines,
        "window": draw(st.floats(0.002, 0.03)),
        "weights": tuple(draw(st.lists(st.floats(0.0, 3.0), min_size=3, max_size=3))),
        "snr_min": draw(st.floats(0.0, 6.0)),
    }
    if sum(kwargs["weights"]) == 0:
        kwargs["weights"] = (1.0, 1.0, 1.0)
    return wave, flux, z0, ivar, kwargs


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@given(case=cases())
def test_matches_reference(case, dtype):
    wave, flux, z0, ivar, kwargs = case
    flux = flux.astype(dtype)
    ivar = None if ivar is None else ivar.astype(dtype)
    want = ref_line_search(wave, flux, z0, ivar=ivar, **kwargs)
    for threads in (1, 2):
        got = deepz.line_search(wave, flux, z0, ivar=ivar, threads=threads, **kwargs)
        assert_same(got, want, exact=dtype == np.float64)
    assert np.all((got.quality >= 0) & (got.quality <= 1))
    found = ~np.isnan(got.line_wave)
    np.testing.assert_array_equal(found.sum(axis=1), got.n_found)
    assert np.all(got.line_snr[found] >= kwargs["snr_min"])


def test_matches_reference_on_simulated_sdss_spectra(rng):
    wave, flux, ivar, z = simulate_line_spectra(6, rng)
    z0 = z + rng.uniform(-0.005, 0.005, z.size)
    for iv in (ivar, None):
        assert_same(
            deepz.line_search(wave, flux, z0, ivar=iv),
            ref_line_search(wave, flux, z0, ivar=iv),
            exact=True,
        )


# -- physics: the acceptance test of the issue -------------------------------------


@pytest.mark.parametrize("use_ivar", [True, False], ids=["ivar", "mad"])
def test_recovers_z_of_simulated_starbursts(rng, use_ivar):
    # Eight lines at realistic ratios, z in [0.01, 0.3], 4000-9000 A at 1 A,
    # S/N >= 10 on Halpha, Hbeta and [OIII]5007; z0 off by up to half a window.
    n, window = 400, 0.01
    wave, flux, ivar, z = simulate_line_spectra(n, rng)
    z0 = z + rng.uniform(-0.5 * window, 0.5 * window, n)
    res = deepz.line_search(wave, flux, z0, window=window, ivar=ivar if use_ivar else None)
    dz = np.abs(res.z - z)
    assert np.mean(dz < 1e-4) >= 0.99
    assert dz.max() < 5e-4  # no line taken for its neighbour (that is >= 2e-3 off)
    assert np.median(dz) < 0.1 * np.median(np.abs(z0 - z))
    assert np.all(res.n_found >= 3)
    assert np.median(res.quality) > 0.8


def test_line_lands_where_physics_says():
    z = 0.123
    flux = gaussian_lines(WAVE, z, ["Halpha"], amplitude=10.0, sigma=1.7)
    res = deepz.line_search(
        WAVE, flux + 0.01, z + 0.004, lines=["Halpha"], ivar=np.full_like(WAVE, 1e4)
    )
    assert res.line_wave[0] == pytest.approx(6564.61 * (1 + z), abs=0.05)
    assert res.z == pytest.approx(z, abs=1e-5)
    assert res.n_found == 1
    assert res.quality == pytest.approx(1.0)


def test_spacing_term_keeps_weak_line_off_its_strong_neighbour(rng):
    # [NII]6548's window holds Halpha, four times taller; once Halpha is
    # placed, consistency must send [NII]6548 to its own small peak.
    z = 0.05
    flux = gaussian_lines(WAVE, z, ["Halpha", "[NII]6548"], amplitude=20.0)
    flux += 0.05 * rng.standard_normal(WAVE.size)
    lines = ["Halpha", "[NII]6548"]
    res = deepz.line_search(WAVE, flux, z, lines=lines, ivar=np.full_like(WAVE, 400.0))
    np.testing.assert_allclose(res.line_wave, [6564.61 * (1 + z), 6549.86 * (1 + z)], atol=0.5)
    without = deepz.line_search(
        WAVE, flux, z, lines=lines, ivar=np.full_like(WAVE, 400.0), weights=(1.0, 1.0, 0.0)
    )
    assert without.line_wave[1] == pytest.approx(res.line_wave[0])  # took Halpha instead


def test_distance_only_takes_the_peak_nearest_the_prediction():
    z = 0.05
    flux = gaussian_lines(WAVE, z, ["Halpha"], amplitude=1.0) + gaussian_lines(
        WAVE, z + 0.006, ["Halpha"], amplitude=0.3
    )
    ivar = np.full_like(WAVE, 1e4)
    near = deepz.line_search(
        WAVE, flux, z + 0.005, lines=["Halpha"], ivar=ivar, weights=(1.0, 0.0, 0.0)
    )
    tall = deepz.line_search(
        WAVE, flux, z + 0.005, lines=["Halpha"], ivar=ivar, weights=(0.0, 1.0, 0.0)
    )
    assert near.z == pytest.approx(z + 0.006, abs=1e-5)
    assert tall.z == pytest.approx(z, abs=1e-5)


def test_absorption_lines_are_minima():
    z = 0.02
    flux = gaussian_lines(WAVE, z, ["CaII_K", "CaII_H"], amplitude=40.0)
    flux += gaussian_lines(WAVE, z + 0.003, ["CaII_K"], amplitude=-80.0)  # an emission bump
    res = deepz.line_search(
        WAVE, flux, z + 0.002, lines=["CaII_K", "CaII_H"], ivar=np.full_like(WAVE, 100.0)
    )
    np.testing.assert_allclose(res.line_wave, [3934.78 * (1 + z), 3969.59 * (1 + z)], atol=0.05)
    assert res.n_found == 2


# -- masks, edges, degenerate cases ---------------------------------------------------


@pytest.mark.parametrize("how", ["ivar", "nan"])
def test_masked_spike_is_never_chosen(how):
    z, z0 = 0.1, 0.104
    flux = gaussian_lines(WAVE, z, ["Halpha"], amplitude=1.0)
    spike = int(np.argmin(np.abs(WAVE - 6564.61 * (1 + z0))))  # right at the prediction
    ivar = np.full_like(WAVE, 1e4)
    flux[spike] = 1e3
    seen = deepz.line_search(WAVE, flux, z0, lines=["Halpha"], ivar=ivar)
    assert abs(seen.line_wave[0] - WAVE[spike]) < 0.5  # unmasked, the spike wins
    if how == "ivar":
        ivar[spike] = 0.0
        masks = [ivar]
    else:
        flux[spike] = np.nan
        masks = [ivar, None]
    for iv in masks:
        res = deepz.line_search(WAVE, flux, z0, lines=["Halpha"], ivar=iv)
        assert res.z == pytest.approx(z, abs=2e-5)


def test_masked_peak_pixel_falls_back_to_its_shoulders():
    z = 0.1
    flux = gaussian_lines(WAVE, z, ["Halpha"], amplitude=1.0, sigma=3.0)
    ivar = np.full_like(WAVE, 1e4)
    ivar[int(np.argmax(flux))] = 0.0
    res = deepz.line_search(WAVE, flux, z, lines=["Halpha"], ivar=ivar)
    assert res.n_found == 1
    assert res.z == pytest.approx(z, abs=3e-4)


def test_no_lines_returns_z0(rng):
    z0 = np.array([0.05, 0.2, 0.25])
    noise = rng.standard_normal((3, WAVE.size))
    res = deepz.line_search(WAVE, noise, z0, ivar=np.ones_like(noise), snr_min=8.0)
    np.testing.assert_array_equal(res.z, z0)
    np.testing.assert_array_equal(res.n_found, 0)
    np.testing.assert_array_equal(res.quality, 0.0)
    assert np.all(np.isnan(res.line_wave))
    assert np.all(res.line_snr < 8.0)
    flat = deepz.line_search(WAVE, np.zeros((3, WAVE.size)), z0)
    np.testing.assert_array_equal(flat.z, z0)
    assert np.all(np.isnan(flat.line_snr))  # no local maximum anywhere


def test_lines_outside_the_grid_are_skipped():
    z = 0.05
    wave = np.arange(4000.0, 6000.0, 1.0)
    flux = gaussian_lines(wave, z, ["Hbeta", "[OIII]4959", "[OIII]5007"], amplitude=30.0)
    res = deepz.line_search(wave, flux, z, ivar=np.full_like(wave, 100.0))
    names = [line.name for line in res.lines]
    off = [names.index(n) for n in ("[NII]6548", "Halpha", "[NII]6583", "[SII]6716", "[SII]6731")]
    assert np.all(np.isnan(res.line_wave[off]))
    assert np.all(np.isnan(res.line_snr[off]))
    assert res.n_found == 3
    assert res.z == pytest.approx(z, abs=2e-5)
    assert res.quality == pytest.approx(1.0, abs=1e-3)  # every line of the grid was found


def test_fully_masked_spectrum():
    flux = np.full((2, WAVE.size), np.nan)
    res = deepz.line_search(WAVE, flux, [0.1, 0.2])
    np.testing.assert_array_equal(res.z, [0.1, 0.2])
    np.testing.assert_array_equal(res.n_found, 0)
    assert np.all(np.isnan(res.line_snr))


def test_threads_give_identical_results(rng):
    wave, flux, ivar, z = simulate_line_spectra(40, rng)
    z0 = z + rng.uniform(-0.005, 0.005, z.size)
    for iv in (ivar, None):
        one = deepz.line_search(wave, flux, z0, ivar=iv, threads=1)
        two = deepz.line_search(wave, flux, z0, ivar=iv, threads=2)
        assert_same(one, two, exact=True)


def test_per_spectrum_and_decreasing_grids(rng):
    wave, flux, ivar, z = simulate_line_spectra(4, rng)
    z0 = z + 0.002
    shared = deepz.line_search(wave, flux, z0, ivar=ivar)
    rows = deepz.line_search(np.tile(wave, (4, 1)), flux, z0, ivar=ivar)
    flipped = deepz.line_search(wave[::-1], flux[:, ::-1], z0, ivar=ivar[:, ::-1])
    assert_same(rows, shared, exact=True)
    assert_same(flipped, shared, exact=True)
    # A grid of its own per spectrum: a shifted grid moves nothing physical.
    shifted = np.stack([wave + 0.37 * k for k in range(4)])
    fluxes = np.stack([np.interp(shifted[k], wave, flux[k]) for k in range(4)])
    res = deepz.line_search(shifted, fluxes, z0, ivar=ivar)
    np.testing.assert_allclose(res.z, shared.z, atol=2e-4)


def test_one_spectrum_gives_scalar_fields(dtype):
    flux = gaussian_lines(WAVE, 0.1, [line.name for line in YURCHUK_SKYRUTA], 10.0).astype(dtype)
    res = deepz.line_search(WAVE, flux, 0.102, ivar=np.full_like(flux, 100.0))
    assert isinstance(res, LineSearchResult)
    assert isinstance(res, tuple)
    assert res.z.shape == ()
    assert res.n_found.shape == ()
    assert res.quality.shape == ()
    assert res.line_wave.shape == (8,)
    assert res.line_snr.shape == (8,)
    assert res.z.dtype == res.line_wave.dtype == res.quality.dtype == dtype
    assert res.n_found.dtype == np.int64
    z, line_wave, line_snr, n_found, quality, lines = res
    assert lines == YURCHUK_SKYRUTA
    assert n_found == 8
    batch = deepz.line_search(WAVE, flux[None, :], [0.102], ivar=np.full((1, WAVE.size), 100.0))
    assert batch.z.shape == (1,)
    assert batch.line_wave.shape == (1, 8)
    assert batch.z[0] == z


def test_lines_argument_forms():
    z = 0.1
    flux = gaussian_lines(WAVE, z, ["Hbeta", "Halpha"], amplitude=30.0)
    ivar = np.full_like(WAVE, 100.0)
    by_name = deepz.line_search(WAVE, flux, z, lines=["Halpha", "Hbeta"], ivar=ivar)
    by_line = deepz.line_search(
        WAVE, flux, z, lines=[BY_NAME["Halpha"], BY_NAME["Hbeta"]], ivar=ivar
    )
    by_wave = deepz.line_search(WAVE, flux, z, lines=np.array([6564.61, 4862.68]), ivar=ivar)
    single = deepz.line_search(WAVE, flux, z, lines="Halpha", ivar=ivar)
    assert by_name.lines == by_line.lines == (BY_NAME["Halpha"], BY_NAME["Hbeta"])
    assert [line.strength for line in by_wave.lines] == [1.0, 1.0]
    for res in (by_name, by_line, by_wave):
        np.testing.assert_allclose(res.line_wave, [6564.61 * 1.1, 4862.68 * 1.1], atol=0.05)
    assert single.line_wave.shape == (1,)
    custom = Line("mine", 6564.61, strength=0.5)
    assert deepz.line_search(WAVE, flux, z, lines=[custom], ivar=ivar).n_found == 1


def test_float32_ivar_and_flux_keep_dtype(rng):
    wave, flux, ivar, z = simulate_line_spectra(3, rng)
    res = deepz.line_search(wave, flux.astype(np.float32), z, ivar=ivar.astype(np.float32))
    assert res.z.dtype == res.line_snr.dtype == res.quality.dtype == np.float32
    np.testing.assert_allclose(res.z, z, atol=2e-4)


# -- bad input -------------------------------------------------------------------------

FLUX = np.zeros((2, WAVE.size))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"z0": -1.0}, ValueError, "z0"),
        ({"z0": [0.1, -1.5]}, ValueError, "z0"),
        ({"z0": [0.1, np.nan]}, ValueError, "z0"),
        ({"z0": [0.1, 0.2, 0.3]}, ValueError, "z0"),
        ({"z0": "0.1"}, TypeError, "z0"),
        ({"window": 0.0}, ValueError, "window"),
        ({"window": -0.01}, ValueError, "window"),
        ({"window": 1.0}, ValueError, "window"),
        ({"window": np.nan}, ValueError, "window"),
        ({"weights": (1.0, 1.0)}, ValueError, "weights"),
        ({"weights": (1.0, -1.0, 1.0)}, ValueError, "weights"),
        ({"weights": (0.0, 0.0, 0.0)}, ValueError, "weights"),
        ({"weights": (1.0, np.inf, 1.0)}, ValueError, "weights"),
        ({"weights": ("a", 1, 1)}, TypeError, "weights"),
        ({"weights": 1.0}, TypeError, "weights"),
        ({"snr_min": -1.0}, ValueError, "snr_min"),
        ({"snr_min": np.nan}, ValueError, "snr_min"),
        ({"lines": []}, ValueError, "lines"),
        ({"lines": ["Halpha", "Hepsilon"]}, ValueError, "lines.*Hepsilon"),
        ({"lines": np.array([6564.61, -1.0])}, ValueError, "lines"),
        ({"lines": [6564.61, np.nan]}, ValueError, "lines"),
        ({"lines": [None]}, TypeError, "lines"),
        ({"lines": 3}, TypeError, "lines"),
        ({"threads": 0}, ValueError, "threads"),
        ({"ivar": np.ones((2, 10))}, ValueError, "ivar"),
        ({"ivar": -np.ones((2, WAVE.size))}, ValueError, "ivar"),
        ({"ivar": np.ones((2, WAVE.size), dtype=np.int64)}, TypeError, "ivar"),
        ({"flux": FLUX.astype(np.int32)}, TypeError, "flux"),
        ({"flux": FLUX.astype(np.float16)}, TypeError, "flux"),
        ({"flux": np.zeros((0, WAVE.size))}, ValueError, "flux"),
        ({"flux": np.zeros((2, 3, 4))}, ValueError, "flux"),
        ({"wave": WAVE[:-1]}, ValueError, "wave"),
        ({"wave": np.tile(WAVE, (3, 1))}, ValueError, "wave"),
        ({"wave": np.where(WAVE == 5000.0, 4999.0, WAVE)}, ValueError, "wave"),
        ({"wave": np.where(WAVE == 5000.0, np.nan, WAVE)}, ValueError, "wave"),
        ({"wave": WAVE[:2], "flux": FLUX[:, :2]}, ValueError, "wave"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"wave": WAVE, "flux": FLUX, "z0": 0.1}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        deepz.line_search(**args)
