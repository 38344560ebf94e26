"""`python -m lm.train`: train a character- or word-level LSTM or Transformer LM, resumable.

    python -m lm.train --corpus shakespeare --out runs/char --steps 3000
    python -m lm.train --corpus shakespeare --out runs/lstm --arch lstm --minutes 30 --no-jit

Running the same command again on the same --out folder resumes from the last checkpoint: the step count, the
optimizer state, the dropout RNG and the data position (batch n is a function of the seed and n) all continue,
so a run killed and resumed ends where an uninterrupted one would. A larger --steps extends a finished run.

Argument errors, and settings that contradict the run already in --out, are one line (`error: ...`, exit 2)
before the corpus is read; a loss that becomes NaN stops the run (exit 3) and keeps the last good checkpoint.
Progress goes to stderr; the last line on stdout is the run's metrics as one JSON object (also OUT/metrics.json).

From Python, the same run without argparse:

    from core.budget import Budget
    from lm.train import TrainConfig, train
    metrics = train(TrainConfig(corpus="shakespeare", out="runs/char", budget=Budget(steps=3000)), "my notebook")
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
from tqdm import tqdm

import corpus
from core import checkpoint, cli, files
from core.budget import Budget
from core.card import Card, loss_curve
from core.logs import TensorBoard
from core.optim import OptimizerConfig, make_optimizer
from lm import data
from lm.bilm import direction_losses
from lm.evaluate import mean_loss
from lm.model import LMConfig, build
from lm.tokenizer import Tokenizer

VAL_WINDOWS = 64  # validation during training: a fixed slice of this many windows, so points are comparable


@dataclasses.dataclass
class TrainConfig:
    corpus: str  # shakespeare, kjv, a text file or folder, or hf:NAME[:CONFIG]
    out: str  # the model folder; resumed when it holds a checkpoint
    budget: Budget  # --steps N or --minutes M
    model: LMConfig = dataclasses.field(default_factory=LMConfig)  # vocab_size comes from the tokenizer
    optimizer: OptimizerConfig = dataclasses.field(default_factory=lambda: OptimizerConfig(decay="cosine"))
    vocab_size: int = 8000  # word level: the most frequent words kept (char level: every character)
    batch_size: int = 32
    eval_every: int = 100
    checkpoint_every: int = 100
    seed: int = 0
    jit: bool = True  # XLA-compile the train step

    def validate(self) -> TrainConfig:
        self.budget.validate()
        self.model.validate()
        self.optimizer.validate()
        if min(self.batch_size, self.eval_every, self.checkpoint_every) <= 0:
            raise ValueError("--batch-size, --eval-every and --checkpoint-every must be positive")
        if self.vocab_size < 2:
            raise ValueError(f"--vocab-size must be at least 2 (got {self.vocab_size})")
        return self

    def run_settings(self) -> dict:
        """What decides the data stream besides the model: a resume must not change it."""
        return {"corpus": self.corpus, "batch_size": self.batch_size, "seed": self.seed}


def train(config: TrainConfig, command: str) -> dict:
    """Train the run `config` describes, or resume it from OUT's last checkpoint; ship the model folder (weights,
    config, tokenizer, metrics, card, loss curve) and return its metrics. `command` goes in the card as the way
    to reproduce the run."""
    config.validate()
    out = config.out
    files.writable_folder(out)
    resume = checkpoint.latest(out)
    if resume:
        check_same_run(config, LMConfig.load(out), checkpoint.read_state(resume))

    # Data: documents split by group (validation never shares a play or book with training), then tokens.
    train_docs, val_docs = corpus.split(corpus.load(config.corpus))
    train_text, val_text = corpus.text_of(train_docs), corpus.text_of(val_docs)
    if resume:
        model_config, tokenizer = LMConfig.load(out), Tokenizer.load(out)
    else:
        tokenizer = Tokenizer.train(train_text, config.model.level, config.vocab_size)
        model_config = dataclasses.replace(config.model, vocab_size=len(tokenizer))
    train_data, val_data = stream(model_config, tokenizer, train_text), stream(model_config, tokenizer, val_text)
    seq_len = model_config.seq_len
    val_x, val_y, val_w = val_data.windows(seq_len, VAL_WINDOWS)

    # Model, budget, optimizer; then the checkpoint's weights, optimizer and RNG over them when resuming.
    keras.utils.set_random_seed(config.seed)
    model = build(model_config)
    state = checkpoint.read_state(resume) if resume else {"step": 0, "seconds": 0.0, "history": []}
    total = total_steps(config, state, model_config, train_data)
    compile_model(model, config.optimizer, total, config.jit)
    if resume:
        state = checkpoint.restore(resume, model, model.optimizer)
        print(f"resumed from {resume} at step {state['step']}", file=sys.stderr)
    else:
        model_config.save(out)
        tokenizer.save(out)
    state = with_run_record(state, config, command, total)

    # The loop: one batch, one step; validate, log and checkpoint every so often, and at the end.
    logs = TensorBoard(os.path.join(out, "logs"))
    started = time.perf_counter() - state["seconds"]
    with tqdm(
        total=total,
        initial=state["step"],
        desc="train",
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
        mininterval=1.0,
    ) as bar:
        while not config.budget.over(state["step"], total, state["seconds"]):
            x, y = train_data.batch(state["step"], config.batch_size, seq_len, config.seed)
            loss = float(model.train_on_batch(x, y))
            if not math.isfinite(loss):
                raise cli.Failed(
                    f"the loss became {loss} at step {state['step'] + 1}; training stopped. The last "
                    f"good checkpoint is kept in {out}: lower --lr and run again."
                )
            state["step"] += 1
            state["seconds"] = time.perf_counter() - started
            smoothed = state["smoothed_loss"]
            state["smoothed_loss"] = loss if smoothed is None else 0.95 * smoothed + 0.05 * loss
            bar.update(1)
            last = config.budget.over(state["step"], total, state["seconds"])
            if state["step"] % config.eval_every == 0 or last:
                row = {
                    "step": state["step"],
                    "train_loss": state["smoothed_loss"],
                    "val_loss": mean_loss(model, val_x, val_y, val_w),
                }
                state["history"].append(row)
                bar.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{row['val_loss']:.3f}")
                lr = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
                logs.scalars(
                    state["step"],
                    {"loss/train": row["train_loss"], "loss/validation": row["val_loss"], "learning_rate": lr},
                )
            if state["step"] % config.checkpoint_every == 0 or last:
                checkpoint.save(out, model, model.optimizer, state)

    # The model folder: what lm.load reads, and what a reader of the card wants to know.
    windows = val_data.windows(seq_len)
    two_way = model_config.arch == "bilm"  # one pass gives each direction's loss and both together
    metrics = {
        **(direction_losses(model, *windows) if two_way else {"val_loss": mean_loss(model, *windows)}),
        "step": state["step"],
        "seconds": round(state["seconds"], 1),
        "corpus": config.corpus,
        "val_tokens": int(len(val_data)),
        "batch_size": config.batch_size,
        "parameters": int(model.count_params()),
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
        "command": command,
    }
    export(model, model_config, out)
    files.write_json(os.path.join(out, "metrics.json"), metrics)
    loss_curve(
        state["history"],
        os.path.join(out, "loss_curve.png"),
        [("train_loss", "train"), ("val_loss", "validation")],
        ylabel="loss (nats/token)",
    )
    model_card(out, model_config, metrics, state["commands"]).write(out)
    print(f"validation loss {metrics['val_loss']:.4f} after {state['step']} steps; model in {out}", file=sys.stderr)
    return metrics


def stream(model_config: LMConfig, tokenizer, text: str):
    """The text as the model reads it: token ids, or for --arch bilm spelled words with two targets each."""
    if model_config.arch == "bilm":
        from lm import bilm

        return bilm.Stream(tokenizer, text, model_config.inputs)
    return data.Stream(tokenizer, text)


def compile_model(model, optimizer: OptimizerConfig, total_steps: int, jit: bool):
    """The one way lm trains a model (bench.lm_train times exactly this): core's AdamW with warm-up and cosine
    decay over `total_steps`, next-token cross-entropy on logits. The optimizer is built here, before the first
    step: TensorFlow traces a first call that creates variables twice."""
    model.compile(
        optimizer=make_optimizer(optimizer, total_steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    model.optimizer.build(model.trainable_variables)
    return model


def export(model, model_config: LMConfig, out: str) -> None:
    """OUT/model.weights.h5, saved through an uncompiled twin so the file holds no optimizer state."""
    checkpoint.export_weights(model, build(model_config), os.path.join(out, "model.weights.h5"))


def total_steps(config: TrainConfig, state: dict, model_config: LMConfig, train_data) -> int:
    """The run's length in steps, which the learning-rate schedule needs up front: --steps as given (a larger
    value extends a resumed run); a --minutes budget is turned into steps once, on the first run, at the pace
    measured on a twin of the model, and kept in the checkpoint so a resume keeps the same schedule."""
    if config.budget.steps is not None:
        return config.budget.steps
    if "total_steps" in state:  # a resumed --minutes run
        return state["total_steps"]
    per_step = seconds_per_step(config, model_config, train_data)
    steps = config.budget.steps_for(per_step)
    print(f"{per_step:.3f} s/step: --minutes {config.budget.minutes} is about {steps} steps", file=sys.stderr)
    return steps


def seconds_per_step(config: TrainConfig, model_config: LMConfig, train_data, steps: int = 5) -> float:
    """Seconds per train step, timed on a throwaway twin so the real model's weights and RNG stay untouched."""
    twin = compile_model(build(model_config), config.optimizer, 1000, config.jit)
    x, y = train_data.batch(0, config.batch_size, model_config.seq_len, config.seed)
    twin.train_on_batch(x, y)  # the first step compiles
    start = time.perf_counter()
    for _ in range(steps):
        twin.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps * 1.05  # evaluation and checkpoints take a little time


