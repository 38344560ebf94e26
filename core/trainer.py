"""One training loop for every task: budget, resume, checkpoints, NaN stop, evaluation, logs, progress, export.

    from core.budget import Budget
    from core.trainer import RunConfig, Trainer
    metrics = Trainer(task, RunConfig(out="runs/x", budget=Budget(steps=200))).run("python -m lm.train ...")

A task (lm, pretrain, translate, classify) supplies only what is its own (the `Task` protocol below): its settings,
its data, its compiled model, batch n as a pure function of n, its held-out evaluation and its export. The loop,
read top to bottom in `Trainer.run`, owns everything else:

- the budget: `--steps N`, or `--minutes M` turned into steps once (one rule: steps CALIBRATE_FROM..CALIBRATE_TO
  of the run itself are timed, x SLACK for evaluations and checkpoints; the schedule's end is then set and kept
  in the checkpoint, so a resume keeps the same schedule);
- resume from OUT's last checkpoint (weights, optimizer, dropout RNG, state): the same command resumes, other
  settings are refused by name, a larger --steps extends a finished run;
- every `eval_every` steps the task's evaluation, every `checkpoint_every` steps (and at the end, and on a stop) a
  checkpoint; a loss that becomes NaN or infinite stops the run (exit 3) with the last good checkpoint kept;
- the history: window means of the training metrics every `log_every` steps and at each evaluation, with the
  evaluation's figures in the same row; TensorBoard scalars (OUT/logs); a progress bar on a terminal (tqdm: step,
  loss, steps/s, time left), one plain line per evaluation otherwise;
- events to listeners (`Event`: start, stage, step, evaluation, checkpoint, stopped, done), and `stop()` from
  another thread, which ends the run at the next step with a checkpoint and the export;
- the model folder: the task's export, then OUT/metrics.json, OUT/loss_curve.png and the card OUT/README.md.

The loop calls `model.train_on_batch` (not `fit`): on the 2-core CPU it is at least as fast per step as a `fit`
call over the same batches (`python -m bench.trainer_step` times them side by side), and a plain loop is what a
reader can follow, stop between any two steps, and resume at any step without a callback layer between a step and
its bookkeeping.
On JAX, train_on_batch splits each batch over a keras.distribution (data parallel); on TensorFlow it gives every
replica of a MirroredStrategy the whole batch, so the TensorFlow trainers run on one device. On a GPU, where a
step is short, fit's compiled multi-step loop saves host time that train_on_batch spends per call.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from core import checkpoint, cli, files
from core.budget import Budget

CALIBRATE_FROM, CALIBRATE_TO = 10, 30  # --minutes: the steps timed (the first ones compile)
SLACK = 1.05  # what evaluations and checkpoints add to the timed steps
UNKNOWN_TOTAL = 10**9  # the schedule's end while --minutes calibrates (warm-up only: the decay is not reached)


@dataclasses.dataclass
class RunConfig:
    """The loop's own settings, the same flags in every task's CLI."""

    out: str = dataclasses.field(metadata={"help": "the model folder; the same command on it resumes"})
    budget: Budget = dataclasses.field(default_factory=Budget)
    eval_every: int = dataclasses.field(default=100, metadata={"help": "steps between held-out evaluations"})
    checkpoint_every: int = dataclasses.field(default=100, metadata={"help": "steps between checkpoints"})
    log_every: int = dataclasses.field(default=10, metadata={"help": "steps between rows of the training curve"})
    seed: int = dataclasses.field(default=0, metadata={"help": "weights, dropout and the data order"})
    # True for a task that counts its budget in its own units (classify's epochs): its prepare sets
    # run.total_steps once the data is read, and `budget` is only a wall-clock cap (--minutes), or empty
    task_sets_steps: ClassVar[bool] = False

    def validate(self) -> RunConfig:
        if not (self.task_sets_steps and self.budget == Budget()):
            self.budget.validate()
        if min(self.eval_every, self.checkpoint_every, self.log_every) <= 0:
            raise ValueError("--eval-every, --checkpoint-every and --log-every must be positive")
        return self


@dataclasses.dataclass
class Event:
    """What a listener receives. `kind`: start | stage | step | evaluation | checkpoint | stopped | done."""

    kind: str
    step: int
    total: int | None
    seconds: float
    metrics: dict = dataclasses.field(default_factory=dict)  # step: the batch's; evaluation/done: the run's
    message: str = ""  # stage: what the trainer is doing; checkpoint: the folder


class Task(Protocol):
    """What a task gives the trainer. `settings`, `prepare` and `batch` see no model; `build` returns it compiled
    (core.optim's optimizer over `total_steps`); `finish` writes the task's files (weights, tokenizer, config)
    and returns the metrics; `card` returns a core.card.Card for them."""

    name: str  # the command, e.g. "lm.train": the progress bar's label
    curve: list[tuple[str, str]]  # (history key, label) series for loss_curve.png
    curve_label: str

    def settings(self) -> dict: ...  # what a resume must keep: {flag name: value}

    # read the data; a fresh run also saves its config and tokenizer. A task whose config has task_sets_steps
    # sets run.total_steps here (and may set the config's eval_every and checkpoint_every: an epoch, say)
    def prepare(self, run: Run) -> None: ...

    def build(self, total_steps: int) -> Any: ...

    def batch(self, step: int) -> tuple: ...  # (x, y) or (x, y, sample_weight)

    def evaluate(self, model, run: Run) -> dict: ...  # held-out figures, named: {"val_loss": 2.5}

    def finish(self, model, run: Run) -> dict: ...

    def card(self, metrics: dict, run: Run): ...


@dataclasses.dataclass
class Run:
    """One run's state as a task sees it: the folder, the step, the history, whether it resumed; `say` reports a
    stage. `extra` is the task's own state (early stopping's best epoch, say), kept in the checkpoint."""

    out: str
    state: dict
    resumed: bool
    say: Callable[[str], None]

    @property
    def step(self) -> int:
        return self.state["step"]

    @property
    def extra(self) -> dict:
        return self.state.setdefault("extra", {})

    @property
    def total_steps(self) -> int | None:
        return self.state["total_steps"]

    @total_steps.setter
    def total_steps(self, steps: int) -> None:
        self.state["total_steps"] = steps


class Trainer:
    def __init__(
        self,
        task: Task,
        config: RunConfig,
        listeners: list[Callable[[Event], None]] | None = None,
        writes: bool = True,
    ):
        # writes=False: a process other than 0 of a multi-process job. It resumes from config.out's checkpoint like
        # the others and writes nothing there (no checkpoint, TensorBoard, metrics.json, loss curve or card)
        self.task, self.config, self.writes = task, config, writes
        self.listeners = list(listeners or [])
        self._stop = threading.Event()
        self.bar = None
        self._logs = None  # core.logs.TensorBoard, made on the first row

    def stop(self) -> None:
        """End the run at the next step (from any thread): it checkpoints and exports what it has."""
        self._stop.set()

    # ---------------------------------------------------------------------------------------------- the run
    def run(self, command: str) -> dict:
        c, task = self.config.validate(), self.task
        out = files.writable_folder(c.out)
        found = checkpoint.latest(out)
        state = checkpoint.read_state(found) if found else fresh_state(task.settings())
        if found:
            check_same_run(out, state, task.settings(), c.budget)
        if c.budget.steps is not None:
            state["total_steps"] = c.budget.steps
        start_step, added = state["step"], not state["commands"] or state["commands"][-1][1] != command
        if added:
            state["commands"].append([state["step"], command])
        run = Run(out, state, resumed=found is not None, say=self.say)
        self._state = state
        self.emit("start")
        from core.jit import configure

        self.say(configure())  # the CPU, its ISA and what is set for it (freed memory kept; dropout's Philox)

        self.say("reading the data")
        task.prepare(run)
        if state["total_steps"] is None and c.budget.minutes is None:
            raise RuntimeError(f"{task.name}: prepare set no run.total_steps and the budget has no --minutes")
        self.say("building the model")
        import keras

        keras.utils.set_random_seed(c.seed)
        model = task.build(state["total_steps"] or UNKNOWN_TOTAL)
        if found:
            checkpoint.restore(found, model, model.optimizer)
            self.say(f"resumed from {found} at step {state['step']}")

        self.say("training")
        self._open_bar(state)
        try:
            stopped = self._loop(model, run)
        finally:
            self._close_bar()
        self.emit("stopped" if stopped else "stage", message="stopped" if stopped else "trained")
        if added and state["step"] == start_step and len(state["commands"]) > 1:  # it trained nothing: no record
            state["commands"].pop()
            self.say(f"nothing to train: {out} is at step {state['step']} (a larger --steps trains it further)")
        if state.get("evaluated_at") != state["step"]:
            self._evaluate(model, run)  # a finished run resumed (no step trained), or a stop, is measured here

        from core.optim import finalize_weights

        if finalize_weights(model):  # --ema: the moving average is the model shipped (the checkpoint keeps both)
            self.say("the weights' moving average replaces the trained weights for the export")
            state["averaged"] = True
        self.say("exporting the model folder")
        metrics = task.finish(model, run)
        metrics = {
            **metrics,
            "step": state["step"],
            "seconds": round(state["seconds"], 1),
            "command": state["commands"][-1][1],
        }
        if len(state["commands"]) > 1:
            metrics["commands"] = state["commands"]
        if self.writes:
            files.write_json(os.path.join(out, "metrics.json"), metrics)
            from core.card import loss_curve

            loss_curve(state["history"], os.path.join(out, "loss_curve.png"), task.curve, ylabel=task.curve_label)
            task.card(metrics, run).write(out)
        self.emit("done", metrics=metrics, message=out)
        return metrics

    def _loop(self, model, run: Run) -> bool:
        """Train until the budget is spent or a stop is asked for; True when it was stopped."""
        c, state = self.config, run.state
        window: dict = state.setdefault("window", {"steps": 0, "sums": {}})
        started = time.perf_counter() - state["seconds"]
        timed = None
        while not self._over(state):
            if self._stop.is_set():
                self._checkpoint(model, state)
                return True
            logs = model.train_on_batch(*self.task.batch(state["step"]), return_dict=True)
            logs = {k: float(v) for k, v in logs.items()}
            if not math.isfinite(logs["loss"]):
                kept = checkpoint.latest(c.out)
                where = f"the last good checkpoint is kept in {kept}" if kept else "no checkpoint had been written"
                raise cli.Failed(
                    f"the loss became {logs['loss']} at step {state['step'] + 1}; training stopped ({where}): "
                    "lower the learning rate (--lr) and run again."
                )
            state["step"] += 1
            state["seconds"] = time.perf_counter() - started
            window["steps"] += 1
            for k, v in logs.items():
                window["sums"][k] = window["sums"].get(k, 0.0) + v
            if self.bar is not None:
                self.bar.update(1)
            self.emit("step", metrics=logs)

            if state["total_steps"] is None:  # --minutes: time this run's own steps, then fix the end
                if state["step"] == CALIBRATE_FROM:
                    timed = (state["step"], time.perf_counter())
                elif timed and state["step"] == CALIBRATE_TO:
                    per_step = (time.perf_counter() - timed[1]) / (CALIBRATE_TO - CALIBRATE_FROM) * SLACK
                    total = c.budget.steps_for(per_step, state["seconds"], state["step"])
                    self._set_total(model, state, total)
                    self.say(f"{per_step:.3f} s a step: --minutes {c.budget.minutes} is about {total} steps")

            last = self._over(state)
            evaluate = state["step"] % c.eval_every == 0 or last
            if state["step"] % c.log_every == 0 or evaluate:
                row = {"step": state["step"], **self._window_means(window)}
                state["history"].append(row)
                self._tensorboard(model, row)
                if self.bar is not None and "train_loss" in row:
                    self.bar.set_postfix_str(f"loss {row['train_loss']:.3f}", refresh=False)
            if evaluate and self._evaluate(model, run):
                last = True
                state["ended_at"] = state["step"]  # the task ended it (early stopping): a resume trains no more
            if state["step"] % c.checkpoint_every == 0 or last:
                self._checkpoint(model, state)
        return False

    # ----------------------------------------------------------------------------------------------- parts
    def _checkpoint(self, model, state: dict) -> None:
        if self.writes:
            checkpoint.save(self.config.out, model, model.optimizer, state)
            self.emit("checkpoint", message=self.config.out)

    def _over(self, state: dict) -> bool:
        total = state["total_steps"] or UNKNOWN_TOTAL
        ended = state.get("ended_at") == state["step"]
        return ended or state["step"] >= total or state["seconds"] >= self.config.budget.seconds

    def _window_means(self, window: dict) -> dict:
        means = {f"train_{k}": v / window["steps"] for k, v in window["sums"].items()} if window["steps"] else {}
        window["steps"], window["sums"] = 0, {}
        return means

    def _evaluate(self, model, run: Run) -> bool:
        """The task's held-out figures, into the history row of this step; True when the task ends the run."""
        state = run.state
        figures = self.task.evaluate(model, run)
        stop = bool(figures.pop("stop", False))
        state["evaluated_at"] = state["step"]
        if state["history"] and state["history"][-1]["step"] == state["step"]:
            state["history"][-1].update(figures)
        else:
            state["history"].append({"step": state["step"], **figures})
        self._tensorboard(model, {"step": state["step"], **figures})
        self.emit("evaluation", metrics=dict(state["history"][-1]))
        row = state["history"][-1]
        shown = {k: v for k, v in row.items() if k != "step" and isinstance(v, float)}
        if self.bar is not None:
            self.bar.set_postfix_str(" ".join(f"{short(k)} {v:.3f}" for k, v in shown.items()))
        else:
            total = state["total_steps"]
            speed = state["step"] / max(state["seconds"], 1e-9)
            left = f", {(total - state['step']) / speed / 60:.1f} min left" if total else ""
            figures_text = ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
            print(
                f"{self.task.name} step {state['step']}{f'/{total}' if total else ''}: {figures_text}; "
                f"{speed:.2f} steps/s{left}",
                file=sys.stderr,
                flush=True,
            )
        return stop

    def _set_total(self, model, state: dict, total: int) -> None:
        from core import optim

        state["total_steps"] = total
        if hasattr(getattr(model.optimizer, "_learning_rate", None), "with_total"):
            optim.set_total(model, total)
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def _tensorboard(self, model, row: dict) -> None:
        if not self.writes:
            return
        if self._logs is None:
            from core.logs import TensorBoard

            self._logs = TensorBoard(os.path.join(self.config.out, "logs"))
        values = {k.replace("_", "/", 1): v for k, v in row.items() if k != "step" and isinstance(v, float)}
        schedule = getattr(model.optimizer, "_learning_rate", None)
        if callable(schedule):
            from core.optim import current_lr

            values["learning_rate"] = current_lr(schedule, row["step"])
        self._logs.scalars(row["step"], values)

    def _open_bar(self, state: dict) -> None:
        if not sys.stderr.isatty():
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=state["total_steps"],
            initial=state["step"],
            desc=self.task.name,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
            mininterval=1.0,
        )

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def say(self, message: str) -> None:
        """Report a stage: to stderr, and to the listeners as a `stage` event."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)
        self.emit("stage", message=message)

    def emit(self, kind: str, metrics: dict | None = None, message: str = "") -> None:
        s = getattr(self, "_state", None) or fresh_state({})
        for listener in self.listeners:
            listener(Event(kind, s["step"], s["total_steps"], s["seconds"], metrics or {}, message))


def short(key: str) -> str:
    """The progress bar's name for a history key: train_loss -> loss, val_mlm_accuracy -> val mlm_acc."""
    return key.removeprefix("train_").replace("accuracy", "acc").replace("_", " ", 1 if key.startswith("val") else 0)


def fresh_state(settings: dict) -> dict:
    return {"step": 0, "seconds": 0.0, "total_steps": None, "history": [], "commands": [], "settings": settings}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_same_run(out: str, state: dict, settings: dict, budget: Budget) -> None:
    """The same command resumes; other settings would train on into a model its card does not describe."""
    differ = checkpoint.differences(state.get("settings", {}), settings, label=flag)
    if differ:
        raise cli.UsageError(
            f"{out} holds a run made with {', '.join(differ)}: resume with its own settings or use another --out"
        )
    if budget.steps is not None and budget.steps < state["step"]:
        raise cli.UsageError(
            f"--steps {budget.steps} is below the step this run has reached ({state['step']}): give at least "
            "that many (more trains it further) or use another --out"
        )
