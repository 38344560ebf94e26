"""Training that fails: kill -9 mid-run, a full disk, broken weights files. Nothing is lost or half-written."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import lm
from tests.helpers import ENV, ROOT, run, run_here, tiny_corpus, tiny_disk

ARGS = [
    "--layers",
    "1",
    "--dim",
    "32",
    "--heads",
    "2",
    "--seq-len",
    "32",
    "--batch-size",
    "8",
    "--dropout",
    "0.1",
    "--eval-every",
    "5",
    "--checkpoint-every",
    "10",
    "--steps",
    "60",
]


def _train(corpus, out):
    return [sys.executable, "-m", "lm.train", "--corpus", corpus, "--out", out, *ARGS]


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes_and_matches_an_uninterrupted_run(tmp_path):
    """With dropout on: the checkpoint holds the dropout RNG and the smoothed loss, so the interrupted run's loss
    history is the uninterrupted one's (to float rounding; XLA-compiled as the command trains by default)."""
    corpus = tiny_corpus(str(tmp_path))
    clean = run_here(*_train(corpus, str(tmp_path / "clean"))[1:])
    assert clean.returncode == 0, clean.stderr[-2000:]

    out = str(tmp_path / "killed")
    proc = subprocess.Popen(
        _train(corpus, out), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    pointer = os.path.join(out, "checkpoint.json")
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(pointer) and json.load(open(pointer))["latest"] in ("checkpoint-20", "checkpoint-30"):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.load(open(pointer))["latest"]
    assert not os.path.exists(os.path.join(out, "metrics.json"))

    resumed = run_here(*_train(corpus, out)[1:])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at step {killed_at.split('-')[1]}" in resumed.stderr
    a = json.load(open(os.path.join(tmp_path / "clean", "metrics.json")))
    b = json.load(open(os.path.join(out, "metrics.json")))
    assert a["step"] == b["step"] == 60
    want, got = _history(tmp_path / "clean"), _history(out)
    assert [h["step"] for h in got] == [h["step"] for h in want] == list(range(5, 61, 5))
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose([h[key] for h in got], [h[key] for h in want], rtol=0, atol=1e-5, err_msg=key)
    assert abs(a["val_loss"] - b["val_loss"]) < 1e-5, (a["val_loss"], b["val_loss"])
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]  # nothing half-written left behind


def _history(out) -> list[dict]:
    return json.load(open(os.path.join(out, "checkpoint-60", "state.json")))["history"]


@pytest.mark.slow
def test_full_disk_while_checkpointing_is_a_clear_error(tmp_path):
    corpus = tiny_corpus(str(tmp_path))
    with tiny_disk(tmp_path / "disk", "64k") as disk:
        # the first checkpoint at step 2, without XLA: what is refused is the checkpoint, not the training
        done = run(*_train(corpus, str(disk / "m"))[1:], "--no-jit", "--eval-every", "2", "--checkpoint-every", "2")
        assert done.returncode == 2, done.stderr[-2000:]
        # refused before h5py writes (a disk that fills mid-write can crash it), the previous checkpoint kept
        assert "error: not enough disk space" in done.stderr and "a checkpoint needs about" in done.stderr
        assert "Traceback" not in done.stderr
        assert not [n for n in os.listdir(disk / "m") if n.startswith(".tmp")]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A tiny model folder written by lm.train (in this process, without XLA: a few seconds)."""
    from core.budget import Budget
    from lm.model import LMConfig
    from lm.train import TrainConfig, train

    root = tmp_path_factory.mktemp("small")
    out = str(root / "m")
    train(
        TrainConfig(
            corpus=tiny_corpus(str(root)),
            out=out,
            budget=Budget(steps=2),
            jit=False,
            model=LMConfig(layers=1, dim=16, heads=2, seq_len=16),
            batch_size=4,
        ),
        command="test",
    )
    return out


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_broken_weights_file_gives_an_error_naming_the_file(small_model, tmp_path, damage):
    out = str(shutil.copytree(small_model, tmp_path / "m"))
    weights = os.path.join(out, "model.weights.h5")
    data = open(weights, "rb").read()
    if damage == "missing":
        os.remove(weights)
    else:
        open(weights, "wb").write(data[: len(data) // 2] if damage == "truncate" else b"not hdf5" * 100)
    message = "it lacks model.weights.h5" if damage == "missing" else "model.weights.h5 is truncated or corrupted"
    with pytest.raises(OSError, match=message):
        lm.load(out)
