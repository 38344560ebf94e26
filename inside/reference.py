"""A fixed reference set of sentences, embedded once per model (batched; `warm` at start-up): the words nearest to
a vector, and each layer's mean vector, which the Contexts view's similarity removes.

    import pretrain
    from inside import reference, vectors
    bert = pretrain.load("bert")
    ref = reference.Reference.senses()   # the 270 sentences of inside/data/senses.json (27 ambiguous words)
    w = vectors.word_vectors(bert, "We sat on the bank of the river.", layers=(0, -1))
    ref.nearest(bert, -1, w.vectors[-1][w.words.index("bank")], k=3)
    # [Neighbour("bank (river)", 0.93, "We spread a blanket on the grassy bank and watched the ducks."), ...]

Every word of every sentence is a reference occurrence; an ambiguous word in a sentence written for one of its
senses is labelled with that sense ("bank (river)"). `nearest` gives the k nearest distinct labels by centred
cosine similarity (`similarity`), each with its nearest occurrence's similarity and sentence: for a context-free
layer every occurrence of a word ties, so both senses come out at the same similarity; for a contextual layer the
sense of the sentence comes first. Vectors are cached per model for every layer (one batched pass over the set:
vectors.word_vectors_many), behind a lock, so concurrent first requests embed the set once; `load` reads them
from a model folder's stored file instead (inside.stored: the set's and the app's examples' vectors, no model
run), which `word_vectors` then answers the examples from.

Why centred: the raw cosine of contextual vectors is dominated by a direction every token shares (they are
anisotropic: Ethayarajh 2019, "How contextual are contextualized word representations?"), so every pair of
occurrences comes out at 0.9+ and the senses hide in the last digits. The standard first fix is to subtract the
mean vector of a reference corpus, per layer, before the cosine (Mu and Viswanath 2018, "All-but-the-top", whose
first step this is; its second, projecting out the top principal directions, is left out, so what is removed
is one vector per layer). The mean is taken over every word of the reference set, whatever its sense, so it
needs no labels; `python -m bench.sense_match` scores the layers with the same similarity.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading

import numpy as np

from inside import kinds, stored, vectors

# Sentences written for this (27 ambiguous words, two senses, five sentences each); bench/sense_match.py scores
# the models' layers on the same set.
SENSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "senses.json")
# The words of senses.json that bench.sense_match scores on (held out), the rest are the development half that
# ELMo's scalar mix is fitted on (inside.mix). The first ones are held out: the app's Contexts examples (bank,
# light, spring) open the list, so the mix was not chosen on the words a visitor sees first.
HELD_OUT = 14


def read_words(path: str = SENSES) -> list[dict]:
    """The sense data set's entries: [{"word", "senses": {name: [sentences]}}]."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)["words"]


def halves(words: list[dict]) -> tuple[list[dict], list[dict]]:
    """(development, held-out) words of the sense data set."""
    return words[HELD_OUT:], words[:HELD_OUT]


def all_layers(model) -> tuple[int, ...]:
    """Every layer a model's vectors have: 0..L and -1 (ELMo's mix; BERT's last layer again)."""
    return (*range(kinds.layers(model) + 1), -1)


