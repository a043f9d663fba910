"""deepz.templates: the TemplateLibrary container, loaders, registry and argument errors.

The physics of the built-in models is in test_templates_physics.py.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

import deepz.templates as T
from deepz import kernels
from deepz.templates import loaders
from deepz.templates.library import TemplateLibrary, concatenate, d4000, distance_scale


def _lib(k=3, m=101, lo=3000.0, hi=9000.0, cls="GALAXY", **kw):
    wave = np.linspace(lo, hi, m)
    flux = np.arange(1, k + 1, dtype=float)[:, None] * np.ones((k, m))
    return T.from_arrays(wave, flux, cls=cls, **kw)


def _resample_or_skip(lib, new_wave, **kw):
    try:
        return lib.resample(new_wave, **kw)
    except NotImplementedError:
        pytest.skip("deepz.kernels.resample is not built in this branch yet")


def _numpy_rebin(wave, flux, new_wave):
    """Overlap-weighted bin means (the SpectRes definition), for checking the kernel's result."""

    def edges(w):
        mid = 0.5 * (w[1:] + w[:-1])
        return np.concatenate(([w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]))

    e_in, e_out = edges(wave), edges(new_wave)
    out = np.empty((flux.shape[0], new_wave.size))
    for j in range(new_wave.size):
        ov = np.clip(np.minimum(e_in[1:], e_out[j + 1]) - np.maximum(e_in[:-1], e_out[j]), 0, None)
        out[:, j] = (flux * ov).sum(1) / ov.sum()
    return out


# -- the container ---------------------------------------------------------------------------
def test_library_basics_and_readonly():
    wave = np.linspace(3000.0, 9000.0, 11)
    flux = np.ones((2, 11))
    lib = TemplateLibrary(wave, flux, name="x")
    assert len(lib) == 2
    assert lib.n_pixels == 11
    assert lib.flux.dtype == np.float64
    assert lib.flux.shape == (2, 11)
    assert list(lib.meta["class"]) == ["GALAXY", "GALAXY"]
    assert not lib.flux.flags.writeable
    assert not lib.wave.flags.writeable
    assert flux.flags.writeable
    assert wave.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        lib.flux[0, 0] = 2.0
    text = repr(lib)
    assert "K=2" in text
    assert "M=11" in text
    assert "GALAXY 2" in text
    assert "3000.0-9000.0 A" in text


def test_repr_of_physical_library_names_grid_and_unit():
    lib = T.stars(5, seed=0)
    text = repr(lib)
    assert "log-lambda 3e-05 (20.7 km/s)" in text
    assert "at 10 pc" in text
    assert "STAR 5" in text


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"wave": [3000.0, 2999.0, 3001.0]}, ValueError, "wave must be strictly increasing"),
        ({"wave": [[3000.0, 4000.0]]}, ValueError, "wave must be 1-D"),
        ({"wave": [3000.0, np.nan, 5000.0]}, ValueError, "wave must be finite"),
        ({"flux": np.ones((2, 4))}, ValueError, r"flux must have shape \(K, 3\)"),
        ({"flux": np.array([[1.0, np.inf, 1.0]])}, ValueError, "infinities"),
        ({"flux": np.array([["a", "b", "c"]])}, TypeError, "flux must hold real numbers"),
        ({"meta": {"class": ["GALAXY", "QSO"]}}, ValueError, "one row per template"),
        ({"meta": {"class": ["ELEPHANT"]}}, ValueError, r"meta\['class'\] must be one of"),
        ({"unit": "not-a-unit"}, ValueError, "unit must be"),
        ({"ref_distance_pc": -1.0}, ValueError, "ref_distance_pc must be > 0"),
    ],
)
def test_library_bad_inputs(kwargs, exc, match):
    args = {"wave": [3000.0, 4000.0, 5000.0], "flux": np.ones((1, 3))}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        TemplateLibrary(**args)


def test_select_mask_indices_slice():
    lib = _lib(k=4)
    assert np.array_equal(lib.select([True, False, True, False]).flux[:, 0], [1.0, 3.0])
    assert np.array_equal(lib.select([3, 0, -1]).flux[:, 0], [4.0, 1.0, 4.0])
    assert np.array_equal(lib.select(slice(1, 3)).flux[:, 0], [2.0, 3.0])
    assert np.array_equal(lib.select(lib.meta["class"] == "GALAXY").flux, lib.flux)
    assert len(lib.select(np.zeros(4, bool))) == 0
    with pytest.raises(ValueError, match=r"which: a boolean mask needs shape \(4,\)"):
        lib.select([True, False])
    with pytest.raises(ValueError, match="which: index out of range"):
        lib.select([4])
    with pytest.raises(TypeError, match="which must be"):
        lib.select([0.5])


