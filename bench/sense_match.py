"""Sense matching: does a layer's vector for an ambiguous word tell the word's senses apart?

    python -m bench.sense_match --out bench/results/sense_match.json [--models bert,bert-imdb,elmo]

For each occurrence of a word in inside/data/senses.json (27 words, two senses, five sentences each; the Inside
tab's reference sentences, inside.reference.SENSES) the word's vector in its sentence (the mean of its pieces'
vectors: the wordpieces that make up the word, for BERT) is compared by cosine similarity with every other
occurrence of the same word. The score is the fraction of
occurrences whose nearest other occurrence has the same sense; a tie counts the fraction of same-sense
occurrences among the tied nearest (within 1e-6), so a context-free layer, which gives a word one vector in every
sentence, scores exactly chance: the expected score of a random neighbour, 4/9 with five sentences a sense.

Representations: every layer 0..L of each bundled BERT with weights (`pretrain.models/*`; `Pretrained.
hidden_states`, layer 0 the wordpiece embedding alone) and, once `lm/models/elmo/model.weights.h5` exists, ELMo's
three layers and its equal-weight scalar mix. The last stdout line is one JSON object (bench.common.emit); a
table goes to stderr; --out also writes the JSON. Exit 2 on a bad argument.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable

import numpy as np

from bench.common import emit, log, machine
from inside import reference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = reference.SENSES
BERTS = os.path.join(ROOT, "pretrain", "models")
ELMO = os.path.join(ROOT, "lm", "models", "elmo")
TIE = 1e-6


# ------------------------------------------------------------------------------------------------ scoring
def nearest_same_sense(vectors, senses, tol: float = TIE) -> tuple[np.ndarray, np.ndarray]:
    """(score, chance) per occurrence of one word: whether its nearest other occurrence by cosine similarity
    has the same sense (over a tie: the fraction of same-sense among the tied nearest), and a random other
    occurrence's chance of having it.

        nearest_same_sense([[1, 0], [1, 0], [0, 1], [0, 1]], ["a", "a", "b", "b"])  # scores 1, chance 1/3
    """
    v = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms > 0, norms, 1.0)  # a zero vector is equally far from all: every other one ties
    sims = v @ v.T
    labels = np.asarray(senses)
    same = labels[:, None] == labels[None, :]
    others = ~np.eye(len(v), dtype=bool)
    score, chance = np.empty(len(v)), np.empty(len(v))
    for i in range(len(v)):
        s = sims[i, others[i]]
        score[i] = same[i, others[i]][s >= s.max() - tol].mean()
        chance[i] = same[i, others[i]].mean()
    return score, chance


def find_word(tokens: list[str], pieces: list[str], continuation: str | None = "##") -> list[int]:
    """Positions of `pieces` in `tokens` as a whole word: not followed by a `continuation` piece (so "bank"
    is not the start of "bank ##er"; a word's first piece never starts with one). ValueError unless exactly
    one match."""
    k = len(pieces)
    hits = [
        i
        for i in range(len(tokens) - k + 1)
        if tokens[i : i + k] == pieces
        and not (continuation and i + k < len(tokens) and tokens[i + k].startswith(continuation))
    ]
    if len(hits) != 1:
        raise ValueError(f"{pieces} occurs {len(hits)} times as a whole word in {tokens}")
    return list(range(hits[0], hits[0] + k))


def surface(word: str, sentence: str) -> str:
    """The word as written in the sentence ("Spring" at the start)."""
    return re.search(rf"\b{re.escape(word)}\b", sentence, re.IGNORECASE).group(0)


def read_data(path: str = DATA) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["words"]


def score(read, words: list[dict]) -> dict[str, dict]:
    """{representation: {"score", "chance", "words": {word: score}}} for a reader: (sentence, word) ->
    {representation: vector of that word in that sentence}."""
    per_rep: dict[str, dict] = {}
    for entry in words:
        labels, vectors = [], {}
        for sense, sentences in entry["senses"].items():
            for sentence in sentences:
                labels.append(sense)
                for rep, v in read(sentence, surface(entry["word"], sentence)).items():
                    vectors.setdefault(rep, []).append(v)
        for rep, vs in vectors.items():
            s, c = nearest_same_sense(vs, labels)
            r = per_rep.setdefault(rep, {"scores": [], "chances": [], "words": {}})
            r["scores"].extend(s)
            r["chances"].extend(c)
            r["words"][entry["word"]] = round(float(s.mean()), 4)
    mean = lambda xs: round(float(np.mean(xs)), 4)  # noqa: E731
    return {
        rep: {"score": mean(r["scores"]), "chance": mean(r["chances"]), "words": r["words"]}
        for rep, r in per_rep.items()
    }


# ------------------------------------------------------------------------------------------------ readers
def bert_reader(name: str):
    """Every layer of a bundled BERT: the mean of the word's wordpiece vectors per layer."""
    import pretrain

    model = pretrain.load(name)

    def read(sentence: str, word: str) -> dict:
        tokens, states = model.hidden_states(sentence)
        pieces = model.tokenizer.encode(word, add_special_tokens=False).tokens
        at = find_word(tokens, pieces)
        return {f"{name} layer {i}": v for i, v in enumerate(states[:, at].mean(axis=1))}

    return read


def elmo_reader(name: str = "elmo"):
    """ELMo (lm.load("elmo").embed(text) -> .tokens [T] words, .layers [3, T, D], .mix() [T, D]): its three
    layers and the equal-weight scalar mix. Word tokens are matched lowercased, punctuation stripped."""
    import lm

    model = lm.load(name)

    def read(sentence: str, word: str) -> dict:
        out = model.embed(sentence)
        at = find_word([re.sub(r"\W", "", t).lower() for t in out.tokens], [word.lower()], continuation=None)
        reps = {f"elmo layer {i}": layer[at].mean(axis=0) for i, layer in enumerate(np.asarray(out.layers))}
        reps["elmo mix"] = np.asarray(out.mix())[at].mean(axis=0)
        return reps

    return read


def available() -> dict[str, Callable]:
    """Model name -> reader factory, for every model whose weights are here now."""
    found = {}
    for name in sorted(os.listdir(BERTS)):
        if os.path.isfile(os.path.join(BERTS, name, "model.weights.h5")):
            found[name] = bert_reader
    if os.path.isfile(os.path.join(ELMO, "model.weights.h5")):
        found["elmo"] = elmo_reader
    return found


# ------------------------------------------------------------------------------------------------ command
def table(results: dict) -> str:
    rows = [f"{'representation':<22} {'score':>6} {'chance':>6}"]
    rows += [f"{rep:<22} {r['score']:6.3f} {r['chance']:6.3f}" for rep, r in results.items()]
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sense_match", description=__doc__.split("\n")[0])
    p.add_argument("--models", help="comma-separated models (default: every one with weights: bundled BERTs, elmo)")
    p.add_argument("--data", default=DATA, help="the sense data set (default inside/data/senses.json)")
    p.add_argument("--out", help="also write the JSON here, e.g. bench/results/sense_match.json")
    a = p.parse_args(argv)
    found = available()
    names = a.models.split(",") if a.models else list(found)
    missing = [n for n in names if n not in found]
    if missing or not names:
        print(
            f"error: no weights for {', '.join(missing) or 'any model'}: choose from {', '.join(found)}",
            file=sys.stderr,
        )
        return 2
    words = read_data(a.data)
    results = {}
    for name in names:
        log(f"[sense_match] {name}: {sum(len(s) for w in words for s in w['senses'].values())} sentences")
        results.update(score(found[name](name), words))
    log(table(results))
    out = {
        "bench": "sense_match",
        "data": os.path.relpath(a.data, ROOT),
        "words": len(words),
        "occurrences": sum(len(s) for w in words for s in w["senses"].values()),
        "tie_tolerance": TIE,
        "results": results,
        "machine": machine(),
    }
    emit(out, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
