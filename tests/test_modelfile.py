"""Model files that cannot run code: deepz's weights format, and program files behind trust.

The malicious archives here are built the way an attacker would: a genuine
``torch.export`` archive whose one weight is switched to a pickle carrying an
``os.system`` payload (``torch.export.load`` unpickles such weights with
``weights_only=False``), and a ``torch.save`` file in deepz's layout whose
state dict is such a payload. Each test first shows that the payload is live
(a plain torch loader runs it) and then that deepz runs nothing.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import deepz
from deepz import models
from deepz.cli import main
from deepz.modelfile import build_meta, file_format, load, read_meta, save

pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)

WAVE = np.linspace(11000.0, 20000.0, 64)


class Payload:
    """Pickles to ``os.system("touch <marker>")``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


@pytest.fixture
def net_meta():
    torch.manual_seed(0)
    net = models.create("euclid_cnn", input_length=64, n_classes=16, n_conv=1, n_filters=4).eval()
    meta = build_meta(net, WAVE, normalisation={"kind": "max"}, training={"seed": 0})
    return net, meta


def evil_export(tmp_path: Path, net, meta, marker: Path) -> Path:
    """A genuine deepz torch.export file with its first weight replaced by a pickled payload."""
    good = Path(save(net, tmp_path / "good.pt2", meta, fmt="export"))
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(good) as src:
        members = [(item, src.read(item.filename)) for item in src.infolist()]
    config_name = next(i.filename for i, _ in members if i.filename.endswith("weights_config.json"))
    config = json.loads(dict((i.filename, d) for i, d in members)[config_name])
    first = next(iter(config["config"].values()))
    first["use_pickle"] = True
    payload = io.BytesIO()
    torch.save(Payload(marker), payload)
    with zipfile.ZipFile(evil, "w") as dst:
        for item, data in members:
            if item.filename == config_name:
                data = json.dumps(config).encode()
            elif item.filename.endswith("data/weights/" + first["path_name"]):
                data = payload.getvalue()
            dst.writestr(item, data)
    return evil


def test_weights_is_the_default_and_round_trips_bit_for_bit(tmp_path, net_meta):
    net, meta = net_meta
    path = save(net, tmp_path / "m.pt", meta)
    assert file_format(path) == "weights"
    assert read_meta(path)["serialization"] == "weights"
    pred = load(path, device="cpu")
    x = np.random.default_rng(0).random((5, 64))
    a = deepz.inference.Predictor(net, meta, device="cpu").predict(x, wave=WAVE)
    b = pred.predict(x, wave=WAVE)
    np.testing.assert_array_equal(np.asarray(a["Z_PDF"]), np.asarray(b["Z_PDF"]))


def test_the_shipped_model_needs_no_trust():
    from deepz.default import model_path

    assert file_format(model_path()) == "weights"
    assert read_meta(model_path())["model"]["name"] == "optical_cnn"


def test_malicious_export_archive_runs_nothing(tmp_path, net_meta):
    net, meta = net_meta
    marker = tmp_path / "pwned"
    evil = evil_export(tmp_path, net, meta, marker)
    # the payload is live: torch's own loader runs it
    with open(evil, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.export.load(fh)
        except Exception:  # the payload ran before the failure
            pass
    assert marker.exists(), "the test archive's payload must be live"
    marker.unlink()

    assert file_format(evil) == "export"
    with pytest.raises(ValueError, match="export program: loading it can run code"):
        deepz.load(evil)
    assert not marker.exists()
    # the meta is read as data, without running anything
    assert read_meta(evil)["model"]["name"] == "euclid_cnn"
    assert not marker.exists()
    out = tmp_path / "z.fits"
    spectra = tmp_path / "s.npz"
    np.savez(spectra, flux=np.ones((2, 64)), wave=WAVE)
    assert main(["predict", "--model", str(evil), str(spectra), "--out", str(out)]) == 2
    assert not marker.exists()
    assert not out.exists()


def test_malicious_pickle_in_a_weights_file_is_refused(tmp_path, net_meta):
    _, meta = net_meta
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    obj = {"format": "deepz-weights", "meta": json.dumps(meta), "state_dict": Payload(marker)}
    torch.save(obj, evil)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.load(evil, weights_only=False)
    assert marker.exists(), "the test file's payload must be live"
    marker.unlink()

    with pytest.raises(ValueError, match=r"refused by torch.load\(weights_only=True\)"):
        load(evil)
    with pytest.raises(ValueError, match="refused"):
        read_meta(evil)
    assert not marker.exists()


def test_cli_trust_model_loads_a_program_file(tmp_path, net_meta):
    net, meta = net_meta
    model = save(net, tmp_path / "m.pt", meta, fmt="torchscript")
    spectra = tmp_path / "s.npz"
    np.savez(spectra, flux=np.ones((2, 64)), wave=WAVE)
    out = tmp_path / "z.fits"
    assert main(["predict", "--model", model, str(spectra), "--out", str(out)]) == 2
    assert not out.exists()
    cmd = ["predict", "--model", model, "--trust-model", str(spectra), "--out", str(out)]
    assert main(cmd) == 0
    assert out.is_file()


def test_bad_weights_files_name_the_problem(tmp_path, net_meta):
    net, meta = net_meta
    plain = tmp_path / "plain.pt"
    torch.save(net.state_dict(), plain)
    with pytest.raises(ValueError, match="not a deepz model"):
        load(plain)
    unknown = json.loads(json.dumps(meta))
    unknown["model"]["name"] = "no_such_net"
    path = tmp_path / "unknown.pt"
    torch.save({"format": "deepz-weights", "meta": json.dumps(unknown), "state_dict": {}}, path)
    with pytest.raises(ValueError, match="'no_such_net' is not a registered deepz model"):
        load(path)
    wrong = tmp_path / "wrong.pt"
    torch.save({"format": "deepz-weights", "meta": json.dumps(meta), "state_dict": {}}, wrong)
    with pytest.raises(ValueError, match="weights do not fit 'euclid_cnn'"):
        load(wrong)
    for junk in (b"", b"not a model", b"PK\x03\x04garbage"):
        bad = tmp_path / "junk.pt"
        bad.write_bytes(junk)
        with pytest.raises(ValueError, match="not a deepz model file"):
            load(bad)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pt")


def test_loading_in_a_fresh_process_runs_nothing(tmp_path, net_meta):
    """``deepz predict --model evil.pt`` as a pipeline would run it: exit 2, no payload."""
    net, meta = net_meta
    marker = tmp_path / "pwned"
    evil = evil_export(tmp_path, net, meta, marker)
    spectra = tmp_path / "s.npz"
    np.savez(spectra, flux=np.ones((2, 64)), wave=WAVE)
    code = "import sys; from deepz.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["predict", "--model", str(evil), str(spectra), "--out", str(tmp_path / "z.fits")]
    res = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2
    assert "can run code" in res.stderr
    assert "Traceback" not in res.stderr
    assert not marker.exists()