def with_run_record(state: dict, config: TrainConfig, command: str, total: int) -> dict:
    """The trainer state beside the step count: the budget in steps, the settings a resume must keep, the
    smoothed train loss (so a resumed run's history matches an uninterrupted one's) and every command that
    trained the folder. Checkpoints written before these keys existed get them here."""
    state = {**state, "total_steps": total}
    state.setdefault("run", config.run_settings())
    state.setdefault("smoothed_loss", None)
    state.setdefault("commands", [[0, None]] if state["step"] else [])
    if not state["commands"] or state["commands"][-1][1] != command:
        state["commands"].append([state["step"], command])
    return state


def check_same_run(config: TrainConfig, saved: LMConfig, state: dict) -> None:
    """The same command resumes; other settings would train on into a model its card does not describe."""
    m = config.model
    wanted = {
        "arch": m.arch,
        "level": m.level,
        "layers": m.layers,
        "dim": m.dim,
        "seq_len": m.seq_len,
        "dropout": m.dropout,
    }
    if saved.arch == "transformer":
        wanted.update(heads=m.heads, positions=m.positions)
    elif saved.arch == "bilm":
        wanted.update(inputs=m.inputs, proj=m.proj)
    else:
        wanted["cell"] = m.cell
    recorded = {**dataclasses.asdict(saved), **state.get("run", {})}  # checkpoints before "run" lack it
    wanted.update({k: v for k, v in config.run_settings().items() if k in recorded})
    differ = checkpoint.differences(recorded, wanted, label=lambda k: "--" + k.replace("_", "-"))
    if differ:
        raise cli.UsageError(
            f"{config.out} holds a run made with {', '.join(differ)}: resume with its own settings or use another --out"
        )


