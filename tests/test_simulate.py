"""deepz.simulate observers: shapes, units, physics, the noise criterion, reproducibility."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import deepz
from deepz import grids
from deepz import simulate as sim
from deepz.simulate import _common as cm
from deepz.simulate._seeding import uniforms
from deepz.templates import FLAM, TemplateLibrary

# small built-in libraries, shared by the tests (built once per process, cached)
EUC = {"n_templates": 30}
LIB = {"n_galaxies": 30, "n_stars": 10, "n_qsos": 10}
HALPHA = 6564.61


def _same(a: sim.SimulatedBatch, b: sim.SimulatedBatch) -> None:
    da, db = a.per_sample(), b.per_sample()
    assert sorted(da) == sorted(db)
    for key in da:
        np.testing.assert_array_equal(da[key], db[key], err_msg=key)


OBSERVERS = {
    "euclid_noisy": lambda: sim.euclid_nisp(noise=True, **EUC),
    "euclid_merge4": lambda: sim.euclid_nisp(noise=True, merge=4, flux_model="distance", **EUC),
    "sdss": lambda: sim.sdss(**LIB),
    "desi_combined": lambda: sim.desi(combine=True, **LIB),
    "gasnet": lambda: sim.gasnet(**LIB),
    "photometry_selected": lambda: sim.photometry(filters="sdss", select=("r", 22.0), **LIB),
}


# -- reproducibility ------------------------------------------------------------------


def test_uniforms_depend_on_the_sample_index_only():
    whole = uniforms(7, 1, 0, 30, 6)
    parts = np.vstack([uniforms(7, 1, 0, 11, 6), uniforms(7, 1, 11, 19, 6)])
    np.testing.assert_array_equal(whole, parts)
    assert not np.array_equal(uniforms(8, 1, 0, 30, 6), whole)
    assert not np.array_equal(uniforms(7, 2, 0, 30, 6), whole)
    assert np.all((whole >= 0) & (whole < 1))


@pytest.mark.parametrize("name", OBSERVERS)
def test_batch_split_invariance(name):
    """simulate(10, s) + simulate(10, s, offset=10) == simulate(20, s), bit for bit."""
    obs = OBSERVERS[name]()
    whole = obs.simulate(20, seed=11)
    first, second = obs.simulate(10, seed=11), obs.simulate(10, seed=11, offset=10)
    _same(whole, sim.SimulatedBatch.concatenate([first, second]))
    _same(whole[5:17], obs.simulate(12, seed=11, offset=5))


@pytest.mark.parametrize("name", ["euclid_noisy", "sdss", "photometry_selected"])
def test_same_seed_same_data_other_seed_other_data(name):
    obs = OBSERVERS[name]()
    a, b, c = obs.simulate(16, 3), obs.simulate(16, 3), obs.simulate(16, 4)
    _same(a, b)
    assert not np.array_equal(a.z, c.z)
    assert not np.array_equal(a.flux, c.flux)


def test_thread_count_does_not_change_the_data():
    obs = sim.desi(**LIB)
    _same(obs.simulate(12, 5, threads=1), obs.simulate(12, 5, threads=2))


def test_noise_is_the_only_difference_between_clean_and_noisy():
    noisy = sim.euclid_nisp(noise=True, **EUC).simulate(50, 2)
    clean = sim.euclid_nisp(noise=False, **EUC).simulate(50, 2)
    np.testing.assert_array_equal(noisy.z, clean.z)
    np.testing.assert_array_equal(noisy.template, clean.template)
    assert not np.array_equal(noisy.flux, clean.flux)


# -- Euclid: the Stivaktakis et al. set-up --------------------------------------------


def test_euclid_shapes_grids_labels_and_ranges():
    obs = sim.euclid_nisp(noise=True, **EUC)
    b = obs.simulate(500, seed=1)
    assert b.flux.shape == b.ivar.shape == (500, 1800)
    assert b.flux.dtype == np.float32
    assert b.z.dtype == np.float64
    np.testing.assert_allclose(b.wave, 11002.5 + 5.0 * np.arange(1800))
    np.testing.assert_allclose(obs.rest_wave, 1255.0 + 5.0 * np.arange(3750))
    assert obs.rest_wave.size == 3750
    assert cm.edges(obs.rest_wave)[[0, -1]].tolist() == [1252.5, 20002.5]
    assert np.all((b.z >= 1.0) & (b.z < 1.8))
    assert obs.n_z_classes == 800
    np.testing.assert_array_equal(b.z_class, np.floor((b.z - 1.0) / 0.001).astype(int).clip(0, 799))
    assert b.z_class.min() >= 0
    assert b.z_class.max() <= 799
    # X / (2 X_max): one constant factor, inputs within about [-0.5, 0.5]
    xmax = obs.resolved_xmax()
    np.testing.assert_array_equal(b.norm, 2 * xmax)
    assert np.abs(b.flux).max() < 0.75
    np.testing.assert_allclose(b.ivar, 1 / (obs.sigma_pixel / (2 * xmax)) ** 2, rtol=1e-6)
    assert set(b.class_names[i] for i in b.label) == {"GALAXY"}
    assert b.unit == cm.FLUX_UNIT
    # the pilot that fixes X_max has exactly 0.5 as its largest |value|
    pilot = obs.simulate(obs.pilot_n, obs.pilot_seed)
    assert np.abs(pilot.flux).max() == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize(("merge", "pixels"), [(2, 900), (4, 450), (8, 225)])
def test_euclid_merge_is_merge_bins_of_the_full_grid(merge, pixels):
    full = sim.euclid_nisp(norm="none", **EUC).simulate(40, 6)
    merged = sim.euclid_nisp(norm="none", merge=merge, **EUC).simulate(40, 6)
    assert merged.flux.shape == (40, pixels)
    ref = deepz.merge_bins(full.flux.astype(np.float64), merge, how="mean")
    np.testing.assert_allclose(merged.flux, ref, rtol=2e-5, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(
        merged.wave, full.wave[: pixels * merge].reshape(pixels, merge).mean(1)
    )
    # the noise of a mean of k pixels
    noisy = sim.euclid_nisp(noise=True, norm="none", merge=merge, **EUC)
    assert noisy.simulate(4, 0).ivar[0, 0] == pytest.approx(merge / noisy.sigma_pixel**2, rel=1e-6)


def test_euclid_1600_slots():
    obs = sim.euclid_nisp(z_bin=0.0005, **EUC)
    b = obs.simulate(300, 2)
    assert obs.n_z_classes == 1600
    np.testing.assert_array_equal(
        b.z_class, np.floor((b.z - 1.0) / 0.0005).astype(int).clip(0, 1599)
    )


def test_euclid_noise_arithmetic():
    obs = sim.euclid_nisp(noise=True)
    # R = 250 at 1.5 micron: 60 A = 12 pixels; sigma = 3e-16 / (5 sqrt 12) erg/s/cm^2/A
    assert obs.n_res == pytest.approx(12.0)
    assert obs.sigma_pixel == pytest.approx(3e-16 / (5 * math.sqrt(12)) * 1e17)
    assert obs.sigma_pixel == pytest.approx(1.7320508, rel=1e-7)


def _line_library(sigma_a: float = 1.0, flux10: float = 1e-12):
    """One template: no continuum, one H-alpha line of ``flux10`` erg/s/cm^2 at 10 pc."""
    wave = cm.loglam_grid(1000.0, 22000.0, 3e-5)
    edges = cm.edges(wave)
    from scipy.special import ndtr

    cdf = ndtr((edges - HALPHA) / sigma_a)
    flux = flux10 * np.diff(cdf) / np.diff(edges)
    lum = flux10 * 4 * math.pi * (10 * 3.0856775814913673e18) ** 2
    return TemplateLibrary(
        wave,
        flux[None, :],
        meta={"L_Halpha": [lum]},
        unit=FLAM,
        ref_distance_pc=10.0,
        name="halpha-line",
    )


def _window(obs, z, half=6):
    """The 12 pixels (a resolution element) centred on the redshifted line."""
    centre = np.searchsorted(cm.edges(obs.wave), HALPHA * (1 + z)) - 1
    return centre[:, None] + np.arange(-half, half)[None, :]


@pytest.mark.parametrize("z_range", [(1.0, 1.05), (1.35, 1.4), (1.75, 1.8)])
def test_euclid_halpha_line_of_3e16_is_detected_at_one_sigma(z_range):
    """Measured: an unresolved 3e-16 line summed over 12 pixels has S/N 1 over many noise draws."""
    lib = _line_library()
    kw = {
        "library": lib,
        "lsf": False,
        "norm": "none",
        "halpha_flux": (3e-16, 3e-16),
        "z_min": z_range[0],
        "z_max": z_range[1],
    }
    clean = sim.euclid_nisp(noise=False, **kw).simulate(3000, seed=9)
    noisy = sim.euclid_nisp(noise=True, **kw).simulate(3000, seed=9)
    rows = np.arange(3000)[:, None]
    win = _window(noisy, noisy.z)
    to_cgs = 5.0 * 1e-17  # pixel width (A) x unit
    line = clean.flux[rows, win].sum(axis=1) * to_cgs
    np.testing.assert_allclose(line, 3e-16, rtol=5e-3)  # all the line's flux is in the window
    est = noisy.flux[rows, win].astype(np.float64).sum(axis=1) * to_cgs
    snr = est.mean() / est.std()
    assert snr == pytest.approx(1.0, abs=0.06)
    resid = (noisy.flux - clean.flux).astype(np.float64)
    assert resid.std() == pytest.approx(1.7320508, rel=0.01)


def test_euclid_halpha_peak_lands_in_the_right_pixel():
    """The line peaks in the pixel of 6564.61 (1 + z), up to the 5-A rest grid's pixelisation."""
    lib = _line_library(sigma_a=1.5)
    for lsf in (False, True):
        obs = sim.euclid_nisp(library=lib, lsf=lsf, norm="none", flux_model="distance")
        b = obs.simulate(200, seed=4)
        expected = np.searchsorted(cm.edges(b.wave), HALPHA * (1 + b.z)) - 1
        peak = np.argmax(b.flux, axis=1)
        assert np.all(np.abs(peak - expected) <= 1)
        assert np.mean(peak == expected) > 0.8
        # flux-weighted centroid within a pixel (the rest bins are 5 A: 10-14 A observed)
        f = b.flux.astype(np.float64)
        centroid = (f * b.wave).sum(axis=1) / f.sum(axis=1)
        assert np.all(np.abs(centroid - HALPHA * (1 + b.z)) < 5.0)
        # the line's flux: F10 (10 pc / d_L)^2, conserved by the redshift (f_lambda / (1 + z))
        total = f.sum(axis=1) * 5.0 * 1e-17
        np.testing.assert_allclose(total, 1e-12 * cm.distance_scale(b.z), rtol=2e-3)


