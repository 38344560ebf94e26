"""Beam-4 decoding speed of the bundled Transformer by lanes and part size (translate/decode.py's LANES, PART_ROWS).

    python bench/experiments/translate_parts.py

The first 64 web-es test verses that fit (bench.translate_speed's sentences) in one translate_ids call, beam 4,
alpha 0.6. Each setting (lanes 1 or 2; parts of 128, 32 or 16 hypotheses, i.e. 32, 8 or 4 sentences) compiles
in an untimed pass, then three rounds of three timed passes each, the settings taking turns so that a machine
that speeds up or slows down hits all; the median pass is reported with the cores it kept busy (process CPU
time over wall time). Results: bench/results/translate_parts.json.
"""

import os
import sys
import time

import numpy as np
from record import ROOT, no_arguments, update

RESULTS = os.path.join(ROOT, "bench", "results", "translate_parts.json")
SETTINGS = [(1, 128), (1, 32), (2, 128), (2, 32), (2, 16)]  # (lanes, hypotheses per part)


def main() -> int:
    import translate
    from corpus import parallel
    from translate import decode

    t = translate.load("translate-transformer")
    limit = t.config.max_src_len
    verses = [p.source for p in parallel.split_pairs(parallel.load_pairs("web-es"))["test"]]
    ids = [x for x in (t.tokenizer.source.encode(v) for v in verses) if len(x) <= limit][:64]
    source = np.zeros((len(ids), limit), np.int32)
    for r, x in enumerate(ids):
        source[r, : len(x)] = x

    def one_pass(lanes, rows):
        decode.PART_ROWS = rows
        cpu, start = time.process_time(), time.perf_counter()
        decode.translate_ids(t.model, source, beam=4, alpha=0.6, lanes=lanes)
        wall = time.perf_counter() - start
        return wall, (time.process_time() - cpu) / wall

    passes = {s: [] for s in SETTINGS}
    for s in SETTINGS:
        one_pass(*s)  # compiles this part size
    for _ in range(3):
        for s in SETTINGS:
            passes[s] += [one_pass(*s) for _ in range(3)]
    rows = []
    for (lanes, part_rows), got in passes.items():
        wall, cores = sorted(got)[len(got) // 2]
        rows.append(
            {
                "lanes": lanes,
                "part_hypotheses": part_rows,
                "part_sentences": part_rows // 4,
                "sentences_per_s": round(len(source) / wall, 1),
                "cores_busy": round(cores, 2),
                "passes_s": [round(w, 3) for w, _ in got],
            }
        )
        print(rows[-1], flush=True)
    update(RESULTS, "parts", value={"command": "python bench/experiments/translate_parts.py", "sentences": len(source),
                                    "beam": 4, "rows": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    no_arguments(__doc__)
    sys.exit(main())
