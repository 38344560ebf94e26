"""Training that fails: kill -9 mid-run, a full disk, broken weights files. Nothing is lost or half-written."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import lm
from tests.helpers import ENV, ROOT, run, tiny_corpus, tiny_disk

ARGS = ["--layers", "1", "--dim", "32", "--heads", "2", "--seq-len", "32", "--batch-size", "8", "--dropout", "0",
        "--eval-every", "10", "--checkpoint-every", "10", "--steps", "60"]


def _train(corpus, out):
    return [sys.executable, "-m", "lm.train", "--corpus", corpus, "--out", out, *ARGS]


def test_kill_9_then_the_same_command_resumes_and_matches_an_uninterrupted_run(tmp_path):
    corpus = tiny_corpus(str(tmp_path))
    clean = run(*_train(corpus, str(tmp_path / "clean"))[1:])
    assert clean.returncode == 0, clean.stderr[-2000:]

    out = str(tmp_path / "killed")
    proc = subprocess.Popen(_train(corpus, out), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
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

    resumed = run(*_train(corpus, out)[1:])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at step {killed_at.split('-')[1]}" in resumed.stderr
    a = json.load(open(os.path.join(tmp_path / "clean", "metrics.json")))
    b = json.load(open(os.path.join(out, "metrics.json")))
    assert a["step"] == b["step"] == 60
    assert abs(a["val_loss"] - b["val_loss"]) < 0.02, (a["val_loss"], b["val_loss"])
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]  # nothing half-written left behind


def test_full_disk_while_checkpointing_is_a_clear_error(tmp_path):
    corpus = tiny_corpus(str(tmp_path))
    with tiny_disk(tmp_path / "disk", "64k") as disk:
        done = run(*_train(corpus, str(disk / "m"))[1:])
        assert done.returncode == 2
        assert "could not write checkpoint" in done.stderr and "Traceback" not in done.stderr
        assert not [n for n in os.listdir(disk / "m") if n.startswith(".tmp")]


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_broken_weights_file_gives_an_error_naming_the_file(tmp_path, damage):
    corpus = tiny_corpus(str(tmp_path))
    out = str(tmp_path / "m")
    assert run(*_train(corpus, out)[1:-2], "--steps", "10").returncode == 0
    weights = os.path.join(out, "model.weights.h5")
    data = open(weights, "rb").read()
    open(weights, "wb").write(data[:len(data) // 2] if damage == "truncate" else b"not hdf5" * 100)
    with pytest.raises(OSError, match="model.weights.h5 is truncated or corrupted"):
        lm.load(out)
