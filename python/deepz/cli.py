"""The ``deepz`` command.

One subcommand per task, each in two functions: ``_add_<name>(subparsers)``
declares its arguments and ``_run_<name>(args)`` does the work and returns the
exit status. ``main`` builds the parser from the ``_SUBCOMMANDS`` list, so a new
subcommand (``simulate``, ``train``, ``predict``) is two functions and one entry
there. The command prints its results; the library underneath logs (``-v``
shows INFO messages, ``-vv`` DEBUG).

Examples
--------
::

    deepz --version
    deepz info
    deepz info --json
    deepz simulate --survey euclid --n 400000 --noise --out train.h5 --seed 1
    deepz simulate --survey all --plot figures/
    python -m deepz.cli info

"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence

from . import _core

__all__ = ["main"]


# -- deepz info -------------------------------------------------------------------


def _add_info(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="show the version, compiled features and devices",
        description="Show the deepz version, its compiled features (threads, sanitizers, "
        "CUDA architectures) and the CUDA devices found.",
    )
    p.add_argument("--json", action="store_true", help="print the information as JSON")
    p.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from .info import format_info, info

    d = info()
    print(json.dumps(d, indent=2) if args.json else format_info(d))
    return 0


# -- deepz simulate ---------------------------------------------------------------


def _add_simulate(subparsers: argparse._SubParsersAction) -> None:
    from .simulate import OBSERVERS

    p = subparsers.add_parser(
        "simulate",
        help="simulate labelled survey spectra or photometry (HDF5) and figures",
        description="Simulate a fixed, labelled data set with one of deepz's survey observers "
        "and write it to HDF5 (atomically, with its seed and configuration), and/or write "
        "a gallery of example figures. Example: deepz simulate --survey euclid --n 400000 "
        "--noise --out train.h5",
    )
    p.add_argument(
        "--survey",
        default="euclid",
        choices=[*OBSERVERS, "all"],
        help="observer preset (default euclid; 'all' only with --plot)",
    )
    p.add_argument("--n", type=int, default=None, help="number of samples to write (with --out)")
    p.add_argument("--out", default=None, help="output HDF5 file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the run (default: a fresh random one, printed and stored)",
    )
    p.add_argument(
        "--offset", type=int, default=0, help="global index of the first sample (default 0)"
    )
    p.add_argument(
        "--noise",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the survey noise (default: the observer's, clean for euclid)",
    )
    p.add_argument(
        "--merge",
        type=int,
        default=None,
        help="euclid: merge k pixels into one (2, 4, 8 -> 900, 450, 225 bins)",
    )
    p.add_argument(
        "--z-bin",
        type=float,
        default=None,
        help="euclid: width of a redshift slot (0.001 -> 800 slots, 0.0005 -> 1600)",
    )
    p.add_argument(
        "--norm",
        default=None,
        choices=["none", "xmax", "max", "l2"],
        help="normalisation (default: the observer's)",
    )
    p.add_argument(
        "--templates",
        type=int,
        default=None,
        help="galaxy templates in the built-in library (euclid: n_templates; others: n_galaxies)",
    )
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="samples per write (default 10000, fewer for very long spectra)",
    )
    p.add_argument("--float64", action="store_true", help="store float64 instead of float32")
    p.add_argument(
        "--compression",
        default=None,
        choices=["gzip", "lzf"],
        help="HDF5 compression of flux and ivar (default none)",
    )
    p.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    p.add_argument(
        "--plot",
        default=None,
        metavar="DIR",
        help="write the figure gallery (PNG) of the survey (or of all) into DIR",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_simulate)


def _simulate_observer(name: str, args: argparse.Namespace):
    from .simulate import observer

    kw: dict = {}
    if args.noise is not None:
        kw["noise"] = args.noise
    if args.norm is not None:
        kw["norm"] = args.norm
    if name == "euclid":
        if args.merge is not None:
            kw["merge"] = args.merge
        if args.z_bin is not None:
            kw["z_bin"] = args.z_bin
        if args.templates is not None:
            kw["n_templates"] = args.templates
    else:
        if args.merge is not None or args.z_bin is not None:
            raise ValueError("--merge and --z-bin apply to --survey euclid only")
        if args.templates is not None:
            kw["n_galaxies"] = args.templates
        if name.startswith("photometry"):
            kw.pop("norm", None)
    if name == "mixture":  # the optical surveys on one grid, as the shipped model trains
        kw.pop("norm", None)
        specs = [{"preset": p, "grid": "optical", **kw} for p in ("sdss", "desi", "fourmost")]
        return observer(name, observers=specs)
    return observer(name, **kw)


def _run_simulate(args: argparse.Namespace) -> int:
    import secrets

    from .simulate import OBSERVERS, plot_observer, write_hdf5

    if args.out is None and args.plot is None:
        print("deepz simulate: give --out FILE (with --n) and/or --plot DIR", file=sys.stderr)
        return 2
    if args.out is not None and args.survey == "all":
        print("deepz simulate: --survey all works with --plot only", file=sys.stderr)
        return 2
    if args.out is not None and (args.n is None or args.n < 1):
        print(f"deepz simulate: --n must be >= 1 with --out, got {args.n}", file=sys.stderr)
        return 2
    if args.out is not None and os.path.exists(args.out) and not args.overwrite:
        print(
            f"deepz simulate: {args.out} exists (give --overwrite to replace it)", file=sys.stderr
        )
        return 2
    seed = secrets.randbits(63) if args.seed is None else args.seed
    print(f"seed {seed}")
    try:
        names = list(OBSERVERS) if args.survey == "all" else [args.survey]
        observers = {name: _simulate_observer(name, args) for name in names}
        if args.out is not None:
            obs = observers[args.survey]
            path = write_hdf5(
                args.out,
                obs,
                args.n,
                seed,
                offset=args.offset,
                chunk=args.chunk,
                progress=not args.no_progress,
                compression=args.compression,
                dtype="float64" if args.float64 else "float32",
                threads=args.threads,
            )
            print(f"wrote {args.n} {args.survey} samples to {path}")
        if args.plot is not None:
            for name, obs in observers.items():
                for png in plot_observer(obs, args.plot, seed=seed, name=name):
                    print(f"wrote {png}")
    except (ValueError, TypeError) as err:
        print(f"deepz simulate: {err}", file=sys.stderr)
        return 2
    return 0


# -- deepz train ------------------------------------------------------------------


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a network on spectra simulated on the fly (TOML config)",
        description="Train a registered deepz network on spectra simulated on the fly, save it "
        "as a self-describing model (OUT/model.pt) and evaluate it on a held-out simulated set "
        "(OUT/report). The TOML config has a top-level seed and tables [observer] (name = "
        "euclid|sdss|..., observer fields), [model] (name = a registered model, config fields), "
        "[train] (optimizer, lr, batch_size, steps_per_epoch, epochs, more Trainer options) and "
        "[eval] (n, seed). Example: deepz train --config euclid.toml --out runs/euclid",
    )
    p.add_argument("--config", required=True, help="TOML configuration file")
    p.add_argument(
        "--out",
        default=None,
        help="run folder (default: the config's 'out', else runs/<model name>)",
    )
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in the run folder exactly",
    )
    p.add_argument(
        "--format",
        choices=("weights", "torchscript", "export"),
        default="weights",
        help="how the model file stores the network: weights (deepz's own format, holds no "
        "code; default), or a TorchScript / torch.export program for deployment without deepz "
        "(loading those needs --trust-model)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train)


def _print_metrics(summary: dict) -> None:
    m = summary["metrics"]
    red = m.get("redshift", {})
    cls = m.get("classification", {})
    parts = []
    if "accuracy" in cls:
        parts.append(f"accuracy {cls['accuracy']:.4f}")
    for key, value in cls.items():
        if key.startswith("accuracy_within") and value is not None:
            parts.append(f"{key} {value:.4f}")
    for key in ("sigma_mad", "outlier_fraction", "bias"):
        if red.get(key) is not None:
            parts.append(f"{key} {red[key]:.5f}")
    print("held-out: " + ", ".join(parts))


def _run_train(args: argparse.Namespace) -> int:
    import tomllib

    from .pipeline import train

    try:
        with open(args.config, "rb") as fh:
            config = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"deepz train: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None:
        config["seed"] = args.seed
    config.setdefault("seed", 0)
    out = args.out or config.get("out") or f"runs/{config.get('model', {}).get('name', 'model')}"
    print(f"seed {config['seed']}")
    try:
        summary = train(
            config,
            out,
            resume=args.resume,
            progress=not args.no_progress,
            fmt=args.format,
        )
    except (ValueError, TypeError, FileExistsError) as exc:
        print(f"deepz train: {exc}", file=sys.stderr)
        return 2
    _print_metrics(summary)
    print(f"model: {summary['model_path']}  ({summary['seconds']['total']:.1f} s)")
    return 0


# -- deepz predict ----------------------------------------------------------------


def _add_predict(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify and redshift spectra files (default: the shipped model); write a catalogue",
        description="Read spectra (SDSS spec files, DESI coadds, deepz HDF5, FITS/CSV/npz "
        "tables; files, directories and glob patterns), resample each onto the model's grid, "
        "predict, and write a catalogue (FITS, CSV, ECSV, HDF5 or Parquet by extension) "
        "atomically. Targets the input does not cover get ZWARN OUT_OF_RANGE. Without "
        "--model, deepz's shipped optical model (3600-9800 A: GALAXY/QSO/STAR, z, calibrated "
        "ZERR; line-search refinement on) is used. "
        "Example: deepz predict 'data/spec-*.fits' --out zcat.fits",
    )
    p.add_argument("files", nargs="+", help="spectra files, directories or glob patterns")
    p.add_argument(
        "--model",
        default=None,
        help="saved model (deepz.save); default: the shipped optical model",
    )
    p.add_argument(
        "--trust-model",
        action="store_true",
        help="also load TorchScript / torch.export model files: they are programs and can "
        "run code, so only for files you trust (deepz's own weights format never needs this)",
    )
    p.add_argument("--out", required=True, help="output catalogue")
    p.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refine z by the line search (default: on for the shipped model, off for others)",
    )
    p.add_argument("--pdf", action="store_true", help="keep the full P(z) column (Z_PDF)")
    p.add_argument("--batch-size", type=int, default=1024, help="spectra per forward pass")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable files (listed on stderr) instead of stopping",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing catalogue")
    p.set_defaults(run=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from . import io
    from .default import model_path
    from .modelfile import load

    refine = args.refine
    try:
        if args.model is None:
            args.model = str(model_path())
            refine = True if refine is None else refine
        predictor = load(
            args.model, device=args.device, batch_size=args.batch_size, trust=args.trust_model
        )
        batch = io.read(args.files, on_error="skip" if args.skip_bad else "raise")
    except (ValueError, FileNotFoundError, io.ReadError) as exc:
        print(f"deepz predict: {exc}", file=sys.stderr)
        return 2
    for path, problem in batch.errors:
        print(f"deepz predict: skipped {path}: {problem}", file=sys.stderr)
    cat = predictor.predict(batch, refine=bool(refine), keep_pdf=args.pdf)
    if batch.meta is not None:
        for name in ("SOURCE", "Z_CAT", "SPECTYPE_CAT", "Z_TRUE", "SPECTYPE_TRUE", "SUBTYPE_TRUE"):
            if name in batch.meta.colnames:
                cat[name] = batch.meta[name]
    try:
        io.write_catalog(
            args.out, cat, overwrite=args.overwrite, meta={"MODEL": predictor.meta["model"]["name"]}
        )
    except (FileExistsError, ValueError) as exc:
        print(f"deepz predict: {exc}", file=sys.stderr)
        return 2
    n_oor = int(((cat["ZWARN"] & int(io.ZWarn.OUT_OF_RANGE)) != 0).sum())
    print(f"{len(cat)} targets -> {args.out} ({n_oor} outside the model's wavelength range)")
    return 0


# -- deepz evaluate ---------------------------------------------------------------


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="metrics and figures of predictions against true redshifts",
        description="Compare a prediction catalogue (deepz predict) with true redshifts and "
        "write metrics.json and figures (deepz.plots.report). Rows are joined on TARGETID "
        "when both tables have it, else matched by position. The truth table's redshift "
        "column is the first of --truth-column, Z_TRUE, Z, Z_CAT. Without TRUTH the "
        "catalogue is its own truth table (its Z_TRUE or Z_CAT: deepz predict copies the "
        "survey's redshift, e.g. SDSS SPECOBJ Z, into Z_CAT), never its predicted Z. "
        "Example: deepz evaluate zcat.fits truth.fits --out report/",
    )
    p.add_argument("pred", help="prediction catalogue")
    p.add_argument(
        "truth",
        nargs="?",
        default=None,
        help="table of true redshifts (FITS, CSV, ECSV, HDF5; default: PRED itself)",
    )
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--truth-column", default=None, help="true-redshift column of TRUTH")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from .io import ReadError, read_catalog
    from .pipeline import evaluate

    truth_path = args.pred if args.truth is None else args.truth
    try:
        pred = read_catalog(args.pred)
        truth = read_catalog(truth_path)
        itself = os.path.samefile(args.pred, truth_path)
    except (OSError, ValueError, ReadError) as exc:
        print(f"deepz evaluate: {exc}", file=sys.stderr)
        return 2
    if itself and args.truth_column == "Z":
        print(
            "deepz evaluate: Z of the prediction catalogue is the prediction, not a truth",
            file=sys.stderr,
        )
        return 2
    # the catalogue as its own truth table: its Z is the prediction, never a truth
    candidates = (
        [args.truth_column]
        if args.truth_column
        else ["Z_TRUE", "Z_CAT"]
        if itself
        else ["Z_TRUE", "Z", "Z_CAT"]
    )
    col = next((c for c in candidates if c in truth.colnames), None)
    if col is None:
        print(f"deepz evaluate: {truth_path} has none of the columns {candidates}", file=sys.stderr)
        return 2
    if "TARGETID" in pred.colnames and "TARGETID" in truth.colnames:
        index = {int(t): i for i, t in enumerate(truth["TARGETID"])}
        rows = np.array([index.get(int(t), -1) for t in pred["TARGETID"]])
        if (rows < 0).any():
            print(
                f"deepz evaluate: {(rows < 0).sum()} predicted targets are not in the truth "
                "table; they are left out",
                file=sys.stderr,
            )
        pred = pred[rows >= 0]
        truth = truth[rows[rows >= 0]]
    elif len(pred) != len(truth):
        print(
            f"deepz evaluate: {len(pred)} predictions but {len(truth)} truths and no "
            "TARGETID to join on",
            file=sys.stderr,
        )
        return 2
    y_true = None
    if "Z_CLASS" in pred.colnames and "Z_BINS" in pred.meta:
        bins = np.asarray(pred.meta["Z_BINS"], dtype=np.float64)
        dz = float(np.median(np.diff(bins)))
        z0 = bins[0] - dz / 2
        y_true = np.clip(
            np.floor((np.asarray(truth[col], float) - z0) / dz), 0, bins.size - 1
        ).astype(np.int64)
    metrics = evaluate(
        pred,
        np.asarray(truth[col], dtype=np.float64),
        args.out,
        y_true=y_true,
        meta={"pred": args.pred, "truth": truth_path, "column": col},
    )
    _print_metrics({"metrics": metrics})
    print(f"report: {args.out}")
    return 0


# -- deepz demo -------------------------------------------------------------------


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="simulate Euclid spectra, train the Stivaktakis CNN, evaluate (about 10 min)",
        description="The built-in default: simulate clean Euclid NISP spectra on the fly, "
        "train the Stivaktakis et al. (2019) CNN (Adagrad), evaluate it on held-out spectra, "
        "print accuracy, accuracy within +-1 slot (0.001), sigma_MAD and the outlier fraction, "
        "and write a report folder (figures, metrics.json, the saved model). --quick runs a "
        "tiny version in about 20 s (plumbing only). See deepz.pipeline for the choices.",
    )
    p.add_argument("--out", default="deepz-demo", help="report folder (default deepz-demo)")
    p.add_argument("--quick", action="store_true", help="a tiny run (~20 s), for tests")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .pipeline import DEMO, QUICK, demo

    seed = (QUICK if args.quick else DEMO)["seed"]
    print(f"seed {seed}")
    try:
        summary = demo(
            args.out, quick=args.quick, progress=not args.no_progress, threads=args.threads
        )
    except (ValueError, FileExistsError) as exc:
        print(f"deepz demo: {exc}", file=sys.stderr)
        return 2
    _print_metrics(summary)
    s = summary["seconds"]
    print(
        f"time: setup {s['simulate_setup']:.1f} s, train {s['train']:.1f} s, "
        f"evaluate {s['evaluate']:.1f} s, total {s['total']:.1f} s"
    )
    print(f"report: {args.out}/report   model: {summary['model_path']}")
    return 0


# -- the parser ---------------------------------------------------------------------

# (name, adder) for every subcommand, in the order `deepz --help` lists them.
_SUBCOMMANDS: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = [
    ("info", _add_info),
    ("simulate", _add_simulate),
    ("train", _add_train),
    ("predict", _add_predict),
    ("evaluate", _add_evaluate),
    ("demo", _add_demo),
]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``deepz`` command."""
    parser = argparse.ArgumentParser(
        prog="deepz",
        description="Deep-learning redshifts for astronomical spectra.",
    )
    parser.add_argument("--version", action="version", version=f"deepz {_core.__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log INFO messages (-vv: DEBUG)",
    )
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    subparsers.required = True
    for _name, add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deepz`` command line and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; argparse exits with 2 on a usage error.

    """
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
