"""Throughput of the default model, file to catalogue, per core, beside redrock (issue #7 item 7).

Run:
    pytest bench/test_bench_default.py --benchmark-only --benchmark-columns=min,median,ops -s

Goal (reported, never asserted): deepz's default model at least 1000 times
redrock's spectra per second per core. The issue quotes redrock at 0.68 s
per spectrum per core on this machine; that figure is printed as a reference
line beside the peer measured here.

deepz ("deepz" rows): what ``deepz predict coadd.fits --out zcat.fits`` does
once the model is loaded (python/deepz/cli.py): ``deepz.io.read(files)``
(DESI coadd: three arms combined, mask -> ivar 0), the default model's
``Predictor.predict(batch, refine=True, keep_pdf=False)`` (resampling onto
the optical grid, network, P(z) decoding, line-search refinement,
catalogue) and ``deepz.io.write_catalog`` (atomic FITS). One torch thread
(``torch.set_num_threads(1)``), one kernel thread (``threads=1``), one BLAS
thread (threadpoolctl): a per-core figure. The model is
python/deepz/data/optical-v1.pt when the installation has it, else a
full-size, randomly initialised ``models.create("optical_cnn")`` (seeded)
saved the same way into a temporary directory (throughput does not depend on
the weights). Loading the model (once a run) is timed apart and reported in
``extra_info["load_s"]``.

redrock ("redrock" rows), the peer, measured in the same run on a subset of
the same spectra (the first ``N_REDROCK`` targets of the same file): redrock
0.21 as ``rrdesi`` runs it, single process, one BLAS thread, through
bench/redrock_peer.py (rrdesi itself needs desispec, which is not installed:
the peer reads the coadd and calls redrock's ``load_dist_templates`` and
``zfind`` as rrdesi does). Its templates are built from deepz's own library
by bench/redrock_templates.py (the official ones cannot be downloaded here;
same sizes: GALAXY 10 basis vectors over -0.005 < z < 1.7, QSO 4 over
0.05 < z < 6, five STAR subtypes), so redrock's *answers* mean nothing here,
only its *cost*. The timed call is ``zfind`` on the already-read targets and
rebinned templates (the part that scales with the number of spectra);
rebinning the templates onto the arms at every redshift (about 10-15 s, once
a run, amortised over thousands of targets in production) and reading are
reported in ``extra_info``, and a warm-up run on one target with a short
scan compiles redrock's numba functions first.

The files: a DESI-layout coadd (tests/make_fixtures.py ``write_desi``, three
arms at 0.8 A, with Gaussian resolution rows of the simulator's 1.8 A FWHM so
that redrock can use them) of ``N_SIM`` spectra simulated by
``deepz.simulate.desi`` (seeded; the usual target mix: BGS, LRG, ELG, QSO,
MWS; a small template library, which changes nothing in the timing); and the
two real DESI coadds shipped with fastspecfit (one target each), when
installed ("real" rows: both files in one call).

Per-spectrum figures come from the median round: wall-clock seconds and CPU
seconds (``time.process_time``, all threads of the process: with one thread
each, the honest per-core figure on a machine shared with other jobs). The
table printed at the end gives spectra/s per core for both and the ratio
deepz / redrock by CPU time, with the goal and the issue's reference.

Measured on the 2-core machine (nice 19 beside a training job, load average
2.9; random-weight model; 72 s for the whole run): deepz 489 spectra per
CPU-second on the 256-spectrum coadd (2.0 ms each: about 1.5 ms network,
the rest reading, refinement and a fixed ~0.6 s per file of astropy FITS
reading and writing), redrock 3.1 CPU-s per spectrum (zfind; templates 12 s
once): 1,500x per core; against the issue's 0.68 s, 330x. The real files
(one spectrum each) measure deepz's per-file cost, not its throughput.

With ``--benchmark-disable`` (test-suite mode, < 30 s): 16 simulated
spectra, deepz once on them and on the real files, redrock once on one
target with short redshift scans (galaxy and QSO 0.1 < z < 0.3; stars
unchanged); the real-file redrock case is skipped (the same code as the
simulated one).
"""

from __future__ import annotations

import contextlib
import io as stdio
import os
import time
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from astropy.io import fits  # noqa: E402
from make_fixtures import real_file, write_desi  # noqa: E402  (tests/ is on sys.path)
from redrock_peer import gaussian_resolution  # noqa: E402  (bench/ is the rootdir of this file)

