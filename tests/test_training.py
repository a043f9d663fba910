"""deepz.training.Trainer in process: API, files, validation errors, exact resume.

The SIGKILL resume tests (subprocesses) live in test_training_resume.py.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from deepz import training
from deepz.training import (
    BEST_FILE,
    CHECKPOINT_FILE,
    HISTORY_FILE,
    RUN_FILE,
    ResumableStream,
    Trainer,
    TrainResult,
    atomic_write,
    load_checkpoint,
)

N_IN, N_CLASSES = 6, 3


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny nets on a shared 2-core machine: torch's thread pool only slows them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Net(nn.Module):
    """Tiny classifier with every kind of state: BatchNorm buffers, dropout RNG."""

    def __init__(self, hidden: int = 12):
        super().__init__()
        self.fc1 = nn.Linear(N_IN, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(hidden, N_CLASSES)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(N_IN, N_CLASSES)
        self.b = nn.Linear(1, N_CLASSES)

    def forward(self, x, ebv):
        return self.a(x) + self.b(ebv)


def make_data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, N_IN, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 1).long()
    return x, y


class NoisyDataset(Dataset):
    """Map-style dataset whose __getitem__ draws from torch's global RNG (augmentation)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * torch.randn(N_IN), self.y[i]


class Stream:
    """A resumable on-the-fly stream: batch k of epoch e is a function of (seed, e, k)."""

    def __init__(self, batch=8, n_batches=None):
        self.batch, self.n_batches, self.calls = batch, n_batches, []

    def batches(self, epoch, start, seed):
        self.calls.append((epoch, start, seed))
        k = start
        while self.n_batches is None or k < self.n_batches:
            g = torch.Generator().manual_seed(hash((seed, epoch, k)) % 2**62)
            x = torch.randn(self.batch, N_IN, generator=g)
            yield x, (x[:, 0] > 0).long()
            k += 1


def accuracy(pred, target):
    return (pred.argmax(1) == target).float().mean()


def new_model(seed=0, **kw):
    torch.manual_seed(seed)
    return Net(**kw)


def trainer(model=None, **kw):
    opts = {
        "optimizer": "adam",
        "lr": 0.01,
        "epochs": 3,
        "batch_size": 8,
        "seed": 5,
        "progress": False,
        "log_every": None,
    }
    opts.update(kw)
    return Trainer(new_model() if model is None else model, "cross_entropy", **opts)


