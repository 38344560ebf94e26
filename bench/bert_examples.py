"""The Fill-mask and Sentence-pair tabs' examples, each answered by the BERT the app runs it with (issue 18: what
the README shows must be what a visitor gets).

    python -m bench.bert_examples --out bench/results/bert_examples.json

For each fill-mask example: the top 5 guesses per [MASK] with their probabilities; for each pair: P(IsNext).
The examples are the app's own lists (space.examples), so the README cannot drift from the app.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import emit, log, machine


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bert_examples", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="also write the result here")
    a = p.parse_args(argv)
    import pretrain
    from space.examples import FILL_MASK_EXAMPLES, PAIR_EXAMPLE_LABELS, PAIR_EXAMPLES

    berts = {}

    def bert(name):
        if name not in berts:
            berts[name] = pretrain.load(name)
        return berts[name]

    fills = []
    for text, name in FILL_MASK_EXAMPLES:
        guesses = [[[t, round(prob, 4)] for t, prob in per_mask] for per_mask in bert(name).fill_mask(text, top_k=5)]
        fills.append({"text": text, "model": name, "top5": guesses})
        log(f"{name}: {text} -> {', '.join(t for t, _ in guesses[0])}")
    pairs = []
    for (sentence_a, sentence_b, name), label in zip(PAIR_EXAMPLES, PAIR_EXAMPLE_LABELS):
        is_next = round(bert(name).next_sentence(sentence_a, sentence_b), 4)
        pairs.append({"a": sentence_a, "b": sentence_b, "model": name, "label": label, "is_next": is_next})
        log(f"{name}: {label}: IsNext {is_next}")
    result = {"benchmark": "bert_examples", "fill_mask": fills, "next_sentence": pairs, "machine": machine()}
    emit(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
