"""Which write of a step's keys and values into the fixed-size attention cache decodes fastest (core.kv.write)?

    python bench/experiments/kv_cache_write.py            # about 3 minutes on the 2-core CPU

Three writes, each put in place of core.kv.write before the decoding loops are traced, so each is timed inside
the real compiled step of the bundled models' shapes:
- scatter: ops.scatter_update of one (row, head, position) slot each, B x H x hd numbers (lm's write before);
- blend:   cache * (1 - one_hot) + new * one_hot, which rewrites the whole cache (translate's before; core.kv's);
- select:  ops.where(one_hot, new, cache), the same rewrite without the arithmetic.
(slice_update takes one position for the whole batch, and lm.engine's rows are at different positions.)

LM: lm/models/char-transformer (4 layers, 4 heads, 256 positions, hd 48): LanguageModel's 16-token call at batch
1, and lm.engine's 8-token call at 4 and 16 rows. Translation: random weights of translate-transformer's config
(3+3 layers, 4 heads, 65 positions, hd 48; random, so no hypothesis ends early), translate_ids's parts of 16
hypotheses: greedy over 16 sentences, beam 4 over 4; a step is (16 steps - 1 step) / 15. Per-step times in ms,
wall clock and CPU time (all threads), the medians of REPEATS calls taken in turn across the variants (the CPU
is shared). Every variant must decode the
same tokens. Results: bench/results/kv_cache_write.json.
"""

import functools
import os
import statistics
import sys
import time

import numpy as np
from record import ROOT, no_arguments, update

sys.path.insert(0, ROOT)
from core import kv  # noqa: I001 - after the path

RESULTS = os.path.join(ROOT, "bench", "results", "kv_cache_write.json")
REPEATS = 15


def scatter(cache, new, index, axis):
    """ops.scatter_update of one (row, ..., position) slot of the last axis's numbers each."""
    from keras import ops

    shape = ops.shape(cache)
    lead = [1 if d == axis else n for d, n in enumerate(shape[:-1])]
    rows = ops.broadcast_to(ops.reshape(ops.cast(index, "int32"), (-1,)), (shape[0],))
    where = []
    for d, n in enumerate(lead):
        values, varies = (rows, 0) if d == axis else (ops.arange(n, dtype="int32"), d)
        grid = ops.reshape(values, [-1 if i == varies else 1 for i in range(len(lead))])
        where.append(ops.reshape(ops.broadcast_to(grid, lead), (-1,)))
    return ops.scatter_update(cache, ops.stack(where, axis=1), ops.reshape(new, (-1, shape[-1])))


def select(cache, new, index, axis):
    from keras import ops

    return ops.where(kv.one_hot(cache, index, axis) > 0, new, cache)


SHIPPED = kv.write  # the one-hot blend
VARIANTS = {"scatter": scatter, "blend": SHIPPED, "select": select}


