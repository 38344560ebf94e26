"""Training step time with random batches against batches grouped by length (translate/data.py), same model.

    python -m bench.translate_batches                       # the bundled translate-transformer's sizes, web-es
    python -m bench.translate_batches --model translate-rnn --steps 30 --out bench/results/translate_batches_cpu.json

Builds a fresh model of the translator's config (random weights: only the shapes matter), then for --length-window
0 (random pairs, padded to the length limit) and for the window given (32, translate.train's default) times
--steps training steps at batch --batch-size after --warmup untimed ones (which also trace each new width), on
the same training pairs of web-es. Reports seconds per step, target tokens per second, the mean source width of
a batch, and the ratio. Last line of stdout: one JSON object.
"""

from __future__ import annotations

import argparse
import time

from bench.common import emit, log, machine
from translate.evaluate import add_languages, languages_of


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.translate_batches", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="translate-transformer", help="a translator whose config and tokenizer to use")
    p.add_argument("--pair", default="web-es")
    add_languages(p)  # an hf: set's direction, as translate.train takes it
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    try:
        languages = languages_of(args)
    except ValueError as e:
        p.error(str(e))

    import keras
    import numpy as np

    import translate
    from core.optim import OptimizerConfig, make_optimizer
    from corpus import parallel
    from translate import data
    from translate.model import TranslatorConfig, build
    from translate.tokenizer import PairTokenizer
    from translate.train import smoothed_loss

    folder = translate.resolve(args.model)  # its config and tokenizer: the weights are not needed
    config, tokenizer = TranslatorConfig.load(folder), PairTokenizer.load(folder)
    train = parallel.split_pairs(parallel.load_pairs(args.pair, languages))["train"]
    encoded = data.encode_pairs(train, tokenizer, config.max_src_len, config.max_tgt_len)
    keras.utils.set_random_seed(0)
    model = build(config)
    model.compile(optimizer=make_optimizer(OptimizerConfig(lr=1e-4, warmup=10), 10**6), loss=smoothed_loss(0.1))
    rows = []
    for window in (0, args.window):
        step = 0
        for _ in range(args.warmup):
            source, dec_in, dec_out = data.batch(encoded, step, args.batch_size, 0, window)
            model.train_on_batch((source, dec_in), dec_out, sample_weight=(dec_out != 0))
            step += 1
        tokens, widths, start = 0, [], time.perf_counter()
        for _ in range(args.steps):
            source, dec_in, dec_out = data.batch(encoded, step, args.batch_size, 0, window)
            model.train_on_batch((source, dec_in), dec_out, sample_weight=(dec_out != 0))
            tokens, step = tokens + int((dec_out != 0).sum()), step + 1
            widths.append(source.shape[1])
        seconds = time.perf_counter() - start
        row = {
            "length_window": window,
            "s_per_step": round(seconds / args.steps, 4),
            "target_tokens_per_s": round(tokens / seconds),
            "mean_source_width": round(float(np.mean(widths)), 1),
        }
        log(row)
        rows.append(row)
    result = {
        "bench": "translate_batches",
        "model": args.model,
        "arch": config.arch,
        "pair": args.pair,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "rows": rows,
        "speedup": round(rows[0]["s_per_step"] / rows[1]["s_per_step"], 2),
        "machine": machine(),
    }
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