def test_concatenate_joins_meta_and_converts_units():
    a = _lib(k=2, meta={"age": [1.0, 2.0]}, unit="erg / (s cm2 Angstrom)")
    b = _lib(k=1, cls="QSO", meta={"alpha": [-0.5]}, unit="W / (m2 um)")
    c = concatenate([a, b])
    assert len(c) == 3
    assert list(c.meta["class"]) == ["GALAXY", "GALAXY", "QSO"]
    # 1 W/m^2/um = 0.1 erg/s/cm^2/A
    assert np.allclose(c.flux[2], 0.1 * b.flux[0])
    assert np.isnan(c.meta["alpha"][0])
    assert c.meta["alpha"][2] == -0.5
    assert np.isnan(c.meta["age"][2])
    assert a.concatenate(b).flux.shape == (3, a.n_pixels)


def test_concatenate_refuses_mismatches():
    a = _lib(m=101)
    with pytest.raises(ValueError, match="resample it first"):
        concatenate([a, _lib(m=51)])
    with pytest.raises(ValueError, match="does not convert"):
        concatenate([_lib(unit="erg / (s cm2 Angstrom)"), _lib(unit="m")])
    with pytest.raises(ValueError, match="ref_distance_pc"):
        concatenate([_lib(ref_distance_pc=10.0), _lib()])
    with pytest.raises(ValueError, match="at least one"):
        concatenate([])
    with pytest.raises(TypeError, match=r"libraries\[1\] is not a TemplateLibrary"):
        concatenate([a, np.ones(3)])


def test_normalise_window_band_and_errors():
    wave = np.linspace(3000.0, 9000.0, 601)
    flux = np.vstack([np.full(601, 2.0), wave / 1000.0])
    lib = T.from_arrays(wave, flux, unit="erg / (s cm2 Angstrom)", ref_distance_pc=10.0)
    out = lib.normalise(5500.0)
    sel = (wave >= 5450.0) & (wave <= 5550.0)
    assert np.allclose(out.flux[:, sel].mean(1), 1.0)
    assert out.unit == u.dimensionless_unscaled
    assert out.ref_distance_pc is None
    assert np.allclose(out.meta["norm"], lib.flux[:, sel].mean(1))
    assert np.allclose(lib.normalise((4000.0, 5000.0), value=3.0).flux[0], 3.0)
    band = (np.array([5000.0, 5500.0, 6000.0]), np.array([0.0, 1.0, 0.0]))
    nb = lib.normalise(band)
    assert np.allclose(nb.flux[0], 1.0)
    twice = out.normalise(5500.0, value=2.0)
    assert np.allclose(twice.meta["norm"], out.meta["norm"] * 0.5)
    with pytest.raises(ValueError, match="at: the window .* holds no pixel"):
        lib.normalise(20000.0)
    zero = T.from_arrays(wave, np.vstack([np.ones(601), np.zeros(601)]))
    with pytest.raises(ValueError, match=r"at: templates \[1\] have no positive mean"):
        zero.normalise(5500.0)
    with pytest.raises(ValueError, match="width must be > 0"):
        lib.normalise(5500.0, width=0.0)
    with pytest.raises(ValueError, match="value must be > 0"):
        lib.normalise(5500.0, value=-1.0)


def test_resample_calls_the_kernel(monkeypatch):
    calls = {}

    def fake(wave, flux, new_wave, ivar=None, method="flux", fill=np.nan, threads=None):
        calls.update(wave=wave, flux=flux, new_wave=new_wave, method=method, fill=fill)
        return _numpy_rebin(np.asarray(wave), np.asarray(flux), np.asarray(new_wave))

    monkeypatch.setattr(kernels, "resample", fake)
    lib = _lib(k=2, meta={"age": [1.0, 2.0]}, unit="erg / (s cm2 Angstrom)", ref_distance_pc=10.0)
    new = np.linspace(3500.0, 8500.0, 26)
    out = lib.resample(new, method="flux", fill=0.0)
    assert calls["method"] == "flux"
    assert calls["fill"] == 0.0
    assert np.array_equal(calls["wave"], lib.wave)
    assert np.array_equal(calls["new_wave"], new)
    assert np.array_equal(out.wave, new)
    assert out.flux.shape == (2, 26)
    assert np.allclose(out.flux[:, 0], [1.0, 2.0])
    assert list(out.meta["age"]) == [1.0, 2.0]
    assert out.unit == lib.unit
    assert out.ref_distance_pc == 10.0
    with pytest.raises(ValueError, match="new_wave must be strictly increasing"):
        lib.resample(new[::-1])


