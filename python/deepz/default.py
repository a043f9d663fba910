"""The model deepz ships: classes and redshifts of optical spectra (3600-9800 A) out of the box.

``deepz predict FILES --out zcat.fits`` (no ``--model``) and
:func:`load_default` use it. It is :class:`deepz.models.OpticalCNN` trained
only on deepz's simulators (SDSS, BOSS, DESI, 4MOST and a low-resolution
R = 1000 set-up resampled onto one log-lambda grid; galaxies of every kind at
0 < z < 1.6, QSOs at 0.01 < z < 4.5, stars with |v| < 1000 km/s; median S/N
per pixel 6 with a 0.45 dex scatter; 1 % bad pixels), then calibrated on a
set simulated from another template library. The training command
``deepz train --config configs/default.toml`` reproduces it (the seed and
the whole configuration are stored in the file's meta: ``read_meta()``).

What it returns (per spectrum, :meth:`deepz.inference.Predictor.predict`):
SPECTYPE (GALAXY / QSO / STAR, the class whose subclasses sum to the highest
probability) and SUBTYPE, P_GALAXY / P_QSO / P_STAR, Z (the P(z) mode,
replaced by the line-search redshift where lines are found and agree) with a
calibrated ZERR, the PDF summary and ZWARN bits (:class:`deepz.io.ZWarn`:
LOW_CONFIDENCE, CLASS_AMBIGUOUS, LOW_SNR, LINE_SEARCH_DISAGREES,
OUT_OF_RANGE, MASKED_TOO_MUCH, Z_AT_EDGE).

Its held-out performance, per class and S/N, is in the README.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MODEL", "load_default", "model_path"]

#: File name of the shipped model inside ``deepz/data``.
DEFAULT_MODEL = "optical-v1.pt"


def model_path() -> Path:
    """Return the path of the shipped model file (FileNotFoundError if the install lacks it)."""
    path = Path(str(resources.files("deepz") / "data" / DEFAULT_MODEL))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the default model is missing from this installation of deepz; "
            "reinstall deepz or pass a model file (deepz predict --model MODEL)"
        )
    return path


def load_default(*, device: Any = "auto", batch_size: int = 1024, threads: int | None = None):
    """Load the shipped model and return a ready :class:`deepz.inference.Predictor`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when torch sees it), ``"cpu"``, ``"cuda:N"``.
    batch_size : int
        Spectra per forward pass.
    threads : int, optional
        Threads of the resampling and line-search kernels.

    Examples
    --------
    >>> import deepz                                              # doctest: +SKIP
    >>> cat = deepz.load_default().predict(flux, wave=wave, ivar=ivar, refine=True)

    """
    from .modelfile import load

    return load(model_path(), device=device, batch_size=batch_size, threads=threads)
