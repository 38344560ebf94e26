"""The engine's decoding step alone, per batch size: what a row of lm.engine costs, to choose the slot count.

    python -m bench.lm_step                                   # the bundled char-transformer and char-lstm
    python -m bench.lm_step --models char-transformer --slots 1 4 16 --steps 1 4 16

For each model, batch size (slots) and tokens per compiled call (steps) it builds an lm.engine.Engine and
times its compiled call alone (no requests, no Python loop around it; every row computes whether busy or not,
which is the engine's fixed shape), and the single stream's
own chunked decoding (LanguageModel, 16 tokens a call) as the peer. Also the batch-1 prefill per prompt bucket,
and whole streams with no server: --streams streams of --stream-tokens tokens started together, two at a time
through LanguageModel (today's app path) and all at once through the engine (concurrent_tokens_per_s); with
--memory-rounds N, the RSS after each of N rounds of --memory-streams (200) chat-sized engine streams
(rss_mb_per_round).

Last line of stdout, JSON: {"machine", "models": {name: {"prefill_ms": {bucket: ms}, "single_stream_tokens_per_s",
"steps": {slots: {steps: {"ms_per_step", "tokens_per_s"}}}, "concurrent_tokens_per_s": {streams: {...}}}}}.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import emit, log, machine, median, rss_mb


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.lm_step", description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["char-transformer", "char-lstm"])
    p.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--steps", type=int, nargs="+", default=[4])
    p.add_argument("--calls", type=int, default=60, help="timed calls per setting (after 3 untimed)")
    p.add_argument("--streams", type=int, nargs="+", default=[1, 16], help="concurrent streams (no server)")
    p.add_argument("--stream-tokens", type=int, default=200)
    p.add_argument("--memory-rounds", type=int, default=0, help="also RSS after each round of engine streams")
    p.add_argument("--memory-streams", type=int, default=200, help="chat-sized engine streams per memory round")
    return p.parse_args(argv)


def _timed(fn, calls: int) -> float:
    """Median seconds of one call of fn."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def single_stream(m, calls: int) -> float:
    """Tokens/s of LanguageModel's own decoding (CHUNK tokens per compiled call, batch 1)."""
    from lm.generate import CHUNK

    rng = np.random.default_rng(0)
    settings = m._settings(0.8, 0, 1.0)
    token, _, state = m._begin([0], settings, rng)
    token = np.array([token], "int32")

    def call():
        out, _ = m._decode(token, state, np.int32(1), *settings, m._chunk_noise(rng))
        np.asarray(out)

    return CHUNK / _timed(call, calls)


def concurrent(m, engine, streams: int, tokens: int) -> dict:
    """Aggregate tokens/s of `streams` streams of `tokens` tokens each, started together: today's app path (two
    LanguageModel streams at a time, Gradio's concurrency limit) and the engine (all at once). No server: the
    decoder's own gain, apart from Gradio's per-request cost."""
    from concurrent.futures import ThreadPoolExecutor

    def one(source, i):
        return sum(1 for _ in source.stream("ROMEO:\n", max_new_tokens=tokens, seed=i))

    result = {}
    for label, source, workers in (("two at a time", m, 2), ("engine", engine, streams)):
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda i, s=source: one(s, i), range(streams)))
        result[label] = round(streams * tokens / (time.perf_counter() - start))
    return result


def memory(m, rounds: int, streams: int = 200) -> list[int]:
    """The process's RSS (MB) after each round of `streams` chat-sized streams (16 at a time) through one engine:
    whether the engine itself holds on to memory, apart from the server around it."""
    from concurrent.futures import ThreadPoolExecutor

    from lm.engine import Engine

    def one(engine, i):
        return "".join(engine.stream("ROMEO:\nGood morrow.\n\nJULIET:\n", max_new_tokens=90, seed=i, stop=["\n\n"]))

    out = []
    with Engine(m) as engine, ThreadPoolExecutor(16) as pool:
        for r in range(rounds):
            list(pool.map(lambda i: one(engine, i), range(r * streams, (r + 1) * streams)))
            out.append(round(rss_mb()))
    return out


def main(argv=None) -> dict:
    import lm
    from lm.engine import Engine, EngineConfig

    args = parse(argv)
    result = {"machine": machine(), "models": {}}
    for name in args.models:
        m = lm.load(name)
        rng = np.random.default_rng(0)
        settings = m._settings(0.8, 0, 1.0)
        row = {
            "prefill_ms": {
                str(b): round(1000 * _timed(lambda m=m, b=b, s=settings, r=rng: m._begin([1] * b, s, r), args.calls), 2)
                for b in m.buckets
            },
            "single_stream_tokens_per_s": round(single_stream(m, args.calls)),
            "steps": {},
        }
        for slots in args.slots:
            for steps in args.steps:
                engine = Engine(m, EngineConfig(slots=slots, steps=steps))
                try:
                    # the engine starts 1 row wide and widens as requests join: make it `slots` wide now
                    engine._state, engine._rows = engine._relayout([0], slots), [None] * slots
                    seconds = _timed(engine._run_step, args.calls)
                finally:
                    engine.close()
                row["steps"].setdefault(str(slots), {})[str(steps)] = {
                    "ms_per_step": round(1000 * seconds / steps, 3),
                    "tokens_per_s": round(slots * steps / seconds),
                }
                log(
                    f"{name} slots {slots} steps {steps}: {1000 * seconds / steps:.2f} ms/step, "
                    f"{slots * steps / seconds:,.0f} tokens/s"
                )
        with Engine(m, EngineConfig(slots=max(args.slots))) as engine:
            row["concurrent_tokens_per_s"] = {
                str(n): concurrent(m, engine, n, args.stream_tokens) for n in args.streams
            }
        log(f"{name} concurrent streams of {args.stream_tokens} tokens, tokens/s: {row['concurrent_tokens_per_s']}")
        if args.memory_rounds:
            row["rss_mb_per_round"] = memory(m, args.memory_rounds, args.memory_streams)
            log(f"{name} RSS after each round of {args.memory_streams} streams: {row['rss_mb_per_round']} MB")
        result["models"][name] = row
    return emit(result)


if __name__ == "__main__":
    main()
