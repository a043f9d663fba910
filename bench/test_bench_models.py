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
runs about half a second (at least one round, after one warm-up call, two
for TorchScript, whose profiling executor optimises after its profiled
runs), and the two heaviest networks at batch 1024 (Pasquet's inception
CNN: ~0.75 GMAC per stamp; the 10-member GaSNet-II ensemble: ~0.8 GMAC per
spectrum) are skipped unless ``DEEPZ_BENCH_FULL=1``.
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
    """Print spectra/s and the scripted/eager ratio per group at the end."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not RESULTS:
        return
    reporter.write_line("")
    reporter.write_line(
        f"deepz.models forward throughput, CPU, {torch.get_num_threads()} threads "
        "(median spectra/s)"
    )
    reporter.write_line(
        f"{'model':20s} {'batch':>6s} {'eager':>12s} {'scripted':>12s} {'ratio':>7s}"
    )
    for (name, batch), r in sorted(RESULTS.items()):
        eager, script = r.get("eager", float("nan")), r.get("scripted", float("nan"))
        reporter.write_line(
            f"{name:20s} {batch:6d} {eager:12.1f} {script:12.1f} {script / eager:7.2f}"
        )


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
    # optimises the graph after its profiled runs); the last one sizes the rounds
    for _ in range(1 if mode == "eager" else 2):
        start = time.perf_counter()
        forward()
        once = time.perf_counter() - start
    rounds = max(1, min(50, int(TARGET_S / max(once, 1e-6))))

    benchmark.group = f"models-{name}-b{batch}"
    benchmark.extra_info.update(
        {"batch": batch, "mode": mode, "threads": torch.get_num_threads(), "model": name}
    )
    benchmark.pedantic(forward, rounds=rounds, iterations=1, warmup_rounds=0)
    median = benchmark.stats.stats.median
    benchmark.extra_info["spectra_per_s"] = batch / median
    RESULTS.setdefault((name, batch), {})[mode] = batch / median
