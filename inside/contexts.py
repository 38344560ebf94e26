"""One word in two to six sentences: how alike its vectors are across them, per representation.

    import lm, pretrain
    from inside import contexts
    reps = contexts.representations({"elmo": lm.load("elmo")}, {"bert": pretrain.load("bert")})
    c = contexts.compare("bank", ["I paid the money into the bank.", "We sat on the bank of the river."], reps)
    [(r.label, r.matrix) for r in c.representations]
    # [("static (elmo layer 0)", [[1.0, 1.0], [1.0, 1.0]]), ("elmo mix", [[1.0, 0.61], ...]), ("bert layer 4", ...)]

A context-free layer gives the word one vector in every sentence (every cosine 1); a contextual one tells the
senses apart. Each occurrence is the word's first as a whole word in its sentence (its pieces' mean for BERT).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from inside import vectors
from inside.kinds import ELMO, kind, layers

MIN_SENTENCES, MAX_SENTENCES = 2, 6


@dataclasses.dataclass
class Representation:
    """One way of reading the word: `model` at `layer` (0 static, -1 ELMo's mix or, for BERT, its last layer)."""

    label: str
    model_name: str
    model: object
    layer: int


@dataclasses.dataclass
class Compared:
    label: str
    model_name: str
    model: object
    layer: int
    matrix: list[list[float]]  # [n, n] cosine similarity of the word's vectors, sentence by sentence
    vectors: np.ndarray  # [n, D]: the word's vector in each sentence
    written: list[str]  # the word as the model read it in each sentence


@dataclasses.dataclass
class Contexts:
    word: str
    sentences: list[str]
    representations: list[Compared]


def representations(encoders: dict, berts: dict) -> list[Representation]:
    """What the Contexts view compares: the static layer (the first ELMo's layer 0, else the first BERT's),
    each ELMo's equal-weight mix of its layers, and each BERT's last layer."""
    reps = []
    static = next(iter(encoders.items()), None) or next(iter(berts.items()), None)
    if static is not None:
        reps.append(Representation(f"static ({static[0]} layer 0)", static[0], static[1], 0))
    reps += [Representation(f"{n} mix", n, m, -1) for n, m in encoders.items()]
    reps += [Representation(f"{n} layer {layers(m)}", n, m, -1) for n, m in berts.items()]
    return reps


def _contains(sentence: str, word: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", sentence, re.IGNORECASE) is not None


def check(word: str, sentences: list[str]) -> None:
    """ValueError naming the problem: not one word, too few or too many sentences, a sentence without the word."""
    if not vectors.one_word(word):
        raise ValueError(f"word must be one word of letters or digits, got {word.strip()[:40]!r}")
    if not MIN_SENTENCES <= len(sentences) <= MAX_SENTENCES:
        raise ValueError(
            f"give {MIN_SENTENCES} to {MAX_SENTENCES} sentences (one per line) that contain {word!r}; "
            f"got {len(sentences)}"
        )
    for i, sentence in enumerate(sentences):
        if not _contains(sentence, word.strip()):
            shown = sentence if len(sentence) <= 60 else sentence[:57] + "..."
            raise ValueError(f"sentence {i + 1} ({shown!r}) does not contain the word {word.strip()!r}")


def cosine_matrix(v: np.ndarray) -> np.ndarray:
    """[n, n] cosine similarities of the rows of `v` (a zero row: 0 with every other row)."""
    v = np.asarray(v, np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms > 0, norms, 1.0)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def compare(word: str, sentences: list[str], reps: list[Representation]) -> Contexts:
    """The word's vector in each sentence for each representation, and their cosine matrix. ValueError (see
    `check`) for bad input, or when a model does not read the word as one word of a sentence."""
    check(word, sentences)
    word = word.strip()
    read: dict[int, list[vectors.Words]] = {}  # one pass per model and sentence, for every layer asked of it
    for rep in reps:
        if id(rep.model) not in read:
            wanted = tuple(sorted({r.layer for r in reps if r.model is rep.model}))
            read[id(rep.model)] = [vectors.word_vectors(rep.model, s, wanted) for s in sentences]
    out = []
    for rep in reps:
        target = vectors.form(rep.model, word)
        rows, written = [], []
        for i, words in enumerate(read[id(rep.model)]):
            if target not in words.words:
                what = "words" if kind(rep.model) == ELMO else "words (wordpieces joined)"
                raise ValueError(
                    f"{rep.model_name} does not read {word!r} as one word in sentence {i + 1}: its {what} are "
                    + ", ".join(words.words[:20])
                )
            at = words.words.index(target)
            rows.append(words.vectors[rep.layer][at])
            written.append(words.written[at])
        v = np.stack(rows)
        matrix = np.round(cosine_matrix(v), 4).tolist()
        out.append(Compared(rep.label, rep.model_name, rep.model, rep.layer, matrix, v, written))
    return Contexts(word, list(sentences), out)
