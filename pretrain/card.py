"""Model card (README.md) and loss-curve PNG for a trained SeqLab BERT folder."""
from __future__ import annotations

import dataclasses
import os


def plot(path: str, state: dict) -> bool:
    """Training MLM/NSP loss (window means) and validation points; False when there is nothing to plot."""
    if not state["history"]:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    h = list(zip(*state["history"]))  # step, mlm_loss, mlm_acc, nsp_loss, nsp_acc
    ax.plot(h[0], h[1], label="MLM loss (train)")
    ax.plot(h[0], h[3], label="NSP loss (train)")
    if state["validation"]:
        v = list(zip(*state["validation"]))  # step, mlm_accuracy, mlm_loss, nsp_accuracy, nsp_loss
        ax.plot(v[0], v[2], "o--", label="MLM loss (validation)")
        ax.plot(v[0], v[4], "s--", label="NSP loss (validation)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


INIT_NOTE = {
    "local": "`local`: the heads of the first half of the layers start on the neighbours i-2, i-1, i+1, i+2 "
             "(`pretrain.model.local_attention_init`); the architecture is BERT's, only the starting weights differ",
    "random": "`random`: BERT's own N(0, 0.02) for every weight",
}


EARLY_MODERN = ('bert.fill_mask("in the beginning god created the [MASK] and the earth")\n'
                'bert.next_sentence("to be, or not to be:", "that is the question")',
                "Trained on a few million words of Early Modern English (King James Bible, Shakespeare): it knows "
                "that register and little else, and its predictions carry the biases of those texts.")
OTHER = ('bert.fill_mask("the acting was [MASK] and the story was dull.")\n'
         'bert.next_sentence("I saw this film last night.", "The acting was wonderful.")',
         "Trained from scratch on `{corpus}` only: it knows that text's register and little else, and its "
         "predictions carry the biases of that text.")


def _load_name(folder: str) -> str:
    """What pretrain.load takes for this folder: a bundled model's name, else the folder as given."""
    from pretrain.api import MODELS
    inside = os.path.dirname(os.path.abspath(folder)) == os.path.abspath(MODELS)
    return os.path.basename(os.path.abspath(folder)) if inside else folder


def write(folder: str, metrics: dict, state: dict, config) -> None:
    has_plot = plot(os.path.join(folder, "loss_curve.png"), state)
    old_english = {"kjv", "shakespeare"} & set(metrics["corpus"].split(","))
    example, limits = EARLY_MODERN if old_english else OTHER
    limits = limits.format(corpus=metrics["corpus"])
    cfg = dataclasses.asdict(config)
    command = f"Command: `{metrics['command']}`"
    if metrics.get("commands"):
        command = "Commands (each resumed the one before on the same folder, at the step shown):\n" + "\n".join(
            f"  - step {step}: " + (f"`{line}`" if line else "(not recorded: made before SeqLab kept command history)")
            for step, line in metrics["commands"])
    if metrics.get("note"):  # how the run came to be where the command alone does not say (hardware, history)
        command += f"\n  - note: {metrics['note']}"
    text = f"""---
language: en
library_name: keras
tags: [bert, fill-mask, next-sentence-prediction, seqlab]
---
# SeqLab BERT ({metrics['preset']}, {cfg['num_layers']} layers, {cfg['hidden_size']} hidden)

A BERT pretrained from scratch with masked language modelling and next-sentence prediction, as in
Devlin et al. (2019), by SeqLab's `pretrain` package.

- Corpus: `{metrics['corpus']}` (10% of document groups held out for validation)
- {command}
- Steps: {metrics['steps']} (batch {metrics['batch_size']}, sequence {metrics['seq_len']}); training time
  {metrics['seconds'] / 60:.1f} minutes
- Parameters: {metrics['parameters']:,}; vocabulary {cfg['vocab_size']} WordPiece tokens (lowercase), made first by
  `python -m pretrain.vocab --corpus {metrics['corpus']} --size {cfg['vocab_size']} --out DIR` (DIR = `--vocab`)
- Initial attention: {INIT_NOTE.get(metrics.get('attention_init', 'random'), '')}
- Masking: {metrics.get('mask_rate', 0.15):.0%} of the tokens in training (80% [MASK], 10% random, 10% unchanged);
  validation always masks 15%, as BERT does

## Validation (held-out documents)

| MLM accuracy | MLM loss | NSP accuracy | NSP loss |
|---|---|---|---|
| {metrics['mlm_accuracy']:.4f} | {metrics['mlm_loss']:.4f} | {metrics['nsp_accuracy']:.4f} | {metrics['nsp_loss']:.4f} |

{"![loss curve](loss_curve.png)" if has_plot else ""}

## Use

```python
import pretrain
bert = pretrain.load("{_load_name(folder)}")   # a bundled name, a folder or a hub repo id
{example}
```

Export for Hugging Face transformers: `python -m pretrain.export --model FOLDER --out HFDIR`.

## Limits

{limits}
"""
    tmp = os.path.join(folder, ".README.md.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(folder, "README.md"))
