"""`python -m classify evaluate --model DIR --data SPEC`: accuracy and F1 on the test split, as JSON."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, and F1 of label 1 (binary) or macro F1 over the labels."""
    labels = sorted(set(truth.tolist()) | set(predicted.tolist()))
    f1s = []
    for label in labels if len(labels) > 2 else [1]:
        tp = float(((predicted == label) & (truth == label)).sum())
        fp = float(((predicted == label) & (truth != label)).sum())
        fn = float(((predicted != label) & (truth == label)).sum())
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1.0))
    return {"accuracy": round(float((predicted == truth).mean()), 4), "f1": round(float(np.mean(f1s)), 4),
            "examples": int(len(truth))}


def main(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m classify evaluate", description=__doc__)
    p.add_argument("--model", default="sentiment")
    p.add_argument("--data", default="sentiment")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--seed", type=int, default=0, help="the split's seed (as in training)")
    args = p.parse_args(argv)
    import classify
    from classify import data

    try:
        clf = classify.load(args.model)
        texts, labels, names = data.load(args.data)
        if tuple(names) != tuple(clf.labels):
            raise ValueError(f"the data's labels {list(names)} differ from the model's {list(clf.labels)}")
        rows = data.split(len(texts), args.seed)[args.split]
        probs = np.concatenate([clf.probabilities([texts[i] for i in rows[j:j + 256]])
                                for j in range(0, len(rows), 256)])
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(scores(probs.argmax(-1), labels[rows])))
    return 0
