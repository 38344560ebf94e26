"""`python -m lm.train`: train a character- or word-level LSTM or Transformer LM, resumable.

Running the same command again on the same --out folder resumes from the last checkpoint: the step count,
the optimizer state and the data position (batches are a function of the step) all continue.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m lm.train", description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="transformer", choices=["transformer", "lstm"])
    p.add_argument("--level", default="char", choices=["char", "word"])
    p.add_argument("--corpus", required=True, help="shakespeare, kjv, a text file or folder, or hf:NAME[:CONFIG]")
    p.add_argument("--out", required=True, help="model folder (resumed if it holds a checkpoint)")
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"], help="recurrent cell for --arch lstm")
    p.add_argument("--positions", default="learned", choices=["learned", "sine"])
    p.add_argument("--vocab-size", type=int, default=8000, help="word level only")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    p.add_argument("--steps", type=int, default=None, help="training steps (budget)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget instead of --steps")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-jit", action="store_true", help="train without XLA")
    args = p.parse_args(argv)
    if (args.steps is None) == (args.minutes is None):
        p.error("give exactly one budget: --steps N or --minutes M")
    if (args.steps is not None and args.steps <= 0) or (args.minutes is not None and not args.minutes > 0):
        p.error("the budget must be positive (--steps N > 0 or --minutes M > 0)")
    if args.batch_size <= 0 or args.lr <= 0 or args.warmup < 0 or args.eval_every <= 0 or args.checkpoint_every <= 0:
        p.error("--batch-size, --lr, --eval-every and --checkpoint-every must be positive, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    try:
        return train(args, argv if argv is not None else sys.argv[1:])
    except (ValueError, OSError) as e:  # CorpusError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2


def schedule(lr: float, warmup: int, total: int):
    import keras

    class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
        """Linear warm-up, then cosine decay to a tenth of the peak at `total`."""

        def __call__(self, step):
            step = keras.ops.cast(step, "float32")
            warm = lr * (step + 1) / max(1, warmup)
            progress = keras.ops.clip((step - warmup) / max(1, total - warmup), 0.0, 1.0)
            decay = lr * (0.1 + 0.9 * 0.5 * (1 + keras.ops.cos(math.pi * progress)))
            return keras.ops.where(step < warmup, warm, decay)

    return WarmupCosine()


def train(args, argv) -> int:
    import keras

    import corpus
    from lm import card, checkpoint, data
    from lm.evaluate import mean_loss
    from lm.model import LMConfig, build
    from lm.tokenizer import Tokenizer

    os.makedirs(args.out, exist_ok=True)
    if not os.access(args.out, os.W_OK):
        raise OSError(f"--out {args.out} is not writable")
    resume = checkpoint.latest(args.out)
    train_docs, val_docs = corpus.split(corpus.load(args.corpus))
    train_text, val_text = corpus.text_of(train_docs), corpus.text_of(val_docs)
    if resume:
        config, tokenizer = LMConfig.load(args.out), Tokenizer.load(args.out)
        _check_same_run(args, config, checkpoint.read_state(resume))
    else:
        tokenizer = Tokenizer.train(train_text, args.level, args.vocab_size)
        config = LMConfig(arch=args.arch, level=args.level, vocab_size=len(tokenizer), seq_len=args.seq_len,
                          layers=args.layers, dim=args.dim, heads=args.heads, dropout=args.dropout,
                          cell=args.cell, positions=args.positions).validate()
    train_ids, val_ids = data.encode(tokenizer, train_text), data.encode(tokenizer, val_text)
    keras.utils.set_random_seed(args.seed)
    model = build(config)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    val_x, val_y, val_w = data.windows(val_ids[:config.seq_len * 64 + 1], config.seq_len)  # fixed slice: comparable

    # --steps may grow on a resumed run; a --minutes budget is turned into steps once, on the first run.
    total = args.steps or (checkpoint.read_state(resume)["total_steps"] if resume
                           else _estimate_steps(model, loss_fn,
                                                *data.batch(train_ids, 0, args.batch_size, config.seq_len, args.seed),
                                                args))
    state = {"step": 0, "seconds": 0.0, "history": [], "run": _run_settings(args)}
    optimizer = keras.optimizers.AdamW(learning_rate=schedule(args.lr, args.warmup, total), weight_decay=0.01,
                                       clipnorm=1.0)
    model.compile(optimizer=optimizer, loss=loss_fn, jit_compile=not args.no_jit)
    if resume:
        state = checkpoint.restore(resume, model, optimizer)
        state.setdefault("run", _run_settings(args))
        print(f"resumed from {resume} at step {state['step']}", file=sys.stderr)
    else:
        config.save(args.out)
        tokenizer.save(args.out)

    writer = _tensorboard(os.path.join(args.out, "logs"))
    from tqdm import tqdm

    bar = tqdm(total=total, initial=state["step"], desc="train", unit="step", dynamic_ncols=True,
               file=sys.stderr, mininterval=1.0)
    started, seconds0 = time.perf_counter(), state["seconds"]
    running = None
    deadline = args.minutes * 60 if args.minutes else float("inf")
    while state["step"] < total and state["seconds"] < deadline:
        x, y = data.batch(train_ids, state["step"], args.batch_size, config.seq_len, args.seed)
        loss = float(model.train_on_batch(x, y))
        if not math.isfinite(loss):
            bar.close()
            print(f"error: the loss became {loss} at step {state['step'] + 1}; training stopped. The last good "
                  f"checkpoint is kept in {args.out}: lower --lr and run again.", file=sys.stderr)
            return 3
        state["step"] += 1
        state["seconds"] = seconds0 + time.perf_counter() - started
        running = loss if running is None else 0.95 * running + 0.05 * loss
        bar.update(1)
        record = {"step": state["step"], "train_loss": round(running, 4)}
        last = state["step"] == total or state["seconds"] >= deadline
        if state["step"] % args.eval_every == 0 or last:
            record["val_loss"] = round(mean_loss(model, val_x, val_y, val_w), 4)
            bar.set_postfix(loss=f"{running:.3f}", val=f"{record['val_loss']:.3f}")
            state["history"].append(record)
            if writer:
                _log(writer, state["step"], record, float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        state["total_steps"] = total
        if state["step"] % args.checkpoint_every == 0 or last:
            checkpoint.save(args.out, model, optimizer, state)
    bar.close()

    full_x, full_y, full_w = data.windows(val_ids, config.seq_len)
    metrics = {"val_loss": mean_loss(model, full_x, full_y, full_w), "step": state["step"],
               "seconds": round(state["seconds"], 1), "corpus": args.corpus, "val_tokens": int(len(val_ids)),
               "batch_size": args.batch_size, "parameters": int(model.count_params()),
               "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
               "command": "python -m lm.train " + " ".join(shlex.quote(a) for a in argv)}
    # A compiled model's weights file also holds the optimizer (3x the size): ship an uncompiled twin's.
    twin = build(config)
    twin.set_weights(model.get_weights())
    checkpoint.save_weights(twin, os.path.join(args.out, "model.weights.h5"))
    checkpoint.write_json(os.path.join(args.out, "metrics.json"), metrics)
    card.loss_curve(state["history"], os.path.join(args.out, "loss_curve.png"))
    card.write(args.out, os.path.basename(os.path.normpath(args.out)), config, metrics)
    print(f"validation loss {metrics['val_loss']:.4f} after {state['step']} steps; model in {args.out}",
          file=sys.stderr)
    return 0


def _run_settings(args) -> dict:
    """What decides the data stream besides the model: a resume must not change it."""
    return {"corpus": args.corpus, "batch_size": args.batch_size, "seed": args.seed}


def _check_same_run(args, config, state) -> None:
    """The same command resumes; other settings would train on into a model its card does not describe."""
    import dataclasses

    from lm import checkpoint

    wanted = {"arch": args.arch, "level": args.level, "layers": args.layers, "dim": args.dim,
              "seq_len": args.seq_len, "dropout": args.dropout}
    if config.arch == "transformer":
        wanted.update(heads=args.heads, positions=args.positions)
    else:
        wanted["cell"] = args.cell
    saved = {**dataclasses.asdict(config), **state.get("run", {})}  # checkpoints before "run" lack it
    wanted.update({k: v for k, v in _run_settings(args).items() if k in saved})
    differ = checkpoint.differences(saved, wanted, label=lambda k: "--" + k.replace("_", "-"))
    if differ:
        raise ValueError(f"{args.out} holds a run made with {', '.join(differ)}: resume with its own settings "
                         "or use another --out")


def _estimate_steps(model, loss_fn, x, y, args) -> int:
    """Steps that fit --minutes, timed with a learning rate of zero so the weights do not move."""
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss_fn, jit_compile=not args.no_jit)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(5):
        model.train_on_batch(x, y)
    per_step = (time.perf_counter() - start) / 5 * 1.05  # evaluation and checkpoints take a little time
    steps = max(1, int(args.minutes * 60 / per_step))
    print(f"{per_step:.3f} s/step: --minutes {args.minutes} is about {steps} steps", file=sys.stderr)
    return steps


def _tensorboard(folder):
    try:
        import tensorflow as tf
    except ImportError:  # JAX-only machines: no TensorBoard logs, training goes on
        return None
    return tf.summary.create_file_writer(folder)


def _log(writer, step, record, lr):
    import tensorflow as tf

    with writer.as_default(step=step):
        tf.summary.scalar("loss/train", record["train_loss"])
        tf.summary.scalar("loss/validation", record["val_loss"])
        tf.summary.scalar("learning_rate", lr)
    writer.flush()


if __name__ == "__main__":
    sys.exit(main())
