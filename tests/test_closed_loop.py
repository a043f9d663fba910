"""The loop a user runs to check deepz on their own simulation, for every optical preset.

``deepz simulate --survey S --out x.h5`` -> ``deepz predict x.h5 --out z.fits``
(the true z carried as Z_TRUE) -> ``deepz evaluate z.fits [x.h5]``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepz import io
from deepz.cli import main
from deepz.simulate import read_hdf5

N = 12


@pytest.mark.parametrize("survey", ["sdss", "desi", "fourmost", "mixture"])
def test_simulate_predict_evaluate(tmp_path, survey):
    sim = tmp_path / f"{survey}.h5"
    assert main(["simulate", "--survey", survey, "--n", str(N), "--seed", "3", "--out", str(sim),
                 "--no-progress"]) == 0  # fmt: skip
    truth = read_hdf5(sim)

    batch = io.read(str(sim))
    assert len(batch) == N
    assert np.all(np.diff(batch.wave, axis=-1) > 0)  # DESI's three arms joined on one grid
    np.testing.assert_array_equal(batch.meta["Z_TRUE"], truth.z)
    np.testing.assert_array_equal(batch.targetid, np.arange(N))

    cat_path = tmp_path / "z.fits"
    assert main(["predict", str(sim), "--out", str(cat_path)]) == 0
    cat = io.read_catalog(cat_path)
    np.testing.assert_array_equal(cat["Z_TRUE"], truth.z)
    np.testing.assert_array_equal(cat["TARGETID"], np.arange(N))
    names = np.asarray(truth.class_names)[truth.label]
    np.testing.assert_array_equal(cat["SPECTYPE_TRUE"], names)

    for extra in ([], [str(sim)]):  # the catalogue's own Z_TRUE, then the simulated set as truth
        report = tmp_path / f"report{len(extra)}"
        assert main(["evaluate", str(cat_path), *extra, "--out", str(report)]) == 0
        metrics = json.loads((report / "metrics.json").read_text())
        assert metrics["redshift"]["n"] == N
        assert np.isfinite(metrics["redshift"]["sigma_mad"])


def test_simulate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "x.h5"
    out.write_bytes(b"precious")
    args = ["simulate", "--survey", "sdss", "--n", "2", "--out", str(out), "--no-progress"]
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert main([*args, "--overwrite"]) == 0
    assert len(read_hdf5(out).z) == 2


def test_simulated_set_reads_as_its_truth_table(tmp_path):
    sim = tmp_path / "s.h5"
    assert main(["simulate", "--survey", "sdss", "--n", "5", "--seed", "1", "--offset", "10",
                 "--out", str(sim), "--no-progress"]) == 0  # fmt: skip
    t = io.read_catalog(sim)
    np.testing.assert_array_equal(t["TARGETID"], np.arange(10, 15))
    np.testing.assert_array_equal(t["Z_TRUE"], read_hdf5(sim).z)
    assert set(t["SPECTYPE_TRUE"]) <= {"GALAXY", "QSO", "STAR"}