def test_resample_with_the_real_kernel_conserves_flux():
    lib = T.galaxies(2, seed=5, wave=np.linspace(3000.0, 9000.0, 6001))
    new = np.linspace(3500.0, 8500.0, 501)
    out = _resample_or_skip(lib, new)
    assert np.allclose(out.flux, _numpy_rebin(lib.wave, lib.flux, new), rtol=1e-10)


def test_d4000_definition():
    wave = np.linspace(3700.0, 4300.0, 601)
    fnu_flat = 1.0 / wave**2  # f_nu constant
    assert np.allclose(d4000(wave, fnu_flat), 1.0)
    step = np.where(wave > 3975.0, 2.0, 1.0) / wave**2
    assert np.allclose(d4000(wave, step), 2.0)
    with pytest.raises(ValueError, match="must cover"):
        d4000(np.linspace(4000.0, 5000.0, 11), np.ones(11))


def test_distance_scale_matches_astropy():
    from astropy.cosmology import Planck18

    z = np.array([0.1, 1.0, 2.5])
    expect = (10.0 / Planck18.luminosity_distance(z).to_value(u.pc)) ** 2
    assert np.allclose(distance_scale(z), expect)
    with pytest.raises(ValueError, match="z must be finite and > 0"):
        distance_scale(0.0)


# -- loaders ---------------------------------------------------------------------------------
def test_from_arrays_defaults_and_errors():
    lib = T.from_arrays([4000.0, 5000.0, 6000.0], [1.0, 2.0, 3.0], cls="STAR", subclass="G")
    assert len(lib) == 1
    assert lib.meta["class"][0] == "STAR"
    assert lib.meta["subclass"][0] == "G"
    assert lib.unit == u.dimensionless_unscaled
    assert lib.ref_distance_pc is None
    with pytest.raises(ValueError, match="cls must be one of"):
        T.from_arrays([4000.0, 5000.0], [1.0, 2.0], cls="PLANET")


def _write_sed(path, wave, flux, extra_column=False):
    with open(path, "w") as fh:
        fh.write("# lambda[A]  f_lambda\n# a comment\n")
        for w, f in zip(wave, flux, strict=True):
            fh.write(f"{float(w)!r} {float(f)!r}" + (" 7.0\n" if extra_column else "\n"))


def test_from_ascii_round_trip(tmp_path):
    wave = np.linspace(1000.0, 20000.0, 400)
    f1 = 1e-3 * (wave / 5000.0) ** -2
    f2 = np.exp(-(((wave - 6000.0) / 3000.0) ** 2)) + 0.1
    _write_sed(tmp_path / "blue.sed", wave, f1)
    _write_sed(tmp_path / "bump.dat", wave, f2, extra_column=True)
    lib = T.from_ascii([tmp_path / "blue.sed", tmp_path / "bump.dat"])
    assert len(lib) == 2
    assert list(lib.meta["subclass"]) == ["blue", "bump"]
    assert np.array_equal(lib.wave, wave)
    assert np.array_equal(lib.flux, [f1, f2])
    assert lib.meta["path"][0].endswith("blue.sed")
    single = T.from_ascii(str(tmp_path / "blue.sed"), cls="QSO")
    assert single.meta["class"][0] == "QSO"
    assert len(single) == 1


def test_from_ascii_errors(tmp_path):
    wave = np.linspace(1000.0, 2000.0, 10)
    _write_sed(tmp_path / "a.sed", wave, np.ones(10))
    _write_sed(tmp_path / "b.sed", wave * 1.1, np.ones(10))
    with pytest.raises(ValueError, match="another wavelength grid.*give wave="):
        T.from_ascii([tmp_path / "a.sed", tmp_path / "b.sed"])
    bad = tmp_path / "bad.sed"
    _write_sed(bad, [1000.0, 1100.0, 1100.0, 1200.0], np.ones(4))
    with pytest.raises(ValueError, match="bad.sed: wavelengths must increase strictly; line 3"):
        T.from_ascii(bad)
    text = tmp_path / "text.sed"
    text.write_text("1000 abc\n1100 2\n")
    with pytest.raises(ValueError, match="text.sed: not a table of numbers"):
        T.from_ascii(text)
    one = tmp_path / "one.sed"
    one.write_text("1000\n1100\n")
    with pytest.raises(ValueError, match="one.sed: need at least 2 rows of 2 columns"):
        T.from_ascii(one)
    with pytest.raises(FileNotFoundError, match="paths: no such file"):
        T.from_ascii(tmp_path / "missing.sed")


