"""Pretrain BERT (MLM + NSP) from scratch: `python -m pretrain.train --corpus kjv,shakespeare --vocab DIR --out DIR`.

Running the same command again on the same --out resumes from the last checkpoint (the data stream is a pure
function of the step, so resuming needs only weights, optimizer variables, the step and the dropout RNG).
A larger --steps on a finished --out extends it: the rate jumps back to where a run of that length would be at
that step, then decays to 0 at the new end. The model card lists every command and the step each one started at.
Work files (token shards, checkpoints, TensorBoard logs) live in OUT/work/; the finished model is OUT/config.json,
model.weights.h5, vocab.txt, metrics.json and a model card README.md. The last stdout line is metrics.json's JSON.

The loop is Keras fit (what runs data parallel on several GPUs, under JAX or TensorFlow), in at most two phases:
with --minutes, a short calibration phase times the step and sets the total (core.optim.set_total: a new
schedule, the step retraced); then the training phase. After each step, Loop.after_step runs the parts in turn:
the progress bar, the window means of the curve (WindowMeans), TensorBoard, validation + checkpoint every
--checkpoint-every steps, and the budget. `--hidden` is the old spelling of `--dim`, kept for one release.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from core import checkpoint, cli, files, optim, precision
from core.cli import UsageError
from core.logs import TensorBoard
from core.optim import OptimizerConfig
from pretrain.config import (  # noqa: F401  (re-exported: what the tests and bench scripts import from here)
    POLICIES,
    Architecture,
    Masking,
    PretrainConfig,
    bert_optimizer,
    config_from_args,
    default_warmup,
    parser,
    same_doc_share,
)

VAL_FRACTION = 0.1
VAL_BATCHES = 32  # fixed validation set: up to 32 batches of held-out pairs with fixed masks
LOG_EVERY = 10
METRICS = ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")
UNKNOWN_TOTAL = 10**9  # the schedule's end while --minutes calibrates (warm-up only: the decay is not reached)


# --------------------------------------------------------------------------------------------- run state
def _rows(rows: list, columns: tuple[str, ...]) -> list[dict]:
    """Rows as dicts; checkpoints before the core stored them as lists in `columns` order."""
    return [row if isinstance(row, dict) else dict(zip(("step", *columns), row)) for row in rows]


@dataclasses.dataclass
class TrainState:
    """What a checkpoint's state.json holds, and the run's progress."""

    step: int = 0
    seconds: float = 0.0
    total: int | None = None  # None: a --minutes run not yet calibrated
    history: list[dict] = dataclasses.field(default_factory=list)  # training window means, every LOG_EVERY
    validation: list[dict] = dataclasses.field(default_factory=list)  # held-out set, every --checkpoint-every
    commands: list[list] = dataclasses.field(default_factory=list)  # [start step, command line]
    signature: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, saved: dict) -> TrainState:
        return cls(
            step=saved["step"],
            seconds=saved["seconds"],
            total=saved.get("total"),
            history=_rows(saved.get("history", []), METRICS),  # old: step, mlm loss/acc, nsp loss/acc
            validation=_rows(saved.get("validation", []), tuple(sorted(METRICS))),  # old: sorted names
            commands=saved.get("commands", [[0, None]]),  # None: made before commands were kept
            signature=saved.get("signature", {}),
        )

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def read_state(work: str) -> tuple[str, TrainState] | tuple[None, None]:
    """The latest checkpoint under WORK/checkpoints (either layout) and its state, or (None, None)."""
    path = checkpoint.latest(os.path.join(work, "checkpoints"))
    return (path, TrainState.from_json(checkpoint.read_state(path))) if path else (None, None)


# ---------------------------------------------------------------------------------------------------- data
def prepare_data(corpus_name: str, tokens: list[str], work: str, seed: int = 0, resuming: bool = False) -> str:
    """Token shards for the train and held-out splits, built once per (corpus, vocab, seed) and reused."""
    import corpus
    from pretrain import data, vocab

    docs = corpus.load(corpus_name)  # cheap once cached; its fingerprint notices a corpus that changed under a name
    fingerprint = hashlib.sha256("".join(f"{d.group}\t{len(d.text)}\n" for d in docs).encode()).hexdigest()[:16]
    key = {
        "corpus": corpus_name,
        "documents": fingerprint,
        "vocab": hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16],
        "seed": seed,
        "val_fraction": VAL_FRACTION,
    }
    folder = os.path.join(work, "data")
    meta = os.path.join(folder, "key.json")
    if os.path.exists(meta):
        old = files.read_json(meta)
        if old == key:
            return folder
        if resuming and old.get("documents") != fingerprint:
            raise UsageError(
                f"the documents of corpus {corpus_name!r} changed since this run's checkpoints in "
                f"{work}: resuming would mix two data sets; use another --out"
            )
    train_docs, val_docs = corpus.split(docs, VAL_FRACTION)  # not --seed: the same held-out text for every model
    tok = vocab.make_tokenizer(tokens)
    os.makedirs(folder, exist_ok=True)
    for name, part in (("train", train_docs), ("val", val_docs)):
        data.write_shards([data.sentences(d.text) for d in part], tok, os.path.join(folder, name), seed=seed)
    files.write_json(meta, key)
    return folder


# ------------------------------------------------------------------------------------------ model and devices
def parallel_devices(batch_size: int) -> list:
    """The devices to run data parallel on: every GPU when there are several (on JAX the default platform's, so
    on a CPU the host devices XLA_FLAGS=--xla_force_host_platform_device_count=N makes; on TensorFlow a CPU split
    into logical devices on purpose: how the tests run this path without GPUs). [] for one device."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    elif backend == "jax":
        import jax

        devices = jax.devices()
    else:
        devices = []
    if len(devices) < 2:
        return []
    if batch_size % len(devices):
        raise UsageError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices")
    return devices


