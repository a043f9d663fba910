"""Exact resume after SIGKILL, for real: training runs in subprocesses that are killed.

For a map-style dataset (whose ``__getitem__`` draws augmentation noise from
torch's global RNG) and for a resumable stream, three runs of the same tiny
training (BatchNorm, dropout, Adam or Adagrad, a halving schedule, validation
with early-stopping bookkeeping, a checkpoint every few steps, 1 thread,
deterministic algorithms):

- an uninterrupted reference run;
- a run that is killed with SIGKILL mid-epoch -- either by itself, inside a
  given training step after a mid-epoch checkpoint was written (deterministic),
  or by this test, as soon as it sees a mid-epoch checkpoint in ``out_dir``
  (asynchronous: the kill may land anywhere, in a checkpoint write included);
- a run in a new process with ``resume=True``.

The resumed run must end with bit-identical weights (``torch.equal`` on every
entry of the state dict), the same optimiser state and the same history.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from deepz.training import CHECKPOINT_FILE, RUN_FILE, load_checkpoint

# The training of every run. Executed in the children (``python -c``, jobs given
# as JSON on the command line, run one after the other; a killed job must come
# last) and, for the reference runs, in this process.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import Dataset
    from deepz.training import Trainer

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 16)
            self.bn = nn.BatchNorm1d(16)
            self.drop = nn.Dropout(0.3)
            self.fc2 = nn.Linear(16, 3)

        def forward(self, x):
            return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))

    class Noisy(Dataset):  # augmentation from torch's global RNG
        def __init__(self, n, seed):
            g = torch.Generator().manual_seed(seed)
            self.x = torch.randn(n, 6, generator=g)
            self.y = (self.x[:, 0] > 0).long() + (self.x[:, 1] > 1).long()

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i] + 0.1 * torch.randn(6), self.y[i]

    class Stream:  # the resumable stream protocol: batch k of epoch e from (seed, e, k)
        def __init__(self, n_batches=None):
            self.n_batches = n_batches

        def batches(self, epoch, start, seed):
            k = start
            while self.n_batches is None or k < self.n_batches:
                key = np.random.SeedSequence([seed, epoch, k]).generate_state(1)[0]
                g = torch.Generator().manual_seed(int(key))
                x = torch.randn(8, 6, generator=g)
                yield x, (x[:, 0] > 0).long()
                k += 1

    def acc(pred, target):
        return (pred.argmax(1) == target).float().mean()

    def run(kind, out_dir, result_path, kill_at=0, sleep_s=0.0, resume=False):
        calls = 0

        def loss(pred, target):
            nonlocal calls
            if torch.is_grad_enabled():  # a training step, not validation
                calls += 1
                if calls == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                if sleep_s:
                    time.sleep(sleep_s)
            return F.cross_entropy(pred, target)

        torch.manual_seed(999 if resume else 1234)  # a resume takes all weights from the checkpoint
        model = Net()
        if kind == "dataset":
            train, val = Noisy(92, 1), Noisy(24, 2)  # 12 batches of 8 per epoch, the last of 4
            opts = dict(optimizer="adam", lr=0.01, checkpoint_every=5)
        else:
            train, val = Stream(), Stream(n_batches=3)  # infinite: 10 steps per epoch
            opts = dict(optimizer="adagrad", lr=0.05, checkpoint_every=4, steps_per_epoch=10)
        trainer = Trainer(
            model, loss, epochs=3, batch_size=8, seed=77, out_dir=out_dir,
            schedule="halve_every_1", metrics={"acc": acc}, early_stopping=("acc", 10, "max"),
            deterministic=True, progress=False, log_every=None, **opts,
        )
        result = trainer.fit(train, val=val, resume=resume)
        torch.save({"model": model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
                    "history": result.history}, result_path)

    if __name__ == "__main__":
        torch.set_num_threads(1)
        if sys.argv[1] == "-":  # warm up (torch.optim imports torch._dynamo), then wait for jobs
            import torch._dynamo
            jobs = sys.stdin.readline()
        else:
            jobs = sys.argv[1]
        for job in json.loads(jobs):
            run(**job)
    """
)

STEPS = {"dataset": 12, "stream": 10}  # batches per epoch
EVERY = {"dataset": 5, "stream": 4}  # checkpoint_every
KILL_AT = {"dataset": 21, "stream": 17}  # epoch 2, steps 9 and 7: last checkpoints at 5 and 4
TIMEOUT = 120


def job(kind, root, name, **kw):
    return {
        "kind": kind,
        "out_dir": str(root / name),
        "result_path": str(root / f"{name}.pt"),
        **kw,
    }