def test_from_ascii_onto_common_grid(tmp_path):
    wave = np.linspace(1000.0, 20000.0, 400)
    _write_sed(tmp_path / "a.sed", wave, np.ones(400))
    _write_sed(tmp_path / "b.sed", wave * 1.01, np.full(400, 2.0))
    new = np.linspace(2000.0, 15000.0, 100)
    try:
        lib = T.from_ascii([tmp_path / "a.sed", tmp_path / "b.sed"], wave=new)
    except NotImplementedError:
        pytest.skip("deepz.kernels.resample is not built in this branch yet")
    assert np.allclose(lib.flux, [[1.0] * 100, [2.0] * 100])


def _write_redrock(
    path, basis, crval, cdelt, loglam=True, extname=None, coeff=None, rrtype="GALAXY", subtype=""
):
    hdr = fits.Header()
    hdr["CRVAL1"] = crval
    hdr["CDELT1"] = cdelt
    if loglam is not None:
        hdr["LOGLAM"] = int(loglam)
    if rrtype is not None:
        hdr["RRTYPE"] = rrtype
    hdr["RRSUBTYP"] = subtype
    hdr["VERSION"] = "2.6"
    if extname is None:
        hdus = [fits.PrimaryHDU(basis, header=hdr)]
    else:
        hdus = [fits.PrimaryHDU(), fits.ImageHDU(basis, header=hdr, name=extname)]
    if coeff is not None:
        hdus.append(fits.ImageHDU(coeff, name="ARCHETYPE_COEFF"))
    fits.HDUList(hdus).writeto(path)


def test_from_redrock_fits_round_trip(tmp_path, rng):
    nwave = 500
    basis = rng.normal(size=(4, nwave))
    coeff = rng.normal(size=(6, 4))
    crval, cdelt = np.log10(3500.0), 1e-4
    path = tmp_path / "rrtemplate-GALAXY-None-v2.6.fits"
    _write_redrock(path, basis, crval, cdelt, coeff=coeff)
    lib = T.from_redrock_fits(path)
    assert np.allclose(lib.wave, 10.0 ** (crval + cdelt * np.arange(nwave)))
    assert np.array_equal(lib.flux, basis)
    assert list(lib.meta["class"]) == ["GALAXY"] * 4
    assert list(lib.meta["basis"]) == [0, 1, 2, 3]
    assert lib.meta.meta["KIND"] == "PCA"
    assert lib.meta.meta["VERSION"] == "2.6"
    arch = T.from_redrock_fits(path, archetypes=True)
    assert np.allclose(arch.flux, coeff @ basis)
    assert len(arch) == 6
    # linear grid, BASIS_VECTORS extension, a STAR subtype, coefficients stored transposed
    path2 = tmp_path / "rrtemplate-STAR-K.fits"
    _write_redrock(
        path2,
        basis,
        3600.0,
        0.5,
        loglam=None,
        extname="BASIS_VECTORS",
        coeff=coeff.T.copy(),
        rrtype="STAR",
        subtype="K",
    )
    star = T.from_redrock_fits(path2)
    assert np.allclose(star.wave, 3600.0 + 0.5 * np.arange(nwave))
    assert star.meta["class"][0] == "STAR"
    assert star.meta["subclass"][0] == "K"
    assert np.allclose(T.from_redrock_fits(path2, archetypes=True).flux, coeff @ basis)


def test_from_redrock_fits_errors(tmp_path):
    basis = np.ones((2, 50))
    _write_redrock(tmp_path / "qso.fits", basis, 3.5, 1e-4, rrtype="QUASAR")
    with pytest.raises(ValueError, match="RRTYPE must be one of"):
        T.from_redrock_fits(tmp_path / "qso.fits")
    _write_redrock(tmp_path / "nocoeff.fits", basis, 3.5, 1e-4)
    with pytest.raises(ValueError, match="archetypes=True needs an ARCHETYPE_COEFF"):
        T.from_redrock_fits(tmp_path / "nocoeff.fits", archetypes=True)
    _write_redrock(tmp_path / "badcoeff.fits", basis, 3.5, 1e-4, coeff=np.ones((3, 5)))
    with pytest.raises(ValueError, match="does not fit 2 basis vectors"):
        T.from_redrock_fits(tmp_path / "badcoeff.fits")
    fits.PrimaryHDU(basis).writeto(tmp_path / "nowave.fits")
    with pytest.raises(ValueError, match="CRVAL1 is missing"):
        T.from_redrock_fits(tmp_path / "nowave.fits")
    with pytest.raises(FileNotFoundError, match="path: no such file"):
        T.from_redrock_fits(tmp_path / "absent.fits")
    with pytest.raises(TypeError, match="path must be a path"):
        T.from_redrock_fits(3)


