"""core.trainer, tested once on a tiny task (tests/trainer_task.py): budget, resume after kill -9, NaN stop, stop
from another thread, events in order, progress on a terminal and off it. Every task (lm, pretrain, translate,
classify) runs this same loop; their own tests check what is theirs."""

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import numpy as np
import pytest

from core.budget import Budget
from core.trainer import Trainer
from tests.helpers import ENV, ROOT, run_here
from tests.trainer_task import TinyConfig, TinyTask, main


def _run(out, steps=20, listeners=None, **settings):
    config = TinyConfig(out=str(out), budget=Budget(steps=steps), **settings)
    trainer = Trainer(TinyTask(config), config, listeners)
    return trainer, trainer.run("tiny command")


def _state(out):
    pointer = json.load(open(os.path.join(out, "checkpoint.json")))["latest"]
    return json.load(open(os.path.join(out, pointer, "state.json")))


def test_a_steps_run_gives_a_model_folder_history_and_events_in_order(tmp_path):
    events = []
    _, metrics = _run(tmp_path / "a", steps=20, listeners=[events.append])
    out = str(tmp_path / "a")
    for name in ("metrics.json", "loss_curve.png", "README.md", "model.weights.h5", "checkpoint-20"):
        assert os.path.exists(os.path.join(out, name)), name
    assert metrics["step"] == 20 and metrics["command"] == "tiny command"
    assert json.load(open(os.path.join(out, "metrics.json"))) == metrics
    history = _state(out)["history"]
    assert [h["step"] for h in history] == [5, 10, 15, 20]
    assert all({"train_loss", "val_loss"} <= set(h) for h in history)
    assert history[-1]["val_loss"] < history[0]["val_loss"]  # it learns
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("step") == 20 and kinds.count("evaluation") == 4 and kinds.count("checkpoint") == 4
    steps = [e.step for e in events if e.kind == "step"]
    assert steps == list(range(1, 21))
    # each evaluation comes after its step and before its checkpoint
    for e, after in zip(events, events[1:]):
        if e.kind == "evaluation":
            assert after.kind == "checkpoint" and after.step == e.step
    assert events[-1].metrics == metrics
    stages = [e.message for e in events if e.kind == "stage"]
    assert stages[0].startswith("CPU: ")  # core.jit.configure's line: the CPU, its ISA and what it set
    assert stages[1:4] == ["reading the data", "building the model", "training"]
    assert "exporting the model folder" in stages


def test_a_larger_steps_budget_extends_and_other_settings_are_refused(tmp_path, capsys):
    out = tmp_path / "x"
    _run(out, steps=10)
    trainer, metrics = _run(out, steps=20)
    assert metrics["step"] == 20 and trainer.task.built == 1
    assert [h["step"] for h in _state(str(out))["history"]] == [5, 10, 15, 20]
    capsys.readouterr()
    code = main(["--out", str(out), "--steps", "30", "--width", "32"])
    err = capsys.readouterr().err
    assert code == 2 and "--width 16 (not 32)" in err and err.startswith("error: "), err
    code = main(["--out", str(out), "--steps", "10"])
    assert code == 2 and "--steps 10 is below the step this run has reached (20)" in capsys.readouterr().err


def test_a_minutes_budget_is_timed_on_the_run_and_kept_for_resume(tmp_path):
    events = []
    # 4.8 s: the 30 timed steps (0.3 s of sleep, a trace, checkpoints) end well inside it on a loaded machine too
    config = TinyConfig(out=str(tmp_path / "m"), budget=Budget(minutes=0.08), sleep=0.01)
    Trainer(TinyTask(config), config, [events.append]).run("tiny")
    state = _state(str(tmp_path / "m"))
    said = [e.message for e in events if e.kind == "stage" and "s a step" in e.message]
    assert len(said) == 1 and "--minutes 0.08 is about" in said[0]
    assert 30 < state["total_steps"] <= 0.08 * 60 / 0.01  # the 30 timed steps, at most what 4.8 s of 10 ms fit
    assert state["step"] <= state["total_steps"] and state["seconds"] >= 0


@pytest.mark.slow  # a subprocess importing TensorFlow, killed
def test_a_run_killed_with_sigkill_resumes_to_the_same_history(tmp_path):
    """Dropout on: the checkpoint holds the dropout RNG state, batch n is a function of n, so the killed and
    resumed run's losses are the uninterrupted run's (the same process kind on the same machine: same kernels)."""
    _run(tmp_path / "clean", steps=30)
    out = str(tmp_path / "killed")
    cmd = [sys.executable, "-m", "tests.trainer_task", "--out", out, "--steps", "30", "--sleep", "0.05"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer, deadline = os.path.join(out, "checkpoint.json"), time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(pointer) and json.load(open(pointer))["latest"] in ("checkpoint-10", "checkpoint-15"):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(out, "metrics.json"))
    resumed = run_here(*cmd[1:-2])  # the same command, resumed in this process (no second TensorFlow import)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    want, got = _state(str(tmp_path / "clean"))["history"], _state(out)["history"]
    assert [h["step"] for h in got] == [h["step"] for h in want] == [5, 10, 15, 20, 25, 30]
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose([h[key] for h in got], [h[key] for h in want], rtol=0, atol=1e-6, err_msg=key)
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]


def test_a_nan_loss_stops_with_exit_3_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = str(tmp_path / "n")
    code = main(["--out", out, "--steps", "20", "--nan-at", "8"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "the loss became nan at step 8" in err and "checkpoint-5" in err
    assert _state(out)["step"] == 5 and not os.path.exists(os.path.join(out, "metrics.json"))
    code = main(["--out", out, "--steps", "20"])  # the same run, without the poisoned batch, goes on from step 5
    assert code == 0 and "at step 5" in capsys.readouterr().err


def test_stop_from_another_thread_ends_at_the_next_step_with_a_checkpoint_and_the_export(tmp_path):
    events, holder = [], {}

    def listener(event):
        events.append(event)
        if event.kind == "step" and event.step == 7:
            stopper = threading.Thread(target=holder["trainer"].stop)
            stopper.start()
            stopper.join()

    config = TinyConfig(out=str(tmp_path / "s"), budget=Budget(steps=50))
    holder["trainer"] = Trainer(TinyTask(config), config, [listener])
    metrics = holder["trainer"].run("tiny")
    assert metrics["step"] == 7 and _state(str(tmp_path / "s"))["step"] == 7
    kinds = [e.kind for e in events]
    assert kinds.index("stopped") > kinds.index("checkpoint") and kinds[-1] == "done"
    assert os.path.exists(os.path.join(str(tmp_path / "s"), "model.weights.h5"))
    _, metrics = _run(tmp_path / "s", steps=50)  # the same run then goes on to its end
    assert metrics["step"] == 50


@pytest.mark.slow
def test_progress_is_a_bar_on_a_terminal_and_plain_lines_off_it(tmp_path):
    cmd = [sys.executable, "-m", "tests.trainer_task", "--steps", "10", "--sleep", "0.05"]
    plain = run_here(*cmd[1:], "--out", str(tmp_path / "p"))  # off a terminal: stderr is not a tty here either
    assert plain.returncode == 0 and "\r" not in plain.stderr
    assert "tiny step 5/10: train_loss " in plain.stderr and "steps/s" in plain.stderr

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120-column terminal
    proc = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "t")], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen[-2000:]
    assert "\r" in screen and "tiny:" in screen and "10/10" in screen and ("step/s" in screen or "s/step" in screen)
    assert "tiny step 5/10" not in screen  # the bar, not the plain lines