def test_euclid_default_library_shows_its_halpha_where_physics_says():
    obs = sim.euclid_nisp(norm="none", **EUC)
    b = obs.simulate(300, seed=2)
    expected = np.searchsorted(cm.edges(b.wave), HALPHA * (1 + b.z)) - 1
    rows = np.arange(len(b))[:, None]
    win = expected[:, None] + np.arange(-20, 21)[None, :]
    local_peak = expected - 20 + np.argmax(b.flux[rows, win], axis=1)
    # star-forming galaxies: H-alpha dominates its blend with [NII] at R = 250 (in AGN, [NII]
    # 6583 can be the stronger line, and the blend peaks up to ~19 A rest redward)
    names = np.array(b.subclass_names)[b.subclass]
    sf = np.isin(names, ["GALAXY:STARFORMING", "GALAXY:STARBURST"])
    assert sf.sum() > 100
    assert np.all(np.abs(local_peak - expected)[sf] <= 1)
    assert np.all(np.abs(local_peak - expected) <= 10)
    np.testing.assert_allclose(b.extra["halpha_flux"].min() >= 2e-16, True)


def test_luminosity_distance_matches_astropy():
    from astropy.cosmology import Planck18

    z = np.array([0.001, 0.05, 0.5, 1.0, 1.4, 1.8, 3.0, 6.0])
    np.testing.assert_allclose(
        cm.luminosity_distance_pc(z), Planck18.luminosity_distance(z).to_value("pc"), rtol=1e-7
    )