def assert_same_weights(a: nn.Module | dict, b: nn.Module | dict):
    sa = a.state_dict() if isinstance(a, nn.Module) else a
    sb = b.state_dict() if isinstance(b, nn.Module) else b
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def strip_times(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


class Crash(Exception):
    pass


def crashing_loss(at_step):
    """Cross-entropy that raises during training step number ``at_step`` (from 1)."""
    calls = [0]

    def loss(pred, target):
        if torch.is_grad_enabled():
            calls[0] += 1
            if calls[0] == at_step:
                raise Crash(f"simulated crash in step {at_step}")
        return F.cross_entropy(pred, target)

    return loss


# -- a run and its files -----------------------------------------------------------------


def test_fit_writes_history_run_checkpoint_best(tmp_path):
    x, y = make_data()
    xv, yv = make_data(24, seed=1)
    t = trainer(out_dir=tmp_path, metrics={"acc": accuracy}, schedule="halve_every_2")
    result = t.fit((x, y), val=(xv, yv))

    assert isinstance(result, TrainResult)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    for r in result.history:
        assert set(r) == {"epoch", "steps", "train_loss", "val_loss", "val_acc", "lr", "seconds"}
        assert r["steps"] == 5  # ceil(40 / 8)
        assert 0.0 <= r["val_acc"] <= 1.0
    assert [r["lr"] for r in result.history] == [0.01, 0.01, 0.005]
    assert result.best_metric == "val_loss"
    losses = [r["val_loss"] for r in result.history]
    assert result.best_value == min(losses)
    assert result.best_epoch == 1 + losses.index(min(losses))
    assert result.epochs_run == 3
    assert not result.stopped_early
    assert result.seed == 5
    assert result.checkpoint_path == tmp_path / CHECKPOINT_FILE
    assert result.best_path == tmp_path / BEST_FILE
    assert result.history_path == tmp_path / HISTORY_FILE
    assert result.run_path == tmp_path / RUN_FILE

    assert json.loads((tmp_path / HISTORY_FILE).read_text()) == result.history
    run = json.loads((tmp_path / RUN_FILE).read_text())
    assert run["seed"] == 5
    assert run["config"]["seed"] == 5
    assert run["config"]["optimizer"] == "adam"
    assert run["config"]["batch_size"] == 8
    assert run["deepz_version"] == __import__("deepz").__version__
    assert run["status"] == "completed"
    assert run["start_time"] <= run["end_time"]
    assert run["data"]["train"].startswith("arrays: 40 samples")

    ckpt = load_checkpoint(tmp_path)
    assert ckpt["epochs_done"] == 3
    assert ckpt["step"] == 0
    assert ckpt["global_step"] == 15
    assert ckpt["seed"] == 5
    assert ckpt["history"] == result.history
    assert set(ckpt["rng"]) == {"torch", "cuda", "numpy", "python"}
    assert ckpt["scheduler"] is not None
    assert_same_weights(ckpt["model"], t.model)
    best = torch.load(tmp_path / BEST_FILE, weights_only=True)
    assert best["epoch"] == result.best_epoch
    assert best["metric"] == "val_loss"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CHECKPOINT_FILE, BEST_FILE, HISTORY_FILE, RUN_FILE]
    )


def test_seed_is_logged(tmp_path, caplog):
    x, y = make_data()
    with caplog.at_level(logging.INFO, logger="deepz.training"):
        trainer(seed=4321, epochs=1, out_dir=tmp_path).fit((x, y))
    assert "seed 4321" in caplog.text


def test_seed_none_draws_a_stored_seed(tmp_path):
    x, y = make_data()
    result = trainer(seed=None, epochs=1, out_dir=tmp_path).fit((x, y))
    assert isinstance(result.seed, int)
    assert json.loads((tmp_path / RUN_FILE).read_text())["seed"] == result.seed


def test_without_out_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = make_data()
    result = trainer(epochs=1).fit((x, y), val=(x, y))
    assert result.out_dir is None
    assert result.checkpoint_path is None
    assert result.best_path is None
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_weights_different_seed_differs():
    x, y = make_data()
    runs = []
    for seed in (1, 1, 2):
        t = trainer(seed=seed, epochs=2)
        t.fit((x, y))
        runs.append(t.model.state_dict())
    assert_same_weights(runs[0], runs[1])
    assert not torch.equal(runs[0]["fc1.weight"], runs[2]["fc1.weight"])


def test_library_does_not_print_or_change_threads(capsys):
    threads = torch.get_num_threads()
    x, y = make_data()
    trainer(epochs=1, log_every=1).fit((x, y), val=(x, y))
    assert capsys.readouterr().out == ""
    assert torch.get_num_threads() == threads


def test_progress_bar_goes_to_stderr(capsys):
    x, y = make_data()
    trainer(epochs=1, progress=True).fit((x, y))
    out, err = capsys.readouterr()
    assert out == ""
    assert "epoch 1/1" in err


# -- kinds of data ---------------------------------------------------------------------


def test_numpy_float64_arrays_train_a_float32_model():
    x, y = make_data()
    t = trainer(epochs=1)
    result = t.fit((x.numpy().astype(np.float64), y.numpy()), val=(x.numpy(), y.numpy()))
    assert math.isfinite(result.history[0]["val_loss"])
    assert t.model.fc1.weight.dtype == torch.float32


