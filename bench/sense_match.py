"""Sense matching: does a layer's vector for an ambiguous word tell the word's senses apart?

    python -m bench.sense_match --out bench/results/sense_match.json [--models bert,bert-imdb,elmo]
    python -m bench.sense_match --first-compare --out bench/results/contexts_first_compare.json

For each occurrence of a word in inside/data/senses.json (27 words, two senses, five sentences each; the Inside
tab's reference sentences, inside.reference.SENSES) the word's vector in its sentence (the mean of its pieces'
vectors: the wordpieces that make up the word, for BERT) is compared with every other occurrence of the same
word by the Contexts view's similarity: the cosine after subtracting the layer's mean vector over the reference
set (inside.reference.similarity; the raw cosine's score is recorded beside it). The score is the fraction of
occurrences whose nearest other occurrence has the same sense; a tie counts the fraction of same-sense
occurrences among the tied nearest (within 1e-6), so a context-free layer, which gives a word one vector in every
sentence, scores exactly chance: the expected score of a random neighbour, 4/9 with five sentences a sense.

`score` is on the held-out half of the words (inside.reference.halves: the first 14); `development_score` on the
other 13, on which ELMo's scalar mix was fitted (python -m inside.mix).

Representations: every layer 0..L of each bundled BERT with weights (`pretrain.models/*`; `Pretrained.
hidden_states`, layer 0 the wordpiece embedding alone) and, once `lm/models/elmo/model.weights.h5` exists, ELMo's
three layers and its layer -1, the fitted scalar mix. The last stdout line is one JSON object
(bench.common.emit); a table goes to stderr; --out also writes the JSON. Exit 2 on a bad argument.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

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


def score(vectors_of, words: list[dict], means: dict | None = None) -> dict[str, dict]:
    """{representation: {"score", "chance", "words": {word: score}}} over `words`, for a reader's vectors:
    vectors_of[(word, sentence)] = {representation: vector of that word in that sentence}. With `means`
    ({representation: mean vector}) the vectors are centred first (inside.reference.similarity's cosine)."""
    per_rep: dict[str, dict] = {}
    for entry in words:
        labels, vectors = [], {}
        for sense, sentences in entry["senses"].items():
            for sentence in sentences:
                labels.append(sense)
                for rep, v in vectors_of[(entry["word"], sentence)].items():
                    vectors.setdefault(rep, []).append(v - means[rep] if means else v)
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
def read_model(model, label: str, words: list[dict], ref) -> tuple[dict, dict]:
    """(vectors_of, means) for one model: every layer's vector of each entry's word in each of its sentences
    (one batched pass: inside.vectors.word_vectors_many; a word's vector is its pieces' mean), and the reference
    set's mean of each layer. ELMo's layer -1 is its fitted scalar mix (lm.bilm's mix.json)."""
    from inside import vectors

    layers = reference.all_layers(model)
    names = {layer: f"{label} layer {layer}" for layer in layers}
    if label == "elmo" or not hasattr(model, "hidden_states"):
        names[-1] = f"{label} mix"
    else:
        del names[-1]  # BERT's -1 is its last layer again
    texts = [(e["word"], s) for e in words for ss in e["senses"].values() for s in ss]
    read = vectors.word_vectors_many(model, [s for _, s in texts], tuple(names))
    out = {}
    for (word, sentence), w in zip(texts, read):
        target = vectors.form(model, surface(word, sentence))
        if w.words.count(target) != 1:
            raise ValueError(f"{label} reads {word!r} {w.words.count(target)} times as a word in {sentence!r}")
        at = w.words.index(target)
        out[(word, sentence)] = {names[layer]: w.vectors[layer][at] for layer in names}
    return out, {names[layer]: ref.mean(model, layer) for layer in names}


def load(name: str):
    """A bundled model: lm.load for elmo, pretrain.load for the BERTs."""
    if name == "elmo":
        import lm

        return lm.load(name)
    import pretrain

    return pretrain.load(name)


def available() -> list[str]:
    """Every model whose weights are here now: the bundled BERTs, then elmo."""
    found = [n for n in sorted(os.listdir(BERTS)) if os.path.isfile(os.path.join(BERTS, n, "model.weights.h5"))]
    return found + (["elmo"] if os.path.isfile(os.path.join(ELMO, "model.weights.h5")) else [])


# ------------------------------------------------------------------------------------------------ first compare
OWN = (  # sentences of a visitor's own (not stored with the models): the models run on them
    "spring",
    "[season] The garden is full of flowers in spring.\n[season] Spring came early this year.\n"
    "[coil] The spring in the stapler is broken.\n[coil] He pressed the spring flat with his thumb.",
)


def first_compare(stored: bool) -> dict:
    """Seconds the Contexts view's first Compare (its first example: the heatmaps and the nearest reference
    words) takes when asked the moment the app is up, loaded as app.py loads it, with the vectors stored in the
    model folders (inside.stored, read by space.handlers.warm_reference) or without them (the models embed the
    reference set); then a Compare of sentences of one's own (OWN), and the example's again."""
    import time

    from space import handlers, models, ui
    from space.examples import CONTEXT_EXAMPLES

    registry = models.load(start_engines=False, defer_warm=True)
    ui.build(registry)
    handlers.warm_reference(registry, stored=stored)
    registry.start_background()  # then app.py logs "SeqLab ready": the Compares are asked at once
    h = handlers.Handlers(registry)
    seconds = []
    for example in (CONTEXT_EXAMPLES[0], OWN, CONTEXT_EXAMPLES[0]):
        start = time.perf_counter()
        h.nearest(h.contexts(*example))
        seconds.append(round(time.perf_counter() - start, 2))
    registry.close()  # its warm-up thread done before the process exits (a TensorFlow thread cut off aborts it)
    return {
        "stored_vectors": stored,
        "first_compare_s_after_ready": seconds[0],
        "own_sentences_s_after_ready": round(sum(seconds[:2]), 2),
        "own_sentences_s": seconds[1],
        "second_compare_s": seconds[2],
    }


# ------------------------------------------------------------------------------------------------ command
def table(results: dict) -> str:
    rows = [f"{'representation':<26} {'held-out':>8} {'chance':>6} {'dev':>6} {'raw cos':>7}"]
    for rep, r in results.items():
        dev = r["development_score"] if r["development_score"] is not None else float("nan")
        rows.append(f"{rep:<26} {r['score']:8.3f} {r['chance']:6.3f} {dev:6.3f} {r['raw_cosine_score']:7.3f}")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sense_match", description=__doc__.split("\n")[0])
    p.add_argument("--models", help="comma-separated models (default: every one with weights: bundled BERTs, elmo)")
    p.add_argument("--data", default=DATA, help="the sense data set (default inside/data/senses.json)")
    p.add_argument("--out", help="also write the JSON here, e.g. bench/results/sense_match.json")
    p.add_argument(
        "--first-compare",
        action="store_true",
        help="time the app's first Contexts Compare instead, with and without the stored vectors (two processes)",
    )
    p.add_argument("--stored", choices=("yes", "no"), help=argparse.SUPPRESS)  # one process of --first-compare
    a = p.parse_args(argv)
    if a.stored:
        print(json.dumps(first_compare(a.stored == "yes")))
        return 0
    if a.first_compare:
        import subprocess

        runs = []
        for stored in ("yes", "no"):  # a fresh process each: nothing cached from the other
            done = subprocess.run(
                [sys.executable, "-m", "bench.sense_match", "--stored", stored],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        emit({"bench": "sense_match --first-compare", "runs": runs, "machine": machine()}, a.out)
        return 0
    found = available()
    names = a.models.split(",") if a.models else found
    missing = [n for n in names if n not in found]
    if missing or not names:
        print(
            f"error: no weights for {', '.join(missing) or 'any model'}: choose from {', '.join(found)}",
            file=sys.stderr,
        )
        return 2
    words = read_data(a.data)
    dev, held = reference.halves(words)
    ref = reference.Reference.senses(a.data)
    results, raw, development = {}, {}, {}
    for name in names:
        log(f"[sense_match] {name}: {sum(len(s) for w in words for s in w['senses'].values())} sentences")
        vectors_of, means = read_model(load(name), name, words, ref)
        results.update(score(vectors_of, held, means))
        for rep, r in score(vectors_of, dev, means).items():
            development[rep] = r["score"]
        for rep, r in score(vectors_of, held).items():
            raw[rep] = r["score"]
    for rep, r in results.items():
        r["development_score"], r["raw_cosine_score"] = development.get(rep), raw[rep]
    log(table(results))
    out = {
        "bench": "sense_match",
        "data": os.path.relpath(a.data, ROOT),
        "similarity": "cosine after subtracting the reference set's mean vector per layer (inside.reference)",
        "held_out_words": [e["word"] for e in held],
        "development_words": [e["word"] for e in dev],
        "words": len(held),
        "occurrences": sum(len(s) for w in held for s in w["senses"].values()),
        "tie_tolerance": TIE,
        "results": results,
        "machine": machine(),
    }
    emit(out, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
