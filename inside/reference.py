"""A fixed reference set of sentences, embedded once per model (on first use): the words nearest to a vector.

    import pretrain
    from inside import reference, vectors
    bert = pretrain.load("bert")
    ref = reference.Reference.senses(per_sense=2)   # sentences of inside/data/senses.json (27 ambiguous words)
    w = vectors.word_vectors(bert, "We sat on the bank of the river.", layers=(0, -1))
    ref.nearest(bert, -1, w.vectors[-1][w.words.index("bank")], k=3)
    # [Neighbour("bank (river)", 0.93, "We spread a blanket on the grassy bank and watched the ducks."), ...]

Every word of every sentence is a reference occurrence; an ambiguous word in a sentence written for one of its
senses is labelled with that sense ("bank (river)"). `nearest` gives the k nearest distinct labels by cosine
similarity, each with its nearest occurrence's similarity and sentence: for a context-free layer every
occurrence of a word ties, so both senses come out at the same similarity; for a contextual layer the sense of
the sentence comes first. Vectors are cached per model and layer (layers 0 and -1 together, one pass per
sentence), behind a lock, so concurrent first requests embed the set once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading

import numpy as np

from inside import vectors

# Sentences written for this (27 ambiguous words, two senses, five sentences each); bench/sense_match.py scores
# the models' layers on the same set.
SENSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "senses.json")
LAYERS = (0, -1)  # what the Contexts view compares: the static layer and the mix / last layer


@dataclasses.dataclass
class Neighbour:
    label: str  # the word, with its sense when the sentence was written for one ("bank (river)")
    similarity: float  # cosine similarity of its nearest occurrence
    sentence: str  # that occurrence's sentence


class Reference:
    """Reference `sentences`, and for each the {word: sense} it was written to show (lowercased words)."""

    def __init__(self, sentences: list[str], senses: list[dict[str, str]] | None = None):
        self.sentences = list(sentences)
        self.senses = [dict(s) for s in senses] if senses is not None else [{} for _ in self.sentences]
        if len(self.senses) != len(self.sentences):
            raise ValueError(f"{len(self.sentences)} sentences but {len(self.senses)} sense labels")
        self._lock = threading.Lock()
        self._tables: dict[int, tuple] = {}  # id(model) -> (model, labels, sentence index, {layer: unit rows})

    @classmethod
    def senses(cls, path: str = SENSES, per_sense: int | None = None) -> Reference:
        """The sentences of the sense-matching data set ({"words": [{"word", "senses": {name: [sentences]}}]}):
        all of them, or the first `per_sense` of each sense (fewer to embed on first use)."""
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)["words"]
        sentences, senses = [], []
        for entry in entries:
            for sense, examples in entry["senses"].items():
                for sentence in examples[:per_sense]:
                    sentences.append(sentence)
                    senses.append({entry["word"].lower(): sense})
        return cls(sentences, senses)

    def __len__(self) -> int:
        return len(self.sentences)

    def ready(self, model) -> bool:
        """Whether `model`'s vectors of the set are computed (the next `nearest` is quick)."""
        cached = self._tables.get(id(model))
        return cached is not None and cached[0] is model

    def _table(self, model):
        with self._lock:
            cached = self._tables.get(id(model))
            if cached is not None and cached[0] is model:
                return cached
            labels, where, rows = [], [], {layer: [] for layer in LAYERS}
            for i, sentence in enumerate(self.sentences):
                words = vectors.word_vectors(model, sentence, LAYERS)
                for j, word in enumerate(words.words):
                    sense = self.senses[i].get(word)
                    labels.append(f"{word} ({sense})" if sense else word)
                    where.append(i)
                    for layer in LAYERS:
                        rows[layer].append(words.vectors[layer][j])
            units = {}
            for layer, vs in rows.items():
                v = np.asarray(vs, np.float32)
                norms = np.linalg.norm(v, axis=1, keepdims=True)
                units[layer] = v / np.where(norms > 0, norms, 1.0)
            self._tables[id(model)] = cached = (model, labels, np.asarray(where), units)
            return cached

    def nearest(self, model, layer: int, vector, k: int = 3) -> list[Neighbour]:
        """The k nearest distinct labels to `vector` among the reference occurrences at `layer` (0 or -1)."""
        if layer not in LAYERS:
            raise ValueError(f"the reference set holds layers {LAYERS}, not {layer}")
        if not self.sentences:
            return []
        _, labels, where, units = self._table(model)
        v = np.asarray(vector, np.float32)
        norm = float(np.linalg.norm(v))
        sims = units[layer] @ (v / norm if norm > 0 else v)
        found: dict[str, Neighbour] = {}
        for i in np.argsort(-sims, kind="stable"):
            if labels[i] not in found:
                found[labels[i]] = Neighbour(labels[i], round(float(sims[i]), 4), self.sentences[where[i]])
                if len(found) == k:
                    break
        return list(found.values())
