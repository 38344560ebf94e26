"""Training speed of a SeqLab language model: full steps (forward, backward, AdamW update), compiled as lm.train does.

    python -m bench.lm_train --arch transformer --layers 4 --heads 4 --dim 128 --seq 64 --batch 12 --vocab 65 --steps 20

The model is lm.model.build(LMConfig(...)) and it is compiled by lm.train.compile_model, exactly as
`python -m lm.train` compiles it: core.optim's AdamW (warm-up 10 steps + cosine, weight decay 0.01 except on norms
and biases, global-norm clipping 1.0), SparseCategoricalCrossentropy(from_logits), jit_compile=True (--no-jit:
without XLA), one `train_on_batch` per step on random token batches.

Last line of stdout, JSON: tokens_per_s (batch * seq * steps / time of the timed steps), step_ms (median),
compile_s (the first step), params.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import Timer, add_lm_shape, emit, machine, median, set_threads
from core import cli


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.lm_train", description=__doc__.split("\n")[0])
    add_lm_shape(p, seq=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup-steps", type=int, default=2, help="untimed steps after the first (compiling) one")
    p.add_argument("--dropout", type=float, default=0.1, help="as LMConfig's default (GPT-2's is 0.1 too)")
    cli.add_jit(p, default=True)
    p.add_argument(
        "--cpu-defaults",
        action="store_true",
        help="leave the process as the libraries set it (no core.jit.configure): what lm.train did before it",
    )
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def run(args) -> dict:
    set_threads(args.threads)
    import keras
    import numpy as np

    from core import jit
    from core.optim import OptimizerConfig
    from lm.model import LMConfig, build
    from lm.train import compile_model

    if args.cpu_defaults:  # compile_model's configure() then finds the process already "configured"
        jit._configured = "CPU defaults (bench.lm_train --cpu-defaults)"
    keras.utils.set_random_seed(args.seed)
    config = LMConfig(
        arch=args.arch,
        level="char",
        vocab_size=args.vocab,
        seq_len=args.seq,
        layers=args.layers,
        dim=args.dim,
        heads=args.heads,
        dropout=args.dropout,
    ).validate()
    model = build(config)
    total = args.warmup_steps + args.steps + 1
    compile_model(model, OptimizerConfig(lr=1e-3, warmup=10, decay="cosine"), total, jit=args.jit)
    rng = np.random.default_rng(args.seed)
    batches = [rng.integers(0, args.vocab, (args.batch, args.seq + 1)).astype("int32") for _ in range(4)]
    data = [(b[:, :-1], b[:, 1:]) for b in batches]

    with Timer() as first:
        model.train_on_batch(*data[0])
    for i in range(args.warmup_steps):
        model.train_on_batch(*data[(i + 1) % len(data)])
    times, losses = [], []
    start = time.perf_counter()
    for i in range(args.steps):
        t = time.perf_counter()
        losses.append(float(model.train_on_batch(*data[i % len(data)])))  # train_on_batch returns numpy: synced
        times.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    return {
        "bench": "lm_train",
        "impl": "seqlab",
        "backend": keras.backend.backend(),
        "jit": args.jit,
        "arch": args.arch,
        "layers": args.layers,
        "heads": args.heads,
        "dim": args.dim,
        "vocab": args.vocab,
        "seq": args.seq,
        "batch": args.batch,
        "steps": args.steps,
        "params": int(model.count_params()),
        "tokens_per_s": round(args.batch * args.seq * args.steps / elapsed, 1),
        "step_ms": round(median(times) * 1e3, 2),
        # the fastest step: what the machine gives without its other users (a shared machine's load moves)
        "step_ms_min": round(min(times) * 1e3, 2),
        "compile_s": round(first.seconds, 3),
        "loss_last": round(losses[-1], 4),
        "threads": args.threads or "default",
        "cpu_setup": jit.configure(),
        "machine": machine(),
    }


def main(argv=None) -> int:
    args = parse(argv)
    if min(args.batch, args.seq, args.steps, args.vocab) < 1 or args.warmup_steps < 0:
        print("error: --batch, --seq, --steps and --vocab must be positive", file=sys.stderr)
        return 2
    emit(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