def distribution_scope(devices: list, batch_size: int):
    """Where to build and compile the model: a MirroredStrategy scope on TensorFlow; on JAX the distribution is
    set globally (keras.distribution.DataParallel) and the scope is a no-op; a no-op on one device."""
    if not devices:
        return contextlib.nullcontext()
    print(f"data parallel over {len(devices)} devices, {batch_size // len(devices)} sequences each", file=sys.stderr)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy([d.name for d in devices]).scope()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return contextlib.nullcontext()


def compile_model(model, optimizer: OptimizerConfig, total_steps: int, jit: bool = False):
    """AdamW from core.optim (see bert_optimizer), the masked-mean MLM loss + NSP loss, and their accuracies."""
    ce = keras.losses.SparseCategoricalCrossentropy
    model.compile(
        optimizer=optim.make_optimizer(optimizer, total_steps),
        # MLM: mean over the real predictions only (unused slots have weight 0), as in BERT
        loss={"mlm": ce(from_logits=True, reduction="mean_with_sample_weight"), "nsp": ce(from_logits=True)},
        weighted_metrics={
            "mlm": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
            "nsp": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
        },
        jit_compile=bool(jit),
    )
    model.optimizer.build(model.trainable_variables)
    return model


def validate(model, batches) -> dict:
    """MLM and NSP loss and accuracy on the fixed held-out batches, rounded as the history keeps them."""
    logs = model.evaluate(x=(b for b in batches), steps=len(batches), verbose=0, return_dict=True)
    return {k: round(float(logs[k]), 5) for k in sorted(METRICS)}