# -- ground-based surveys -------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "grid"), [(sim.sdss, "sdss"), (sim.gasnet, "gasnet"), (sim.fourmost, "fourmost_lrs")]
)
def test_single_arm_surveys_grids_and_ranges(make, grid):
    obs = make(**LIB)
    b = obs.simulate(60, 1)
    np.testing.assert_array_equal(b.wave, grids.preset(grid))
    assert b.flux.shape == (60, grids.preset(grid).size)
    assert np.all(np.isfinite(b.flux))
    assert np.all(b.ivar >= 0)
    for t, tgt in enumerate(obs.targets):
        sel = b.extra["target"] == t
        assert np.all((b.z[sel] >= tgt.z_min) & (b.z[sel] < tgt.z_max))
        assert np.all(np.array(b.class_names)[b.label[sel]] == tgt.cls)


def test_drawn_snr_is_mean_flux_over_median_sigma():
    obs = sim.sdss(noise=False, mask_fraction=0.0, **LIB)
    b = obs.simulate(100, 3)
    level = np.abs(b.flux.astype(np.float64)).mean(axis=1)
    median_sigma = np.median(1 / np.sqrt(b.ivar.astype(np.float64)), axis=1)
    np.testing.assert_allclose(level / median_sigma, b.extra["snr"], rtol=2e-3)
    assert np.median(b.extra["snr"][b.label == 0]) == pytest.approx(8.0, rel=0.3)


