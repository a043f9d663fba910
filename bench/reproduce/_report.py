"""Markdown reports of the paper reproductions (bench/reproduce/*.py write them to docs/reproduce/).

Every reproduction script builds its rows with :class:`Row` -- the paper's number beside
deepz's, measured with :mod:`deepz.metrics` -- and calls :func:`write_report`, which writes the
Markdown atomically with the run's facts (command, seed, scale, wall time, machine load, deepz
and torch versions) so a report always says how to rerun it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import deepz
from deepz.io._atomic import atomic_path

log = logging.getLogger("deepz.reproduce")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "reproduce"


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of a reproduction table: the paper's value beside deepz's.

    ``paper`` is None where the paper gives no figure; ``note`` says what differs (data,
    training size, an approximation) so a reader knows how far the numbers compare.
    """

    metric: str
    paper: float | str | None
    deepz: float | str | None
    note: str = ""


def _fmt(v: float | str | None) -> str:
    if v is None:
        return "--"
    if isinstance(v, str):
        return v
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3e}"
    return f"{v:.4g}"


def table(rows: Sequence[Row], header: tuple[str, str, str, str] | None = None) -> str:
    """Render rows as a Markdown table (metric | paper | deepz | note)."""
    h = header or ("metric", "paper", "deepz", "note")
    lines = [f"| {' | '.join(h)} |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {r.metric} | {_fmt(r.paper)} | {_fmt(r.deepz)} | {r.note} |" for r in rows]
    return "\n".join(lines)


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every reproduction script takes: --scale, --seed, --out, --threads."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", choices=("small", "full"), default="small")
    p.add_argument("--seed", type=int, default=20261204)
    p.add_argument("--out", type=Path, default=None, help="report path (default docs/reproduce/)")
    p.add_argument("--threads", type=int, default=None, help="torch/kernel threads")
    return p


def start(args: argparse.Namespace) -> float:
    """Set up logging and threads, log the seed; return the start time for :func:`write_report`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
        deepz.set_num_threads(args.threads)
    log.info("scale=%s seed=%d", args.scale, args.seed)
    return time.perf_counter()


def write_report(
    name: str,
    title: str,
    sections: Sequence[tuple[str, str]],
    args: argparse.Namespace,
    t0: float,
) -> Path:
    """Write ``docs/reproduce/<name>.md`` (or ``args.out``) atomically and return its path.

    Parameters
    ----------
    name : str
        File stem, normally the paper script's name (``stivaktakis``).
    title : str
        The report's heading (the paper, its year).
    sections : sequence of (heading, markdown)
        Body sections in order; use :func:`table` for the tables and relative links for figures.
    args : argparse.Namespace
        The script's parsed arguments (scale, seed) -- recorded with the command line.
    t0 : float
        ``time.perf_counter()`` at the start of the run (:func:`start`).
    """
    path = Path(args.out) if args.out else DOCS / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter() - t0
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    cmd = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    cpu = platform.processor() or platform.machine()
    py = platform.python_version()
    facts = [
        f"- command: `{cmd}`",
        f"- scale: {args.scale}; seed: {args.seed}",
        f"- wall time: {wall:.0f} s on {os.cpu_count()} CPU cores ({cpu}), "
        f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        f"- deepz {deepz.__version__}, torch {torch.__version__}, python {py}",
    ]
    body = [f"# {title}", "", *facts, ""]
    for heading, text in sections:
        body += [f"## {heading}", "", text.rstrip(), ""]
    with atomic_path(path, overwrite=True) as tmp:
        Path(tmp).write_text("\n".join(body))
    log.info("wrote %s (%.0f s)", path, wall)
    return path
