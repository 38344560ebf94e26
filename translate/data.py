"""Padded id arrays and batches for translation.

    from translate import data
    train = data.encode_pairs(splits["train"], tok, max_src_len=64, max_tgt_len=64)
    train.dropped                                   # pairs left out for being too long (about 1% of web-es at 64)
    source, decoder_input, decoder_target = data.batch(train, step=1234, batch_size=64, seed=0)
    data.batch(train, step=1234, batch_size=64, seed=0, window=32)  # similar lengths, cut to the longest row
    for source, decoder_input, decoder_target in data.batches(valid, 64): ...   # every pair once, for evaluation

Each pair gives three int32 rows, [PAD]=0 at the end: the source ids; decoder input = [START] + target; decoder
target = target + [END], the input shifted by one, so position t predicts target token t from tokens < t.
Rows are padded to fixed widths (max_src_len, max_tgt_len; the decoder's counts [START]). With `window` > 0 a
training batch holds pairs of similar lengths and is cut to its longest row, rounded up to a multiple of 8 (at
most 8 widths a side, which `tf.function`'s reduce_retracing soon covers with one graph): random batches (window 0) keep
all 64 columns (the longest of 64 random web-es verses is near that anyway); grouped ones average 37, which makes
the bundled Transformer's training steps 1.6x faster (`python -m bench.translate_batches`).
A pair that does not fit is dropped by default (a truncated target teaches the model to stop mid-sentence and a
truncated source leaves words untranslated);
`too_long="truncate"` keeps it cut instead, without [END] when the target was cut (for scoring every pair).

Batch n is a pure function of (seed, n), like lm/data.py's: the pairs are dealt out epoch by epoch, each epoch in
its own fixed permutation, so a run resumed at step n sees exactly the batches an uninterrupted one would have.
Grouping by length (`window` batches at a time) is the bucketing of fairseq and Marian, done the same pure way:
each epoch's permutation is cut into windows of `window` x batch_size pairs, each window sorted by length and
cut into batches, and the epoch's batches dealt in a permutation of their own (so short and long ones mix).
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
    plans: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)  # batch order per epoch

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


def batch(data: Encoded, step: int, batch_size: int, seed: int = 0, window: int = 0):
    """(source, decoder_input, decoder_target) of training step `step`. window 0: positions step*B .. step*B+B-1
    of the stream that deals every pair once an epoch, each epoch in the permutation drawn from (seed, epoch).
    window > 0: batches of similar lengths (see the module's docstring), cut to their longest row."""
    n = len(data)
    if n == 0:
        raise ValueError("no encoded pairs to batch: every pair was dropped or none were given")
    if batch_size < 1 or step < 0 or window < 0:
        raise ValueError(f"batch_size must be >= 1, step and window >= 0, got {batch_size}, {step} and {window}")
    if window and n >= batch_size:
        per_epoch = n // batch_size  # the few pairs past the last whole batch wait for another epoch's draw
        index = _grouped(data, seed, step // per_epoch, batch_size, window)[step % per_epoch]
        return trim(data.source[index], data.decoder_input[index], data.decoder_target[index])
    positions = step * batch_size + np.arange(batch_size, dtype=np.int64)
    epochs = positions // n
    index = np.empty(batch_size, np.int64)
    for epoch in np.unique(epochs):  # one epoch, or two where the batch crosses a boundary
        here = epochs == epoch
        index[here] = _permutation(seed, int(epoch), n)[positions[here] % n]
    return data.source[index], data.decoder_input[index], data.decoder_target[index]


def _grouped(data: Encoded, seed: int, epoch: int, batch_size: int, window: int) -> np.ndarray:
    """(batches, batch_size) row indices of one epoch, grouped by length; the last epoch's kept on `data`."""
    key = (seed, epoch, batch_size, window)
    if key not in data.plans:
        n = len(data)
        per_epoch = n // batch_size
        order = _permutation(seed, epoch, n)[: per_epoch * batch_size].copy()  # the permutation is cached
        length = np.maximum((data.source != PAD).sum(1), (data.decoder_target != PAD).sum(1))
        span = window * batch_size
        for start in range(0, len(order), span):  # stable: equal lengths keep the permutation's order
            part = order[start : start + span]
            order[start : start + span] = part[np.argsort(length[part], kind="stable")]
        shuffle = np.random.default_rng([seed, epoch, 1]).permutation(per_epoch)
        data.plans.clear()  # an epoch at a time: a long run never holds more than one plan
        data.plans[key] = order.reshape(per_epoch, batch_size)[shuffle]
    return data.plans[key]


def trim(source, decoder_input, decoder_target, multiple: int = 8):
    """The batch cut to its longest source and target rows, rounded up to `multiple` (never past the arrays'
    widths): only [PAD] columns go, which the models mask, so the loss is the same with less work."""

    def width(rows):
        longest = int((rows != PAD).sum(1).max(initial=1))
        return min(rows.shape[1], -(-longest // multiple) * multiple)

    s, t = width(source), width(decoder_target)
    return source[:, :s], decoder_input[:, :t], decoder_target[:, :t]


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
