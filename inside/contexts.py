"""One word in two to six sentences: how alike its vectors are across them, per representation.

    import lm, pretrain
    from inside import contexts
    reps = contexts.representations({"elmo": lm.load("elmo")}, {"bert": pretrain.load("bert")})
    ref = reference.Reference.senses()
    c = contexts.compare("bank", ["[money] I paid the money into the bank.", "[money] The bank lent us money.",
                                  "[river] We sat on the bank of the river.", "[river] The river burst its bank."],
                         reps, ref)
    [(r.label, r.matrix, r.separation) for r in c.representations]
    # [("static (elmo layer 0)", [[1.0, 1.0, ...], ...], 0.0), ("elmo layer 1", ...), ..., ("bert layer 4", ...)]

A context-free layer gives the word one vector in every sentence (every similarity 1); a contextual one tells the
senses apart. Each occurrence is the word's first as a whole word in its sentence (its pieces' mean for BERT).
The similarity is the cosine after removing each layer's mean vector over the reference set
(inside.reference.similarity: raw cosines of contextual vectors are all near 1). A sentence may start with its
sense in brackets ("[river] ..."); with two or more senses labelled, each representation gets one number, its
`separation`: the mean similarity of same-sense pairs minus that of cross-sense pairs (> 0: the senses come
apart).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from inside import reference, vectors
from inside.kinds import ELMO, kind, layers

MIN_SENTENCES, MAX_SENTENCES = 2, 6
LABEL = re.compile(r"^\s*\[([^\[\]]{1,40})\]\s*(.*)$")  # "[river] We sat on the bank." -> sense, sentence


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
    matrix: list[list[float]]  # [n, n] similarity of the word's vectors, sentence by sentence (centred cosine)
    vectors: np.ndarray  # [n, D]: the word's vector in each sentence
    written: list[str]  # the word as the model read it in each sentence
    separation: float | None = None  # mean same-sense minus mean cross-sense similarity; None unlabelled


@dataclasses.dataclass
class Contexts:
    word: str
    sentences: list[str]  # without their labels
    representations: list[Compared]
    senses: list[str | None] = dataclasses.field(default_factory=list)  # each sentence's label, if it has one


def representations(encoders: dict, berts: dict) -> list[Representation]:
    """What the Contexts view compares: the static layer (the first ELMo's layer 0, else the first BERT's),
    each ELMo's biLSTM layers and its fitted scalar mix (layer -1, lm.bilm's mix.json), and each BERT's last
    layer."""
    reps = []
    static = next(iter(encoders.items()), None) or next(iter(berts.items()), None)
    if static is not None:
        reps.append(Representation(f"static ({static[0]} layer 0)", static[0], static[1], 0))
    for n, m in encoders.items():
        reps += [Representation(f"{n} layer {i}", n, m, i) for i in range(1, layers(m) + 1)]
        reps.append(Representation(f"{n} mix", n, m, -1))
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
    return reference.similarity(v, 0.0)


def split_labels(lines: list[str]) -> tuple[list[str], list[str | None]]:
    """(sentences, senses): each line's "[sense]" prefix taken off (None where a line has none)."""
    sentences, senses = [], []
    for line in lines:
        m = LABEL.match(line)
        sentences.append(m.group(2).strip() if m else line)
        senses.append(m.group(1).strip().lower() if m else None)
    return sentences, senses


def separation(matrix, senses: list[str | None]) -> float | None:
    """Mean similarity of same-sense pairs minus that of cross-sense pairs, over the labelled sentences; None
    unless both kinds of pair are there."""
    m = np.asarray(matrix, np.float64)
    at = [i for i, s in enumerate(senses) if s is not None]
    same = [m[i, j] for i in at for j in at if i < j and senses[i] == senses[j]]
    cross = [m[i, j] for i in at for j in at if i < j and senses[i] != senses[j]]
    if not same or not cross:
        return None
    return round(float(np.mean(same) - np.mean(cross)), 4)


def compare(word: str, lines: list[str], reps: list[Representation], ref: reference.Reference | None = None):
    """The word's vector in each sentence for each representation, and their similarity matrix: centred on the
    reference set's mean per layer when `ref` is given (inside.reference.similarity), the raw cosine otherwise.
    Lines may carry a "[sense]" label (`split_labels`). ValueError (see `check`) for bad input, or when a model
    does not read the word as one word of a sentence."""
    sentences, senses = split_labels(lines)
    check(word, sentences)
    word = word.strip()
    read: dict[int, list[vectors.Words]] = {}  # one pass per model and sentence, for every layer asked of it
    for rep in reps:
        if id(rep.model) not in read:
            wanted = tuple(sorted({r.layer for r in reps if r.model is rep.model}))
            if ref is not None:  # its stored vectors where it has them (inside.stored), else one batched call
                read[id(rep.model)] = ref.word_vectors(rep.model, sentences, wanted)
            else:
                read[id(rep.model)] = vectors.word_vectors_many(rep.model, sentences, wanted)
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
        mean = ref.mean(rep.model, rep.layer) if ref is not None and len(ref) else 0.0
        matrix = np.round(reference.similarity(v, mean), 4).tolist()
        out.append(
            Compared(rep.label, rep.model_name, rep.model, rep.layer, matrix, v, written, separation(matrix, senses))
        )
    return Contexts(word, list(sentences), out, senses)
