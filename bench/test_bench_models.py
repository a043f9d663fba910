"""Forward throughput of the deepz.models networks: eager beside TorchScript.

Run:
    pytest bench/test_bench_models.py --benchmark-only --benchmark-columns=min,median,ops

One group per (model, batch size) holds the eager model and its
``torch.jit.script`` twin (the peer), both in eval mode under
``torch.inference_mode`` on CPU, at the papers' sizes. Each call predicts a
whole batch: spectra/s = ops x batch (``extra_info["spectra_per_s"]`` holds it
for the median); the table printed at the end gives spectra/s and the
scripted/eager speed ratio per group. This is the bare network, before any
Predictor (no resampling, no transfers).

To stay within about two minutes on a quiet 2-core machine, each benchmark
runs about half a second: at least one round, after one warm-up call (two
for TorchScript below batch 1024: its profiling executor optimises the
graph after the profiled run). The two heaviest networks at batch 1024
(Pasquet's inception CNN: ~0.75 GMAC per stamp; the 10-member GaSNet-II
ensemble: ~0.8 GMAC per spectrum) are skipped unless ``DEEPZ_BENCH_FULL=1``.

``DEEPZ_BENCH_THREADS=n`` sets torch's intra-op threads (default: torch's
choice). On an oversubscribed machine use 1: a 2-thread OpenMP team whose
second thread is descheduled stalls at every barrier, and small batches then
run 10-50x slower than on one thread.
"""

from __future__ import annotations

import functools
import os
import time

import pytest

torch = pytest.importorskip("torch")

from deepz import models  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    r"ignore:`torch\.jit\.(script|save|load)` is deprecated:DeprecationWarning"
)

MODELS = [
    "euclid_cnn",
    "yurchuk_cnn",
    "yurchuk_inception",
    "gasnet_classifier",
    "gasnet_ensemble",
    "pasquet_inception",
    "alhambra_redshift",
]
BATCHES = [1, 64, 1024]
HEAVY = {("pasquet_inception", 1024), ("gasnet_ensemble", 1024)}
FULL = os.environ.get("DEEPZ_BENCH_FULL", "") == "1"
THREADS = int(os.environ.get("DEEPZ_BENCH_THREADS", "0"))  # 0: torch's default
TARGET_S = 0.5  # time per benchmark (rounds x call)

RESULTS: dict[tuple[str, int], dict[str, float]] = {}


@functools.cache
def built(name: str):
    """The paper-size model (seeded) in eval mode and its scripted twin."""
    torch.manual_seed(0)
    model = models.create(name).eval()
    return model, torch.jit.script(model)


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    """Set the thread count; print spectra/s and the ratios when the module ends."""
    default = torch.get_num_threads()
    if THREADS > 0:
        torch.set_num_threads(THREADS)
    yield
    threads = torch.get_num_threads()
    torch.set_num_threads(default)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not RESULTS:
        return
    lines = [
        "",
        f"deepz.models forward throughput, CPU, {threads} thread(s), "
        f"load average {os.getloadavg()[0]:.1f} (spectra/s from the median; best from the min)",
        f"{'model':20s} {'batch':>6s} {'eager':>10s} {'scripted':>10s} {'ratio':>6s}"
        f" {'eager best':>11s} {'script best':>11s} {'ratio':>6s}",
    ]
    for (name, batch), r in sorted(RESULTS.items()):
        nan = float("nan")
        e, s = r.get("eager", nan), r.get("scripted", nan)
        eb, sb = r.get("eager_best", nan), r.get("scripted_best", nan)
        lines.append(
            f"{name:20s} {batch:6d} {e:10.1f} {s:10.1f} {s / e:6.2f} {eb:11.1f} {sb:11.1f}"
            f" {sb / eb:6.2f}"
        )
    with capture.global_and_fixture_disabled():
        for line in lines:
            reporter.write_line(line)


@pytest.mark.parametrize("mode", ["eager", "scripted"])  # varies fastest: peers run back to back
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", MODELS)
def test_forward_throughput(benchmark, name, batch, mode):
    if (name, batch) in HEAVY and not FULL:
        pytest.skip(f"{name} at batch {batch} takes minutes on 2 cores; DEEPZ_BENCH_FULL=1")
    model, scripted = built(name)
    net = model if mode == "eager" else scripted
    inputs = model.example_inputs(batch, seed=0)

    def forward():
        with torch.inference_mode():
            return net(*inputs)

    # warm-up: one call (eager) or two (TorchScript's profiling executor
    # optimises the graph after its profiled run); the last one sizes the
    # rounds. At batch 1024 (seconds a call) one warm-up each: the scripted
    # model's measured call then includes the graph optimisation (~ms).
    for _ in range(2 if mode == "scripted" and batch < 1024 else 1):
        start = time.perf_counter()
        forward()
        once = time.perf_counter() - start
    rounds = max(1, min(50, int(TARGET_S / max(once, 1e-6))))

    benchmark.group = f"models-{name}-b{batch}"
    benchmark.extra_info.update(
        {"batch": batch, "mode": mode, "threads": torch.get_num_threads(), "model": name}
    )
    benchmark.pedantic(forward, rounds=rounds, iterations=1, warmup_rounds=0)
    if benchmark.stats is None:  # --benchmark-disable: the call ran once, nothing was timed
        return
    stats = benchmark.stats.stats
    benchmark.extra_info["spectra_per_s"] = batch / stats.median
    result = RESULTS.setdefault((name, batch), {})
    result[mode] = batch / stats.median
    result[f"{mode}_best"] = batch / stats.min
