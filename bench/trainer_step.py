"""Keras's two ways to run training steps, side by side on the same model and batches: `train_on_batch` in a
Python loop (what core.trainer calls) against one `fit` call over a generator of the same batches.

    python -m bench.trainer_step                       # LM 4 layers / 128-d, seq 64, batch 12, vocab 65; XLA on
    python -m bench.trainer_step --steps 60 --no-jit

Each side builds and compiles its own model (lm.train.compile_model, as lm.train does), runs `--warmup-steps`
untimed steps (the first compiles), then `--steps` timed ones; the two sides alternate `--rounds` times so a
noisy neighbour hits both. Last stdout line, JSON: ms a step for each (median over rounds) and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import add_lm_shape, emit, machine, median, set_threads
from core import cli


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.trainer_step", description=__doc__.split("\n")[0])
    add_lm_shape(p, seq=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--steps", type=int, default=40, help="timed steps per round")
    p.add_argument("--warmup-steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    cli.add_jit(p, default=True)
    return p.parse_args(argv)


def run(args) -> dict:
    set_threads(args.threads)
    import keras
    import numpy as np

    from core.optim import OptimizerConfig
    from lm.model import LMConfig, build
    from lm.train import compile_model

    config = LMConfig(
        vocab_size=args.vocab, seq_len=args.seq, layers=args.layers, dim=args.dim, heads=args.heads
    ).validate()
    rng = np.random.default_rng(0)
    tokens = [rng.integers(0, args.vocab, (args.batch, args.seq + 1)).astype("int32") for _ in range(8)]
    data = [(t[:, :-1], t[:, 1:]) for t in tokens]

    def model():
        keras.utils.set_random_seed(0)
        return compile_model(build(config), OptimizerConfig(lr=1e-3, warmup=10), 10**6, jit=args.jit)

    loop_model, fit_model = model(), model()

    def by_train_on_batch(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            logs = loop_model.train_on_batch(*data[i % len(data)], return_dict=True)
            float(logs["loss"])  # what the trainer reads each step (the NaN check)
        return time.perf_counter() - start

    class Seconds(keras.callbacks.Callback):  # fit's per-step hook, as a fit-based loop would need
        def on_train_batch_end(self, batch, logs=None):
            float((logs or {}).get("loss", 0.0))

    def by_fit(n: int) -> float:
        def batches():
            i = 0
            while True:
                yield data[i % len(data)]
                i += 1

        start = time.perf_counter()
        fit_model.fit(batches(), steps_per_epoch=n, epochs=1, verbose=0, callbacks=[Seconds()])
        return time.perf_counter() - start

    by_train_on_batch(args.warmup_steps)
    by_fit(args.warmup_steps)
    loop_ms, fit_ms = [], []
    for _ in range(args.rounds):
        loop_ms.append(by_train_on_batch(args.steps) / args.steps * 1000)
        fit_ms.append(by_fit(args.steps) / args.steps * 1000)  # includes fit's own set-up, once per call
    return {
        "bench": "trainer_step",
        "backend": keras.backend.backend(),
        "jit": args.jit,
        "shape": f"{args.layers} layers / {args.dim}-d, seq {args.seq}, batch {args.batch}, vocab {args.vocab}",
        "steps": args.steps,
        "train_on_batch_ms": round(median(loop_ms), 2),
        "fit_ms": round(median(fit_ms), 2),
        "fit_over_train_on_batch": round(median(fit_ms) / median(loop_ms), 3),
        "rounds": {"train_on_batch_ms": [round(x, 2) for x in loop_ms], "fit_ms": [round(x, 2) for x in fit_ms]},
        "machine": machine(),
    }


def main(argv=None) -> int:
    emit(run(parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