# ------------------------------------------------------------------------------------------- the loop's parts
class Progress:
    """The progress bar on stderr: steps of the total (no total while --minutes calibrates)."""

    def __init__(self, total: int | None, initial: int):
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=initial,
            desc="pretrain",
            unit="step",
            mininterval=1.0,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def advance(self, means: dict | None = None) -> None:
        self.bar.update(1)
        if means:
            self.bar.set_postfix_str(
                f"mlm {means['mlm_loss']:.3f}/{means['mlm_accuracy']:.3f} "
                f"nsp {means['nsp_loss']:.3f}/{means['nsp_accuracy']:.3f}"
            )

    def set_total(self, total: int) -> None:
        self.bar.total = total
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class WindowMeans:
    """Means over each logging window, recovered from Keras's logs, which are means since the compiled metrics
    were last reset: at the start of each fit call, and by each validation (evaluate resets them)."""

    def __init__(self, keys=METRICS):
        self.keys = keys
        self.reset()

    def reset(self) -> None:
        self.steps, self.taken, self.means = 0, 0, dict.fromkeys(self.keys, 0.0)

    def step(self) -> None:
        self.steps += 1

    def take(self, logs: dict) -> dict:
        """The means over the steps since the last take (or reset)."""
        now = {k: float(logs.get(k, 0.0)) for k in self.keys}
        window = {
            k: (now[k] * self.steps - self.means[k] * self.taken) / max(1, self.steps - self.taken) for k in self.keys
        }
        self.taken, self.means = self.steps, now
        return window


class _AfterEachStep(keras.callbacks.Callback):
    """fit's hook into the loop: `begin()` when a fit call starts, `after_step(logs, model)` after each step (True
    stops fit). `model` is a function: on JAX, reading Callback.model copies fit's weights (held outside the model
    between steps) back into it, so it is read only for what needs the weights: validation and checkpoints."""

    def __init__(self, begin, after_step):
        super().__init__()
        self.begin, self.after_step = begin, after_step

    def on_train_begin(self, logs=None):
        self.begin()

    def on_train_batch_end(self, batch, logs=None):
        if self.after_step(logs or {}, lambda: self.model):
            self.model.stop_training = True