def test_map_style_dataset_and_arrays_see_the_same_order():
    """A TensorDataset and the same arrays give the same seeded batches, hence weights."""
    x, y = make_data()
    a, b = trainer(epochs=2), trainer(epochs=2)
    a.fit((x, y))
    b.fit(torch.utils.data.TensorDataset(x, y))
    assert_same_weights(a.model, b.model)


def test_shuffling_differs_between_epochs():
    src = trainer()._source(make_data(), "train", train=True)
    orders = [src.order(e) for e in range(3)]
    assert sorted(orders[0].tolist()) == list(range(40))
    assert not torch.equal(orders[0], orders[1])
    assert torch.equal(orders[1], src.order(1))


def test_multi_input_model():
    x, y = make_data()
    ebv = torch.rand(len(x), 1)
    torch.manual_seed(0)
    t = Trainer(TwoInputs(), "cross_entropy", epochs=1, batch_size=8, progress=False)
    result = t.fit(((x, ebv), y), val=((x, ebv), y))
    assert math.isfinite(result.history[0]["val_loss"])


def test_stream_gets_seed_epoch_start_and_validation_has_its_own_seed():
    stream, val = Stream(n_batches=3), Stream(n_batches=2)
    result = trainer(epochs=2, seed=9).fit(stream, val=val)
    assert stream.calls == [(0, 0, 9), (1, 0, 9)]
    assert [c[:2] for c in val.calls] == [(0, 0), (0, 0)]
    assert val.calls[0][2] != 9
    assert [r["steps"] for r in result.history] == [3, 3]


def test_same_stream_object_for_train_and_val():
    stream = Stream(n_batches=3)
    result = trainer(epochs=1, val_steps=2).fit(stream, val=stream)
    assert math.isfinite(result.history[0]["val_loss"])


def test_infinite_stream_needs_steps_per_epoch():
    stream = Stream(n_batches=None)
    result = trainer(epochs=2, steps_per_epoch=4).fit(stream)
    assert [r["steps"] for r in result.history] == [4, 4]
    assert isinstance(stream, ResumableStream)


def test_generator_with_steps_per_epoch_continues_across_epochs():
    seen = []

    def gen():
        k = 0
        while True:
            seen.append(k)
            x = torch.full((4, N_IN), float(k))
            yield x, torch.zeros(4, dtype=torch.long)
            k += 1

    result = trainer(epochs=2, steps_per_epoch=3).fit(gen())
    assert [r["steps"] for r in result.history] == [3, 3]
    assert seen[:6] == [0, 1, 2, 3, 4, 5]


def test_single_pass_generator_for_two_epochs_raises():
    x, y = make_data()
    batches = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8))
    with pytest.raises(ValueError, match="no batches in epoch 2"):
        trainer(epochs=2).fit(batches)


def test_list_of_batches_is_reiterable():
    x, y = make_data()
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]
    result = trainer(epochs=2).fit(batches)
    assert [r["steps"] for r in result.history] == [5, 5]


def test_metrics_see_the_whole_validation_set():
    x, y = make_data(37)
    seen = []
    metrics = {"n": lambda p, t: len(t), "median": lambda p, t: p[:, 0].median()}

    def record(p, t):
        seen.append(p.clone())
        return 0.0

    metrics["rec"] = record
    t = trainer(epochs=1, metrics=metrics, val_batch_size=5)
    result = t.fit((x, y), val=(x, y))
    assert result.history[0]["val_n"] == 37
    t.model.eval()
    with torch.no_grad():
        full = t.model(x)
    torch.testing.assert_close(seen[0], full)
    assert result.history[0]["val_median"] == pytest.approx(float(full[:, 0].median()), rel=1e-6)


def test_bad_batches_raise_typeerror():
    with pytest.raises(TypeError, match="train: each batch must be an"):
        trainer(epochs=1).fit([torch.zeros(4, N_IN)])
    with pytest.raises(TypeError, match="train: expected"):
        trainer(epochs=1).fit(42)
    with pytest.raises(TypeError, match="pair"):
        trainer(epochs=1).fit(torch.zeros(4, N_IN))