def unit(v: np.ndarray) -> np.ndarray:
    """Rows of `v` scaled to length 1 (a zero row stays 0)."""
    v = np.asarray(v, np.float64)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def similarity(v: np.ndarray, mean) -> np.ndarray:
    """[n, n] cosine similarities of the rows of `v` after subtracting `mean` (see the module's docstring)."""
    u = unit(np.asarray(v, np.float64) - np.asarray(mean, np.float64))
    return np.clip(u @ u.T, -1.0, 1.0)


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
        self._tables: dict[int, tuple] = {}  # id(model) -> (model, labels, sentence index, {layer: unit rows},
        # {layer: mean vector})
        self._stored: dict[int, tuple] = {}  # id(model) -> (model, {sentence: Words}) read from its folder

    @classmethod
    def senses(cls, path: str = SENSES, per_sense: int | None = None) -> Reference:
        """The sentences of the sense-matching data set ({"words": [{"word", "senses": {name: [sentences]}}]}):
        all of them, or the first `per_sense` of each sense (fewer to embed on first use)."""
        sentences, senses = [], []
        for entry in read_words(path):
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

    def _table(self, model, layer: int | None = None):
        with self._lock:
            cached = self._tables.get(id(model))
            if cached is not None and cached[0] is model and (layer is None or layer in cached[3]):
                return cached
            layers = all_layers(model)  # every layer: one pass of the model gives them all
            read = vectors.word_vectors_many(model, self.sentences, layers)
            self._tables[id(model)] = cached = self._build(model, read, layers)
            return cached

    def _build(self, model, read: list[vectors.Words], layers) -> tuple:
        labels, where = [], []
        for i, words in enumerate(read):
            for word in words.words:
                sense = self.senses[i].get(word)
                labels.append(f"{word} ({sense})" if sense else word)
                where.append(i)
        means, units = {}, {}
        for layer in layers:
            v = np.concatenate([np.asarray(w.vectors[layer], np.float64) for w in read]) if read else np.zeros((0, 1))
            means[layer] = v.mean(axis=0) if len(v) else np.zeros(kinds.width(model))
            units[layer] = unit(v - means[layer]).astype(np.float32)
        return model, labels, np.asarray(where), units, means

    def warm(self, models) -> None:
        """Embed the set for each model now (what the first Contexts request would otherwise wait for)."""
        for model in models:
            self._table(model)

    def load(self, models) -> list:
        """Read each model's stored vectors of the set and of the app's examples (inside.stored: no model runs),
        where its folder has a file written for its weights and these sentences; the models it did for."""
        done = []
        for model in models:
            found = stored.read(model, self.sentences) if hasattr(model, "folder") else None
            if found is None:
                continue
            with self._lock:
                self._stored[id(model)] = (model, found)
                layers = tuple(found[self.sentences[0]].vectors) if self.sentences else ()
                self._tables[id(model)] = self._build(model, [found[s] for s in self.sentences], layers)
            done.append(model)
        return done

    def _from_store(self, model, sentences: list[str], layers) -> list[vectors.Words] | None:
        kept = self._stored.get(id(model))
        if kept is None or kept[0] is not model or not all(s in kept[1] for s in sentences):
            return None
        found = [kept[1][s] for s in sentences]
        return found if all(layer in found[0].vectors for layer in layers) else None

    def is_stored(self, model, sentences: list[str], layers) -> bool:
        """Whether `word_vectors` answers these sentences at these layers from the stored vectors (no model
        runs: nothing to compile)."""
        return not sentences or self._from_store(model, sentences, layers) is not None

    def word_vectors(self, model, sentences: list[str], layers) -> list[vectors.Words]:
        """inside.vectors.word_vectors_many of the sentences: the stored vectors when all are stored, else one
        batched pass of the model."""
        found = self._from_store(model, sentences, layers) if sentences else None
        return found if found is not None else vectors.word_vectors_many(model, sentences, tuple(layers))

    def mean(self, model, layer: int) -> np.ndarray:
        """The mean vector of every reference occurrence at `layer`: what `similarity` subtracts."""
        return self._table(model, self._check(model, layer))[4][layer]

    def _check(self, model, layer: int) -> int:
        if layer not in all_layers(model):
            raise ValueError(f"the reference set holds layers {all_layers(model)}, not {layer}")
        return layer

    def nearest(self, model, layer: int, vector, k: int = 3) -> list[Neighbour]:
        """The k nearest distinct labels to `vector` among the reference occurrences at `layer`, by centred
        cosine similarity."""
        self._check(model, layer)
        if not self.sentences:
            return []
        _, labels, where, units, means = self._table(model, layer)
        v = unit(np.asarray(vector, np.float64) - means[layer]).astype(np.float32)
        sims = units[layer] @ v
        found: dict[str, Neighbour] = {}
        for i in np.argsort(-sims, kind="stable"):
            if labels[i] not in found:
                found[labels[i]] = Neighbour(labels[i], round(float(sims[i]), 4), self.sentences[where[i]])
                if len(found) == k:
                    break
        return list(found.values())