def _timed(fn, *args) -> tuple[tuple[float, float], list]:
    """((wall seconds, CPU seconds of every thread), outputs) of one call; its first output is fetched inside the
    timing, which waits for the call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    out = list(out) if isinstance(out, tuple | list) else [out]
    out[0] = np.asarray(out[0])
    return (time.perf_counter() - wall, time.process_time() - cpu), out


def _in_turn(calls: dict, per: float) -> dict:
    """{variant: {"wall_ms", "cpu_ms"} per step, medians} of calls {variant: () -> (wall, cpu) seconds}, taken
    in turn so that the load of a shared machine falls on every variant alike."""
    times = {v: [] for v in calls}
    for _ in range(REPEATS):
        for v, call in calls.items():
            times[v].append(call())
    return {
        v: {k: round(statistics.median(x[i] for x in t) / per * 1000, 3) for i, k in enumerate(("wall_ms", "cpu_ms"))}
        for v, t in times.items()
    }


def lm_steps() -> dict:
    import lm
    from lm.engine import Engine, EngineConfig
    from lm.generate import CHUNK

    models, engines, out = {}, {}, {}
    for name, variant in VARIANTS.items():
        kv.write = variant  # read when the loops below are traced
        model = lm.load("char-transformer")
        settings = model._settings(0.0, 0, 1.0)
        token, _, state = model._begin(model.tokenizer.encode("ROMEO:\n"), settings, np.random.default_rng(0))
        args = (np.array([token], "int32"), state, np.int32(7), *settings, model._chunk_noise(np.random.default_rng(0)))
        out[name] = _timed(model._decode, *args)[1][0].tolist()  # trace, compile, and the tokens to compare
        models[name] = (model, args)
        engines[name] = Engine(model, EngineConfig(slots=16))  # compiles every width now
    kv.write = SHIPPED
    assert all(tokens == out["scatter"] for tokens in out.values()), out
    result = {
        "batch 1 (LanguageModel, 16 tokens a call)": _in_turn(
            {v: (lambda m=m, a=a: _timed(m._decode, *a)[0]) for v, (m, a) in models.items()}, CHUNK
        )
    }
    for width in (4, 16):
        for engine in engines.values():
            engine._state, engine._rows = engine._relayout([0], width), [None] * width
        calls = {v: (lambda e=e: _timed(e._run_step)[0]) for v, e in engines.items()}
        steps = next(iter(engines.values())).config.steps
        result[f"{width} rows (lm.engine, {steps} tokens a call)"] = _in_turn(calls, steps)
    for engine in engines.values():
        engine.close()
    return result


def translate_steps() -> dict:
    import keras

    from core import files
    from translate import decode
    from translate.model import TranslatorConfig, build

    bundled = os.path.join(ROOT, "translate", "models", "translate-transformer", "config.json")
    config = TranslatorConfig(**files.read_json(bundled))
    keras.utils.set_random_seed(0)
    model = build(config)
    result = {}
    for kind, sentences, beams in (("greedy", 16, 1), ("beam", 4, 4)):
        source = np.random.default_rng(0).integers(4, config.src_vocab, size=(sentences, 64)).astype("int32")
        source[:, 41:] = 0
        loops, tokens = {}, {}
        for name, variant in VARIANTS.items():
            kv.write = variant
            model.__dict__.pop("_translate_loops", None)  # a fresh trace of the loop with this write
            loop = decode._loop(model, kind, sentences, beams)
            loops[name] = functools.partial(_steps, loop, source, beams)
            _, out = loops[name](16)
            assert int(out[-1]) == 16, "a hypothesis ended early: the step count would be off"
            tokens[name] = out[0].tolist()
        kv.write = SHIPPED
        assert all(t == tokens["scatter"] for t in tokens.values()), kind
        full = _in_turn({v: functools.partial(lambda f: f(16)[0], f) for v, f in loops.items()}, 1)
        one = _in_turn({v: functools.partial(lambda f: f(1)[0], f) for v, f in loops.items()}, 1)
        label = f"{kind}, {sentences * beams} hypotheses ({sentences} sentences x beam {beams})"
        result[label] = {v: {k: round((full[v][k] - one[v][k]) / 15, 3) for k in full[v]} for v in VARIANTS}
    return result


def _steps(loop, source, beams, max_len):
    return _timed(loop, source, np.int32(beams), np.int32(max_len), np.float32(0.6))


def main() -> int:
    from bench.common import machine

    unit = "ms per decoding step, medians: wall clock, and CPU time of all threads (steadier on a shared machine)"
    result = {"machine": machine(), "unit": unit, "lm": lm_steps()}
    print(result["lm"], flush=True)
    result["translate"] = translate_steps()
    print(result["translate"], flush=True)
    for key, value in result.items():
        update(RESULTS, key, value=value)
    return 0


if __name__ == "__main__":
    no_arguments(__doc__)
    sys.exit(main())
