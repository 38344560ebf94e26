"""What one beam-4 decoder step of the bundled Transformer's shape costs as its self-attention cache grows.

    python bench/experiments/translate_cache_length.py            # caches of 17, 33, 65 (the bundled) and 129

Random weights of translate-transformer's sizes (3+3 layers, 192-d, 4 heads, FFN 768, 3,500 subwords), one lane of
16 sentences x 4 beams (64 rows, what each of translate_ids's two lanes decodes for a 32-sentence call), sources of
41 subwords (the bench sentences' mean) padded to 64. The compiled beam loop runs 16 steps and 1 step; the
difference over 15 is the cost of a step, the median of 7. The cache is max_tgt_len long whatever the step, so the
steps' cost beyond the shortest cache is what reading and rewriting it costs; the rest is the layers' matrix
products. Results: bench/results/translate_cache_length.json.
"""

import os
import statistics
import sys
import time

import numpy as np
from record import ROOT, update

sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "bench", "results", "translate_cache_length.json")
SHAPE = dict(arch="transformer", src_vocab=3500, tgt_vocab=3500, max_src_len=64, layers=3, dim=192, heads=4)
SHAPE["ffn_dim"] = 768


def step_ms(max_tgt_len: int, sentences: int = 16, beams: int = 4, repeats: int = 7) -> dict:
    import keras

    from translate import decode
    from translate.model import TranslatorConfig, build

    keras.utils.set_random_seed(0)
    model = build(TranslatorConfig(**SHAPE, max_tgt_len=max_tgt_len))
    source = np.random.default_rng(0).integers(4, 3500, size=(sentences, 64)).astype("int32")
    source[:, 41:] = 0
    loop = decode._loop(model, "beam", sentences, beams)

    def timed(max_len):
        start = time.perf_counter()
        out = loop(source, np.asarray(beams, "int32"), np.asarray(max_len, "int32"), np.asarray(0.6, "float32"))
        np.asarray(out[0])
        return time.perf_counter() - start, int(out[-1])

    timed(16), timed(1)  # compile
    one = statistics.median(timed(1)[0] for _ in range(repeats))
    runs = [timed(16) for _ in range(repeats)]
    steps = runs[0][1]
    full = statistics.median(t for t, _ in runs)
    per_step = round((full - one) / (steps - 1) * 1000, 2)
    return {"max_tgt_len": max_tgt_len, "rows": sentences * beams, "steps": steps, "per_step_ms": per_step}


def main(argv) -> int:
    lengths = [int(x) for x in argv] or [17, 33, 65, 129]
    rows = []
    for length in lengths:
        rows.append(step_ms(length))
        print(rows[-1], flush=True)
    update(
        RESULTS, "cache_length", value={"command": "python bench/experiments/translate_cache_length.py", "rows": rows}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
