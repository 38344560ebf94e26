"""Does a BERT read context? Two probes on held-out kjv+shakespeare text.

    python bench/experiments/bert_context.py MODEL_DIR     # neighbour-swap KL of a trained model folder
    python bench/experiments/bert_context.py --counts      # n-gram counters on the same text, for scale

Neighbour swap: mask position 40 of 32 held-out pairs, then replace the token at offset d by a random one and
measure the KL between the two predicted distributions. A context-blind model gives ~0 at every offset.
Counters: a left-bigram and a (left, right)-trigram table from the training split, scored on the held-out split.
Uses the shards that pretrain.train wrote into pretrain/models/bert/work/data (run the bundled command first).
"""

import os
import sys
from collections import Counter, defaultdict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
DATA = os.path.join(ROOT, "pretrain", "models", "bert", "work", "data")


def neighbour_kl(folder: str, position: int = 40) -> dict:
    from pretrain import data, vocab
    from pretrain import model as bert

    n = len(vocab.read_vocab(folder))
    m = bert.load(folder)
    x = data.Batches(os.path.join(DATA, "val"), 128, 32, n, seed=0).fixed(1)[0][0]
    ids = x["token_ids"].copy()
    ids[:, position] = 4  # [MASK]

    def probs(tokens):
        z = np.asarray(m({**x, "token_ids": tokens, "mask_positions": np.full((32, 1), position, "int32")})["mlm"])
        z = np.exp(z[:, 0] - z[:, 0].max(-1, keepdims=True))
        return z / z.sum(-1, keepdims=True)

    base, rng, out = probs(ids), np.random.default_rng(0), {}
    for d in (-3, -2, -1, 1, 2, 3, 10, 30):
        swapped = ids.copy()
        swapped[:, position + d] = rng.integers(5, n, 32)
        out[d] = round(float((base * np.log(base / probs(swapped))).sum(-1).mean()), 4)
    return out


def counters() -> dict:
    from pretrain import data

    def tokens(split):
        return np.concatenate([np.asarray(s.tokens, np.int64) for s in data.open_shards(os.path.join(DATA, split))])

    t, v = tokens("train"), tokens("val")
    V = int(max(t.max(), v.max())) + 1
    bigram = np.zeros((V, V), np.float32)
    np.add.at(bigram, (t[:-1], t[1:]), 1)
    left = bigram.argmax(1)
    tri = defaultdict(Counter)
    for a, b, c in zip(t[:-2], t[1:-1], t[2:]):  # a b c: b guessed from (a, c)
        tri[(a, c)][b] += 1
    hits = [
        (tri[(a, c)].most_common(1)[0][0] if (a, c) in tri else left[a]) == b for a, b, c in zip(v[:-2], v[1:-1], v[2:])
    ]
    return {
        "left_bigram_accuracy": round(float((left[v[:-1]] == v[1:]).mean()), 4),
        "trigram_accuracy": round(float(np.mean(hits)), 4),
        "held_out_tokens": int(len(v)),
    }


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="a SeqLab BERT folder to probe")
    p.add_argument("--counts", action="store_true", help="the n-gram counter baselines instead")
    a = p.parse_args()
    if not a.counts and not a.model:
        p.error("give a model folder, or --counts")
    print(counters() if a.counts else neighbour_kl(a.model))