class Loop:
    """One run's training: the state it advances and the parts each step goes through."""

    def __init__(self, config: PretrainConfig, model, state: TrainState, val_batches, work: str):
        self.config, self.model, self.state, self.val_batches = config, model, state, val_batches
        self.root = os.path.join(work, "checkpoints")
        self.schedule = optim.make_schedule(config.optimizer, state.total or UNKNOWN_TOTAL)  # for the logs
        self.progress = Progress(state.total, state.step)
        self.windows = WindowMeans()
        self.tensorboard = TensorBoard(os.path.join(work, "logs"))
        self.phase_end = state.step
        self.nan_at = None  # the step whose loss became NaN
        self.durations: list[float] = []  # seconds per step of the current phase (the first includes compiling)

    # ---- phases
    def fit(self, stream, steps: int) -> None:
        """Up to `steps` steps from the current one: fewer when the budget runs out or the loss becomes NaN."""
        self.phase_end = self.state.step + steps
        self.model.fit(
            stream(self.state.step),
            steps_per_epoch=steps,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[_AfterEachStep(self.begin, self.after_step)],
        )

    def calibrate(self, stream, steps: int) -> float | None:
        """A --minutes run's first phase: `steps` steps, then the seconds a step takes (the median of the later
        half, +3%: the first ones include compiling and warming the input pipeline); None when it stopped first."""
        self.fit(stream, steps)
        if self.nan_at or len(self.durations) < steps:
            return None
        return float(np.median(self.durations[len(self.durations) // 2 :])) * 1.03

    def set_total(self, total: int) -> None:
        """The run's length, known at last: a new schedule, the train step retraced with it."""
        self.state.total = total
        optim.set_total(self.model, total)
        self.schedule = optim.make_schedule(self.config.optimizer, total)
        self.progress.set_total(total)

    # ---- each step
    def begin(self) -> None:
        self.windows.reset()  # fit starts Keras's metrics afresh
        self.durations, self.clock = [], time.time()

    def after_step(self, logs: dict, model) -> bool:
        if not math.isfinite(float(logs.get("loss", 0.0))):
            self.nan_at = self.state.step + 1
            return True
        s = self.state
        now = time.time()
        self.durations.append(now - self.clock)
        s.step, s.seconds, self.clock = s.step + 1, s.seconds + now - self.clock, now
        self.windows.step()
        means = self.windows.take(logs) if s.step % LOG_EVERY == 0 or s.step == self.phase_end else None
        self.progress.advance(means)
        if means:
            self.log(means)
        done = self.config.budget.over(s.step, s.total or UNKNOWN_TOTAL, s.seconds)
        if s.step % self.config.checkpoint_every == 0 or done:
            self.validate_and_checkpoint(model())
        return done

    def log(self, means: dict) -> None:
        self.state.history.append({"step": self.state.step, **{k: round(v, 5) for k, v in means.items()}})
        # the rate from the schedule on the host: the optimizer's step counter is on the device (on JAX, not in
        # the model between steps)
        self.tensorboard.scalars(
            self.state.step,
            {
                **{f"train/{k}": v for k, v in means.items()},
                "train/learning_rate": optim.current_lr(self.schedule, self.state.step),
            },
        )

    def validate_and_checkpoint(self, model) -> None:
        row = {"step": self.state.step, **validate(model, self.val_batches)}
        model.reset_metrics()  # evaluate leaves its batches in the metrics that training's logs go on
        self.windows.reset()
        self.state.validation.append(row)
        self.tensorboard.scalars(self.state.step, {f"validation/{k}": v for k, v in row.items() if k != "step"})
        checkpoint.save(self.root, model, model.optimizer, self.state.to_json())


# ------------------------------------------------------------------------------------------------------- run
def _check_writable(out: str) -> None:
    try:
        files.writable_folder(out)
    except OSError as e:
        raise UsageError(str(e)) from None


def resume_state(config: PretrainConfig, bert_config, work: str) -> tuple[str | None, TrainState]:
    """The checkpoint to resume and its state (a fresh state when there is none); refuses other settings."""
    found, state = read_state(work)
    signature = config.signature(bert_config)
    if found is None:
        return None, TrainState(signature=signature)
    if state.signature != signature:
        old = state.signature
        differ = checkpoint.differences(
            old, {k: v for k, v in signature.items() if k != "config"}
        ) + checkpoint.differences(old.get("config", {}), signature["config"], label=lambda k: f"model {k}")
        raise UsageError(
            f"{config.out} holds a run made with {', '.join(differ)}: resume with the same command or use another --out"
        )
    steps = config.budget.steps
    if steps is not None and steps < state.step:
        raise UsageError(
            f"--steps {steps} is below the step this run has reached ({state.step}): give at least "
            "that many (more trains it further) or use another --out"
        )
    return found, state


def train(config: PretrainConfig, command: str | None = None) -> dict:
    """Train (or resume, or extend) the run in config.out; returns its metrics (as written to metrics.json).
    `command`: the command line the card records (default: the one that trains this config)."""
    from pretrain import data, vocab
    from pretrain import model as bert

    config.validate()
    _check_writable(config.out)
    tokens = vocab.read_vocab(config.vocab)
    bert_config = config.architecture.bert_config(len(tokens))
    devices = parallel_devices(config.batch_size)
    work = os.path.join(config.out, "work")
    found, state = resume_state(config, bert_config, work)
    if config.budget.steps:
        state.total = config.budget.steps
    # the model card must say how the weights came to be when one run was resumed with other flags
    start_step, command = state.step, command or config.command()
    added = not state.commands or state.commands[-1][1] != command
    if added:
        state.commands.append([start_step, command])

    # ---- data: the first read of the corpus
    folder = prepare_data(config.corpus, tokens, work, config.seed, resuming=found is not None)
    specials = {s: tokens.index(s) for s in vocab.SPECIALS}
    stream = data.Batches(
        os.path.join(folder, "train"),
        config.seq_len,
        config.batch_size,
        len(tokens),
        config.masking.rate,
        config.masking.max_predictions,
        config.seed,
        specials,
        same_doc=same_doc_share(config.nsp_negatives),
        distance=config.nsp_distance,
    )
    # validation masks as BERT and pretrain.evaluate do, whatever --mask-rate training uses, so runs compare
    val_batches = data.Batches(
        os.path.join(folder, "val"),
        config.seq_len,
        config.batch_size,
        len(tokens),
        data.BERT_MASK_RATE,
        data.bert_max_predictions(config.seq_len),
        config.seed,
        specials,
        same_doc=same_doc_share(config.nsp_negatives),  # the NSP task it trains on; pretrain.evaluate has both
        distance=config.nsp_distance,
    ).fixed(VAL_BATCHES)

    # ---- model
    keras.utils.set_random_seed(config.seed)
    # the layers built and compiled here compute in config.precision; what is built later (export) in float32
    with precision.policy(config.precision), distribution_scope(devices, config.batch_size):
        model = bert.build(bert_config)
        if config.attention_init == "local" and found is None:
            bert.local_attention_init(
                model, offsets=(-2, -1, 1, 2), layers=range((bert_config.num_layers + 1) // 2), seed=config.seed
            )
        compile_model(model, config.optimizer, state.total or UNKNOWN_TOTAL, config.jit)
    if found:
        checkpoint.restore(found, model, model.optimizer)
        print(f"resuming {config.out} at step {state.step}", file=sys.stderr)

    # ---- training: a calibration phase first when the total is not known yet (--minutes)
    loop = Loop(config, model, state, val_batches, work)
    budget = config.budget
    try:
        if state.total is None:
            per_step = loop.calibrate(stream, min(60, max(20, config.optimizer.warmup)))
            if per_step is not None:
                loop.set_total(budget.steps_for(per_step, state.seconds, state.step))
            elif loop.nan_at is None:  # the budget ran out while calibrating: it ends here
                state.total = state.step
        if loop.nan_at is None and not budget.over(state.step, state.total, state.seconds):
            loop.fit(stream, state.total - state.step)
    finally:
        loop.progress.close()
    if loop.nan_at:
        path, kept = read_state(work)
        where = (
            f"the last good checkpoint (step {kept.step}) is kept in {path}"
            if kept
            else "no checkpoint had been written yet"
        )
        raise cli.Failed(
            f"loss became NaN at step {loop.nan_at}; stopped ({where}). Try a lower --lr, a longer "
            "--warmup or --precision fp32.",
            code=3,
        )
    if added and state.step == start_step and len(state.commands) > 1:  # it trained nothing: not in the history
        state.commands.pop()
        print(
            f"nothing to train: {config.out} is at step {state.step} of {state.total} "
            "(a larger --steps trains it further)",
            file=sys.stderr,
        )
    if not state.validation or state.validation[-1]["step"] != state.step:
        state.validation.append({"step": state.step, **validate(model, val_batches)})
    return finish(config, model, tokens, state)


def finish(config: PretrainConfig, model, tokens: list[str], state: TrainState) -> dict:
    """The deliverable folder: weights, config, vocab, metrics.json, loss curve and model card."""
    from pretrain import card, vocab
    from pretrain import model as bert

    out = config.out
    bert.save(model, out)
    vocab.write_vocab(tokens, out)
    last = {k: v for k, v in state.validation[-1].items() if k != "step"}
    metrics = {
        **last,
        "steps": state.step,
        "seconds": round(state.seconds, 1),
        "command": state.commands[-1][1] or config.command(),
        "corpus": config.corpus,
        **({"commands": state.commands} if len(state.commands) > 1 else {}),
        "preset": config.architecture.preset,
        "seq_len": config.seq_len,
        "batch_size": config.batch_size,
        "attention_init": config.attention_init,
        "mask_rate": config.masking.rate,
        "nsp_negatives": config.nsp_negatives,
        "nsp_distance": config.nsp_distance,
        "parameters": int(model.count_params()),
    }
    files.write_json(os.path.join(out, "metrics.json"), metrics)
    card.write(out, metrics, state.history, state.validation, state.commands, model.config)
    if config.push_to_hub:
        push(out, config.push_to_hub)
    return metrics


def push(out: str, repo: str) -> None:
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True)
        api.upload_folder(folder_path=out, repo_id=repo, ignore_patterns=["work/*", ".*"])
    except Exception as e:  # offline, no token, no rights: the trained model is safe on disk either way
        raise OSError(
            f"the model is saved in {out}, but pushing it to {repo} failed: {type(e).__name__}: {e}"
        ) from None
    print(f"pushed to https://huggingface.co/{repo}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------------- CLI


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "python -m pretrain.train " + shlex.join(argv)
    return cli.run(parser(), argv, lambda a: train(config_from_args(a), command))


if __name__ == "__main__":
    sys.exit(main())
