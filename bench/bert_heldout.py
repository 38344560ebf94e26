"""Every bundled BERT on text none of them trained on: MLM accuracy, NSP with other- and same-document negatives,
and what n-gram counters and chance score on the same text (issue 18).

    python -m bench.bert_heldout --out bench/results/bert_heldout.json
    python -m bench.bert_heldout --models bert,bert-modern --max-docs 40     # quicker

Sets: the held-out documents of each corpus a bundled BERT trained on (a document counts when every bundled
model that trained on its corpus held it out: `corpus.split` of that model's training corpus, as pretrain.train
made it), and `snippets` (VADER's Amazon-review and New York Times editorial snippets, modern English that no
bundled BERT read). Each set is at most --max-docs documents (a fixed sample).

BERT figures come from pretrain.evaluate.evaluate (15% masking; NSP on balanced pairs, once with BERT's
other-document negatives and once with same-document negatives 3+ sentences from the true next one). The counters
read the training part of the set's corpus (for `snippets`, bert-modern's training mix), in bert-modern's
WordPiece tokens, and guess each of 15% of the held-out tokens from its neighbours: a (left, right) trigram table
backing off to a left bigram and the most frequent token, the left bigram alone, and the most frequent token alone
(chance for MLM, in effect). NSP's chance is 0.5: the pairs are balanced. MLM accuracies of models with different
vocabularies count different tokens, so compare rows within one model or against the counters loosely.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict

import numpy as np

from bench.common import emit, log, machine

CORPORA = ("kjv", "shakespeare", "web", "sotu", "imdb", "brown")
MODERN = "snippets"
MODELS = ("bert-modern", "bert", "bert-imdb")
COUNTER_VOCAB = "bert-modern"


def trained_on(model_folder: str) -> str:
    with open(os.path.join(model_folder, "metrics.json")) as f:
        return json.load(f)["corpus"]


def held_out_sets(model_corpora: dict[str, str], max_docs: int) -> dict[str, tuple[list, list]]:
    """{set name: (held-out documents, training documents of the same corpus)} as corpus.Document lists."""
    import corpus
    from pretrain.prepare import VAL_FRACTION

    held: dict[str, set] = {}  # corpus -> groups every model that read it held out
    seen: dict[str, set] = defaultdict(set)  # corpus -> groups some model trained on
    for spec in set(model_corpora.values()):
        train, val = corpus.split(corpus.load(spec), VAL_FRACTION)
        for name in spec.split(","):
            groups = {d.group for d in corpus.load(name)}
            val_groups = {d.group for d in val} & groups
            held[name] = held[name] & val_groups if name in held else val_groups
            seen[name] |= {d.group for d in train} & groups
    sets = {}
    for name in [c for c in CORPORA if c in held]:
        docs = corpus.load(name)
        test = [d for d in docs if d.group in held[name] and d.group not in seen[name]]
        pick = np.random.default_rng(0).permutation(len(test))[:max_docs]
        sets[name] = ([test[i] for i in sorted(pick)], [d for d in docs if d.group in seen[name]])
    mix = model_corpora.get(COUNTER_VOCAB) or next(iter(model_corpora.values()))
    modern = corpus.load(MODERN)
    pick = np.random.default_rng(0).permutation(len(modern))[:max_docs]
    sets[MODERN] = ([modern[i] for i in sorted(pick)], corpus.split(corpus.load(mix), VAL_FRACTION)[0])
    return sets


def counters(tokenizer, train_docs, test_docs, seed: int = 0) -> dict:
    """n-gram guesses of 15% of the held-out tokens, each with its real neighbours visible."""
    from pretrain.data import sentences

    def encode(docs):
        lines = [s for d in docs for s in sentences(d.text)]
        return [e.ids for e in tokenizer.encode_batch(lines, add_special_tokens=False) if e.ids]

    # the train side can be tens of millions of characters: a fixed sample of 40,000 sentences is plenty
    train = encode(train_docs)
    train = [train[i] for i in np.random.default_rng(seed).permutation(len(train))[:40_000]]
    uni, bi, tri = Counter(), defaultdict(Counter), defaultdict(Counter)
    for ids in train:
        padded = [-1, *ids, -2]
        for i in range(1, len(padded) - 1):
            uni[padded[i]] += 1
            bi[padded[i - 1]][padded[i]] += 1
            tri[(padded[i - 1], padded[i + 1])][padded[i]] += 1
    top = uni.most_common(1)[0][0]
    best_bi = {k: c.most_common(1)[0][0] for k, c in bi.items()}
    best_tri = {k: c.most_common(1)[0][0] for k, c in tri.items()}
    rng, right, n = np.random.default_rng(seed), Counter(), 0
    for ids in encode(test_docs):
        padded = [-1, *ids, -2]
        for i in np.flatnonzero(rng.random(len(ids)) < 0.15) + 1:
            want, left = padded[i], padded[i - 1]
            guess_bi = best_bi.get(left, top)
            right["trigram"] += best_tri.get((left, padded[i + 1]), guess_bi) == want
            right["bigram"] += guess_bi == want
            right["unigram"] += top == want
            n += 1
    return {f"{k}_mlm_accuracy": round(right[k] / max(1, n), 4) for k in ("trigram", "bigram", "unigram")} | {
        "counted_tokens": n
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bert_heldout", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma list of bundled BERT names or folders")
    p.add_argument("--max-docs", type=int, default=150, help="documents per set at most (a fixed sample)")
    p.add_argument("--out", help="also write the result here")
    a = p.parse_args(argv)
    import pretrain
    from pretrain import api, data, evaluate

    started = time.perf_counter()
    folders = {m: api.resolve(m) for m in a.models.split(",")}
    model_corpora = {m: trained_on(f) for m, f in folders.items()}
    sets = held_out_sets(model_corpora, a.max_docs)
    berts = {m: pretrain.load(folder) for m, folder in folders.items()}  # once, not once per set
    counter_bert = berts.get(COUNTER_VOCAB) or next(iter(berts.values()))
    rows = []
    for name, (test, train) in sets.items():
        log(f"{name}: {len(test)} held-out documents")
        row = {"set": name, "documents": len(test), "counters": counters(counter_bert.tokenizer, train, test)}
        docs = [data.sentences(d.text) for d in test]
        for m, bert in berts.items():
            r = evaluate.evaluate(bert, docs, seed=0)
            row[m] = {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
            log(f"  {m}: {row[m]}")
        rows.append(row)
    result = {
        "benchmark": "bert_heldout",
        "models": model_corpora,
        "nsp_chance": 0.5,
        "sets": rows,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }
    emit(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
