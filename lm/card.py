"""The model card (README.md in the model folder) and its loss curve."""
from __future__ import annotations

import os


def loss_curve(history: list, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    train = [(h["step"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    val = [(h["step"], h["val_loss"]) for h in history if h.get("val_loss") is not None]
    if train:
        ax.plot(*zip(*train), label="train", alpha=0.7)
    if val:
        ax.plot(*zip(*val), label="validation", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)


def write(folder: str, name: str, config, metrics: dict) -> None:
    c = config
    size = (f"{c.layers} layers, {c.dim}-d, {c.heads} heads, {c.positions} positions" if c.arch == "transformer"
            else f"{c.layers} x {c.cell.upper()} {c.dim}")
    bpc = f" ({metrics['val_loss'] / 0.6931471805599453:.3f} bits/char)" if c.level == "char" else ""
    text = f"""---
library_name: keras
tags: [seqlab, text-generation, {c.arch}, {c.level}-level]
---
# {name}

A {c.level}-level {c.arch} language model trained by SeqLab's `lm.train`: {size}, context {c.seq_len} tokens,
vocabulary {c.vocab_size}, {metrics['parameters']:,} parameters.

| | |
|---|---|
| corpus | `{metrics['corpus']}` (validation: held-out documents, {metrics['val_tokens']:,} tokens) |
| steps | {metrics['step']:,} at batch {metrics['batch_size']} |
| training time | {metrics['seconds'] / 60:.1f} min on {metrics['machine']} |
| validation loss | {metrics['val_loss']:.4f} nats/token{bpc} |

Reproduce:

```
{metrics['command']}
```

![loss curve](loss_curve.png)
"""
    tmp = os.path.join(folder, ".tmp-README.md")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(folder, "README.md"))
