"""A text's vectors at one layer of an ELMo or a BERT, per token (`embed`) or per word (`word_vectors`).

    import pretrain
    from inside import vectors
    bert = pretrain.load("bert")
    a = vectors.embed(bert, "the river bank", layer=0)        # {"tokens": [...], "vectors": [[...], ...]}
    b = vectors.embed(bert, "money in the bank", layer=0)
    a["vectors"][3] == b["vectors"][4]                        # True: layer 0 is context-free
    w = vectors.word_vectors(bert, "the riverbank", layers=(0, -1))
    w.words, w.vectors[-1].shape                              # ['the', 'riverbank'], (2, 224): pieces averaged

Layers: 0 is context-free (ELMo's character-CNN word encoder; BERT's wordpiece embedding alone), 1.. the
contextual layers (ELMo's biLSTM layers, BERT's blocks), -1 ELMo's scalar mix (its weights fitted for sense
matching: lm.bilm's mix.json) or BERT's last layer.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from inside.kinds import BERT, DESCRIPTION, ELMO, kind, layers, name

SPECIALS = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]")


def check_layer(model, layer: int) -> int:
    """`layer` if the model has it (-1 to its deepest), else ValueError naming the range."""
    k = kind(model)
    if k not in (ELMO, BERT):
        raise ValueError(f"{name(model)} is {DESCRIPTION[k]}: only an ELMo or a BERT gives vectors here")
    top = layers(model)
    if not -1 <= layer <= top:
        what = "the mix" if k == ELMO else "the last layer"
        raise ValueError(f"layer must be between -1 ({what}) and {top} for {name(model)}, got {layer}")
    return layer


def _elmo_layers(e) -> tuple[list[str], np.ndarray]:
    return list(e.tokens), np.concatenate([np.asarray(e.layers), np.asarray(e.mix())[None]]).astype(np.float32)


def _all_layers(model, text: str) -> tuple[list[str], np.ndarray]:
    """Tokens and [L + 1 (+ 1 for ELMo's mix, at -1), T, D]: every layer from one model pass."""
    if kind(model) == ELMO:
        return _elmo_layers(model.embed(text))
    tokens, states = model.hidden_states(text)
    return list(tokens), np.asarray(states, np.float32)


def _all_layers_many(model, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
    """`_all_layers` of each text, through the model's batched pass (ELMo's embed_many, BERT's
    hidden_states_many); a model without one is read text by text."""
    if kind(model) == ELMO and hasattr(model, "embed_many"):
        return [_elmo_layers(e) for e in model.embed_many(texts)]
    if kind(model) == BERT and hasattr(model, "hidden_states_many"):
        return [(list(t), np.asarray(s, np.float32)) for t, s in model.hidden_states_many(texts)]
    return [_all_layers(model, text) for text in texts]


def vectors(model, text: str, layer: int = -1) -> tuple[list[str], np.ndarray]:
    """The model's tokens for `text` and their vectors [T, D] at `layer` (see the module's docstring)."""
    check_layer(model, layer)
    if kind(model) == ELMO:
        e = model.embed(text)
        return list(e.tokens), np.asarray(e.vectors(layer), np.float32)
    tokens, states = model.hidden_states(text)
    return list(tokens), np.asarray(states[layer], np.float32)


def _short(values: np.ndarray) -> list:
    """Floats kept to 6 significant digits: a plain nested list half the size in JSON, and equal vectors stay
    equal."""
    return [[float(f"{v:.6g}") for v in row] for row in np.asarray(values, np.float64)]


def embed(model, text: str, layer: int = -1) -> dict:
    """{"tokens": [...], "vectors": [[...], ...]}: one plain list of floats per token (6 significant digits)."""
    tokens, v = vectors(model, text, layer)
    return {"tokens": tokens, "vectors": _short(v)}


@dataclasses.dataclass
class Words:
    """A text's words as a model reads them: `words` lowercased (BERT's wordpieces joined, ## dropped) with what the
    text wrote (`written`), and per asked layer [W, D] (a word's vector: the mean of its pieces')."""

    words: list[str]
    written: list[str]
    vectors: dict[int, np.ndarray]


def _is_word(piece: str) -> bool:
    return any(c.isalnum() for c in piece)


def word_vectors(model, text: str, layers: tuple[int, ...] = (0, -1)) -> Words:
    """The words of `text` (punctuation and BERT's special tokens left out) and their vectors at each of
    `layers`, all from one pass of the model."""
    for layer in layers:
        check_layer(model, layer)
    return _words(model, *_all_layers(model, text), layers)


def word_vectors_many(model, texts: list[str], layers: tuple[int, ...] = (0, -1)) -> list[Words]:
    """`word_vectors` of each text, batched (what a reference set of hundreds of sentences is embedded with)."""
    for layer in layers:
        check_layer(model, layer)
    return [_words(model, tokens, states, layers) for tokens, states in _all_layers_many(model, texts)]


def _words(model, tokens: list[str], states: np.ndarray, layers: tuple[int, ...]) -> Words:
    if kind(model) == ELMO:
        keep = [i for i, t in enumerate(tokens) if _is_word(t)]
        return Words(
            [tokens[i].lower() for i in keep],
            [tokens[i] for i in keep],
            {layer: states[layer][keep] for layer in layers},
        )
    groups: list[list[int]] = []  # BERT: a word is its first piece and the ## pieces after it
    for i, t in enumerate(tokens):
        if t in SPECIALS:
            groups.append([])
        elif t.startswith("##") and groups and groups[-1]:
            groups[-1].append(i)
        else:
            groups.append([i])
    groups = [g for g in groups if g and _is_word("".join(tokens[i] for i in g))]
    joined = ["".join(tokens[i].removeprefix("##") for i in g) for g in groups]
    return Words(
        joined,
        joined,
        {
            layer: np.stack([states[layer][g].mean(0) for g in groups]) if groups else states[layer][:0]
            for layer in layers
        },
    )


def form(model, word: str) -> str:
    """How `model` writes `word` among `word_vectors(...).words`: lowercased for ELMo; BERT's normalised pieces
    joined (accents stripped), so "Café" is "cafe"."""
    word = word.strip()
    if kind(model) == BERT:
        return "".join(p.removeprefix("##") for p in model.tokenizer.encode(word, add_special_tokens=False).tokens)
    return word.lower()


def one_word(word: str) -> bool:
    """Whether `word` is one word for every model: letters and digits only (BERT splits at an apostrophe or a
    hyphen)."""
    return bool(re.fullmatch(r"[^\W_]+", word.strip()))
