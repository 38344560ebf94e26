"""Token streams and batches. Batch n is a pure function of (seed, n), so a resumed run sees exactly the
batches an uninterrupted one would have seen: the step count is the data position."""

from __future__ import annotations

import numpy as np


def encode(tokenizer, text: str) -> np.ndarray:
    return np.asarray(tokenizer.encode(text), dtype=np.int32)


def batch(tokens: np.ndarray, step: int, batch_size: int, seq_len: int, seed: int):
    """Random windows: inputs (B, T) and next-token targets (B, T)."""
    if len(tokens) < seq_len + 2:
        raise ValueError(f"the training text has {len(tokens)} tokens, fewer than --seq-len + 2 ({seq_len + 2})")
    starts = np.random.default_rng([seed, step]).integers(0, len(tokens) - seq_len - 1, batch_size)
    windows = tokens[starts[:, None] + np.arange(seq_len + 1)]
    return windows[:, :-1], windows[:, 1:]


def windows(tokens: np.ndarray, seq_len: int):
    """Consecutive windows covering every token once, for evaluation: (inputs, targets, weights)."""
    n = max(1, -(-(len(tokens) - 1) // seq_len))
    padded = np.zeros(n * seq_len + 1, np.int32)
    padded[: len(tokens)] = tokens
    inputs = padded[:-1].reshape(n, seq_len)
    targets = padded[1:].reshape(n, seq_len)
    weights = (np.arange(1, n * seq_len + 1) < len(tokens)).astype(np.float32).reshape(n, seq_len)
    return inputs, targets, weights


class Stream:
    """A text as token ids with its training batches and evaluation windows (lm.bilm.Stream is the same for the
    bidirectional LM's spelled words): what lm.train asks of its data."""

    def __init__(self, tokenizer, text: str):
        self.ids = encode(tokenizer, text)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, step: int, batch_size: int, seq_len: int, seed: int):
        return batch(self.ids, step, batch_size, seq_len, seed)

    def windows(self, seq_len: int, limit: int | None = None):
        return windows(self.ids[: seq_len * limit + 1] if limit else self.ids, seq_len)