def test_empty_data_raises():
    with pytest.raises(ValueError, match="train: is empty"):
        trainer(epochs=1).fit((torch.zeros(0, N_IN), torch.zeros(0, dtype=torch.long)))


def test_mismatched_array_lengths_raise():
    with pytest.raises(ValueError, match="x has 40 samples but y has 39"):
        trainer(epochs=1).fit((torch.zeros(40, N_IN), torch.zeros(39, dtype=torch.long)))


# -- optimisers, schedules, early stopping ---------------------------------------------------


def test_halve_every_5_schedule():
    x, y = make_data(8)
    result = trainer(epochs=7, lr=0.1, schedule="halve_every_5").fit((x, y))
    assert [r["lr"] for r in result.history] == [0.1] * 5 + [0.05] * 2


def test_schedule_factory_and_step_interval():
    x, y = make_data(16)
    t = trainer(
        epochs=2,
        lr=0.1,
        schedule=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 / (k + 1)),
        schedule_interval="step",
    )
    t.fit((x, y))
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 5)  # 4 steps done


def test_reduce_on_plateau_gets_the_monitored_metric():
    x, y = make_data(16)
    t = trainer(
        epochs=3,
        lr=0.1,
        metrics={"const": lambda p, t: 1.0},
        early_stopping=("const", 10, "max"),
        schedule=lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max", patience=0, factor=0.5
        ),
    )
    result = t.fit((x, y), val=(x, y))
    assert [r["lr"] for r in result.history] == [0.1, 0.1, 0.05]


@pytest.mark.parametrize(
    ("optimizer", "kwargs", "cls"),
    [
        ("adagrad", {"lr": 0.05}, torch.optim.Adagrad),
        ("SGD", {"lr": 0.05, "optimizer_kwargs": {"momentum": 0.9}}, torch.optim.SGD),
        (torch.optim.RMSprop, {"lr": 0.01}, torch.optim.RMSprop),
        (lambda p: torch.optim.SGD(p, lr=0.2), {}, torch.optim.SGD),
    ],
)
def test_optimizer_choices(optimizer, kwargs, cls):
    x, y = make_data(16)
    kwargs.setdefault("lr", None)
    t = trainer(epochs=1, optimizer=optimizer, **kwargs)
    assert type(t.optimizer) is cls
    t.fit((x, y))
    if "optimizer_kwargs" in kwargs:
        assert t.optimizer.param_groups[0]["momentum"] == 0.9


def test_default_lr_is_torchs():
    assert trainer(optimizer="adagrad", lr=None).optimizer.param_groups[0]["lr"] == 0.01


def test_early_stopping_and_best_weights(tmp_path):
    x, y = make_data(16)
    scores = iter([3.0, 1.0, 2.0, 1.5, 1.2, 0.5, 0.1])
    snapshots = {}
    model = new_model()

    def score(pred, target):
        snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
        return next(scores)

    t = trainer(
        model=model,
        epochs=7,
        out_dir=tmp_path,
        metrics={"score": score},
        early_stopping=("score", 3),
        restore_best=True,
    )
    result = t.fit((x, y), val=(x, y))
    assert result.stopped_early
    assert result.epochs_run == 5
    assert [r["val_score"] for r in result.history] == [3.0, 1.0, 2.0, 1.5, 1.2]
    assert (result.best_metric, result.best_value, result.best_epoch) == ("val_score", 1.0, 2)
    best = torch.load(result.best_path, weights_only=True)
    assert best["epoch"] == 2
    assert_same_weights(best["model"], snapshots[2])
    assert_same_weights(model, snapshots[2])  # restore_best
    assert json.loads((tmp_path / RUN_FILE).read_text())["status"] == "stopped_early"
    # a resume of a stopped run does nothing
    again = trainer(
        model=model,
        epochs=7,
        out_dir=tmp_path,
        metrics={"score": score},
        early_stopping=("score", 3),
    ).fit((x, y), val=(x, y), resume=True)
    assert again.epochs_run == 5
    assert again.stopped_early


