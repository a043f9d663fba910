"""deepz.simulate around the observers: HDF5, on-the-fly streams, the CLI, the gallery, filters."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import deepz
from deepz import filters as flt
from deepz import simulate as sim
from deepz.cli import main

EUC = {"n_templates": 30}
LIB = {"n_galaxies": 30, "n_stars": 10, "n_qsos": 10}


# -- HDF5 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: sim.euclid_nisp(noise=True, merge=2, **EUC),
        lambda: sim.desi(**LIB),
        lambda: sim.photometry(filters="alhambra", **LIB),
    ],
)
def test_hdf5_round_trip_in_chunks(tmp_path, make):
    obs = make()
    path = tmp_path / "set.h5"
    out = sim.write_hdf5(path, obs, 25, seed=5, offset=3, chunk=10, progress=False)
    assert out == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.h5"]
    got = sim.read_hdf5(path)
    ref = obs.simulate(25, 5, offset=3)
    for key, arr in ref.per_sample().items():
        np.testing.assert_array_equal(got.per_sample()[key], arr, err_msg=key)
    np.testing.assert_array_equal(got.wave, ref.wave)
    assert (got.seed, got.offset, got.observer, got.unit) == (5, 3, ref.observer, ref.unit)
    assert got.class_names == ref.class_names
    assert got.subclass_names == ref.subclass_names
    assert got.meta["deepz_version"] == deepz.__version__
    assert sim.observer_from_config(got.config) == obs
    part = sim.read_hdf5(path, 10, 20)
    assert part.offset == 13
    np.testing.assert_array_equal(part.flux, ref.flux[10:20])
    with h5py.File(path) as h5:
        assert h5.attrs["wave_unit"] == "Angstrom (vacuum)"
        assert json.loads(h5.attrs["config"])["kind"] == obs.kind
        assert h5.attrs["xmax_data"] > 0


def test_hdf5_stores_xmax_and_the_test_set_reuses_it(tmp_path):
    obs = sim.euclid_nisp(noise=True, **EUC)
    sim.write_hdf5(tmp_path / "train.h5", obs, 12, seed=1, progress=False)
    sim.write_hdf5(tmp_path / "test.h5", obs, 12, seed=2, progress=False)
    train, test = sim.read_hdf5(tmp_path / "train.h5"), sim.read_hdf5(tmp_path / "test.h5")
    assert train.meta["xmax"] == test.meta["xmax"] == obs.resolved_xmax()
    np.testing.assert_array_equal(test.norm, 2 * train.meta["xmax"])
    # the paper's recipe: X_max of the training set itself
    fitted = obs.fit_xmax(train.physical_flux)
    assert fitted.xmax == pytest.approx(train.meta["xmax_data"], rel=1e-6)


class _Failing:
    """An observer that fails on its second chunk."""

    def __init__(self, obs):
        self.obs, self.calls = obs, 0

    def simulate(self, *args, **kwargs):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("disk on fire")
        return self.obs.simulate(*args, **kwargs)


def test_hdf5_write_is_atomic(tmp_path):
    path = tmp_path / "set.h5"
    sim.write_hdf5(path, sim.euclid_nisp(**EUC), 5, seed=1, progress=False)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="disk on fire"):
        sim.write_hdf5(path, _Failing(sim.euclid_nisp(**EUC)), 25, seed=2, chunk=10, progress=False)
    assert path.read_bytes() == before  # the old file, untouched; no temporary left
    assert [p.name for p in tmp_path.iterdir()] == ["set.h5"]


def test_hdf5_refuses_other_files_and_bad_arguments(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a deepz simulated data set"):
        sim.read_hdf5(other)
    with pytest.raises(ValueError, match="n must be"):
        sim.write_hdf5(tmp_path / "x.h5", sim.euclid_nisp(**EUC), 0, seed=1)
    with pytest.raises(ValueError, match="chunk"):
        sim.write_hdf5(tmp_path / "x.h5", sim.euclid_nisp(**EUC), 5, seed=1, chunk=0)
    with pytest.raises(ValueError, match="unknown observer kind"):
        sim.observer_from_config({"kind": "hubble"})


# -- streams --------------------------------------------------------------------------


def _collect(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


def test_stream_is_the_same_for_any_number_of_workers():
    stream = sim.SimulatedStream(
        sim.euclid_nisp(noise=True, **EUC), seed=3, batch_size=8, epoch_size=44, threads=1
    )
    serial = _collect(DataLoader(stream, batch_size=None, num_workers=0))
    parallel = _collect(DataLoader(stream, batch_size=None, num_workers=2))
    assert len(serial) == len(parallel) == len(stream) == 6
    for (x0, y0), (x1, y1) in zip(serial, parallel, strict=True):
        assert torch.equal(x0, x1)
        assert torch.equal(y0, y1)
    assert serial[-1][0].shape == (4, 1800)  # 44 = 5 x 8 + 4
    assert serial[0][1].dtype == torch.int64  # Euclid: redshift slots


def test_stream_batches_are_pure_functions_of_seed_epoch_and_position():
    obs = sim.sdss(**LIB)
    stream = sim.SimulatedStream(obs, seed=1, batch_size=4, epoch_size=20, y=("z", "label"))
    epoch1 = list(stream.batches(epoch=1, start=0, seed=1))
    resumed = list(stream.batches(epoch=1, start=3, seed=1))
    assert len(epoch1) == 5
    assert len(resumed) == 2
    for (xa, ya), (xb, yb) in zip(epoch1[3:], resumed, strict=True):
        assert torch.equal(xa, xb)
        assert torch.equal(ya["z"], yb["z"])
    epoch0 = list(stream.batches(epoch=0, start=0, seed=1))
    assert not torch.equal(epoch0[0][0], epoch1[0][0])  # fresh spectra every epoch
    other = list(stream.batches(epoch=1, start=0, seed=2))
    assert not torch.equal(other[0][0], epoch1[0][0])
    # the same batches as the plain generator
    plain = list(sim.iterate_batches(obs, 1, 4, epoch=1, epoch_size=20))
    np.testing.assert_array_equal(plain[2].flux, epoch1[2][0].numpy())


def test_fixed_training_set_repeats_every_epoch_and_state_dict_resumes():
    stream = sim.SimulatedStream(
        sim.euclid_nisp(**EUC),
        seed=4,
        batch_size=5,
        epoch_size=15,
        fresh=False,
        channel=True,
        y="z",
    )
    a = list(stream.batches(epoch=0))
    b = list(stream.batches(epoch=7))
    assert a[0][0].shape == (5, 1, 1800)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb)
        assert torch.equal(ya, yb)
    batch = sim.euclid_nisp(**EUC).simulate(15, 4)
    np.testing.assert_array_equal(torch.cat([y for _, y in a]).numpy(), batch.z)
    stream.load_state_dict({"epoch": 2, "start": 1, "seed": 4})
    assert stream.state_dict()["start"] == 1
    resumed = _collect(DataLoader(stream, batch_size=None, num_workers=0))
    assert len(resumed) == 2
    assert torch.equal(resumed[0][0], a[1][0])
    with pytest.raises(ValueError, match="seed"):
        stream.load_state_dict({"seed": 5})
    with pytest.raises(ValueError, match="epoch_size"):
        sim.SimulatedStream(sim.euclid_nisp(**EUC), seed=1, fresh=False)


def test_stream_photometry_magnitudes_as_inputs():
    stream = sim.SimulatedStream(
        sim.photometry(filters="alhambra", **LIB),
        seed=0,
        batch_size=6,
        epoch_size=6,
        x="mag",
        y="label",
    )
    ((x, y),) = list(stream.batches())
    assert x.shape == (6, 23)
    assert y.dtype == torch.int64
    assert torch.all((x.abs() == 99) | (x.abs() < 60))


# -- CLI and gallery ------------------------------------------------------------------


def test_cli_simulate_writes_a_data_set(tmp_path, capsys):
    out = tmp_path / "train.h5"
    rc = main(
        [
            "simulate",
            "--survey",
            "euclid",
            "--n",
            "30",
            "--noise",
            "--merge",
            "2",
            "--templates",
            "30",
            "--seed",
            "17",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "seed 17" in capsys.readouterr().out
    b = sim.read_hdf5(out)
    assert b.flux.shape == (30, 900)
    assert b.seed == 17
    ref = sim.euclid_nisp(noise=True, merge=2, n_templates=30).simulate(30, 17)
    np.testing.assert_array_equal(b.flux, ref.flux)


def test_cli_simulate_usage_errors(tmp_path, capsys):
    assert main(["simulate", "--survey", "euclid"]) == 2
    assert main(["simulate", "--out", str(tmp_path / "x.h5")]) == 2
    assert (
        main(
            [
                "simulate",
                "--survey",
                "sdss",
                "--merge",
                "2",
                "--n",
                "3",
                "--out",
                str(tmp_path / "x.h5"),
            ]
        )
        == 2
    )
    assert "euclid only" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_gallery_writes_figures(tmp_path):
    paths = sim.plot_observer(sim.euclid_nisp(**EUC), tmp_path, seed=0, n_search=5, dpi=50)
    paths += sim.plot_observer(
        sim.photometry(filters="sdss", **LIB), tmp_path, seed=0, n_search=5, name="phot", dpi=50
    )
    assert paths
    assert all(p.suffix == ".png" and p.stat().st_size > 5_000 for p in paths)
    assert any(p.name.startswith("phot_") for p in paths)


# -- filters --------------------------------------------------------------------------


def test_filters_flat_fnu_source_is_zero_ab_in_every_band():
    wave = np.geomspace(2500.0, 26000.0, 20_000)
    flat = 3631e-23 * flt.C_AA / wave**2  # 3631 Jy in f_lambda
    for name in flt.FILTER_SETS:
        np.testing.assert_allclose(flt.ab_mag(wave, flat, flt.get_set(name)), 0.0, atol=2e-4)


def test_filter_sets_centres_and_widths():
    sdss = flt.get_set("sdss")
    assert [f.name for f in sdss] == ["u", "g", "r", "i", "z"]
    for f, (c, w) in zip(
        sdss, [(3551, 560), (4686, 1260), (6166, 1150), (7480, 1240), (8932, 1000)], strict=True
    ):
        assert f.fwhm == pytest.approx(w, rel=0.01)
        assert f.pivot == pytest.approx(c, rel=0.01)
    al = flt.get_set("alhambra")
    assert len(al) == 23
    assert [f.name for f in al[-3:]] == ["J", "H", "Ks"]
    mb = al[:20]
    assert all(f.fwhm == pytest.approx(310.0, rel=0.01) for f in mb)
    assert 3500 < 3660 - mb[0].fwhm / 2
    assert 9480 + mb[-1].fwhm / 2 < 9700
    assert len(flt.depths("alhambra")) == 23
    with pytest.raises(ValueError, match="unknown filter"):
        flt.get("Y")
    with pytest.raises(ValueError, match="throughput"):
        flt.Filter("bad", [1000.0, 2000.0], [0.0, 0.0])


def test_stream_trains_with_the_trainer_and_resumes_exactly(tmp_path):
    """The Trainer treats SimulatedStream as a resumable stream (batches(epoch, start, seed))."""
    from deepz.training import Trainer

    stream = sim.SimulatedStream(
        sim.euclid_nisp(noise=True, merge=8, **EUC), seed=0, batch_size=16, epoch_size=48
    )

    def run(out, epochs, resume=False):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(225, 800))
        trainer = Trainer(
            model,
            loss="cross_entropy",
            optimizer="adagrad",
            lr=0.01,
            epochs=epochs,
            seed=3,
            out_dir=out,
            device="cpu",
            progress=False,
        )
        result = trainer.fit(stream, val=stream, resume=resume)
        return result, model

    full, model_full = run(tmp_path / "a", 2)
    assert len(full.history) == 2
    run(tmp_path / "b", 1)
    resumed, model_resumed = run(tmp_path / "b", 2, resume=True)
    for p, q in zip(model_full.parameters(), model_resumed.parameters(), strict=True):
        assert torch.equal(p, q)