def test_masks_and_sky_lines():
    obs = sim.sdss(mask_fraction=0.01, **LIB)
    b = obs.simulate(200, 8)
    masked = b.ivar == 0
    assert masked.mean() == pytest.approx(0.01, rel=0.15)
    assert np.all(b.flux[masked] == 0)
    # [OI] 5577 is a noisy region: its pixel's sigma is well above its neighbours'
    shape = obs._sigma_shapes()[0]
    at = np.argmin(np.abs(b.wave - 5578.9))
    assert shape[at] > 3 * shape[at - 30]
    no_sky = dataclasses.replace(obs, sky_lines=False)._sigma_shapes()[0]
    assert no_sky[at] == pytest.approx(no_sky[at - 1], rel=1e-2)


def test_desi_arms_side_by_side_and_combined():
    side = sim.desi(noise=False, mask_fraction=0.0, **LIB)
    both = dataclasses.replace(side, combine=True)
    a, c = side.simulate(30, 2), both.simulate(30, 2)
    arms = a.meta["arms"]
    assert list(arms) == ["b", "r", "z"]
    assert a.flux.shape[1] == sum(grids.preset(f"desi_{k}").size for k in "brz")
    np.testing.assert_allclose(c.wave, 3600.0 + 0.8 * np.arange(c.wave.size))
    assert c.wave[-1] == pytest.approx(9824.0)
    # outside the overlaps the coadd is the arm itself; in them the ivars add
    s, e = arms["b"]
    b_only = c.wave < 5760.0 - 0.4
    np.testing.assert_allclose(c.flux[:, b_only], a.flux[:, s:e][:, : b_only.sum()], rtol=1e-6)
    j = np.argmin(np.abs(c.wave - 5780.0))
    jb = s + np.argmin(np.abs(grids.preset("desi_b") - 5780.0))
    jr = arms["r"][0] + np.argmin(np.abs(grids.preset("desi_r") - 5780.0))
    np.testing.assert_allclose(c.ivar[:, j], a.ivar[:, jb] + a.ivar[:, jr], rtol=1e-5)


