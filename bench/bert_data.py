"""Synthetic BERT pretraining batches (numpy only), shared by bench.bert_train, bench.peers and bench.gpu_bert.

Each row is a full-length pair [CLS] A [SEP] B [SEP] of random non-special tokens (no padding, the worst case for
both implementations), with NSP labels drawn at random and SeqLab's own dynamic masking (pretrain.data.mask_tokens:
15% of the non-special tokens, at most --max-predictions per row, 80/10/10 [MASK]/random/keep).
"""

from __future__ import annotations

import numpy as np

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4  # pretrain.vocab.SPECIALS order
N_SPECIAL = 5


def pair_batch(rng: np.random.Generator, batch: int, seq: int, vocab: int):
    """(ids, segment ids, nsp labels) for `batch` full-length pairs."""
    ids = rng.integers(N_SPECIAL, vocab, (batch, seq)).astype(np.int32)
    a_len = (seq - 3) // 2
    ids[:, 0] = CLS
    ids[:, 1 + a_len] = SEP
    ids[:, -1] = SEP
    seg = np.zeros((batch, seq), np.int32)
    seg[:, 2 + a_len :] = 1
    nsp = rng.integers(0, 2, batch).astype(np.int32)
    return ids, seg, nsp


def mlm_batch(
    rng: np.random.Generator, batch: int, seq: int, vocab: int, mask_rate: float = 0.15, max_predictions: int = 20
):
    """(x, y, sample_weight) dicts in SeqLab's BertPretrainer format (pretrain.data.Batches.batch)."""
    from pretrain.data import mask_tokens

    ids, seg, nsp = pair_batch(rng, batch, seq, vocab)
    masked, pos, labels, weights = mask_tokens(ids, rng, vocab, mask_rate, max_predictions, MASK, range(N_SPECIAL))
    x = {"token_ids": masked, "segment_ids": seg, "padding_mask": (ids != PAD).astype(np.int32), "mask_positions": pos}
    y = {"mlm": labels, "nsp": nsp}
    w = {"mlm": weights, "nsp": np.ones(batch, np.float32)}
    return x, y, w


def hf_labels(x, y, w, seq: int):
    """The same batch as Hugging Face BertForPreTraining wants it: labels [B, L] with -100 off the masked slots."""
    labels = np.full((len(y["mlm"]), seq), -100, np.int64)
    rows, slots = np.nonzero(w["mlm"])
    labels[rows, x["mask_positions"][rows, slots]] = y["mlm"][rows, slots]
    return labels
