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


# -- the parser ---------------------------------------------------------------------

# (name, adder) for every subcommand, in the order `deepz --help` lists them.
_SUBCOMMANDS: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = [
    ("info", _add_info),
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
