"""`python -m lm.evaluate`: mean cross-entropy of a model on a text file, in windows of its context.

    python -m lm.evaluate --model char-transformer --data macbeth.txt

The last line on stdout is one JSON object: loss (nats/token), tokens, perplexity, and bits_per_char for a
character-level model; for a bidirectional one (`--arch bilm`) the forward and backward loss and perplexity.
"""

from __future__ import annotations

import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from core import cli  # noqa: E402


def mean_loss(model, inputs, targets, weights, batch: int = 16) -> float:
    """Mean next-token cross-entropy (nats) over the weighted positions."""
    from keras import ops

    total, count = 0.0, 0.0
    for i in range(0, len(inputs), batch):
        logits = ops.convert_to_numpy(model(inputs[i : i + batch], training=False)).astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = np.take_along_axis(log_probs, targets[i : i + batch][..., None], -1)[..., 0]
        total -= float((picked * weights[i : i + batch]).sum())
        count += float(weights[i : i + batch].sum())
    return total / max(count, 1.0)


def evaluate(model, text: str) -> dict:
    from lm import data

    if model.config.arch == "bilm":
        return _evaluate_bilm(model, text)
    tokens = data.encode(model.tokenizer, text)
    if len(tokens) < 2:
        raise ValueError("the text file needs at least two tokens to evaluate")
    loss = mean_loss(model.model, *data.windows(tokens, model.context_length))
    result = {"loss": round(loss, 5), "tokens": int(len(tokens) - 1), "perplexity": round(math.exp(loss), 4)}
    if model.config.level == "char":
        result["bits_per_char"] = round(loss / math.log(2), 5)
    return result


def _evaluate_bilm(model, text: str) -> dict:
    """A bidirectional LM: each direction's loss and perplexity (forward predicts the next word, backward the
    previous one), and their mean."""
    from lm import bilm

    words = bilm.Stream(model.tokenizer, text, model.config.inputs)
    if len(words) < 2:
        raise ValueError("the text file needs at least two words to evaluate")
    losses = bilm.direction_losses(model.model, *words.windows(model.context_length))
    result = {"tokens": int(len(words) - 1)}
    for side in ("forward", "backward"):
        loss = losses[f"val_loss_{side}"]
        result |= {f"{side}_loss": round(loss, 5), f"{side}_perplexity": round(math.exp(loss), 4)}
    result["loss"] = round(losses["val_loss"], 5)
    return result


def main(argv=None) -> int:
    p = cli.parser("python -m lm.evaluate", __doc__)
    p.add_argument("--model", required=True, help="bundled name, model folder or Hub repo id")
    p.add_argument("--data", required=True, help="the text file to evaluate on")
    return cli.run(p, argv, _evaluate)


def _evaluate(args) -> dict:
    import corpus
    import lm

    return evaluate(lm.load(args.model), corpus.read_text(args.data))


if __name__ == "__main__":
    sys.exit(main())
