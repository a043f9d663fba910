"""deepz.plots: every figure renders to a non-empty PNG; report() writes a complete folder."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from deepz import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sample(rng):
    """Euclid-like predictions: 1 <= z < 1.8, 3 % catastrophic, a few failures."""
    n = 3000
    zt = rng.uniform(1.0, 1.8, n)
    sigma = rng.uniform(0.001, 0.004, n)
    zp = zt + sigma * rng.standard_normal(n)
    bad = rng.random(n) < 0.03
    zp[bad] = rng.uniform(1.0, 1.8, bad.sum())
    zp[:3] = np.nan
    return zp, zt, sigma


def _is_png(path, min_bytes=5000):
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > min_bytes


def _probs(rng, y, n_classes):
    logits = rng.normal(0, 1, (y.size, n_classes))
    logits[np.arange(y.size), y] += 2.5
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def test_every_plot_renders(sample, rng, tmp_path):
    zp, zt, sigma = sample
    y = rng.integers(0, 3, zt.size)
    probs = _probs(rng, y, 3)
    edges = np.linspace(1.0, 1.8, 81)
    figs = {
        "zz_scatter": plots.plot_z_pred_vs_true(zp, zt, kind="scatter"),
        "zz_hexbin": plots.plot_z_pred_vs_true(zp, zt, kind="hexbin", title="hexbin"),
        "residuals": plots.plot_residuals(zp, zt),
        "nz": plots.plot_nz(zp, zt, bins=edges),
        "confidence": plots.plot_confidence(probs.max(axis=1), probs.argmax(axis=1) == y),
        "pit": plots.plot_pit(rng.uniform(0, 1, 1000)),
        "pulls": plots.plot_pulls(zp, sigma, zt),
        "reliability": plots.plot_reliability(probs, y),
        "confusion": plots.plot_confusion(probs.argmax(axis=1), y, names=["GAL", "QSO", "STAR"]),
        "confusion_counts": plots.plot_confusion(probs.argmax(axis=1), y, normalize=None),
    }
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
        path = plots.save(fig, tmp_path / f"{name}.png")
        assert _is_png(path), name


def test_plots_draw_on_a_given_axes(sample):
    zp, zt, _ = sample
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    assert plots.plot_z_pred_vs_true(zp, zt, ax=ax1) is fig
    assert plots.plot_residuals(zp, zt, ax=ax2) is fig
    assert len(ax1.lines) >= 3  # 1:1 line and the two outlier bounds


def test_plots_leave_the_backend_alone(sample):
    before = matplotlib.get_backend()
    plots.plot_nz(*sample[:2])
    assert matplotlib.get_backend() == before


def test_plots_check_their_input(sample):
    zp, zt, _ = sample
    with pytest.raises(ValueError, match="kind"):
        plots.plot_z_pred_vs_true(zp, zt, kind="violin")
    with pytest.raises(ValueError, match="z_true"):
        plots.plot_residuals(zp, zt[:-1])
    with pytest.raises(ValueError, match="correct has shape"):
        plots.plot_confidence([0.5, 0.6], [True])
    with pytest.raises(ValueError, match="confidence must lie"):
        plots.plot_confidence([1.5], [True])
    with pytest.raises(ValueError, match="normalize"):
        plots.plot_confusion([0], [0], normalize="all")
    with pytest.raises(ValueError, match="names has 1 entries for 2 classes"):
        plots.plot_confusion([0, 1], [0, 1], names=["a"])


def test_save_is_atomic_and_careful(tmp_path, sample):
    fig = plots.plot_nz(*sample[:2])
    target = tmp_path / "nz.png"
    plots.save(fig, target)
    with pytest.raises(FileExistsError):
        plots.save(fig, target, overwrite=False)
    with pytest.raises(ValueError, match="suffix"):
        plots.save(fig, tmp_path / "noext")
    plots.save(fig, tmp_path / "nz.pdf")
    assert sorted(os.listdir(tmp_path)) == ["nz.pdf", "nz.png"]  # no temporary files left


def test_report_writes_the_figures_and_metrics(tmp_path, sample, rng):
    zp, zt, sigma = sample
    y = rng.integers(0, 3, zt.size)
    probs = _probs(rng, y, 3)
    edges = np.linspace(0.9, 1.9, 101)
    c = 0.5 * (edges[1:] + edges[:-1])
    pdf = np.exp(-0.5 * ((c[None, :] - np.nan_to_num(zp, nan=1.4)[:, None]) / 0.003) ** 2)
    pdf[0] = np.nan
    classes = np.array(["GALAXY", "QSO", "STAR"])[y]
    out_dir = tmp_path / "report"
    out = plots.report(
        out_dir,
        zp,
        zt,
        sigma=sigma,
        pdf=pdf,
        bins=edges,
        probs=probs,
        y_true=y,
        labels=["GALAXY", "QSO", "STAR"],
        snr=rng.uniform(0, 40, zt.size),
        classes=classes,
        meta={"seed": 7},
    )
    files = sorted(os.listdir(out_dir))
    expected = [
        "confidence.png",
        "confusion.png",
        "metrics.json",
        "nz.png",
        "pit.png",
        "pulls.png",
        "reliability.png",
        "residuals.png",
        "z_pred_vs_true.png",
    ]
    assert files == expected
    assert out["figures"] == [f for f in expected if f.endswith(".png")]
    for f in out["figures"]:
        assert _is_png(out_dir / f), f
    with open(out_dir / "metrics.json") as fh:
        on_disk = json.load(fh, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert on_disk == out
    assert out["meta"] == {"seed": 7}
    assert out["redshift"]["n"] == zt.size
    assert out["redshift"]["n_failed"] == 3
    assert 0.0 < out["redshift"]["coverage_1"] < 1.0
    assert out["pdf"]["n_failed"] == 1
    assert out["pdf"]["crps_mean"] > 0
    assert set(out["classification"]["per_class"]) == {"GALAXY", "QSO", "STAR"}
    assert "accuracy_within_1" not in out["classification"]  # named classes: unordered
    assert [row["lo"] for row in out["by_snr"]][:2] == [0, 1]
    assert out["by_snr"][-1]["hi"] is None  # +inf is not JSON: written as null
    assert {row["group"] for row in out["by_class"]} == {"GALAXY", "QSO", "STAR"}
    assert set(out["good_fraction_by_class"]) == {"GALAXY", "QSO"}

    before = {f: os.path.getmtime(out_dir / f) for f in files}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        plots.report(out_dir, zp, zt)
    assert {f: os.path.getmtime(out_dir / f) for f in files} == before  # nothing written
    plots.report(out_dir, zp, zt, overwrite=True)


def test_minimal_report_and_many_classes(tmp_path, rng):
    zt = rng.uniform(1.0, 1.8, 500)
    zp = zt + 0.001 * rng.standard_normal(500)
    slot_true = np.floor((zt - 1.0) / 0.001).astype(int)  # 800 redshift slots
    slot_pred = np.floor((zp - 1.0) / 0.001).astype(int)
    out = plots.report(
        tmp_path / "r",
        zp,
        zt,
        y_pred=slot_pred,
        y_true=slot_true,
        confidence=rng.uniform(0.2, 1.0, 500),
    )
    assert sorted(os.listdir(tmp_path / "r")) == [
        "confidence.png",
        "metrics.json",
        "nz.png",
        "residuals.png",
        "z_pred_vs_true.png",
    ]
    assert out["classification"]["accuracy_within_1"] >= out["classification"]["accuracy"]
    assert "per_class" not in out["classification"]  # too many classes for a table


def test_report_argument_checks(tmp_path, sample):
    zp, zt, _ = sample
    with pytest.raises(ValueError, match="pdf and bins"):
        plots.report(tmp_path, zp, zt, pdf=np.ones((zt.size, 3)))
    with pytest.raises(ValueError, match="y_pred and y_true"):
        plots.report(tmp_path, zp, zt, y_pred=np.zeros(zt.size))
    with pytest.raises(ValueError, match="probs must have shape"):
        plots.report(tmp_path, zp, zt, probs=np.ones((3, 3)), y_true=np.zeros(zt.size))
    assert os.listdir(tmp_path) == []
