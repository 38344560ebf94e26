"""BERT MLM+NSP pretraining speed of SeqLab's pretrain model, compiled exactly as `python -m pretrain.train` does.

    python -m bench.bert_train --layers 2 --heads 2 --dim 128 --seq 128 --batch 32 --vocab 8192 --steps 10

Model: pretrain.model.build(BertConfig(...)); compile: pretrain.train.compile_model with pretrain.config.bert_optimizer
(core.optim's AdamW: weight decay 0.01, global clipnorm 1.0, warm-up + linear decay; masked-mean MLM loss + NSP
loss, accuracy metrics). Batches are
synthetic full-length pairs with 15% dynamic masking from pretrain.data.mask_tokens (bench/bert_data.py).
--jit uses XLA (pretrain.train's --jit; off by default there and here), --precision as pretrain.train's.

Last line of stdout, JSON: seqs_per_s, tokens_per_s, step_ms (median), gflop_per_s (matmul work done per second,
train_flops_per_step), compile_s (first step), params.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import Timer, emit, machine, median, set_threads
from core import precision


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.bert_train", description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup-steps", type=int, default=2, help="untimed steps after the first (compiling) one")
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--mask-rate", type=float, default=0.15)
    p.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="XLA-compile the train step (off by default, as in pretrain.train)",
    )
    p.add_argument("--precision", choices=tuple(precision.POLICIES), default="fp32")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def build_and_compile(args):
    """SeqLab's BERT compiled by pretrain.train's own function; returns the model."""
    import keras

    from pretrain import model as bert
    from pretrain.config import bert_optimizer
    from pretrain.train import compile_model

    keras.utils.set_random_seed(args.seed)
    config = bert.BertConfig(
        vocab_size=args.vocab,
        num_layers=args.layers,
        hidden_size=args.dim,
        num_heads=args.heads,
        intermediate_size=4 * args.dim,
        max_positions=max(512, args.seq),
    )
    with precision.policy(args.precision):
        model = bert.build(config)
        return compile_model(model, bert_optimizer(lr=1e-4, warmup=10), total_steps=10**6, jit=args.jit)


def train_flops_per_step(args) -> float:
    """Multiply-adds x 2 x 3 (forward, then twice that backward) of the matmuls in one step: the encoder on every
    position, attention scores and sums, the MLM head (transform + tied output) on every prediction slot."""
    h, s, i = args.dim, args.seq, 4 * args.dim
    per_token = args.layers * (4 * h * h + 2 * h * i + 2 * s * h)
    per_slot = h * h + h * args.vocab
    return 6.0 * args.batch * (s * per_token + args.max_predictions * per_slot + 2 * h * h)


def time_steps(model, batches, steps, warmup_steps):
    """(first-step seconds, per-step seconds list, elapsed seconds of the timed steps, last losses)."""
    with Timer() as first:
        model.train_on_batch(*batches[0][:2], sample_weight=batches[0][2], return_dict=True)
    for i in range(warmup_steps):
        x, y, w = batches[(i + 1) % len(batches)]
        model.train_on_batch(x, y, sample_weight=w)
    times, logs = [], {}
    start = time.perf_counter()
    for i in range(steps):
        x, y, w = batches[i % len(batches)]
        t = time.perf_counter()
        logs = model.train_on_batch(x, y, sample_weight=w, return_dict=True)  # numpy values: synced
        times.append(time.perf_counter() - t)
    return first.seconds, times, time.perf_counter() - start, logs


def run(args) -> dict:
    set_threads(args.threads)
    import keras
    import numpy as np

    from bench.bert_data import mlm_batch

    model = build_and_compile(args)
    rng = np.random.default_rng(args.seed)
    batches = [mlm_batch(rng, args.batch, args.seq, args.vocab, args.mask_rate, args.max_predictions) for _ in range(4)]
    compile_s, times, elapsed, logs = time_steps(model, batches, args.steps, args.warmup_steps)
    return {
        "bench": "bert_train",
        "impl": "seqlab",
        "backend": keras.backend.backend(),
        "jit": args.jit,
        "precision": args.precision,
        "layers": args.layers,
        "heads": args.heads,
        "dim": args.dim,
        "vocab": args.vocab,
        "seq": args.seq,
        "batch": args.batch,
        "steps": args.steps,
        "max_predictions": args.max_predictions,
        "params": int(model.count_params()),
        "seqs_per_s": round(args.batch * args.steps / elapsed, 2),
        "tokens_per_s": round(args.batch * args.seq * args.steps / elapsed, 1),
        "step_ms": round(median(times) * 1e3, 2),
        "gflop_per_s": round(train_flops_per_step(args) * args.steps / elapsed / 1e9, 3),
        "compile_s": round(compile_s, 3),
        "loss_last": round(float(logs.get("loss", float("nan"))), 4),
        "threads": args.threads or "default",
        "machine": machine(),
    }


def main(argv=None) -> int:
    args = parse(argv)
    if min(args.batch, args.seq, args.steps, args.vocab, args.layers, args.dim) < 1 or args.dim % args.heads:
        print("error: sizes must be positive and --dim a multiple of --heads", file=sys.stderr)
        return 2
    if args.seq < 8 or args.vocab <= 5:
        print("error: --seq must be >= 8 and --vocab > 5 (5 special tokens)", file=sys.stderr)
        return 2
    emit(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
