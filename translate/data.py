"""Padded id arrays and batches for translation.

    from translate import data
    train = data.encode_pairs(splits["train"], tok, max_src_len=64, max_tgt_len=64)
    train.dropped                                   # pairs left out for being too long (about 1% of web-es at 64)
    source, decoder_input, decoder_target = data.batch(train, step=1234, batch_size=64, seed=0)
    for source, decoder_input, decoder_target in data.batches(valid, 64): ...   # every pair once, for evaluation

Each pair gives three int32 rows, [PAD]=0 at the end: the source ids; decoder input = [START] + target; decoder
target = target + [END], the input shifted by one, so position t predicts target token t from tokens < t.
Widths are fixed (max_src_len, max_tgt_len; the decoder's counts [START]), so a model compiles once; there is no
length bucketing, which would give every batch its own shape. A pair that does not fit is dropped by default
(a truncated target teaches the model to stop mid-sentence and a truncated source leaves words untranslated);
`too_long="truncate"` keeps it cut instead, without [END] when the target was cut (for scoring every pair).

Batch n is a pure function of (seed, n), like lm/data.py's: the pairs are dealt out epoch by epoch, each epoch in
its own fixed permutation, so a run resumed at step n sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from translate.tokenizer import END, PAD, START


@dataclasses.dataclass
class Encoded:
    source: np.ndarray  # (N, max_src_len) int32
    decoder_input: np.ndarray  # (N, max_tgt_len) int32: [START] + target
    decoder_target: np.ndarray  # (N, max_tgt_len) int32: target + [END]
    kept: np.ndarray  # index of each row's pair in the list encoded
    dropped: int = 0  # pairs over a limit, left out (too_long="drop")
    truncated: int = 0  # pairs over a limit, cut (too_long="truncate")

    def __len__(self) -> int:
        return len(self.source)


def encode_pairs(pairs, tokenizer, max_src_len: int = 64, max_tgt_len: int = 64, too_long: str = "drop") -> Encoded:
    """Rows for pairs (with .source and .target) under a translate.tokenizer.PairTokenizer."""
    if too_long not in ("drop", "truncate"):
        raise ValueError(f"too_long must be 'drop' or 'truncate', got {too_long!r}")
    if max_src_len < 1 or max_tgt_len < 2:
        raise ValueError(f"max_src_len must be >= 1 and max_tgt_len >= 2, got {max_src_len} and {max_tgt_len}")
    sources = tokenizer.source.encode_batch([p.source for p in pairs])
    targets = tokenizer.target.encode_batch([p.target for p in pairs])
    rows, kept, dropped, truncated = [], [], 0, 0
    for i, (src, tgt) in enumerate(zip(sources, targets)):
        if len(src) > max_src_len or len(tgt) + 1 > max_tgt_len:  # the target needs room for [START] / [END]
            if too_long == "drop":
                dropped += 1
                continue
            truncated += 1
        full = tgt + [END]
        rows.append((src[:max_src_len], ([START] + tgt)[:max_tgt_len], full[:max_tgt_len]))
        kept.append(i)
    arrays = [np.full((len(rows), width), PAD, np.int32) for width in (max_src_len, max_tgt_len, max_tgt_len)]
    for r, row in enumerate(rows):
        for array, ids in zip(arrays, row):
            array[r, : len(ids)] = ids
    return Encoded(*arrays, kept=np.asarray(kept, np.int64), dropped=dropped, truncated=truncated)


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch(data: Encoded, step: int, batch_size: int, seed: int = 0):
    """(source, decoder_input, decoder_target) of training step `step`: positions step*B .. step*B+B-1 of the
    stream that deals every pair once an epoch, each epoch in the permutation drawn from (seed, epoch)."""
    n = len(data)
    if n == 0:
        raise ValueError("no encoded pairs to batch: every pair was dropped or none were given")
    if batch_size < 1 or step < 0:
        raise ValueError(f"batch_size must be >= 1 and step >= 0, got {batch_size} and {step}")
    positions = step * batch_size + np.arange(batch_size, dtype=np.int64)
    epochs = positions // n
    index = np.empty(batch_size, np.int64)
    for epoch in np.unique(epochs):  # one epoch, or two where the batch crosses a boundary
        here = epochs == epoch
        index[here] = _permutation(seed, int(epoch), n)[positions[here] % n]
    return data.source[index], data.decoder_input[index], data.decoder_target[index]


def batches(data: Encoded, batch_size: int):
    """Consecutive batches covering every row once, in order; the last is filled with all-[PAD] rows, which a
    loss masked on [PAD] targets ignores, so every batch has the same shape."""
    for start in range(0, len(data), batch_size):
        parts = []
        for array in (data.source, data.decoder_input, data.decoder_target):
            part = array[start : start + batch_size]
            if len(part) < batch_size:
                part = np.concatenate([part, np.full((batch_size - len(part), array.shape[1]), PAD, np.int32)])
            parts.append(part)
        yield tuple(parts)