def test_resampled_onto_another_grid():
    """sdss(grid=...) resamples after noise (deepz.resample); onto its own grid: the identity."""
    native = sim.sdss(**LIB).simulate(20, 3)
    same = sim.sdss(grid="sdss", **LIB).simulate(20, 3)
    np.testing.assert_allclose(same.flux, native.flux, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(same.ivar, native.ivar, rtol=1e-4)
    on_gasnet = sim.desi(grid="gasnet", noise=False, mask_fraction=0.0, **LIB).simulate(20, 3)
    assert on_gasnet.flux.shape == (20, 5001)
    assert np.all(on_gasnet.ivar > 0)
    assert on_gasnet.meta["arms"] == {}
    direct = sim.desi(combine=True, noise=False, mask_fraction=0.0, **LIB).simulate(20, 3)
    ref = deepz.resample(direct.wave, direct.flux, on_gasnet.wave)
    # away from the arms' overlaps, resampling and coadding commute exactly
    w = on_gasnet.wave
    single = ((w > 4001) & (w < 5755)) | ((w > 5805) & (w < 7515)) | ((w > 7625) & (w < 8999))
    np.testing.assert_allclose(
        on_gasnet.flux[:, single], ref[:, single], rtol=1e-4, atol=1e-6 * np.abs(ref).max()
    )
    np.testing.assert_allclose(on_gasnet.flux, ref, rtol=2e-3, atol=1e-6 * np.abs(ref).max())
    with pytest.raises(ValueError, match="grid or combine"):
        sim.desi(grid="gasnet", combine=True, **LIB)


def test_gasnet_convention_unit_l2_norm():
    b = sim.gasnet(**LIB).simulate(40, 0)
    assert b.flux.shape == (40, 5001)
    assert b.wave[0] == 4000.0
    assert b.wave[-1] == 9000.0
    norms = np.sqrt((b.flux.astype(np.float64) ** 2).sum(axis=1))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    phys = b.physical_flux
    np.testing.assert_allclose(np.sqrt((phys.astype(np.float64) ** 2).sum(1)), b.norm, rtol=1e-5)


def test_qso_lyman_alpha_forest_is_applied():
    obs = sim.sdss(
        noise=False,
        mask_fraction=0.0,
        targets=(sim.Target("QSO", "QSO", 1.0, 3.0, 3.2, snr=5.0),),
        **LIB,
    )
    bare = dataclasses.replace(obs, lya_forest=False)
    a, b = obs.simulate(20, 1), bare.simulate(20, 1)
    blue = b.wave < 1100 * (1 + a.z.min())
    red = b.wave > 1300 * (1 + a.z.max())
    assert np.all(a.flux[:, blue].sum(1) < 0.9 * b.flux[:, blue].sum(1))
    np.testing.assert_allclose(
        a.flux[:, red] / a.norm[:, None], b.flux[:, red] / b.norm[:, None], rtol=1e-5
    )


# -- photometry -----------------------------------------------------------------------


def test_photometry_magnitudes_errors_and_conventions():
    obs = sim.photometry(filters="alhambra", **LIB)
    b = obs.simulate(400, 2)
    assert b.flux.shape == (400, 23)
    assert b.unit == "uJy"
    mag, err = b.extra["mag"], b.extra["mag_err"]
    zp = deepz.filters.AB_ZEROPOINT_UJY
    sigma = obs.sigma
    det = (mag > -90) & (mag < 90)
    np.testing.assert_allclose(
        mag[det], zp - 2.5 * np.log10(b.flux[det].astype(np.float64)), atol=1e-4
    )
    np.testing.assert_allclose(err[det], 1.0857362 * (sigma[None, :] / b.flux)[det], rtol=1e-4)
    und = mag == sim.UNDETECTED
    assert und.any()
    np.testing.assert_allclose(
        err[und], np.broadcast_to(zp - 2.5 * np.log10(sigma), mag.shape)[und], rtol=1e-5
    )
    # depths: 5 sigma at the limiting magnitude
    np.testing.assert_allclose(5 * sigma, 10 ** (-0.4 * (np.array(obs.depths) - zp)))
    sat = sim.photometry(filters="sdss", saturation=40.0, **LIB).simulate(50, 0)
    bright = sat.extra["mag_true"] < 40.0  # not the bands a Lyman limit leaves at zero flux
    assert bright.mean() > 0.9
    assert np.all(sat.extra["mag"][bright] == sim.SATURATED)
    assert np.all(sat.ivar[bright] == 0)
    assert np.all(sat.extra["mag"][~bright] != sim.SATURATED)


def test_photometry_clean_magnitudes_are_synthetic_photometry():
    obs = sim.photometry(filters="sdss", noise=False, **LIB)
    b = obs.simulate(30, 4)
    prep = obs.prepared()
    k, z, s = b.template[0], b.z[0], b.extra["flux_scale"][0]
    spec = deepz.redshift(prep.flux[k].astype(np.float64), prep.rest_wave, 0, z, obs.obs_wave)
    spec = spec * s * 1e-17
    if b.label[0] != 1:
        from deepz.templates import lya_forest_transmission

        spec = spec * lya_forest_transmission(obs.obs_wave, z)
    ref = deepz.filters.ab_flux(obs.obs_wave, spec, obs.bands)
    np.testing.assert_allclose(b.flux[0], ref, rtol=1e-5)


def test_photometry_selection_is_a_magnitude_limit():
    obs = sim.photometry(filters="sdss", select=("r", 21.0), **LIB)
    b = obs.simulate(200, 3)
    r = b.extra["mag_true"][:, obs.band_names.index("r")]
    assert np.all(r[b.extra["selected"]] <= 21.0 + 1e-4)
    assert b.extra["selected"].mean() > 0.95


# -- bad configurations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"z_max": 8.0}, "z_max"),
        ({"z_min": 0.0}, "z_min"),
        ({"z_min": 1.5, "z_max": 1.2}, "z_max"),
        ({"merge": 200}, "merge"),
        ({"merge": 0}, "merge"),
        ({"z_bin": 0.0007}, "z_bin"),
        ({"norm": "zscore"}, "norm"),
        ({"lambda_ref": 5000.0}, "lambda_ref"),
        ({"halpha_flux": (3e-16, 1e-16)}, "halpha_flux"),
        ({"flux_model": "magic"}, "flux_model"),
    ],
)
def test_euclid_bad_configuration_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.euclid_nisp(**kwargs)


