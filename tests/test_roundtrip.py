"""Round trip (issue #8): simulate -> SDSS spec files -> ``deepz predict`` -> ``deepz evaluate``.

Simulated SDSS spectra are written as ``spec-PLATE-MJD-FIBER.fits`` files
(COADD + SPECOBJ with the true Z and CLASS), predicted by the ``deepz``
command with a small saved model, and evaluated by the command against (a) a
truth table in another row order and (b) the files' own SPECOBJ redshifts
(``Z_CAT``, no truth file). The same model predicting the same arrays in
memory (:class:`deepz.inference.Predictor`) and :func:`deepz.pipeline.evaluate`
must give the same catalogue and the same metrics.json, bit for bit (the
truths of both are float32-rounded: SPECOBJ Z is float32 in the SDSS data
model, and one direct evaluation, figures included, serves both): the files
hold the very float32 flux/ivar arrays given to the Predictor, the reader
rebuilds the grid to ~1e-16 (the Predictor takes it as the model's own grid,
no resampling), and the catalogue stores Z/ZERR in float64 and Z_PDF in
float32 as the Predictor makes them.

The files differ from the arrays only where the SDSS data model says they
may: some pixels carry a nonzero ``and_mask`` with their ivar left > 0 and a
flux spike, and one spectrum has NaN flux at pixels of ivar > 0 (the arrays
have ivar 0 at both). A reader that dropped the mask changes the metrics
(``test_the_and_mask_matters`` shows by how much; checked by mutation too);
one that lost the NaN masking, reordered or mislabelled targets, or a
catalogue that lost its redshift bins fails the comparisons below.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from make_fixtures import write_sdss

from deepz import io, models
from deepz.cli import main
from deepz.io import read_catalog, sdss_id, write_catalog
from deepz.modelfile import build_meta, load, save
from deepz.pipeline import evaluate
from deepz.simulate import sdss

pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)

N = 24
SEED = 8
AND_MASK_BIT = 1 << 23  # BRIGHTSKY


@pytest.fixture(scope="module")
def trip(tmp_path_factory):
    d = tmp_path_factory.mktemp("roundtrip")
    obs = sdss(n_galaxies=8, n_stars=4, n_qsos=4, pilot_n=50)
    sim = obs.simulate(N, seed=SEED)
    flux = np.ascontiguousarray(sim.physical_flux)  # (N, P) float32
    ivar = (sim.ivar / sim.norm[:, None] ** 2).astype(flux.dtype)
    rng = np.random.default_rng(SEED)
    and_mask = np.zeros(flux.shape, np.int32)
    for i in range(0, N, 3):  # every third spectrum: 4 flagged pixels with a spike, ivar > 0
        px = rng.choice(np.flatnonzero(ivar[i] > 0), 4, replace=False)
        and_mask[i, px] = AND_MASK_BIT
        flux[i, px] = 50.0 * np.abs(flux[i]).max() + 1.0
    nan_row, nan_px = 1, rng.choice(np.flatnonzero(ivar[1] > 0), 3, replace=False)
    ivar_file = ivar.copy()  # the file: and_mask set, ivar > 0; NaN flux, ivar > 0
    ivar = np.where(and_mask != 0, 0, ivar).astype(flux.dtype)  # what the arrays say
    ivar[nan_row, nan_px] = 0

    plate, mjd, fiber = 3000 + np.arange(N) // 10, 55000 + np.arange(N) // 10, 1 + np.arange(N)
    tid = sdss_id(plate, mjd, fiber)
    loglam = np.log10(sim.wave)
    spec_dir = d / "spec"
    spec_dir.mkdir()
    paths = []
    for i in range(N):
        f = flux[i].copy()
        if i == nan_row:
            f[nan_px] = np.nan
        cols = {
            "loglam": loglam,
            "flux": f,
            "ivar": ivar_file[i],
            "and_mask": and_mask[i],
            "or_mask": and_mask[i],
        }
        cls, _, sub = sim.subclass_names[sim.subclass[i]].partition(":")
        assert cls == sim.class_names[sim.label[i]]
        name = spec_dir / f"spec-{plate[i]:04d}-{mjd[i]}-{fiber[i]:04d}.fits"
        paths.append(
            write_sdss(
                name,
                int(plate[i]),
                int(mjd[i]),
                int(fiber[i]),
                cols,
                specobj={"Z": sim.z[i], "CLASS": cls, "SUBCLASS": sub},
            )
        )

    # a small pdf network on the SDSS grid, random weights (equality is what is tested)
    torch.manual_seed(SEED)
    net = models.create(
        "euclid_cnn",
        input_length=sim.wave.size,
        n_classes=40,
        z_min=-0.05,
        z_max=3.95,
        n_conv=1,
        n_filters=4,
    )
    model = save(
        net,
        d / "model.pt",
        build_meta(net, sim.wave, normalisation={"kind": "max"}, training={"seed": SEED}),
    )
    zcat = d / "zcat.fits"
    assert (
        main(
            [
                "predict",
                "--model",
                model,
                str(spec_dir),
                "--out",
                str(zcat),
                "--pdf",
                "--device",
                "cpu",
            ]
        )
        == 0
    )

    predictor = load(model, device="cpu")
    direct = predictor.predict(flux, wave=sim.wave, ivar=ivar, targetid=tid, keep_pdf=True)
    return {
        "dir": d,
        "sim": sim,
        "flux": flux,
        "ivar": ivar,
        "ivar_file": ivar_file,
        "tid": tid,
        "paths": paths,
        "spec_dir": spec_dir,
        "zcat": zcat,
        "predictor": predictor,
        "direct": direct,
    }


def _slots(predictor, z):
    """True redshift slots from the model's bin edges (independent of the command's arithmetic)."""
    k = np.searchsorted(predictor.z_edges, z, side="right") - 1
    return np.clip(k, 0, predictor.z_bins.size - 1)


def _metrics(folder):
    m = json.loads((folder / "metrics.json").read_text())
    m.pop("meta", None)  # paths and truth column: differ by design
    return m


@pytest.fixture(scope="module")
def direct_metrics(trip):
    """Metrics of the in-memory prediction against the truths at SPECOBJ precision (float32)."""
    z32 = trip["sim"].z.astype(np.float32).astype(np.float64)
    out = trip["dir"] / "direct"
    evaluate(trip["direct"], z32, out, y_true=_slots(trip["predictor"], z32))
    return _metrics(out)


def test_reader_sees_what_was_written(trip):
    batch = io.read(str(trip["spec_dir"]))
    sim = trip["sim"]
    assert batch.wave.shape == sim.wave.shape
    np.testing.assert_allclose(batch.wave, sim.wave, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(batch.targetid, trip["tid"])
    np.testing.assert_array_equal(batch.ivar, trip["ivar"])  # and_mask and NaN -> ivar 0
    good = trip["ivar"] > 0
    np.testing.assert_array_equal(batch.flux[good], trip["flux"][good])
    np.testing.assert_array_equal(batch.meta["Z_CAT"], sim.z.astype(np.float32))
    assert list(batch.meta["SPECTYPE_CAT"]) == [sim.class_names[k] for k in sim.label]


def test_catalogue_equals_direct_prediction(trip):
    cat = read_catalog(trip["zcat"])
    direct = trip["direct"]
    # one row per file, in the files' (sorted) order, with the SDSS ids and sources
    np.testing.assert_array_equal(cat["TARGETID"], trip["tid"])
    assert list(cat["SOURCE"]) == trip["paths"]
    np.testing.assert_array_equal(cat["Z_CAT"], trip["sim"].z.astype(np.float32))
    assert cat["Z"].dtype == np.float64
    for col in (
        "Z",
        "ZERR",
        "ZWARN",
        "DELTACHI2",
        "Z_MEAN",
        "Z_LO68",
        "Z_HI68",
        "CONFIDENCE",
        "PEAK_PROB",
        "Z_CLASS",
        "Z_PDF",
        "COVERAGE",
        "MASKED_FRAC",
    ):
        np.testing.assert_array_equal(np.asarray(cat[col]), np.asarray(direct[col]), err_msg=col)
    assert list(cat["SPECTYPE"]) == list(direct["SPECTYPE"])
    assert len(np.unique(cat["Z"])) > 3  # the random network does tell the spectra apart
    # the catalogue keeps the model's redshift bins, exactly
    assert cat.meta["Z_BINS"] == direct.meta["Z_BINS"]
    assert cat.meta["MODEL"] == "euclid_cnn"


def test_evaluate_with_a_truth_table_equals_direct_metrics(trip, direct_metrics):
    d, sim = trip["dir"], trip["sim"]
    perm = np.random.default_rng(1).permutation(N)  # joined on TARGETID, not by position
    truth = io.make_catalog(trip["tid"][perm], sim.z[perm].astype(np.float32))
    truth.rename_column("Z", "Z_TRUE")
    write_catalog(d / "truth.fits", truth)
    assert (
        main(
            ["evaluate", str(trip["zcat"]), str(d / "truth.fits"), "--out", str(d / "report_table")]
        )
        == 0
    )
    got = _metrics(d / "report_table")
    assert {"redshift", "nz", "pdf", "classification"} <= set(got)
    assert got == direct_metrics


def test_evaluate_with_the_files_specobj_redshifts_equals_direct_metrics(
    trip, direct_metrics, capsys
):
    # no TRUTH: the catalogue's Z_CAT (SPECOBJ Z, float32 as in SDSS) is the truth
    out = trip["dir"] / "report_specobj"
    assert main(["evaluate", str(trip["zcat"]), "--out", str(out)]) == 0
    assert "accuracy_within_1" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["meta"]["column"] == "Z_CAT"
    assert _metrics(out) == direct_metrics


def test_the_and_mask_matters(trip):
    """The negative control: ignoring the and_mask would change the prediction and metrics."""
    sim, predictor = trip["sim"], trip["predictor"]
    unmasked = predictor.predict(
        trip["flux"], wave=sim.wave, ivar=trip["ivar_file"], targetid=trip["tid"], keep_pdf=True
    )
    direct = trip["direct"]
    flagged = np.arange(0, N, 3)
    assert not np.array_equal(unmasked["Z_PDF"][flagged], direct["Z_PDF"][flagged])
    assert np.array_equal(unmasked["Z_PDF"][2::3], direct["Z_PDF"][2::3])  # untouched rows
    from deepz.metrics import crps

    bins = np.asarray(direct.meta["Z_BINS"])
    assert crps(unmasked["Z_PDF"], bins, sim.z).mean() != crps(direct["Z_PDF"], bins, sim.z).mean()
