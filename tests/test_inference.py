"""deepz.inference: Predictor outputs, resampling, ZWARN bits, save/load (script and export)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import deepz
from deepz import models
from deepz.inference import Predictor
from deepz.io import ZWarn, from_arrays
from deepz.modelfile import (
    FORMAT_VERSION,
    META_FILE,
    build_meta,
    file_format,
    load,
    read_meta,
    save,
)

pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)

WAVE = np.linspace(11000.0, 20000.0, 64)  # the tiny model's grid


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return models.create("euclid_cnn", input_length=64, n_classes=16, n_conv=2, n_filters=4).eval()


@pytest.fixture(scope="module")
def meta(net):
    return build_meta(
        net, WAVE, normalisation={"kind": "max"}, training={"seed": 7, "data": "unit test"}
    )


@pytest.fixture(scope="module")
def predictor(net, meta):
    return Predictor(net, meta, device="cpu", batch_size=4)


def spectra(n=6, wave=WAVE, seed=0):
    rng = np.random.default_rng(seed)
    base = 1.0 + 0.5 * np.sin(wave / 700.0)
    return (base + 0.3 * rng.normal(size=(n, wave.size))).astype(np.float32)


def test_pdf_outputs_are_consistent(predictor):
    cat = predictor.predict(spectra(), wave=WAVE)
    pdf = np.asarray(cat["Z_PDF"], dtype=np.float64)
    assert pdf.shape == (6, 16)
    np.testing.assert_allclose(pdf.sum(axis=1), 1.0, rtol=1e-6)
    k = np.asarray(cat["Z_CLASS"])
    np.testing.assert_array_equal(k, pdf.argmax(axis=1))
    np.testing.assert_allclose(cat["Z_ARGMAX"], predictor.z_bins[k])
    np.testing.assert_allclose(cat["Z"], cat["Z_ARGMAX"])
    np.testing.assert_allclose(cat["Z_MEAN"], pdf @ predictor.z_bins, rtol=1e-6)
    np.testing.assert_allclose(cat["CONFIDENCE"], pdf.max(axis=1), rtol=1e-6)
    lo, med, hi = (np.asarray(cat[c]) for c in ("Z_LO68", "Z_MEDIAN", "Z_HI68"))
    assert np.all((lo <= med) & (med <= hi))
    assert np.all((lo >= 1.0) & (hi <= 1.8))
    np.testing.assert_allclose(cat["ZERR"], (hi - lo) / 2)
    # the median is where the CDF crosses 1/2
    edges = predictor.z_edges
    for i in range(6):
        cdf = np.interp(med[i], edges, np.concatenate([[0], np.cumsum(pdf[i])]))
        assert cdf == pytest.approx(0.5, abs=1e-6)  # (Z_PDF is float32)
    assert list(cat["TARGETID"]) == list(range(6))
    assert np.all(cat["COVERAGE"] == 1.0)
    assert np.all(cat["ZWARN"] & int(ZWarn.OUT_OF_RANGE) == 0)


def test_batch_size_does_not_change_results(net, meta, predictor):
    x = spectra(9)
    a = predictor.predict(x, wave=WAVE)
    b = Predictor(net, meta, device="cpu", batch_size=1024).predict(x, wave=WAVE)
    np.testing.assert_allclose(np.asarray(a["Z_PDF"]), np.asarray(b["Z_PDF"]), atol=1e-6)


def test_input_on_another_grid_is_resampled(predictor):
    fine = np.linspace(10900.0, 20100.0, 1000)
    x = spectra(3, wave=fine)
    cat = predictor.predict(x, wave=fine)
    by_hand = deepz.resample(fine, x.astype(np.float64), WAVE)
    ref = predictor.predict(by_hand.astype(np.float32), wave=WAVE)
    np.testing.assert_allclose(np.asarray(cat["Z_PDF"]), np.asarray(ref["Z_PDF"]), atol=1e-5)
    assert np.all(cat["COVERAGE"] == 1.0)


def test_per_spectrum_grids_and_spectra_batch(predictor):
    w1 = np.linspace(10900.0, 20100.0, 500)
    w2 = np.linspace(10950.0, 20050.0, 500)
    x = np.vstack([spectra(1, w1), spectra(1, w2, seed=1)]).astype(np.float64)
    batch = from_arrays(np.vstack([w1, w2]), x, targetid=[11, 12])
    cat = predictor.predict(batch)
    assert list(cat["TARGETID"]) == [11, 12]
    single = predictor.predict(x[1:], wave=w2)
    np.testing.assert_allclose(
        np.asarray(cat["Z_PDF"])[1], np.asarray(single["Z_PDF"])[0], atol=1e-6
    )


def test_out_of_range_and_masks_set_zwarn(predictor):
    half = np.linspace(15000.0, 22000.0, 300)  # covers ~55% of the model's grid
    cat = predictor.predict(spectra(2, wave=half), wave=half)
    assert np.all(np.asarray(cat["COVERAGE"]) < 0.6)
    assert np.all(cat["ZWARN"] & int(ZWarn.OUT_OF_RANGE))
    x = spectra(2)
    ivar = np.ones_like(x)
    ivar[0, :50] = 0  # most pixels masked
    ivar[1, :] = 0  # no data at all
    cat = predictor.predict(x, wave=WAVE, ivar=ivar)
    assert cat["ZWARN"][0] & int(ZWarn.MASKED_TOO_MUCH)
    assert cat["ZWARN"][1] & int(ZWarn.NODATA)
    assert not cat["ZWARN"][0] & int(ZWarn.OUT_OF_RANGE)


def test_line_search_refinement_finds_the_lines(predictor):
    from deepz.lines import YURCHUK_SKYRUTA

    z_true = 1.4
    fine = np.arange(11000.0, 20000.0, 2.0)
    flux = np.ones_like(fine)
    for line in YURCHUK_SKYRUTA:
        flux += 20.0 * np.exp(-0.5 * ((fine - line.wave * (1 + z_true)) / 6.0) ** 2)
    cat = predictor.predict(flux[None], wave=fine, refine=True)
    assert {"Z_NET", "Z_LINES", "NLINES"} <= set(cat.colnames)
    # the refinement itself, from a network z near the truth and from one too far off
    zwarn = np.zeros(2, dtype=np.int64)
    z0 = np.array([1.4025, 1.4025])
    z, zw, cols = predictor._refine(
        np.vstack([flux, flux]), fine, None, z0, None, zwarn, 0.01, np.array([0.005, 0.0001])
    )
    assert cols["NLINES"][0] >= 4
    assert cols["Z_LINES"][0] == pytest.approx(z_true, abs=2e-4)
    assert z[0] == cols["Z_LINES"][0]
    assert not zw[0] & int(ZWarn.LINE_SEARCH_DISAGREES)
    assert z[1] == z0[1]
    assert zw[1] & int(ZWarn.LINE_SEARCH_DISAGREES)


def test_ensemble_and_classifier_tasks():
    torch.manual_seed(1)
    ens = models.create("gasnet_ensemble", **models.get_entry("gasnet_ensemble").tiny).eval()
    n_pix = ens.input_shape[-1]
    wave = np.linspace(4000.0, 9000.0, n_pix)
    p = Predictor(ens, build_meta(ens, wave, normalisation="l2"), device="cpu")
    cat = p.predict(spectra(3, wave), wave=wave)
    members = np.asarray(cat["Z_MEMBERS"], dtype=np.float64)
    np.testing.assert_allclose(cat["Z"], members.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cat["ZERR"], members.std(axis=1), rtol=1e-4, atol=1e-6)

    clf = models.create("gasnet_classifier", **models.get_entry("gasnet_classifier").tiny).eval()
    p = Predictor(clf, build_meta(clf, wave, normalisation="l2"), device="cpu")
    cat = p.predict(spectra(3, wave), wave=wave)
    probs = np.asarray(cat["P_CLASS"], dtype=np.float64)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    names = np.asarray(p.class_names)[probs.argmax(axis=1)]
    assert list(cat["CLASS"]) == list(names)
    assert all(s in ("GALAXY", "QSO", "STAR") for s in cat["SPECTYPE"])


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("weights", ".pt"), ("torchscript", ".pt"), ("export", ".pt2")]
)
def test_save_load_round_trip(tmp_path, net, meta, predictor, fmt, suffix):
    path = save(net, tmp_path / f"model{suffix}", meta, fmt=fmt)
    assert file_format(path) == fmt
    assert read_meta(path)["serialization"] == fmt
    loaded = deepz.load(path, device="cpu", trust=fmt != "weights")
    assert isinstance(loaded, Predictor)
    assert loaded.meta["training"] == {"seed": 7, "data": "unit test"}
    assert loaded.meta["serialization"] == fmt
    assert loaded.meta["deepz_version"] == deepz.__version__
    np.testing.assert_array_equal(loaded.wave, WAVE)
    np.testing.assert_allclose(loaded.z_bins, predictor.z_bins)
    x = spectra(5)
    a = predictor.predict(x, wave=WAVE)
    b = loaded.predict(x, wave=WAVE)
    tol = 1e-6 if fmt == "export" else 0
    np.testing.assert_allclose(np.asarray(b["Z_PDF"]), np.asarray(a["Z_PDF"]), atol=tol)
    np.testing.assert_array_equal(b["Z"], a["Z"])


def test_load_refuses_files_it_cannot_honour(tmp_path, net, meta):
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(net), str(plain))
    with pytest.raises(ValueError, match="carries no deepz meta"):
        load(plain, trust=True)
    with pytest.raises(ValueError, match="torchscript program: loading it can run code"):
        load(plain)

    newer = dict(meta, format_version=FORMAT_VERSION + 1)
    path = tmp_path / "newer.pt"
    torch.jit.save(torch.jit.script(net), str(path), _extra_files={META_FILE: json.dumps(newer)})
    with pytest.raises(ValueError, match="format version 2"):
        load(path, trust=True)

    bad_grid = json.loads(json.dumps(meta))
    bad_grid["input"]["wave"] = list(np.linspace(11000.0, 20000.0, 50))
    path = tmp_path / "grid.pt"
    torch.jit.save(torch.jit.script(net), str(path), _extra_files={META_FILE: json.dumps(bad_grid)})
    with pytest.raises(ValueError, match="takes 64 pixels but input.wave has 50"):
        load(path, trust=True)

    bad_bins = json.loads(json.dumps(meta))
    bad_bins["z_bins"] = bad_bins["z_bins"][:10]
    path = tmp_path / "bins.pt"
    torch.jit.save(torch.jit.script(net), str(path), _extra_files={META_FILE: json.dumps(bad_bins)})
    with pytest.raises(ValueError, match="16 outputs but the meta has 10"):
        load(path, trust=True)

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a deepz model file"):
        load(garbage)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pt")


def test_bad_inputs_name_the_argument(predictor):
    with pytest.raises(ValueError, match="wave"):
        predictor.predict(spectra(2), wave=WAVE[:10])
    with pytest.raises(ValueError, match="ivar"):
        predictor.predict(spectra(2), wave=WAVE, ivar=np.ones((3, 64)))
    with pytest.raises(TypeError, match="flux"):
        predictor.predict(np.ones((2, 64), dtype=np.int32), wave=WAVE)


# -- the class + P(z) task ("spectro": deepz's optical network) -------------------------

SPEC_WAVE = 10.0 ** (3.6 + 4e-3 * np.arange(64))  # the tiny optical model's grid


@pytest.fixture(scope="module")
def spectro():
    torch.manual_seed(3)
    net = models.create("optical_cnn", **models.get_entry("optical_cnn").tiny).eval()
    meta = build_meta(net, SPEC_WAVE, training={"seed": 3, "data": "unit test"})
    return net, meta


def spectro_data(n=8, seed=0, snr=20.0):
    rng = np.random.default_rng(seed)
    base = 1.0 + 0.5 * np.sin(SPEC_WAVE / 300.0 + rng.uniform(0, 6, (n, 1)))
    sigma = base.mean(axis=1, keepdims=True) / snr * np.ones_like(base)
    flux = base + sigma * rng.normal(size=base.shape)
    return flux, 1.0 / sigma**2


def test_spectro_catalogue_is_consistent(spectro):
    net, meta = spectro
    pred = Predictor(net, meta, device="cpu")
    flux, ivar = spectro_data()
    cat = pred.predict(flux, wave=SPEC_WAVE, ivar=ivar)
    p = np.stack([np.asarray(cat[f"P_{c}"]) for c in ("GALAXY", "QSO", "STAR")], axis=1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    sub = np.asarray(cat["P_SUBCLASS"], dtype=np.float64)
    names = meta["class_names"]
    for c, col in zip(("GALAXY", "QSO", "STAR"), p.T, strict=True):
        idx = [i for i, s in enumerate(names) if s.startswith(c + ":")]
        np.testing.assert_allclose(sub[:, idx].sum(axis=1), col, rtol=1e-5)
    best = np.array(["GALAXY", "QSO", "STAR"])[p.argmax(axis=1)]
    np.testing.assert_array_equal(np.asarray(cat["SPECTYPE"]).astype(str), best)
    for st, sb, row in zip(cat["SPECTYPE"], cat["SUBTYPE"], sub, strict=True):
        idx = [i for i, s in enumerate(names) if s.startswith(st + ":")]
        assert names[idx[int(np.argmax(row[idx]))]] == f"{st}:{sb}"
    pdf = np.asarray(cat["Z_PDF"], dtype=np.float64)
    np.testing.assert_allclose(pdf.sum(axis=1), 1.0, rtol=1e-5)
    edges = np.asarray(meta["z_edges"])
    k = pdf.argmax(axis=1)
    z = np.asarray(cat["Z"])
    assert np.all((edges[k] <= z) & (z <= edges[k + 1] + 1e-12) | (k == 0) | (k == 31))
    assert np.all(np.asarray(cat["ZERR"]) > 0)
    lo, hi = np.asarray(cat["Z_LO68"]), np.asarray(cat["Z_HI68"])
    assert np.all((lo <= cat["Z_MEDIAN"]) & (cat["Z_MEDIAN"] <= hi))


def test_spectro_is_blind_to_the_flux_unit(spectro):
    net, meta = spectro
    pred = Predictor(net, meta, device="cpu")
    flux, ivar = spectro_data()
    a = pred.predict(flux, wave=SPEC_WAVE, ivar=ivar)
    b = pred.predict(flux * 1e-20, wave=SPEC_WAVE, ivar=ivar * 1e40)  # erg/s/cm2/A: no overflow
    for col in ("Z", "ZERR", "P_GALAXY", "P_QSO", "Z_MEDIAN"):
        np.testing.assert_allclose(np.asarray(b[col]), np.asarray(a[col]), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(a["SPECTYPE"]), np.asarray(b["SPECTYPE"]))


def test_spectro_calibration_meta_is_applied(spectro):
    net, meta = spectro
    flux, ivar = spectro_data()
    plain = Predictor(net, meta, device="cpu").predict(flux, wave=SPEC_WAVE, ivar=ivar)
    hot = dict(meta, calibration={"class_temperature": 50.0, "zerr_scale": 2.0})
    cat = Predictor(net, hot, device="cpu").predict(flux, wave=SPEC_WAVE, ivar=ivar)
    assert np.all(np.asarray(cat["CONFIDENCE"]) <= np.asarray(plain["CONFIDENCE"]) + 1e-9)
    assert np.all(np.asarray(cat["CONFIDENCE"]) < 0.5)  # 11 subclasses, nearly flat
    np.testing.assert_allclose(cat["ZERR"], 2.0 * np.asarray(plain["ZERR"]), rtol=1e-9)
    assert np.all(np.asarray(cat["ZWARN"]) & int(ZWarn.CLASS_AMBIGUOUS))


def test_spectro_zwarn_low_snr_and_nodata(spectro):
    net, meta = spectro
    pred = Predictor(net, meta, device="cpu")
    flux, ivar = spectro_data(n=4, snr=50.0)
    faint_f, faint_iv = spectro_data(n=4, snr=0.5, seed=1)
    ivar[3] = 0.0
    cat = pred.predict(np.vstack([flux, faint_f]), wave=SPEC_WAVE, ivar=np.vstack([ivar, faint_iv]))
    low = (np.asarray(cat["ZWARN"]) & int(ZWarn.LOW_SNR)) != 0
    np.testing.assert_array_equal(low, [False, False, False, True, True, True, True, True])
    assert cat["ZWARN"][3] & int(ZWarn.NODATA)
    np.testing.assert_allclose(cat["SNR_MEDIAN"][:3], 50.0 * np.ones(3), rtol=0.5)


@pytest.mark.parametrize("fmt", ["weights", "torchscript", "export"])
def test_spectro_save_load(tmp_path, spectro, fmt):
    net, meta = spectro
    flux, ivar = spectro_data()
    path = save(net, tmp_path / "m.pt", meta, fmt=fmt)
    loaded = load(path, device="cpu", trust=fmt != "weights")
    assert loaded.task == "spectro"
    np.testing.assert_allclose(loaded.z_edges, meta["z_edges"])
    a = Predictor(net, meta, device="cpu").predict(flux, wave=SPEC_WAVE, ivar=ivar)
    b = loaded.predict(flux, wave=SPEC_WAVE, ivar=ivar)
    np.testing.assert_allclose(np.asarray(b["Z"]), np.asarray(a["Z"]), rtol=1e-6)
    bad = dict(meta, z_edges=meta["z_edges"][:-1])
    with pytest.raises(ValueError, match="z_edges"):
        Predictor(net, bad)