def test_kcorrect_templates_load():
    if importlib.util.find_spec("kcorrect") is None:
        pytest.skip("kcorrect is not installed (pip install kcorrect)")
    lib = T.kcorrect_templates()
    assert len(lib) == 5
    assert lib.n_pixels == 10000
    assert 590.0 < lib.wave[0] < 610.0
    assert lib.wave[-1] > 3e6
    assert lib.unit == T.FLAM
    assert lib.ref_distance_pc == 10.0
    assert np.all(lib.flux >= 0)
    assert np.all(np.isfinite(lib.flux))
    assert set(lib.meta.colnames) >= {"mremain", "mets", "m300", "m1000"}
    # the youngest (all mass formed in the last 300 Myr) has the weakest 4000 A break
    d4 = lib.d4000()
    assert np.argmin(d4) == int(np.argmax(lib.meta["m300"]))
    assert len(T.load("kcorrect", which="lrg1")) >= 1
    with pytest.raises(ValueError, match="which must be one of"):
        T.kcorrect_templates("v5")


def test_kcorrect_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(loaders.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install kcorrect"):
        T.kcorrect_templates()


# -- registry --------------------------------------------------------------------------------
def test_registry_names_and_errors():
    assert {"galaxies", "stars", "qsos", "kcorrect", "default"} <= set(T.available())
    assert T.load("qsos", n=2, seed=1).classes == {"QSO": 2}
    with pytest.raises(ValueError, match="name: unknown template library 'bc03'; known: "):
        T.load("bc03")
    with pytest.raises(ValueError, match="already registered"):
        T.register("stars")(lambda: None)


def test_default_library_mixes_classes_on_one_grid():
    lib = T.default_library(
        3, n_galaxies=6, n_stars=5, n_qsos=2, wave=np.geomspace(1000, 10000, 2000)
    )
    assert lib.classes == {"GALAXY": 6, "QSO": 2, "STAR": 5}
    assert lib.unit == T.FLAM
    assert lib.ref_distance_pc == 10.0
    assert np.all(np.isfinite(lib.flux))
    again = T.default_library(
        3, n_galaxies=6, n_stars=5, n_qsos=2, wave=np.geomspace(1000, 10000, 2000)
    )
    assert np.array_equal(lib.flux, again.flux)


# -- argument errors of the builders ------------------------------------------------------
@pytest.mark.parametrize("build", [T.galaxies, T.stars, T.qsos])
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": 2.5}, TypeError, "n must be an int"),
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"wave": [5000.0, 4000.0, 6000.0]}, ValueError, "wave must be strictly increasing"),
        ({"wave": np.linspace(100.0, 1000.0, 10)}, ValueError, "wave must lie within 500-50000 A"),
        ({"wave": [5000.0]}, ValueError, "wave needs at least 2 pixels"),
    ],
)
def test_builder_bad_arguments(build, kwargs, exc, match):
    args = {"n": 2, "seed": 0}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        build(**args)


def test_galaxies_specific_bad_arguments():
    with pytest.raises(ValueError, match="fractions: unknown subclass 'ELLIPTICAL'"):
        T.galaxies(2, fractions={"ELLIPTICAL": 1.0})
    with pytest.raises(ValueError, match=r"fractions\['AGN'\] must be >= 0"):
        T.galaxies(2, fractions={"AGN": -1.0})
    with pytest.raises(ValueError, match="fractions must not all be 0"):
        T.galaxies(2, fractions={"AGN": 0.0})
    with pytest.raises(ValueError, match="z_ref must be within 0-6"):
        T.galaxies(2, z_ref=7.0)
    with pytest.raises(ValueError, match="types: unknown star type 'O'"):
        T.stars(2, types=("O",))


def test_table_meta_survives_selection():
    lib = T.qsos(3, seed=2)
    sub = lib.select([2, 0])
    assert isinstance(sub.meta, Table)
    assert sub.meta.meta["SEED"] == 2
    assert np.array_equal(sub.meta["m1450"], lib.meta["m1450"][[2, 0]])
