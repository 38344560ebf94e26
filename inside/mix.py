"""ELMo's scalar mix, fitted for telling senses apart: the weights of its layer -1 (the Contexts view's and
/embed's default), stored in the model folder (lm.bilm's mix.json) and read back by every load.

    python -m inside.mix --model elmo              # fit on the development half, write lm/models/elmo/mix.json

ELMo learns its mix per task (Peters et al. 2018, section 3.2: softmax-normalised weights and a scale, trained
with the task's model). The task here is the Contexts view's: the same word in sentences of two senses. Its
score is the number the view shows under each heatmap, the mean same-sense minus mean cross-sense similarity
(inside.contexts.separation, on the centred cosine of inside.reference.similarity), averaged over the
development half of inside/data/senses.json (inside.reference.halves; bench.sense_match scores the held-out
half). The weights are searched on a grid over the simplex rather than by gradient: three layers make a
two-dimensional search that the grid covers exactly, with no learning rate to choose. The scale (gamma) is left
at 1: a cosine does not see it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

import numpy as np

from inside import contexts, reference, vectors

STEP = 20  # grid points per unit weight: weights in multiples of 0.05


def occurrences(model, words: list[dict]) -> list[tuple[list[str], np.ndarray]]:
    """Per word of `words`: its senses and its layers [n, layers + 1, D] in each of its sentences (batched)."""
    form = {e["word"]: vectors.form(model, e["word"]) for e in words}
    texts = [(e["word"], sense, s) for e in words for sense, ss in e["senses"].items() for s in ss]
    layers = tuple(range(len(reference.all_layers(model)) - 1))
    read = vectors.word_vectors_many(model, [t for _, _, t in texts], layers)
    out: dict[str, tuple[list, list]] = {}
    for (word, sense, _), w in zip(texts, read):
        at = w.words.index(form[word])
        senses, rows = out.setdefault(word, ([], []))
        senses.append(sense)
        rows.append(np.stack([w.vectors[layer][at] for layer in layers]))
    return [(senses, np.stack(rows)) for senses, rows in out.values()]


def score(weights, occ, means: np.ndarray) -> float:
    """Mean separation over the words of `occ` for the mix with these (normalised) layer weights; `means`
    [layers, D] the reference set's mean of each layer (the mix's mean is the same mix of them)."""
    w = np.asarray(weights, np.float64)
    centre = np.tensordot(w, means, axes=1)
    seps = [
        contexts.separation(reference.similarity(np.tensordot(w, rows.transpose(1, 0, 2), axes=1), centre), senses)
        for senses, rows in occ
    ]
    return float(np.mean(seps))


def fit(model, ref: reference.Reference, words: list[dict]) -> dict:
    """The grid's best normalised weights for `words` and the scores of each point ({"weights", "score",
    "equal_score", "layer_scores"}); ties go to the first point in the grid's order."""
    occ = occurrences(model, words)
    n = len(reference.all_layers(model)) - 1
    means = np.stack([ref.mean(model, layer) for layer in range(n)])
    grid = [np.array(p, np.float64) / STEP for p in itertools.product(range(STEP + 1), repeat=n) if sum(p) == STEP]
    scores = [score(w, occ, means) for w in grid]
    best = int(np.argmax(scores))
    return {
        "weights": [round(float(x), 4) for x in grid[best]],
        "score": round(scores[best], 4),
        "equal_score": round(score(np.full(n, 1 / n), occ, means), 4),
        "layer_scores": [round(score(np.eye(n)[i], occ, means), 4) for i in range(n)],
    }


def logits(weights) -> list[float]:
    """Softmax logits for normalised weights (what ELMo's mix stores; a zero weight becomes a logit of -20)."""
    w = np.asarray(weights, np.float64)
    return [round(float(x), 4) for x in np.where(w > 0, np.log(np.maximum(w, 1e-12)), -20.0)]


def main(argv=None) -> int:
    import lm
    from lm import bilm

    p = argparse.ArgumentParser(prog="python -m inside.mix", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="elmo", help="an ELMo by bundled name or folder (default elmo)")
    p.add_argument("--data", default=reference.SENSES, help="the sense data set (default inside/data/senses.json)")
    a = p.parse_args(argv)
    try:
        model = lm.load(a.model)
        if not isinstance(model, bilm.BiLanguageModel):
            raise ValueError(f"{a.model} is not an ELMo (a bilm model folder)")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dev, _ = reference.halves(reference.read_words(a.data))
    ref = reference.Reference.senses(a.data)
    found = fit(model, ref, dev)
    mix = bilm.write_mix(
        model.folder,
        logits(found["weights"]),
        1.0,
        normalised=found["weights"],
        fitted_on=f"development half of {a.data.rsplit('/', 1)[-1]}: {', '.join(e['word'] for e in dev)}",
        objective="mean same-sense minus cross-sense centred cosine (inside.contexts.separation)",
        score=found["score"],
        equal_weights_score=found["equal_score"],
        layer_scores=found["layer_scores"],
        command="python -m inside.mix --model " + a.model,
    )
    print(json.dumps(mix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