from deepz import grids, io, models, simulate  # noqa: E402
from deepz.modelfile import build_meta, load, save  # noqa: E402

N_SIM = 256  # simulated spectra in the coadd (deepz takes them all)
N_SIM_QUICK = 16  # with --benchmark-disable
N_REDROCK = 4  # of them, through redrock (about 3 s each)
REAL = ("coadd-4-80613-thru20210324.fits", "coadd-special-dark-27247.fits")
REDROCK_REFERENCE = 0.68  # s per spectrum per core, quoted in issue #7
GOAL = 1000.0
QUICK_ZSCAN = {"galaxy": "0.1,0.3,3e-4", "qso": "0.1,0.3,5e-4"}  # disabled mode / warm-up
DESI_FWHM_PIX = 1.8 / 0.8  # deepz.simulate.desi's LSF in DESI pixels
SEED = 20261125

# (case, tool) -> {"n", "wall", "cpu" (s per call, median round), ...}
RESULTS: dict[tuple[str, str], dict[str, float]] = {}


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(request) -> bool:
    """True with --benchmark-disable: the test-suite mode."""
    return bool(request.config.getoption("benchmark_disable", False))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> str:
    """The shipped default model, or a full-size random optical_cnn saved like it."""
    from deepz.default import model_path

    try:
        return str(model_path())
    except FileNotFoundError:
        torch.manual_seed(0)
        net = models.create("optical_cnn").eval()
        path = tmp_path_factory.mktemp("model") / "optical-random.pt"
        return save(net, path, build_meta(net, grids.preset("optical")))


@pytest.fixture(scope="module")
def sim_coadd(tmp_path_factory, quick) -> str:
    """A DESI-layout coadd of simulated spectra with usable resolution rows."""
    n = N_SIM_QUICK if quick else N_SIM
    obs = simulate.desi(n_galaxies=60, n_stars=30, n_qsos=30)
    b = obs.simulate(n, seed=SEED)
    arms = {}
    for arm, (lo, hi) in b.meta["arms"].items():
        ivar = np.where(np.isfinite(b.flux[:, lo:hi]), b.ivar[:, lo:hi], 0.0)
        arms[arm.upper()] = {
            "wave": b.wave[lo:hi],
            "flux": np.nan_to_num(b.flux[:, lo:hi]).astype(np.float32),
            "ivar": ivar.astype(np.float32),
            "mask": np.zeros((n, hi - lo), np.uint32),
        }
    path = tmp_path_factory.mktemp("coadd") / f"coadd-sim-{n}.fits"
    write_desi(path, 10_000 + np.arange(n), arms)
    sigma = DESI_FWHM_PIX / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    with fits.open(path, mode="update") as hdul:
        for arm in arms:
            hdul[f"{arm}_RESOLUTION"].data = gaussian_resolution(n, arms[arm]["wave"].size, sigma)
    return str(path)


@pytest.fixture(scope="module")
def real_coadds() -> list[str]:
    paths = [real_file("fastspecfit", "test", "data", name) for name in REAL]
    if any(p is None for p in paths):
        pytest.skip("fastspecfit's test coadds are not installed")
    return paths


