"""A text's attention maps from a Transformer LM or a BERT, and what one token attends to most.

    import lm, pretrain
    from inside import attention
    gpt = lm.load("char-transformer")
    out = attention.attention(gpt, "ROMEO:")     # {"tokens": [...6 chars], "attention": [layers][heads][6][6]}
    out["attention"][0][0][0]                    # [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]: the first character sees itself
    m = attention.maps(pretrain.load("bert"), "the lord is my [MASK]")
    attention.focus(m.tokens, m.map(layer=3), m.tokens.index("[MASK]"))   # [("my", 0.41), ...]

Rows are queries (what attends), columns keys (what is attended to); each row sums to 1. A Transformer LM's maps
are causal (a token sees itself and the tokens before it: the upper triangle is exactly 0); BERT's see the whole
text. The maps come from `lm.inside.attention` and `pretrain.Pretrained.attention`, recomputed from each block's
own weights.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from inside.kinds import BERT, DESCRIPTION, TRANSFORMER, kind, name


@dataclasses.dataclass
class Maps:
    tokens: list[str]
    weights: np.ndarray  # [layers, heads, T, T]
    causal: bool  # True for a Transformer LM: weights above the diagonal are 0

    def map(self, layer: int, head: int | None = None) -> np.ndarray:
        """[T, T]: one layer's map (0-based) at one head, or the mean of its heads (head None)."""
        per_head = self.weights[layer]
        return per_head.mean(0) if head is None else per_head[head]


def maps(model, text: str) -> Maps:
    """Every layer's and head's attention over `text`; ValueError for a model without attention."""
    k = kind(model)
    if k == TRANSFORMER:
        from lm import inside as lm_inside

        a = lm_inside.attention(model, text)
        return Maps(list(a.tokens), np.asarray(a.weights, np.float32), True)
    if k == BERT:
        tokens, weights = model.attention(text)
        return Maps(list(tokens), np.asarray(weights, np.float32), False)
    raise ValueError(f"{name(model)} is {DESCRIPTION[k]}: it has no attention (a Transformer LM or a BERT has)")


def attention_lists(m: Maps) -> list:
    """The maps as plain nested lists [layers][heads][T][T], weights rounded to 5 decimals (so a row still sums
    to 1 within T * 5e-6, and a causal 0 stays 0)."""
    return np.round(m.weights.astype(np.float64), 5).tolist()


def attention(model, text: str) -> dict:
    """{"tokens": [...], "attention": [layers][heads][T][T]} as plain lists (see `attention_lists`)."""
    m = maps(model, text)
    return {"tokens": m.tokens, "attention": attention_lists(m)}


def focus(tokens: list[str], weights: np.ndarray, query: int, k: int = 3) -> list[tuple[str, float]]:
    """The k tokens that token `query` attends to most in one [T, T] map, as (token, weight), heaviest first."""
    row = np.asarray(weights)[query]
    best = np.argsort(-row, kind="stable")[:k]
    return [(tokens[i], float(row[i])) for i in best]