def test_early_stopping_max_mode_and_nan_never_best():
    x, y = make_data(16)
    scores = iter([0.5, float("nan"), 0.7, 0.6])
    result = trainer(
        epochs=4, metrics={"acc": lambda p, t: next(scores)}, early_stopping=("val_acc", 5, "max")
    ).fit((x, y), val=(x, y))
    assert (result.best_value, result.best_epoch) == (0.7, 3)


def test_early_stopping_on_val_metric_needs_val():
    x, y = make_data(16)
    with pytest.raises(ValueError, match="no val data"):
        trainer(early_stopping=("val_loss", 2)).fit((x, y))


# -- validation of arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer": "adamax"}, "optimizer: unknown name 'adamax'"),
        ({"epochs": 0}, "epochs: must be >= 1"),
        ({"batch_size": 0}, "batch_size: must be >= 1"),
        ({"schedule": "halve_sometimes"}, "schedule: unknown name"),
        ({"schedule_interval": "batch"}, "schedule_interval"),
        ({"early_stopping": ("val_loss", 2, "up")}, "mode must be 'min' or 'max'"),
        ({"early_stopping": ("val_acc", 2)}, "unknown metric 'val_acc'"),
        ({"early_stopping": "val_loss"}, "early_stopping: expected"),
        ({"early_stopping": ("val_loss", 0)}, "patience: must be >= 1"),
        ({"device": "tpu"}, "device"),
        ({"checkpoint_every": 5}, "checkpoint_every: checkpoints need an out_dir"),
        ({"optimizer": lambda p: torch.optim.SGD(p, lr=0.1), "lr": 0.1}, "lr/optimizer_kwargs"),
        ({"amp": "int8"}, "amp"),
        ({"lr": -1.0}, "lr: must be"),
        ({"seed": -3}, "seed: must be >= 0"),
        ({"metrics": {"loss": accuracy}}, "bad metric name 'loss'"),
        ({"steps_per_epoch": 0}, "steps_per_epoch"),
    ],
)
def test_bad_arguments_raise_valueerror(kwargs, match):
    with pytest.raises(ValueError, match=match):
        trainer(**kwargs)


def test_bad_loss_name_raises():
    with pytest.raises(ValueError, match="loss: unknown name 'hinge'"):
        Trainer(new_model(), "hinge")


def test_cuda_without_cuda_raises():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="no CUDA device"):
        trainer(device="cuda")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer": object()}, "optimizer: expected"),
        ({"metrics": {"acc": 3}}, "not callable"),
        ({"epochs": 2.5}, "epochs: expected an int"),
    ],
)
def test_bad_argument_types_raise_typeerror(kwargs, match):
    with pytest.raises(TypeError, match=match):
        trainer(**kwargs)


def test_optimizer_instance_is_refused():
    model = new_model()
    with pytest.raises(TypeError, match="not an instance"):
        trainer(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), lr=None)


def test_steps_per_epoch_longer_than_a_pass_raises():
    with pytest.raises(ValueError, match="exceeds the 5 batches"):
        trainer(steps_per_epoch=6).fit(make_data())


def test_amp_on_cpu_is_ignored_with_a_warning(caplog):
    x, y = make_data(16)
    with caplog.at_level(logging.WARNING, logger="deepz.training"):
        t = trainer(device="cpu", amp=True, epochs=1)
    assert "mixed precision is for CUDA only" in caplog.text
    assert t.scaler is None
    assert t.config["amp"] is None
    t.fit((x, y))


def test_compile_eager_backend(tmp_path):
    x, y = make_data(16)
    t = trainer(epochs=1, out_dir=tmp_path, compile={"backend": "eager"})
    t.fit((x, y))
    ckpt = load_checkpoint(tmp_path)
    assert not any(k.startswith("_orig_mod") for k in ckpt["model"])
    assert_same_weights(ckpt["model"], t.model)


