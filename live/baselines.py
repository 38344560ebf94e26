"""What a model that learnt nothing scores, on the same held-out batches the live model is measured on: chance
(every token as likely) and the unigram counter (each token as often as in the training text; for MLM and NSP
also its one most frequent answer). A curve is worth watching once it is under these lines.

    import numpy as np
    from live.baselines import lm_baselines
    lm_baselines(train_ids=np.array([1, 1, 2]), targets=np.array([[1, 2]]), weights=np.ones((1, 2)), vocab_size=3)
    # {"chance_loss": 1.0986, "unigram_loss": ...}
"""

from __future__ import annotations

import math

import numpy as np


def unigram(ids: np.ndarray, vocab_size: int, skip=()) -> np.ndarray:
    """Token probabilities counted in `ids`, add-one smoothed so no held-out token has probability 0; the ids in
    `skip` (BERT's special tokens, never a prediction's answer) get none."""
    counts = np.bincount(np.asarray(ids).ravel().astype(np.int64), minlength=vocab_size)[:vocab_size] + 1.0
    counts[list(skip)] = 0.0
    return counts / counts.sum()


def cross_entropy(probs: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> float:
    """Mean -log p(target) over the weighted positions (nats)."""
    w = np.asarray(weights, np.float64)
    p = probs[np.asarray(targets)]
    logs = np.log(np.where(w > 0, p, 1.0))  # a padding slot's target (id 0) may have probability 0
    return float(-(logs * w).sum() / max(w.sum(), 1.0))


def lm_baselines(train_ids: np.ndarray, targets: np.ndarray, weights: np.ndarray, vocab_size: int) -> dict:
    """Next-token loss (nats per token) of chance and of the training text's unigram counter on held-out
    `targets` (the windows' shifted tokens, `weights` 0 on padding)."""
    return {
        "chance_loss": round(math.log(vocab_size), 5),
        "unigram_loss": round(cross_entropy(unigram(train_ids, vocab_size), targets, weights), 5),
    }


def bert_baselines(train_tokens: np.ndarray, batches: list, vocab_size: int, special_ids) -> dict:
    """MLM loss and accuracy, NSP accuracy of chance and of the counters on pretrain's held-out `batches`
    ((x, y, sample_weight) as pretrain.data.Batches makes them): the unigram counter's loss, and its most
    frequent token as every guess ("most frequent token"); NSP's counter always answers the commoner label."""
    skip = list(special_ids)
    probs = unigram(train_tokens, vocab_size, skip)
    labels = np.concatenate([y["mlm"].ravel() for _, y, _ in batches])
    weights = np.concatenate([w["mlm"].ravel() for _, _, w in batches])
    nsp = np.concatenate([y["nsp"].ravel() for _, y, _ in batches])
    top = int(np.argmax(probs))
    guessed = vocab_size - len(set(skip))
    train_nsp_share = 0.5  # pretrain.data.make_pairs draws IsNext and NotNext about equally
    return {
        "chance_mlm_loss": round(math.log(guessed), 5),
        "unigram_mlm_loss": round(cross_entropy(probs, labels, weights), 5),
        "chance_mlm_accuracy": round(1.0 / guessed, 5),
        "unigram_mlm_accuracy": round(float(((labels == top) * weights).sum() / max(weights.sum(), 1.0)), 5),
        "chance_nsp_loss": round(math.log(2), 5),
        "chance_nsp_accuracy": train_nsp_share,
        "unigram_nsp_accuracy": round(float(max(np.mean(nsp == 0), np.mean(nsp == 1))), 5),
    }