def model_card(out: str, c: LMConfig, metrics: dict, commands: list) -> Card:
    size = {
        "transformer": f"{c.layers} layers, {c.dim}-d, {c.heads} heads, {c.positions} positions",
        "lstm": f"{c.layers} x {c.cell.upper()} {c.dim}",
        "bilm": f"ELMo-style: {c.inputs} word encoder, {c.layers} x LSTM {c.dim} with projection {c.proj} in each "
        "direction, residual, shared softmax",
    }[c.arch]
    bpc = f" ({metrics['val_loss'] / math.log(2):.3f} bits/char)" if c.level == "char" else ""
    return Card(
        title=os.path.basename(os.path.normpath(out)),
        summary=f"A {c.level}-level {c.arch} language model trained by SeqLab's `lm.train`: {size}, context "
        f"{c.seq_len} tokens, vocabulary {c.vocab_size}, {metrics['parameters']:,} parameters.",
        tags=["text-generation", c.arch, f"{c.level}-level"],
        facts=[
            ("corpus", f"`{metrics['corpus']}` (validation: held-out documents, {metrics['val_tokens']:,} tokens)"),
            ("steps", f"{metrics['step']:,} at batch {metrics['batch_size']}"),
            ("training time", f"{metrics['seconds'] / 60:.1f} min on {metrics['machine']}"),
            ("validation loss", f"{metrics['val_loss']:.4f} nats/token{bpc}"),
            *(
                [("forward / backward", f"{metrics['val_loss_forward']:.4f} / {metrics['val_loss_backward']:.4f}")]
                if c.arch == "bilm"
                else []
            ),
        ],
        commands=[(step, command) for step, command in commands],
        note=metrics.get("note"),  # what the commands do not say (why these corpora, shared cores)
        usage=f"import lm\n\nmodel = lm.load({out!r})  # or the Hub repo id it was pushed to\n"
        + (
            'e = model.embed("She sat on the bank of the river.")\ne.tokens, e.layers.shape, e.mix().shape'
            if c.arch == "bilm"
            else 'print(model.generate("ROMEO:\\n", max_new_tokens=200, temperature=0.8, seed=1))'
        ),
    )


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m lm.train", __doc__)
    p.add_argument("--corpus", required=True, help="shakespeare, kjv, a text file or folder, or hf:NAME[:CONFIG]")
    p.add_argument("--out", required=True, help="model folder (resumed if it holds a checkpoint)")
    Budget.add_arguments(p)
    p.add_argument(
        "--arch", default="transformer", choices=["transformer", "lstm", "bilm"], help="bilm: ELMo (lm.bilm)"
    )
    p.add_argument("--inputs", default="char-cnn", choices=["char-cnn", "subword"], help="bilm's word encoder")
    p.add_argument("--proj", type=int, default=256, help="bilm: the projection after each LSTM layer")
    p.add_argument("--level", default="char", choices=["char", "word"])
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"], help="recurrent cell for --arch lstm")
    p.add_argument("--positions", default="learned", choices=["learned", "sine"])
    p.add_argument("--vocab-size", type=int, default=8000, help="word level only")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW, cosine decay to a tenth)")
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.01, help="AdamW's, not applied to norms and biases")
    p.add_argument("--clip-norm", type=float, default=1.0, help="global gradient-norm clipping (0: off)")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    cli.add_jit(p, default=True)
    return p


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The CLI's only job besides parsing: arguments -> configs, checked before any work."""
    model = LMConfig(
        arch=args.arch,
        level=args.level,
        seq_len=args.seq_len,
        layers=args.layers,
        dim=args.dim,
        heads=args.heads,
        dropout=args.dropout,
        cell=args.cell,
        positions=args.positions,
        inputs=args.inputs,
        proj=args.proj,
    )
    optimizer = OptimizerConfig(
        lr=args.lr, warmup=args.warmup, decay="cosine", weight_decay=args.weight_decay, clip_norm=args.clip_norm
    )
    return TrainConfig(
        corpus=args.corpus,
        out=args.out,
        budget=Budget.from_args(args),
        model=model,
        optimizer=optimizer,
        vocab_size=args.vocab_size,
        batch_size=args.batch_size,
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        jit=args.jit,
    ).validate()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "python -m lm.train " + shlex.join(argv)
    return cli.run(parser(), argv, lambda args: train(config_from(args), command))


if __name__ == "__main__":
    sys.exit(main())
