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
    p.add_argument("--survey", default="euclid", choices=[*OBSERVERS, "all"],
                   help="observer preset (default euclid; 'all' only with --plot)")
    p.add_argument("--n", type=int, default=None, help="number of samples to write (with --out)")
    p.add_argument("--out", default=None, help="output HDF5 file")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the run (default: a fresh random one, printed and stored)")
    p.add_argument("--offset", type=int, default=0,
                   help="global index of the first sample (default 0)")
    p.add_argument("--noise", action=argparse.BooleanOptionalAction, default=None,
                   help="add the survey noise (default: the observer's, clean for euclid)")
    p.add_argument("--merge", type=int, default=None,
                   help="euclid: merge k pixels into one (2, 4, 8 -> 900, 450, 225 bins)")
    p.add_argument("--z-bin", type=float, default=None,
                   help="euclid: width of a redshift slot (0.001 -> 800 slots, 0.0005 -> 1600)")
    p.add_argument("--norm", default=None, choices=["none", "xmax", "max", "l2"],
                   help="normalisation (default: the observer's)")
    p.add_argument("--templates", type=int, default=None,
                   help="galaxy templates in the built-in library (euclid: n_templates; others: "
                   "n_galaxies)")
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="samples per write (default 10000, fewer for very long spectra)",
    )
    p.add_argument("--float64", action="store_true", help="store float64 instead of float32")
    p.add_argument("--compression", default=None, choices=["gzip", "lzf"],
                   help="HDF5 compression of flux and ivar (default none)")
    p.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--plot", default=None, metavar="DIR",
                   help="write the figure gallery (PNG) of the survey (or of all) into DIR")
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
    seed = secrets.randbits(63) if args.seed is None else args.seed
    print(f"seed {seed}")
    try:
        names = list(OBSERVERS) if args.survey == "all" else [args.survey]
        observers = {name: _simulate_observer(name, args) for name in names}
        if args.out is not None:
            obs = observers[args.survey]
            path = write_hdf5(
                args.out, obs, args.n, seed, offset=args.offset, chunk=args.chunk,
                progress=not args.no_progress, compression=args.compression,
                dtype="float64" if args.float64 else "float32", threads=args.threads,
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


# -- the parser ---------------------------------------------------------------------

# (name, adder) for every subcommand, in the order `deepz --help` lists them.
_SUBCOMMANDS: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = [
    ("info", _add_info),
    ("simulate", _add_simulate),
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
