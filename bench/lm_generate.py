"""Streaming generation speed of a SeqLab language model at batch 1 (top-k 50 sampling), through the real path.

    python -m bench.lm_generate --arch transformer --layers 4 --heads 4 --dim 128 --vocab 65 --new-tokens 200
    python -m bench.lm_generate --model char-transformer          # a bundled name, a model folder or a Hub id

Random weights of the given shape are written to a temporary model folder (config.json, vocab.json,
model.weights.h5) and loaded with lm.generate.LanguageModel, so the numbers include everything `stream` does
(prompt encoding, prefill, per-token compiled step, sampling, decoding, Python loop).

Last line of stdout, JSON:
  tokens_per_s         new tokens / wall time of a whole `stream` call (prefill included), median of --repeats
  decode_tokens_per_s  tokens after the first / time after the first piece (the per-token steady state)
  first_token_ms       stream() call -> first text piece, after warm-up (median)
  compile_s            the first stream() call (tracing + XLA compiling of prefill and step)
  setting_change       retraces and first-token time after changing temperature / top-k / top-p
--compile xla|graph|eager swaps lm.generate's compiler for profiling (xla is what SeqLab ships).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from bench.common import Timer, add_lm_shape, emit, log, machine, median, set_threads


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.lm_generate", description=__doc__.split("\n")[0])
    add_lm_shape(p)
    p.add_argument("--model", default=None, help="benchmark a real model (bundled name, folder or Hub id) instead")
    p.add_argument("--new-tokens", type=int, default=200)
    p.add_argument("--prompt-tokens", type=int, default=16)
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--compile",
        default="xla",
        choices=["xla", "graph", "eager"],
        help="xla: SeqLab's own (tf.function jit_compile); graph: tf.function without XLA; eager",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the compiled step alone (no Python loop, decoding or noise) per token",
    )
    return p.parse_args(argv)


def random_model_folder(args, folder: str) -> str:
    """A model folder with random weights of the requested shape, in SeqLab's own format."""
    import keras

    from core import checkpoint
    from lm.model import LMConfig, build
    from lm.tokenizer import UNK, Tokenizer

    config = LMConfig(
        arch=args.arch,
        level="char",
        vocab_size=args.vocab,
        seq_len=args.seq,
        layers=args.layers,
        dim=args.dim,
        heads=args.heads,
        dropout=0.0,
    ).validate()
    chars = [chr(c) for c in range(33, 127)] + [chr(c) for c in range(0x100, 0x100 + max(0, args.vocab))]
    Tokenizer("char", [UNK] + chars[: args.vocab - 1]).save(folder)
    config.save(folder)
    keras.utils.set_random_seed(args.seed)
    checkpoint.save_weights(build(config), os.path.join(folder, "model.weights.h5"))
    return folder


def patch_compiler(mode: str) -> None:
    """Profiling only: make LanguageModel compile its prefill/step without XLA, or not at all."""
    if mode == "xla":
        return
    import lm.generate as gen

    if mode == "graph":
        import tensorflow as tf

        gen.jit = lambda fn: tf.function(fn, reduce_retracing=True)
    else:
        gen.jit = lambda fn: fn


def tracing_counts(model) -> dict:
    out = {}
    for name in ("_prefill", "_decode"):
        fn = getattr(model, name)
        if hasattr(fn, "experimental_get_tracing_count"):
            out[name.strip("_")] = fn.experimental_get_tracing_count()
    return out


def timed_stream(model, prompt, new_tokens, **settings):
    """(total seconds, first-piece seconds, pieces, last-piece seconds) of one stream call."""
    start = time.perf_counter()
    first = last = None
    pieces = 0
    for _ in model.stream(prompt, max_new_tokens=new_tokens, **settings):
        last = time.perf_counter() - start
        if first is None:
            first = last
        pieces += 1
    return time.perf_counter() - start, first, pieces, last


def step_breakdown(model, prompt, settings, seed, n=100) -> dict:
    """Per-token cost of the pieces of LanguageModel.stream, each timed alone (milliseconds, medians)."""
    import numpy as np

    import lm.generate as gen

    rng = np.random.default_rng(seed)
    temperature, top_k, top_p = model._settings(settings["temperature"], settings["top_k"], settings["top_p"])
    ids = model._encode_prompt(prompt)
    token, _, state = model._begin(ids, (temperature, top_k, top_p), rng)
    index = np.int32(len(ids))
    step_ms, noise_ms, decode_ms, prefill_ms = [], [], [], []
    generated = []
    for _ in range(n):
        t = time.perf_counter()
        noise = rng.random((gen.CHUNK, 1, model.config.vocab_size), dtype=np.float32)
        noise_ms.append((time.perf_counter() - t) / gen.CHUNK)
        t = time.perf_counter()
        out, _ = model._decode(np.array([token], "int32"), state, index, temperature, top_k, top_p, noise)
        token = int(np.asarray(out)[-1])  # same state each time: the cost does not depend on the index
        step_ms.append((time.perf_counter() - t) / gen.CHUNK)
        generated.append(token)
        t = time.perf_counter()
        model.tokenizer.decode(generated)
        decode_ms.append(time.perf_counter() - t)
    for _ in range(5):
        t = time.perf_counter()
        model._begin(ids, (temperature, top_k, top_p), rng)
        prefill_ms.append(time.perf_counter() - t)
    ms = lambda v: round(median(v) * 1e3, 3)  # noqa: E731
    return {
        "step_call_ms": ms(step_ms),
        "noise_ms": ms(noise_ms),
        "decode_ms_at_100": ms(decode_ms[-10:]),
        "prefill_ms": ms(prefill_ms),
        "step_only_tokens_per_s": round(1 / median(step_ms), 1),
    }


