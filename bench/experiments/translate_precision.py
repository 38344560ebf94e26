"""What `translate.train --precision bf16` buys on this CPU: the bundled Transformer's training step in float32
and in mixed bfloat16, side by side.

    python bench/experiments/translate_precision.py           # 200 steps of each, on the same web-es batches

Two models of translate-transformer's sizes (3+3 layers, 192-d, 4 heads, FFN 768, its 3,500-subword
vocabularies), one built under each precision (`core.precision`), train on the same length-grouped batches of
64 web-es verses, taking turns step by step (so a change in the machine's speed hits both alike); the first 40
steps (tracing a graph per batch shape) are not timed. bf16 pays off where the CPU has AVX512_BF16 or AMX (this
one has AVX512_BF16: its matmuls run in bfloat16), and the two losses should stay close. Results:
bench/results/translate_precision.json.
"""

import os
import sys
import time

import numpy as np
from record import ROOT, no_arguments, update

RESULTS = os.path.join(ROOT, "bench", "results", "translate_precision.json")
STEPS, UNTIMED = 200, 40


def main() -> int:
    no_arguments(__doc__)
    import keras

    from core import precision
    from core.optim import OptimizerConfig, make_optimizer
    from corpus import parallel
    from translate import data
    from translate.model import TranslatorConfig, build
    from translate.tokenizer import PairTokenizer
    from translate.train import smoothed_loss

    folder = os.path.join(ROOT, "translate", "models", "translate-transformer")
    config, tokenizer = TranslatorConfig.load(folder), PairTokenizer.load(folder)
    pairs = parallel.split_pairs(parallel.load_pairs("web-es"))["train"]
    encoded = data.encode_pairs(pairs, tokenizer, max_src_len=config.max_src_len, max_tgt_len=config.max_tgt_len)
    models = {}
    for name in ("fp32", "bf16"):
        keras.utils.set_random_seed(0)
        with precision.policy(name):
            model = build(config)
        optimizer = make_optimizer(OptimizerConfig(lr=1e-3, warmup=400), 10_000)
        model.compile(optimizer=optimizer, loss=smoothed_loss(0.1), jit_compile=False)  # translate.train's default
        models[name] = model
    seconds = {name: [] for name in models}
    losses = {name: [] for name in models}
    for step in range(STEPS):
        source, dec_in, dec_out = data.batch(encoded, step, 64, seed=0, window=32)
        order = list(models) if step % 2 else list(models)[::-1]  # each goes first every other step
        for name in order:
            start = time.perf_counter()
            loss = float(models[name].train_on_batch((source, dec_in), dec_out, sample_weight=(dec_out != 0)))
            seconds[name].append(time.perf_counter() - start)
            losses[name].append(loss)
    rows = {
        name: {
            "seconds_per_step": round(float(np.mean(seconds[name][UNTIMED:])), 4),
            "loss_last_20_steps": round(float(np.mean(losses[name][-20:])), 4),
        }
        for name in models
    }
    speedup = rows["fp32"]["seconds_per_step"] / rows["bf16"]["seconds_per_step"]
    result = {
        "command": "python bench/experiments/translate_precision.py",
        "steps": STEPS,
        "timed_steps": STEPS - UNTIMED,
        "batch_size": 64,
        **rows,
        "bf16_speedup": round(speedup, 3),
    }
    print(result, flush=True)
    update(RESULTS, "precision", value=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
