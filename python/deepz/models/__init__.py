"""The networks of the five published methods deepz implements.

Every model is a dataclass config plus an ``nn.Module`` (a
:class:`DeepzModel`), registered by name::

    >>> from deepz import models
    >>> models.list_models()                                   # doctest: +SKIP
    ['alhambra_redshift', ..., 'euclid_cnn', 'gasnet_classifier', ...]
    >>> net = models.create("euclid_cnn", n_classes=1600)      # doctest: +SKIP

===================== ============================================== ======================
name                  method                                         forward returns
===================== ============================================== ======================
euclid_cnn            Stivaktakis et al. 2019, 1-3 Conv1d, 800 slots logits (B, K)
yurchuk_cnn           Yurchuk & Skyruta, Conv1d 64x150, MAE          z (B,)
yurchuk_inception     Yurchuk & Skyruta, Inception-1D                z (B,)
gasnet_classifier     Zhong et al. 2024 (GaSNet-II), 13 classes      logits (B, 13)
gasnet_regressor      GaSNet-II, one regressor, Huber 0.1            z (B,)
gasnet_ensemble       GaSNet-II, 10 regressors: z, sigma_z           EnsembleOutput
pasquet_inception     Pasquet et al. 2019, stamps + E(B-V), 180 bins logits (B, 180)
alhambra_redshift     ALHAMBRA dense net -> z                        z (B,)
alhambra_star_galaxy  ALHAMBRA dense net -> star / galaxy            logits (B, 2)
alhambra_spectral_type ALHAMBRA dense net -> spectral type           logits (B, K)
alhambra_stellar_mass ALHAMBRA dense net -> log10 M*                 log M* (B,)
optical_cnn           deepz's default: (flux, ivar) -> class, P(z)  (logits (B, C), (B, K))
===================== ============================================== ======================

Each model:

- checks its input shape in ``forward`` and raises ``ValueError`` saying the
  expected and the actual shape (``torch.jit.Error`` with the same message
  once scripted);
- is scriptable (``torch.jit.script``; ``forward`` and the
  ``predict``/``predict_proba`` methods) and exportable
  (``torch.export.export(model.eval(), model.example_inputs())``).
  TorchScript is deprecated in current PyTorch and emits a
  DeprecationWarning; both paths are tested;
- offers Python-side helpers: ``loss(output, target)`` (the paper's loss),
  ``default_optimizer(params)`` (the paper's optimiser), ``example_inputs``,
  ``example_target``, ``describe()`` (JSON-able: task, input shape, config,
  redshift bins or class names) and ``config`` (its dataclass).

Classifiers over redshift bins (``task == "pdf"``) hold the bin centres
``z_bins`` and give ``predict(x) -> PDFOutput(prob, z)`` with
z = sum_k z_k P_k (:mod:`deepz.models.heads`).
"""

from __future__ import annotations

from . import alhambra, euclid_cnn, gasnet, heads, optical, pasquet, yurchuk
from ._base import DeepzModel, ModelEntry, create, get_entry, list_models, register_model
from .alhambra import AlhambraConfig, AlhambraNet, MagnitudeTransform, PolynomialCorrection
from .euclid_cnn import EuclidCNN, EuclidCNNConfig
from .gasnet import (
    GASNET_CLASSES,
    GaSNetClassifier,
    GaSNetClassifierConfig,
    GaSNetConfig,
    GaSNetEnsemble,
    GaSNetEnsembleConfig,
    GaSNetRegressor,
)
from .heads import EnsembleOutput, PDFHead, PDFOutput, bin_centres
from .optical import OPTICAL_SUBCLASSES, OpticalCNN, OpticalCNNConfig
from .pasquet import PasquetConfig, PasquetInception
from .yurchuk import YurchukCNN, YurchukCNNConfig, YurchukInception, YurchukInceptionConfig

__all__ = [
    "GASNET_CLASSES",
    "OPTICAL_SUBCLASSES",
    "AlhambraConfig",
    "AlhambraNet",
    "DeepzModel",
    "EnsembleOutput",
    "EuclidCNN",
    "EuclidCNNConfig",
    "GaSNetClassifier",
    "GaSNetClassifierConfig",
    "GaSNetConfig",
    "GaSNetEnsemble",
    "GaSNetEnsembleConfig",
    "GaSNetRegressor",
    "MagnitudeTransform",
    "OpticalCNN",
    "OpticalCNNConfig",
    "ModelEntry",
    "PDFHead",
    "PDFOutput",
    "PasquetConfig",
    "PasquetInception",
    "PolynomialCorrection",
    "YurchukCNN",
    "YurchukCNNConfig",
    "YurchukInception",
    "YurchukInceptionConfig",
    "alhambra",
    "bin_centres",
    "create",
    "euclid_cnn",
    "gasnet",
    "get_entry",
    "heads",
    "list_models",
    "optical",
    "pasquet",
    "register_model",
    "yurchuk",
]
