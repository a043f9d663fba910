"""deepz.models: every registered network scripts, saves, loads, exports and trains.

Tiny configs (each registry entry's ``tiny``) keep the suite fast; the
paper-size configs appear only in the parameter-count test, whose expected
counts are computed here from the architectures' formulas.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepz import models  # noqa: E402
from deepz.models import PolynomialCorrection  # noqa: E402
from deepz.models.heads import EnsembleOutput, PDFHead, PDFOutput, bin_centres  # noqa: E402

# TorchScript is deprecated in current torch and says so at every call; deepz
# keeps both paths working, so these warnings are expected here.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)

NAMES = models.list_models()
FAMILIES = {
    "euclid_cnn",
    "yurchuk_cnn",
    "yurchuk_inception",
    "gasnet_classifier",
    "gasnet_regressor",
    "gasnet_ensemble",
    "pasquet_inception",
    "alhambra_redshift",
    "alhambra_star_galaxy",
    "alhambra_spectral_type",
    "alhambra_stellar_mass",
    "optical_cnn",
}


def tiny(name: str, **overrides):
    """The registered tiny model ``name`` (seeded, so every test sees the same weights)."""
    torch.manual_seed(1234)
    return models.create(name, **{**models.get_entry(name).tiny, **overrides})


@functools.cache
def scripted_tiny(name: str):
    """The tiny model ``name`` in eval mode and its TorchScript twin (built once per run)."""
    model = tiny(name).eval()
    return model, torch.jit.script(model)


def flat(output) -> list:
    """Tensors of a model output (a tensor or a NamedTuple of tensors)."""
    return list(output) if isinstance(output, tuple) else [output]


def assert_same(a, b, exact: bool = True) -> None:
    for x, y in zip(flat(a), flat(b), strict=True):
        if exact:
            torch.testing.assert_close(x, y, rtol=0, atol=0)
        else:
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def n_outputs(model) -> int:
    if model.task in ("classification", "pdf"):
        return len(model.class_names) if hasattr(model, "class_names") else model.z_bins.numel()
    return 1


# -- the registry ------------------------------------------------------------------------


def test_registry_holds_every_family():
    assert set(NAMES) == FAMILIES
    assert NAMES == sorted(NAMES)
    for name in NAMES:
        entry = models.get_entry(name)
        assert entry.description, f"{name} has no one-line description"
        assert entry.tiny, f"{name} has no tiny test config"


def test_unknown_model_and_field_raise_valueerror():
    with pytest.raises(ValueError, match=r"unknown model 'nope'.*euclid_cnn"):
        models.create("nope")
    with pytest.raises(ValueError, match=r"unknown config field.*'nonsense'"):
        models.create("euclid_cnn", nonsense=1)


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        models.register_model("euclid_cnn", config=models.EuclidCNNConfig)(lambda c: None)


# -- every registered model ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_forward_shapes(name):
    model = tiny(name).eval()
    batch = 3
    inputs = model.example_inputs(batch)
    assert inputs[0].shape[1:] == tuple(model.input_shape)
    with torch.no_grad():
        out = model(*inputs)
    if model.task == "ensemble":
        assert isinstance(out, EnsembleOutput)
        assert out.z.shape == out.sigma_z.shape == (batch,)
        assert out.members.shape == (batch, model.n_members)
    elif model.task == "regression":
        assert out.shape == (batch,)
    elif model.task == "spectro":
        cls_logits, z_logits = out
        assert cls_logits.shape == (batch, model.config.n_classes)
        assert z_logits.shape == (batch, model.config.n_z_bins)
    else:
        assert out.shape == (batch, n_outputs(model))
    for t in flat(out):
        assert t.dtype == torch.float32
        assert torch.isfinite(t).all()
    # (B, L) spectra are accepted as well as (B, 1, L)
    if inputs[0].dim() == 3 and inputs[0].shape[1] == 1:
        with torch.no_grad():
            assert_same(model(inputs[0][:, 0]), out)


@pytest.mark.parametrize("name", NAMES)
def test_script_save_load_matches_eager(name, tmp_path):
    model, scripted = scripted_tiny(name)
    inputs = model.example_inputs(4, seed=1)
    path = tmp_path / f"{name}.pt"
    torch.jit.save(scripted, str(path))
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        eager = model(*inputs)
        assert_same(scripted(*inputs), eager)
        assert_same(loaded(*inputs), eager)
        for method in ("predict_proba", "predict"):
            if hasattr(model, method) and model.task in ("classification", "pdf"):
                assert_same(getattr(loaded, method)(*inputs), getattr(model, method)(*inputs))


@pytest.mark.parametrize("name", NAMES)
def test_export_matches_eager_with_dynamic_batch(name):
    model = tiny(name).eval()
    inputs = model.example_inputs(4, seed=2)
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic = tuple({0: batch} for _ in inputs)
    program = torch.export.export(model, inputs, dynamic_shapes=dynamic)
    exported = program.module()
    other = model.example_inputs(7, seed=3)  # another batch size than traced
    with torch.no_grad():
        assert_same(exported(*inputs), model(*inputs), exact=False)
        assert_same(exported(*other), model(*other), exact=False)


@pytest.mark.parametrize("name", NAMES)
def test_one_optimisation_step_reduces_the_loss(name):
    model = tiny(name).train()
    inputs = model.example_inputs(8, seed=4)
    target = model.example_target(8, seed=4)
    optimizer = model.default_optimizer()

    def loss_value():
        torch.manual_seed(99)  # the same dropout masks before and after the step
        return model.loss(model(*inputs), target)

    before = loss_value()
    assert before.ndim == 0
    assert torch.isfinite(before)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss_value()
    assert after.item() < before.item()


@pytest.mark.parametrize("name", NAMES)
def test_wrong_input_shape_raises_with_expected_shape(name):
    model, scripted = scripted_tiny(name)
    inputs = list(model.example_inputs(2))
    x = inputs[0]
    inputs[0] = torch.zeros(*x.shape[:-1], x.shape[-1] + 1)
    expected = str(x.shape[-1])
    with pytest.raises(ValueError, match=rf"expected .*{expected}.*got \[2, .*{x.shape[-1] + 1}\]"):
        model(*inputs)
    with pytest.raises(torch.jit.Error, match=rf"expected .*{expected}"):
        scripted(*inputs)


@pytest.mark.parametrize("name", NAMES)
def test_describe_is_json_and_optimizer_is_the_papers(name):
    model = tiny(name)
    text = json.dumps(model.describe())
    assert json.loads(text)["input_shape"] == list(model.input_shape)
    opt = model.default_optimizer(lr=0.5)
    assert type(opt).__name__ == model.optimizer_name
    assert opt.param_groups[0]["lr"] == 0.5


def test_paper_optimisers_and_losses():
    euclid = tiny("euclid_cnn")
    assert isinstance(euclid.default_optimizer(), torch.optim.Adagrad)
    reg = tiny("gasnet_regressor")
    assert isinstance(reg.default_optimizer(), torch.optim.Adam)
    z = torch.tensor([0.0, 0.0])
    # Huber with delta 0.1: 0.5 x^2 below, 0.1 (|x| - 0.05) above
    assert reg.loss(z, torch.tensor([0.05, 1.0])).item() == pytest.approx(
        (0.5 * 0.05**2 + 0.1 * (1.0 - 0.05)) / 2
    )
    yur = tiny("yurchuk_cnn")
    assert yur.loss(z, torch.tensor([0.25, -0.5])).item() == pytest.approx(0.375)  # MAE


# -- paper-size parameter counts ------------------------------------------------------------


def conv(c_in, c_out, k):
    return c_in * c_out * k + c_out


def dense(n_in, n_out):
    return n_in * n_out + n_out


def gasnet_count(n_out, length=5001, channels=(16, 32, 64, 128, 256, 512)):
    n, c_in = 0, 1
    for c in channels:
        n += conv(c_in, c, 5) + 2 * c + conv(c, c, 5) + 2 * c + conv(c_in, c, 5)  # BN: 2 c each
        c_in = c
        length = (length - 5) // 3 + 1
    return n + dense(c_in * length, 256) + dense(256, n_out)


def pasquet_count():
    def block(c_in, n1, n2, with5=True):
        n = conv(c_in, n2, 1) + n2  # 1x1 + PReLU
        n += conv(c_in, n1, 1) + n1 + conv(n1, n2, 9) + n2  # 1x1 -> 3x3
        if with5:
            n += conv(c_in, n1, 1) + n1 + conv(n1, n2, 25) + n2  # 1x1 -> 5x5
        n += conv(c_in, n1, 1) + n1  # 1x1 -> pool
        return n, n2 * (3 if with5 else 2) + n1

    n = conv(5, 64, 25) + 64
    c = 64
    specs = [(48, 64), (64, 92), (92, 128), (92, 128), (92, 128)]
    for i, (n1, n2) in enumerate(specs):
        m, c = block(c, n1, n2, with5=i < 4)
        n += m
    n_flat = c * 8 * 8 + 1  # three 2x2 poolings: 64 -> 8; + E(B-V)
    return n + dense(n_flat, 1024) + 1024 + dense(1024, 1024) + 1024 + dense(1024, 180)


PAPER_COUNTS = {
    # 3 valid convs (16 x 8) on 1800 bins -> 16 x 1779 features -> 800 slots
    "euclid_cnn": conv(1, 16, 8) + 2 * conv(16, 16, 8) + dense(16 * 1779, 800),
    # Conv1d 64 x 150 on 5001 px -> pooled 2426 -> 1
    "yurchuk_cnn": conv(1, 64, 150) + dense(64 * 2426, 1),
    "yurchuk_inception": sum(conv(1, 16, w) for w in (3, 15, 51, 151)) + dense(64 * 2500, 1),
    "gasnet_classifier": gasnet_count(13),
    "gasnet_regressor": gasnet_count(1),
    "gasnet_ensemble": 10 * gasnet_count(1),
    "pasquet_inception": pasquet_count(),
    "alhambra_redshift": dense(23, 64) + 2 * dense(64, 64) + dense(64, 1),
    "alhambra_stellar_mass": dense(23, 64) + 2 * dense(64, 64) + dense(64, 1),
    "alhambra_star_galaxy": dense(23, 64) + 2 * dense(64, 64) + dense(64, 2),
    "alhambra_spectral_type": dense(23, 64) + 2 * dense(64, 64) + dense(64, 3),
    # deepz's own: 6 bias-free convs + BatchNorm, 1088 px -> 96 x 34 -> 384 -> 11 + 929
    "optical_cnn": sum(
        conv(a, b, k) - b + 2 * b
        for a, b, k in zip(
            (2, 32, 32, 64, 64, 96), (32, 32, 64, 64, 96, 96), (9, 5, 5, 5, 5, 3), strict=True
        )
    )
    + dense(96 * 34, 384)
    + dense(384, 11)
    + dense(384, 929),
}


@pytest.mark.parametrize("name", NAMES)
def test_paper_size_parameter_count(name):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = models.create(name)
    assert model.num_parameters() == PAPER_COUNTS[name]


def test_paper_size_shapes_of_the_papers():
    with torch.device("meta"):
        assert models.create("euclid_cnn").input_shape == (1, 1800)
        assert models.create("euclid_cnn").z_bins.numel() == 800
        assert models.create("pasquet_inception").input_shape == (5, 64, 64)
    assert models.GaSNetConfig().block_lengths == [1666, 554, 184, 60, 19, 5]
    assert models.AlhambraConfig().n_inputs == 23


# -- GaSNet-II ensemble ---------------------------------------------------------------------


def test_gasnet_classes():
    names = models.GASNET_CLASSES
    assert len(names) == 13 == len(set(names))
    assert sum(n.startswith("STAR") for n in names) == 7
    assert sum(n.startswith("GALAXY") for n in names) == 4
    assert sum(n.startswith("QSO") for n in names) == 2
    assert tiny("gasnet_classifier").class_names == names


def test_gasnet_ensemble_members_differ_and_sigma_is_their_std():
    state = torch.random.get_rng_state()
    ens = models.create("gasnet_ensemble", **models.get_entry("gasnet_ensemble").tiny)
    assert torch.equal(torch.random.get_rng_state(), state), "building must not move the global RNG"
    ens.eval()
    w = [m.blocks[0].conv1.weight for m in ens.members]
    assert all(not torch.equal(w[0], wi) for wi in w[1:])
    x = ens.example_inputs(5)
    with torch.no_grad():
        out = ens(*x)
        single = [m(*x) for m in ens.members]
    members = torch.stack(single, dim=1)
    torch.testing.assert_close(out.members, members)
    assert (out.members.std(dim=1) > 0).all()
    assert (out.sigma_z > 0).all()
    # eq. 7-8: the mean and the population standard deviation (numpy.std) of the members
    np.testing.assert_allclose(out.z.numpy(), members.numpy().mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        out.sigma_z.numpy(), members.numpy().std(axis=1), rtol=1e-4, atol=1e-12
    )


def test_gasnet_ensemble_is_reproducible_and_seeded():
    cfg = models.get_entry("gasnet_ensemble").tiny
    a = models.create("gasnet_ensemble", **cfg)
    b = models.create("gasnet_ensemble", **cfg)
    c = models.create("gasnet_ensemble", **cfg, seed=100)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )
    # member i of the ensemble is the regressor built under seed i
    torch.manual_seed(1)
    reg = models.create("gasnet_regressor", **{k: v for k, v in cfg.items() if k != "n_members"})
    for pa, pr in zip(a.members[1].parameters(), reg.parameters(), strict=True):
        assert torch.equal(pa, pr)


def test_gasnet_1x1_shortcut():
    model = tiny("gasnet_regressor", shortcut_kernel=1).eval()
    assert model.blocks[0].shortcut.kernel_size == (1,)
    with torch.no_grad():
        assert model(*model.example_inputs(2)).shape == (2,)


# -- the PDF head ----------------------------------------------------------------------------


def test_bin_centres():
    z = bin_centres(0.0, 0.4, 180)
    assert z.shape == (180,)
    np.testing.assert_allclose(z.numpy(), (np.arange(180) + 0.5) * 0.4 / 180, rtol=1e-6)
    euclid = models.create("euclid_cnn", input_length=32, n_classes=1600)
    np.testing.assert_allclose(np.diff(euclid.z_bins.numpy()), 0.0005, rtol=1e-3)
    assert euclid.z_bins[0].item() == pytest.approx(1.00025)
    with pytest.raises(ValueError, match="n_bins"):
        bin_centres(0.0, 1.0, 0)
    with pytest.raises(ValueError, match="z_max"):
        bin_centres(1.0, 1.0, 10)


def test_pdf_head_sums_to_one_and_z_is_the_mean():
    head = PDFHead(0.0, 0.4, 180)
    g = torch.Generator().manual_seed(5)
    logits = 10 * torch.randn(64, 180, generator=g)
    out = head(logits)
    assert isinstance(out, PDFOutput)
    torch.testing.assert_close(out.prob.sum(dim=1), torch.ones(64))
    assert (out.prob >= 0).all()
    torch.testing.assert_close(out.z, (out.prob * head.z_bins).sum(dim=1))
    assert ((out.z >= 0.0) & (out.z <= 0.4)).all()
    # all mass in bin k -> the centre of bin k
    peaked = torch.full((1, 180), -1e4)
    peaked[0, 17] = 0.0
    assert head(peaked).z.item() == pytest.approx((17.5) * 0.4 / 180, rel=1e-5)


@pytest.mark.parametrize(
    ("name", "z_range"), [("pasquet_inception", (0.0, 0.4)), ("euclid_cnn", (1.0, 1.8))]
)
def test_model_pdf_in_range(name, z_range):
    model = tiny(name).eval()
    with torch.no_grad():
        out = model.predict(*model.example_inputs(6))
    torch.testing.assert_close(out.prob.sum(dim=1), torch.ones(6))
    assert ((out.z >= z_range[0]) & (out.z <= z_range[1])).all()
    with torch.no_grad():
        torch.testing.assert_close(model.predict_proba(*model.example_inputs(6)), out.prob)


def test_pasquet_pool_branch_is_tensorflow_same():
    from deepz.models.pasquet import same_avg_pool_2x2

    x = torch.arange(20.0).reshape(1, 1, 4, 5) ** 1.5
    got = same_avg_pool_2x2(x)[0, 0].numpy()
    a = x[0, 0].numpy()
    want = [[a[i : i + 2, j : j + 2].mean() for j in range(5)] for i in range(4)]  # clipped
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_pasquet_needs_ebv():
    model = tiny("pasquet_inception").eval()
    x, ebv = model.example_inputs(2)
    with pytest.raises(ValueError, match="ebv"):
        model(x)
    with pytest.raises(ValueError, match=r"ebv must be \(B, 1\)"):
        model(x, torch.zeros(3, 1))
    with torch.no_grad():
        torch.testing.assert_close(model(x, ebv[:, 0]), model(x, ebv))
        # E(B-V) enters the dense layers
        assert not torch.equal(model(x, ebv), model(x, ebv + 1.0))
    no_ebv = tiny("pasquet_inception", use_ebv=False).eval()
    with torch.no_grad():
        assert no_ebv(x).shape == (2, 12)


# -- ALHAMBRA ---------------------------------------------------------------------------------


def test_alhambra_transform_handles_sentinels():
    model = tiny("alhambra_redshift", n_inputs=7, append_flags=True).eval()
    # bright 14, faint 27 -> scaled to [-1, 1] around 20.5
    mags = torch.tensor([[-99.0, 99.0, float("nan"), 30.0, 10.0, 20.5, 27.0]])
    feats = model.transform(mags)
    np.testing.assert_allclose(
        feats[0, :7].numpy(), [-1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 1.0], atol=1e-6
    )
    np.testing.assert_allclose(feats[0, 7:].numpy(), [1, 1, 1, 0, 0, 0, 0])
    with torch.no_grad():
        assert torch.isfinite(model(mags)).all()
    # sentinels beyond +-90 count as such, whatever their exact value
    np.testing.assert_allclose(
        model.transform(torch.tensor([[-95.0, 95.0, 0, 0, 0, 0, 0]]))[0, :2].numpy(), [-1, 1]
    )
    plain = tiny("alhambra_redshift", n_inputs=7)
    assert plain.transform(mags).shape == (1, 7)


def test_alhambra_flux_inputs():
    model = tiny(
        "alhambra_star_galaxy", n_inputs=3, inputs="flux", flux_softening=2.0, append_flags=True
    )
    feats = model.transform(torch.tensor([[float("nan"), 2.0, float("inf")]]))
    np.testing.assert_allclose(
        feats.numpy(), [[0.0, math.asinh(1.0), 0.0, 1.0, 0.0, 1.0]], rtol=1e-6
    )


def test_alhambra_tasks():
    assert tiny("alhambra_star_galaxy").class_names == ("star", "galaxy")
    assert tiny("alhambra_spectral_type").class_names == ("early", "spiral", "starburst")
    assert (
        tiny("alhambra_spectral_type", class_names=("E", "S0", "Sa", "Sb", "SB"))
        .mlp[-1]
        .out_features
        == 5
    )
    with pytest.raises(ValueError, match="predict_proba needs a classification task"):
        tiny("alhambra_redshift").predict_proba(torch.zeros(1, 6))


# -- the polynomial slope correction ---------------------------------------------------------


def test_polynomial_correction_recovers_a_linear_distortion(rng):
    z_true = rng.uniform(0.0, 1.5, 2000)
    z_pred = 0.8 * z_true + 0.1 + rng.normal(0.0, 1e-4, z_true.size)  # slope < 1
    corr = PolynomialCorrection(1).fit(z_pred, z_true)
    np.testing.assert_allclose(corr.coef, [-0.1 / 0.8, 1 / 0.8], atol=1e-3)
    np.testing.assert_allclose(corr(z_pred), z_true, atol=1e-3)
    # the scriptable twin gives the same numbers
    module = torch.jit.script(corr.to_module())
    np.testing.assert_allclose(
        module(torch.as_tensor(z_pred)).numpy(), corr.apply(z_pred), rtol=1e-12
    )
    again = PolynomialCorrection.from_dict(json.loads(json.dumps(corr.to_dict())))
    np.testing.assert_array_equal(again.coef, corr.coef)


def test_polynomial_correction_quadratic(rng):
    z_true = rng.uniform(0.0, 1.0, 500)
    z_pred = np.sqrt(z_true + 0.25)  # z_true = z_pred^2 - 0.25 exactly
    corr = PolynomialCorrection(2).fit(z_pred, z_true)
    np.testing.assert_allclose(corr.coef, [-0.25, 0.0, 1.0], atol=1e-9)


def test_polynomial_correction_errors():
    with pytest.raises(ValueError, match="degree"):
        PolynomialCorrection(-1)
    with pytest.raises(ValueError, match="degree"):
        PolynomialCorrection(1.5)
    with pytest.raises(ValueError, match="fit"):
        PolynomialCorrection(1).apply([0.1])
    with pytest.raises(ValueError, match="same size"):
        PolynomialCorrection(1).fit([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="at least degree"):
        PolynomialCorrection(2).fit([0.1, float("nan"), 0.3], [0.1, 0.2, 0.3])


# -- bad configs -------------------------------------------------------------------------------

BAD_CONFIGS = [
    ("euclid_cnn", {"n_conv": 4}, "n_conv"),
    ("euclid_cnn", {"dropout": 1.0}, "dropout"),
    ("euclid_cnn", {"input_length": 20}, "input_length"),
    ("euclid_cnn", {"z_max": 0.5}, "z_max"),
    ("euclid_cnn", {"n_classes": 1}, "n_classes"),
    ("yurchuk_cnn", {"kernel_size": 0}, "kernel_size"),
    ("yurchuk_cnn", {"input_length": 100}, "input_length"),
    ("yurchuk_inception", {"widths": (4, 8)}, "widths"),
    ("yurchuk_inception", {"widths": ()}, "widths"),
    ("gasnet_classifier", {"class_names": ("STAR",)}, "class_names"),
    ("gasnet_classifier", {"class_names": ("A", "A")}, "class_names"),
    ("gasnet_regressor", {"input_length": 500}, "input_length"),
    ("gasnet_regressor", {"shortcut_kernel": 7}, "shortcut_kernel"),
    ("gasnet_regressor", {"kernel_size": 4}, "kernel_size"),
    ("gasnet_regressor", {"init": "xavier"}, "init"),
    ("gasnet_ensemble", {"n_members": 1}, "n_members"),
    ("gasnet_ensemble", {"seed": -1}, "seed"),
    ("pasquet_inception", {"image_size": 60}, "image_size"),
    ("pasquet_inception", {"pool_after": (7,)}, "pool_after"),
    ("pasquet_inception", {"inception": ((4,),)}, "inception"),
    ("alhambra_redshift", {"task": "colour"}, "task"),
    ("alhambra_redshift", {"mag_faint": 10.0}, "mag_faint"),
    ("alhambra_redshift", {"class_names": ("a", "b")}, "class_names"),
    ("alhambra_star_galaxy", {"class_names": ("star",)}, "class_names"),
    ("alhambra_redshift", {"inputs": "counts"}, "inputs"),
    ("alhambra_redshift", {"hidden": (8, 0)}, "hidden"),
]


@pytest.mark.parametrize(("name", "overrides", "field"), BAD_CONFIGS)
def test_bad_config_raises_valueerror_naming_the_field(name, overrides, field):
    with pytest.raises(ValueError, match=rf"\.{field} must be"):
        models.create(name, **overrides)