def start(*jobs):
    """Start a child running ``jobs``; without jobs it warms up and reads them from stdin."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(jobs) if jobs else "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, jobs=None):
    out, err = proc.communicate(None if jobs is None else json.dumps(jobs) + "\n", timeout=TIMEOUT)
    return proc.returncode, err


def run_in_process(**kw):
    """The reference runs: same code, 1 thread, deterministic, in this process."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    namespace = {"__name__": "reference"}
    exec(CHILD, namespace)
    torch.set_num_threads(1)
    try:
        namespace["run"](**kw)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def kill_when_mid_epoch(proc, out_dir):
    """SIGKILL ``proc`` as soon as ``out_dir`` holds a mid-epoch checkpoint of epoch >= 2."""
    deadline = time.monotonic() + TIMEOUT
    path = Path(out_dir) / CHECKPOINT_FILE
    try:
        while True:
            assert proc.poll() is None, "the run finished before a mid-epoch checkpoint was seen"
            assert time.monotonic() < deadline, "no mid-epoch checkpoint appeared"
            if path.exists():
                ckpt = load_checkpoint(path)  # atomic replace: never a torn file
                if ckpt["epochs_done"] >= 1 and ckpt["step"] > 0:
                    break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """All the runs, overlapped to keep the wall time short on two cores.

    Three children start at once: two kill themselves mid-epoch, the third is
    killed by a thread of this process once it sees a mid-epoch checkpoint; a
    fourth child imports torch meanwhile and then resumes all three in turn.
    The uninterrupted reference runs train in this process in the meantime.
    """
    root = tmp_path_factory.mktemp("resume")
    killed = {
        "dataset": start(job("dataset", root, "dataset", kill_at=KILL_AT["dataset"])),
        "stream": start(job("stream", root, "stream", kill_at=KILL_AT["stream"])),
        "async": start(job("dataset", root, "async", sleep_s=0.03)),
    }
    resumer = start()
    errors = []

    def async_kill():
        try:
            kill_when_mid_epoch(killed["async"], root / "async")
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    killer = threading.Thread(target=async_kill)
    killer.start()
    try:
        for kind in STEPS:
            run_in_process(**job(kind, root, f"reference-{kind}"))
    finally:
        killer.join(TIMEOUT)
    if errors:
        for proc in [*killed.values(), resumer]:
            proc.kill()
        raise errors[0]

    out = {"root": root, "rc": {}, "checkpoint": {}, "run": {}, "stderr": {}, "finished": {}}
    for name, proc in killed.items():
        out["rc"][name], out["stderr"][name] = finish(proc)
        out["finished"][name] = (root / f"{name}.pt").exists()
        out["checkpoint"][name] = load_checkpoint(root / name)
        out["run"][name] = json.loads((root / name / RUN_FILE).read_text())

    jobs = [
        job(kind, root, name, resume=True)
        for name, kind in [("dataset", "dataset"), ("stream", "stream"), ("async", "dataset")]
    ]
    rc, err = finish(resumer, jobs)
    assert rc == 0, err[-3000:]
    return out


def load(root, name):
    return torch.load(root / f"{name}.pt", weights_only=True)


def compare(resumed, reference):
    assert resumed["model"].keys() == reference["model"].keys()
    for name, value in reference["model"].items():
        assert torch.equal(resumed["model"][name], value), name
    ro, so = resumed["optimizer"]["state"], reference["optimizer"]["state"]
    assert ro.keys() == so.keys()
    for i in so:
        for key, value in so[i].items():
            assert torch.equal(torch.as_tensor(ro[i][key]), torch.as_tensor(value)), (i, key)

    def strip(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert strip(resumed["history"]) == strip(reference["history"])


@pytest.mark.parametrize("kind", ["dataset", "stream"])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(runs, kind):
    root = runs["root"]
    assert runs["rc"][kind] == -signal.SIGKILL, runs["stderr"][kind][-3000:]
    assert not runs["finished"][kind]  # it never got to write its final weights
    ckpt = runs["checkpoint"][kind]
    done = KILL_AT[kind] - 1  # steps completed when the kill came
    assert ckpt["epochs_done"] == 1
    assert ckpt["step"] == (done - STEPS[kind]) // EVERY[kind] * EVERY[kind] > 0  # mid-epoch
    assert runs["run"][kind]["status"] == "running"  # no chance to say anything

    compare(load(root, kind), load(root, f"reference-{kind}"))
    run = json.loads((root / kind / RUN_FILE).read_text())
    assert run["status"] == "completed"
    assert run["resumes"] == [
        {"time": run["resumes"][0]["time"], "epochs_done": 1, "step": ckpt["step"]}
    ]


def test_asynchronous_sigkill_then_resume_is_bit_identical(runs):
    """The parent killed the child as soon as it saw a mid-epoch checkpoint of epoch >= 2."""
    root = runs["root"]
    assert runs["rc"]["async"] == -signal.SIGKILL
    assert not runs["finished"]["async"]
    ckpt = runs["checkpoint"]["async"]
    assert 0 < ckpt["epochs_done"] * STEPS["dataset"] + ckpt["step"] < 3 * STEPS["dataset"]
    compare(load(root, "async"), load(root, "reference-dataset"))
    assert not list((root / "async").glob(".deepz-tmp-*"))