@pytest.fixture(scope="module")
def rr_templates(tmp_path_factory, sim_coadd, quick):
    """Redrock templates from deepz's library (bench/redrock_templates.py), numba warmed up.

    With --benchmark-disable: smaller source libraries and no warm-up (one
    untimed run is all there is).
    """
    pytest.importorskip(
        "redrock",
        reason="redrock is not installed: no peer "
        f"(reference: {REDROCK_REFERENCE} s/spectrum/core, issue #7)",
    )
    pytest.importorskip("numba", reason="redrock needs numba")
    pytest.importorskip("threadpoolctl")
    from redrock_peer import run
    from redrock_templates import build

    out = tmp_path_factory.mktemp("rrtemplates")
    if quick:
        build(out, n_galaxies=30, n_qsos=20, n_stars_per_type=6)
        return str(out)
    build(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # redrock's own warnings are not ours to fail on
        run(sim_coadd, out, rows=[0], zscan=QUICK_ZSCAN)  # compiles redrock's numba code
    return str(out)


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    """One thread everywhere; print the per-core table when the module ends."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy's BLAS then runs with its default threads
        threadpool_limits = contextlib.nullcontext

    default = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(default)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not RESULTS:
        return
    with capture.global_and_fixture_disabled():
        for line in summary_lines():
            reporter.write_line(line)


def summary_lines() -> list[str]:
    """The table: spectra/s per core (wall and CPU), redrock's s/spectrum, the ratios."""
    lines = [
        "",
        "deepz default model, file to catalogue, 1 thread (torch, kernels, BLAS); "
        f"load average {os.getloadavg()[0]:.1f}",
        f"{'case':6s} {'tool':8s} {'N':>5s} {'spectra/s':>10s} {'spectra/s':>10s}"
        f" {'s/spectrum':>11s}  notes",
        f"{'':6s} {'':8s} {'':>5s} {'(wall)':>10s} {'(CPU)':>10s} {'(CPU)':>11s}",
    ]
    for (case, tool), r in sorted(RESULTS.items()):
        note = r.get("note", "")
        lines.append(
            f"{case:6s} {tool:8s} {int(r['n']):5d} {r['n'] / r['wall']:10.2f}"
            f" {r['n'] / r['cpu']:10.2f} {r['cpu'] / r['n']:11.4g}  {note}"
        )
    for case in sorted({c for c, _ in RESULTS}):
        d, rr = RESULTS.get((case, "deepz")), RESULTS.get((case, "redrock"))
        if d is None:
            continue
        dz = d["n"] / d["cpu"]
        ref = (
            f"redrock as quoted in issue #7 ({REDROCK_REFERENCE} s/spectrum/core): "
            f"{dz * REDROCK_REFERENCE:,.0f}x"
        )
        if rr is not None:
            ratio = dz * rr["cpu"] / rr["n"]
            lines.append(
                f"{case}: deepz / redrock per core (CPU) = {ratio:,.0f}x "
                f"(goal >= {GOAL:,.0f}x: {'met' if ratio >= GOAL else 'NOT met'});"
                f" against {ref}"
            )
        else:
            lines.append(f"{case}: no redrock run; against {ref}")
    return lines


# -- the benchmark --------------------------------------------------------------------


def _record(
    benchmark, case: str, tool: str, n: int, cpu: list[float], note: str = "", **extra
) -> None:
    """Store the median round's wall and CPU seconds (per call) in RESULTS and extra_info."""
    if benchmark.stats is None:  # --benchmark-disable: no statistics, one plain call
        return
    wall = benchmark.stats.stats.median
    cpu_s = float(np.median(cpu))
    RESULTS[(case, tool)] = {"n": n, "wall": wall, "cpu": cpu_s, "note": note}
    benchmark.extra_info.update(
        {
            "spectra_per_s": n / wall,
            "spectra_per_cpu_s": n / cpu_s,
            "s_per_spectrum": wall / n,
            "cpu_s_per_spectrum": cpu_s / n,
            **extra,
        }
    )
    d, rr = RESULTS.get((case, "deepz")), RESULTS.get((case, "redrock"))
    if d is not None:
        benchmark.extra_info["ratio_deepz_over_issue_reference"] = (
            d["n"] / d["cpu"] * REDROCK_REFERENCE
        )
        if rr is not None:
            benchmark.extra_info["ratio_deepz_over_redrock_per_core"] = (
                d["n"] / d["cpu"] * rr["cpu"] / rr["n"]
            )


def _timed(fn, cpu: list[float]):
    """Wrap ``fn`` so that each call appends its CPU seconds to ``cpu``."""

    def call(*args, **kwargs):
        start = time.process_time()
        out = fn(*args, **kwargs)
        cpu.append(time.process_time() - start)
        return out

    return call


def _deepz(benchmark, case, files, model_file, tmp_path, n_expected):
    start = time.perf_counter()
    pred = load(model_file, device="cpu", threads=1)
    load_s = time.perf_counter() - start
    out = tmp_path / "zcat.fits"

    def file_to_catalogue():
        batch = io.read(files)
        cat = pred.predict(batch, refine=True, keep_pdf=False)
        io.write_catalog(out, cat, overwrite=True, meta={"MODEL": pred.meta["model"]["name"]})
        return cat

    benchmark.group = f"default-{case}"
    benchmark.extra_info.update(
        {
            "tool": "deepz",
            "case": case,
            "n": n_expected,
            "model": os.path.basename(model_file),
            "load_s": load_s,
        }
    )
    cpu: list[float] = []
    call = _timed(file_to_catalogue, cpu)
    if benchmark.disabled:
        cat = benchmark.pedantic(call, rounds=1, iterations=1)
    else:
        call()  # warm-up (first forward pass, allocator)
        once = cpu.pop()
        rounds = max(3, min(20, int(2.0 / max(once, 1e-3))))  # about 2 s of rounds
        cat = benchmark.pedantic(call, rounds=rounds, iterations=1)
    assert len(cat) == n_expected
    assert len(io.read_catalog(out)) == n_expected
    note = f"model {os.path.basename(model_file)}"
    if len(files) > 1:
        note += f"; {len(files)} files of {n_expected // len(files)}: per-file cost dominates"
    _record(benchmark, case, "deepz", n_expected, cpu, note=note, load_s=load_s)


def _redrock(benchmark, case, files, rr_templates, rows, quick):
    from redrock.targets import DistTargetsCopy
    from redrock.templates import load_dist_templates
    from redrock.zfind import zfind
    from redrock_peer import read_coadd
    from threadpoolctl import threadpool_limits

    zscan = QUICK_ZSCAN if quick else {}
    state = {}

    def setup():  # untimed: read the targets and rebin the templates (once a run in rrdesi)
        with warnings.catch_warnings(), contextlib.redirect_stdout(stdio.StringIO()):
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            targets = [t for f in files for t in read_coadd(f, rows)]
            dtargets = DistTargetsCopy(targets)
            dwave = dtargets.wavegrids()
            t1 = time.perf_counter()
            dtemplates = load_dist_templates(
                dwave,
                templates=rr_templates,
                mp_procs=1,
                zscan_galaxy=zscan.get("galaxy"),
                zscan_qso=zscan.get("qso"),
                zscan_star=zscan.get("star"),
            )
            state.update(read_s=t1 - t0, templates_s=time.perf_counter() - t1, n=len(targets))
        return (dtargets, dtemplates, len(dwave)), {}

    def find(dtargets, dtemplates, ncamera):
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(stdio.StringIO()),
            threadpool_limits(1),
        ):
            warnings.simplefilter("ignore")
            return zfind(dtargets, dtemplates, mp_procs=1, nminima=3, ncamera=ncamera)[1]

    benchmark.group = f"default-{case}"
    benchmark.extra_info.update(
        {"tool": "redrock", "case": case, "zscan": zscan or "templates' defaults"}
    )
    cpu: list[float] = []
    zfit = benchmark.pedantic(_timed(find, cpu), setup=setup, rounds=1, iterations=1)
    n = state["n"]
    benchmark.extra_info["n"] = n
    assert len(np.unique(np.asarray(zfit["targetid"]))) == n
    _record(
        benchmark,
        case,
        "redrock",
        n,
        cpu,
        note=f"zfind only; + templates {state['templates_s']:.1f} s once a run",
        read_s=state["read_s"],
        templates_s=state["templates_s"],
    )


@pytest.mark.parametrize("tool", ["deepz", "redrock"])  # peers back to back, deepz first
def test_default_sim(benchmark, tool, quick, model_file, sim_coadd, request, tmp_path):
    """Simulated DESI coadd: deepz on all its spectra, redrock on the first few."""
    if tool == "deepz":
        _deepz(benchmark, "sim", [sim_coadd], model_file, tmp_path, N_SIM_QUICK if quick else N_SIM)
    else:
        rr = request.getfixturevalue("rr_templates")
        _redrock(benchmark, "sim", [sim_coadd], rr, list(range(1 if quick else N_REDROCK)), quick)


@pytest.mark.parametrize("tool", ["deepz", "redrock"])
def test_default_real(benchmark, tool, quick, model_file, real_coadds, request, tmp_path):
    """The two real DESI coadds of fastspecfit (one target each), both files in one call."""
    if tool == "deepz":
        _deepz(benchmark, "real", real_coadds, model_file, tmp_path, len(real_coadds))
    else:
        if quick:
            pytest.skip("benchmarks disabled: the same code as the simulated redrock case")
        rr = request.getfixturevalue("rr_templates")
        _redrock(benchmark, "real", real_coadds, rr, None, quick)