# -- atomic files ----------------------------------------------------------------------------


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def fail(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_a_failing_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch):
    x, y = make_data(16)
    trainer(epochs=1, out_dir=tmp_path).fit((x, y))
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    real_save = torch.save

    def failing_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        raise OSError("no space left on device")

    monkeypatch.setattr(training.torch, "save", failing_save)
    with pytest.raises(OSError, match="no space left"):
        trainer(epochs=2, out_dir=tmp_path).fit((x, y), resume=True)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before
    assert not list(tmp_path.glob(".deepz-tmp-*"))


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".deepz-tmp-checkpoint.pt.abc123").write_bytes(b"torn")
    (tmp_path / "keep.txt").write_text("not ours")
    trainer(epochs=1, out_dir=tmp_path).fit(make_data(16))
    assert not list(tmp_path.glob(".deepz-tmp-*"))
    assert (tmp_path / "keep.txt").exists()


def test_load_checkpoint_refuses_other_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a deepz training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


# -- resume ----------------------------------------------------------------------------------


def data_for(kind):
    x, y = make_data(44)
    if kind == "arrays":
        return (x, y), None
    if kind == "numpy":
        return (x.numpy(), y.numpy()), (x.numpy()[:20], y.numpy()[:20])
    if kind == "dataset":
        return NoisyDataset(x, y), NoisyDataset(x[:20], y[:20])
    if kind == "stream":
        return Stream(n_batches=6), Stream(n_batches=2)
    raise AssertionError(kind)


RESUME_KW = {
    "epochs": 3,
    "checkpoint_every": 2,
    "schedule": "halve_every_1",
    "metrics": {"acc": accuracy},
}


@pytest.mark.parametrize("kind", ["arrays", "numpy", "dataset", "stream"])
@pytest.mark.parametrize(
    "crash_at", [9, 7]
)  # epoch 2 step 3: from step 2; epoch 2 step 1: from its start
def test_resume_after_a_crash_is_exact(tmp_path, kind, crash_at):
    train, val = data_for(kind)
    run_dir = tmp_path / "run"
    reference = trainer(out_dir=tmp_path / "reference", **RESUME_KW)
    ref = reference.fit(train, val=val)

    model = new_model()
    crashed = Trainer(model, crashing_loss(crash_at), out_dir=run_dir, **_base(RESUME_KW))
    with pytest.raises(Crash):
        crashed.fit(train, val=val)
    ckpt = load_checkpoint(run_dir)
    assert ckpt["epochs_done"] * 6 + ckpt["step"] in (crash_at - 1, crash_at - 2)
    assert json.loads((run_dir / RUN_FILE).read_text())["status"] == "interrupted"

    resumed_model = new_model(seed=99)  # different initial weights: all come from the checkpoint
    resumed = trainer(model=resumed_model, out_dir=run_dir, **RESUME_KW)
    res = resumed.fit(train, val=val, resume=True)

    assert_same_weights(resumed_model, reference.model)
    assert strip_times(res.history) == strip_times(ref.history)
    assert res.best_epoch == ref.best_epoch
    run = json.loads((run_dir / RUN_FILE).read_text())
    assert run["status"] == "completed"
    assert len(run["resumes"]) == 1


def _base(kw):
    base = {
        "optimizer": "adam",
        "lr": 0.01,
        "batch_size": 8,
        "seed": 5,
        "progress": False,
        "log_every": None,
    }
    base.update(kw)
    return base


def test_resume_a_finished_run_with_more_epochs_matches_a_longer_run(tmp_path):
    x, y = make_data()
    short = trainer(epochs=2, out_dir=tmp_path, schedule="halve_every_1")
    short.fit((x, y))
    weights = {k: v.clone() for k, v in short.model.state_dict().items()}
    same = trainer(model=new_model(3), epochs=2, out_dir=tmp_path, schedule="halve_every_1")
    done = same.fit((x, y), resume=True)  # finished: loads, trains nothing
    assert done.epochs_run == 2
    assert_same_weights(same.model, weights)

    longer = trainer(model=new_model(3), epochs=4, out_dir=tmp_path, schedule="halve_every_1")
    longer.fit((x, y), resume=True)
    straight = trainer(epochs=4, schedule="halve_every_1")
    straight.fit((x, y))
    assert_same_weights(longer.model, straight.model)