@pytest.mark.parametrize(("n", "err"), [(-1, ValueError), (0, ValueError), (2.5, TypeError)])
def test_bad_n(n, err):
    with pytest.raises(err, match="n must be"):
        sim.euclid_nisp(**EUC).simulate(n, 0)


def test_bad_seed_and_offset():
    obs = sim.euclid_nisp(**EUC)
    with pytest.raises(ValueError, match="seed"):
        obs.simulate(2, -1)
    with pytest.raises(ValueError, match="offset"):
        obs.simulate(2, 0, offset=-3)
    with pytest.raises(TypeError, match="dtype"):
        obs.simulate(2, 0, dtype=np.int32)


def test_spectro_bad_configurations_name_the_field():
    qso = sim.Target("QSO", "QSO", 1.0, 0.5, 9.0, snr=2.0)
    with pytest.raises(ValueError, match=r"targets\[0\].z_max"):
        sim.sdss(targets=(qso,), **LIB)
    with pytest.raises(ValueError, match="min_pixels"):
        sim.sdss(min_pixels=5000, **LIB)
    with pytest.raises(ValueError, match="z_min must be > 0"):
        sim.Target("G", "GALAXY", 1.0, 0.0, 0.3, snr=5.0)
    with pytest.raises(ValueError, match="unknown grid preset"):
        sim.Arm("x", "hubble")
    with pytest.raises(ValueError, match="combine"):
        sim.sdss(combine=True, arms=(sim.Arm("a", "sdss"), sim.Arm("b", "desi_r")), **LIB)
    with pytest.raises(ValueError, match="mask_fraction"):
        sim.desi(mask_fraction=0.7, **LIB)
    with pytest.raises(ValueError, match="targets"):
        sim.sdss(targets=(), **LIB)
    bad = sim.sdss(
        targets=(sim.Target("L", "GALAXY", 1.0, 0.1, 0.3, snr=2.0, subclasses=("ELLIPTICAL",)),),
        **LIB,
    )
    with pytest.raises(ValueError, match=r"targets\[0\].subclasses"):
        bad.simulate(2, 0)


def test_photometry_bad_configurations_name_the_field():
    with pytest.raises(ValueError, match="select"):
        sim.photometry(select=("Q", 20.0), **LIB)
    with pytest.raises(ValueError, match="depths"):
        sim.photometry(filters="sdss", depths=(22.0, 21.0), **LIB)
    with pytest.raises(ValueError, match="unknown filter set"):
        sim.photometry(filters="hst", **LIB)
    with pytest.raises(ValueError, match=r"populations\[0\].z_max"):
        sim.photometry(populations=(sim.Population("Q", "QSO", 1.0, 1.0, 9.0),), **LIB)


def test_observer_registry():
    assert set(sim.OBSERVERS) >= {
        "euclid",
        "sdss",
        "desi",
        "fourmost",
        "gasnet",
        "photometry-sdss",
        "photometry-alhambra",
    }
    assert sim.observer("desi", **LIB).name == "desi"
    with pytest.raises(ValueError, match="unknown survey"):
        sim.observer("lsst")
