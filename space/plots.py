"""Pictures the app draws server-side (matplotlib): one attention heatmap for every view that shows attention.

    fig = attention_heatmap(weights, rows=["▁el", "▁gato"], columns=["▁the", "▁cat"], title="cross-attention")

Rows are what attends (target tokens), columns what is attended to (source tokens); each row sums to 1. The
figure is sized for a phone-width screen: at most ~6.5 inches wide, labels shrink as the tokens grow in number.
"""

from __future__ import annotations

import numpy as np


def _label(piece: str) -> str:
    """A subword as a reader sees it: SentencePiece's "▁" (a space before) shown as a leading space."""
    return piece.replace("▁", " ").strip() or "␣"


def attention_heatmap(weights, rows: list[str], columns: list[str], title: str = ""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = np.asarray(weights, np.float32)
    if weights.shape != (len(rows), len(columns)):
        raise ValueError(f"attention of shape {weights.shape} does not match {len(rows)} x {len(columns)} tokens")
    width = min(6.5, 1.2 + 0.28 * len(columns))
    height = min(8.0, 1.0 + 0.26 * len(rows))
    size = 9 if max(len(rows), len(columns)) < 25 else 7
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=max(1e-6, float(weights.max())), aspect="auto")
    ax.set_xticks(range(len(columns)), [_label(c) for c in columns], rotation=90, fontsize=size)
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows], fontsize=size)
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=10, pad=4)
    fig.tight_layout()
    plt.close(fig)  # Gradio renders the figure object; pyplot need not keep it
    return fig