def test_resume_with_a_different_model_raises(tmp_path):
    x, y = make_data(16)
    trainer(epochs=1, out_dir=tmp_path).fit((x, y))
    with pytest.raises(
        ValueError, match=r"different model.*'fc1.weight' has shape \(12, 6\) there"
    ):
        trainer(model=new_model(hidden=7), out_dir=tmp_path).fit((x, y), resume=True)

    class Other(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(N_IN, N_CLASSES)

        def forward(self, x):
            return self.lin(x)

    with pytest.raises(ValueError, match=r"missing from the checkpoint: \['lin.weight'"):
        trainer(model=Other(), out_dir=tmp_path).fit((x, y), resume=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": 6}, "seed=5, this Trainer has seed=6"),
        ({"batch_size": 4}, "batch_size=8"),
        ({"optimizer": "sgd"}, "holds a Adam state"),
    ],
)
def test_resume_with_a_different_setup_raises(tmp_path, kwargs, match):
    x, y = make_data(16)
    trainer(epochs=1, out_dir=tmp_path).fit((x, y))
    with pytest.raises(ValueError, match=match):
        trainer(out_dir=tmp_path, **kwargs).fit((x, y), resume=True)


def test_resume_without_checkpoint_starts_fresh(tmp_path, caplog):
    x, y = make_data()
    with caplog.at_level(logging.INFO, logger="deepz.training"):
        t = trainer(epochs=2, out_dir=tmp_path)
        t.fit((x, y), resume=True)
    assert "no checkpoint" in caplog.text
    fresh = trainer(epochs=2)
    fresh.fit((x, y))
    assert_same_weights(t.model, fresh.model)


def test_resume_needs_out_dir():
    with pytest.raises(ValueError, match="resume=True: needs the out_dir"):
        trainer().fit(make_data(), resume=True)


def test_fresh_run_over_a_checkpoint_warns_and_drops_the_old_best(tmp_path, caplog):
    x, y = make_data(16)
    trainer(epochs=1, out_dir=tmp_path).fit((x, y), val=(x, y))
    assert (tmp_path / BEST_FILE).exists()
    with caplog.at_level(logging.WARNING, logger="deepz.training"):
        result = trainer(epochs=1, out_dir=tmp_path).fit((x, y))  # no val: no best
    assert "resume=False starts a fresh run" in caplog.text
    assert result.best_path is None
    assert not (tmp_path / BEST_FILE).exists()
    assert json.loads((tmp_path / RUN_FILE).read_text())["resumes"] == []


def test_plain_iterable_resume_restarts_the_epoch_with_a_warning(tmp_path, caplog):
    x, y = make_data()
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]
    kw = _base({"epochs": 2, "checkpoint_every": 2})
    with pytest.raises(Crash):
        Trainer(new_model(), crashing_loss(9), out_dir=tmp_path, **kw).fit(batches)
    assert load_checkpoint(tmp_path)["step"] == 2  # epoch 2, after 2 batches
    with caplog.at_level(logging.WARNING, logger="deepz.training"):
        result = Trainer(new_model(), "cross_entropy", out_dir=tmp_path, **kw).fit(
            batches, resume=True
        )
    assert "cannot be positioned: epoch 2 restarts from its first batch" in caplog.text
    assert [r["steps"] for r in result.history] == [5, 5]


@pytest.mark.gpu
def test_amp_on_cuda_checkpoints_the_scaler(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    x, y = make_data()
    t = trainer(device="cuda", amp=True, epochs=2, out_dir=tmp_path, checkpoint_every=2)
    result = t.fit((x, y), val=(x, y))
    assert math.isfinite(result.history[-1]["val_loss"])
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["scaler"] is not None
    assert ckpt["rng"]["cuda"] is not None
