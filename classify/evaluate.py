"""Score a classifier on a data set's split: `python -m classify evaluate` (classify/cli.py).

from classify.evaluate import evaluate
evaluate("runs/sentiment-cnn", data="sentiment")     # {"accuracy": ..., "f1": ..., "examples": 1005}
"""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "validation", "test")


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, and F1 of label 1 (binary) or macro F1 over the labels."""
    labels = sorted(set(truth.tolist()) | set(predicted.tolist()))
    f1s = []
    for label in labels if len(labels) > 2 else [1]:
        tp = float(((predicted == label) & (truth == label)).sum())
        fp = float(((predicted == label) & (truth != label)).sum())
        fn = float(((predicted != label) & (truth == label)).sum())
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1.0))
    return {
        "accuracy": round(float((predicted == truth).mean()), 4),
        "f1": round(float(np.mean(f1s)), 4),
        "examples": int(len(truth)),
    }


def evaluate(model="sentiment", data: str = "sentiment", split: str = "test", seed: int = 0) -> dict:
    """Accuracy and F1 of `model` (a classify.Classifier, or a name, folder or Hub id to load) on `split` of
    `data`, drawn with `seed` as training drew it."""
    import classify
    from classify import data as datasets

    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    clf = classify.load(model) if isinstance(model, str) else model
    texts, labels, names = datasets.load(data)
    if tuple(names) != tuple(clf.labels):
        raise ValueError(f"the data's labels {list(names)} differ from the model's {list(clf.labels)}")
    rows = datasets.split(len(texts), seed)[split]
    probs = np.concatenate([clf.probabilities([texts[i] for i in rows[j : j + 256]]) for j in range(0, len(rows), 256)])
    return scores(probs.argmax(-1), labels[rows])