def run(args) -> dict:
    set_threads(args.threads)
    patch_compiler(args.compile)
    import keras

    from lm.generate import LanguageModel

    tmp = None
    with Timer() as load:
        if args.model:
            import lm

            model = lm.load(args.model)
        else:
            tmp = tempfile.mkdtemp(prefix="seqlab-bench-")
            model = LanguageModel(random_model_folder(args, tmp), name="random")
    try:
        config = model.config
        vocab = model.tokenizer.vocab
        prompt = (
            "".join(vocab[1 + i % (len(vocab) - 1)] for i in range(args.prompt_tokens))
            if model.tokenizer.level == "char"
            else " ".join(vocab[1 : 1 + args.prompt_tokens])
        )
        room = config.seq_len - len(model._encode_prompt(prompt))
        if args.new_tokens > room:
            log(
                f"note: {args.new_tokens} new tokens pass the {config.seq_len}-token context; the model re-prefills "
                "when the window fills"
            )
        settings = dict(temperature=args.temperature, top_k=args.top_k, top_p=1.0)

        with Timer() as compile_t:  # first call: traces and compiles prefill and step
            timed_stream(model, prompt, 3, seed=args.seed, **settings)
        timed_stream(model, prompt, 3, seed=args.seed + 1, **settings)  # one more warm call
        traced = tracing_counts(model)

        totals, firsts, decode_rates = [], [], []
        for r in range(args.repeats):
            total, first, pieces, last = timed_stream(
                model, prompt, args.new_tokens, seed=args.seed + 10 + r, **settings
            )
            totals.append(total)
            firsts.append(first)
            if args.new_tokens > 1 and last > first:
                decode_rates.append((args.new_tokens - 1) / (last - first))
            log(f"repeat {r}: {args.new_tokens / total:.1f} tok/s, first piece {first * 1e3:.1f} ms, {pieces} pieces")

        # A sampling-setting change must not retrace or recompile: time the first call after each change.
        changes = [
            dict(temperature=0.7, top_k=10, top_p=0.9),
            dict(temperature=1.3, top_k=0, top_p=0.5),
            dict(temperature=0.0, top_k=50, top_p=1.0),
        ]
        change_firsts = []
        for i, change in enumerate(changes):
            total, first, _, _ = timed_stream(model, prompt, 4, seed=args.seed + 100 + i, **change)
            change_firsts.append(first)
        after = tracing_counts(model)
        retraces = sum(after.values()) - sum(traced.values()) if after else None

        breakdown = step_breakdown(model, prompt, settings, args.seed) if args.breakdown else None
        params = int(model.model.count_params())
        return {
            "bench": "lm_generate",
            "impl": "seqlab",
            "backend": keras.backend.backend(),
            "compile": args.compile,
            "model": args.model or "random",
            "arch": config.arch,
            "layers": config.layers,
            "heads": config.heads,
            "dim": config.dim,
            "vocab": config.vocab_size,
            "context": config.seq_len,
            "params": params,
            "new_tokens": args.new_tokens,
            "prompt_tokens": len(model._encode_prompt(prompt)),
            "top_k": args.top_k,
            "tokens_per_s": round(args.new_tokens / median(totals), 2),
            "decode_tokens_per_s": round(median(decode_rates), 2) if decode_rates else None,
            "first_token_ms": round(median(firsts) * 1e3, 2),
            "compile_s": round(compile_t.seconds, 3),
            "load_s": round(load.seconds, 3),
            "setting_change": {
                "retraces": retraces,
                "tracing_counts": after,
                "first_token_ms": [round(f * 1e3, 2) for f in change_firsts],
            },
            "repeats": args.repeats,
            "threads": args.threads or "default",
            "machine": machine(),
            **({"breakdown": breakdown} if breakdown else {}),
        }
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    args = parse(argv)
    if args.new_tokens < 1 or args.repeats < 1 or args.prompt_tokens < 1 or args.vocab < 2:
        print("error: --new-tokens, --repeats and --prompt-tokens must be >= 1, --vocab >= 2", file=sys.stderr)
        return 2
    emit(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
