"""The model's answers while it trains, from the Keras model in memory (no folder yet): BERT's top 5 for each
[MASK] of a sentence, and a sample from a language model (the same seed for every model, so two samples differ
only by what the models learnt).

    from live.probes import fill_mask, sample
    fill_mask(model, tokenizer, tokens, "the lord is my [MASK] .", seq_len=64, slots=20)  # [[("god", 0.2), ...]]
    sample(model, tokenizer, "ROMEO:", seq_len=128, new_tokens=40, seed=1)            # "ROMEO:\\nWhat ..."
"""

from __future__ import annotations

import numpy as np

TOP = 5
TEMPERATURE = 0.8


def softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def fill_mask(model, tokenizer, tokens: list[str], text: str, seq_len: int, slots: int) -> list:
    """Top-TOP (piece, probability) for each [MASK] of `text` (at most `slots`); [] when it has none."""
    from pretrain.data import pack_texts

    ids, seg = pack_texts(tokenizer, text, None, seq_len, tokens.index("[CLS]"), tokens.index("[SEP]"))
    where = np.nonzero(ids == tokens.index("[MASK]"))[0][:slots]
    if len(where) == 0:
        return []
    x = {
        "token_ids": np.zeros((1, seq_len), np.int32),
        "segment_ids": np.zeros((1, seq_len), np.int32),
        "padding_mask": np.zeros((1, seq_len), np.int32),
        "mask_positions": np.zeros((1, slots), np.int32),
    }
    x["token_ids"][0, : len(ids)], x["segment_ids"][0, : len(ids)], x["padding_mask"][0, : len(ids)] = ids, seg, 1
    x["mask_positions"][0, : len(where)] = where
    out = model(x, training=False)
    probs = softmax(np.asarray(out["mlm"], np.float64)[0, : len(where)])
    return [[(tokens[i], round(float(p[i]), 4)) for i in np.argsort(-p)[:TOP]] for p in probs]


def sample(model, tokenizer, prompt: str, seq_len: int, new_tokens: int = 40, seed: int = 0) -> str:
    """`prompt` (as given) and `new_tokens` more sampled at TEMPERATURE, each from the model's compiled forward
    pass over one window (Keras's predict function, XLA like the training step; causal, so the zeros after the
    text change nothing): it compiles once at a model's first probe, then a token takes milliseconds, where the
    eager prefill and one-token step would hold the training thread for seconds (`python -m bench.live`)."""
    ids = (tokenizer.encode(prompt) or [0])[-(seq_len - new_tokens) :]
    given = len(ids)
    rng = np.random.default_rng(seed)
    window = np.zeros((1, seq_len), np.int32)
    for _ in range(new_tokens):
        window[0, : len(ids)] = ids
        scaled = np.asarray(model.predict_on_batch(window)[0, len(ids) - 1], np.float64) / TEMPERATURE
        scaled[0] = -np.inf  # [UNK] (id 0) is no character to write
        p = softmax(scaled)
        ids.append(int(rng.choice(len(p), p=p)))
    # the prompt as typed: characters the text never had are [UNK] to the model, which decode as "\ufffd"
    return prompt + tokenizer.decode(ids[given:])
