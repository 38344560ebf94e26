"""Pictures the app draws server-side (matplotlib), sized for a phone-width screen (at most ~6.5 inches wide,
labels shrinking as the tokens grow in number). The handlers hand them plain arrays; nothing here computes.

    fig = attention_heatmap(weights, rows=["▁el", "▁gato"], columns=["▁the", "▁cat"], title="cross-attention")
    fig = similarity_heatmap([[1, 0.4], [0.4, 1]], ["1", "2"], title="elmo mix")
    fig = gates_heatmap({"forget": f, "input": i, "output": o}, rows=["layer 0 unit 54"], columns=list("ROMEO:"))

`attention_heatmap` is every attention map of the app (the Translate tab's cross-attention, the Inside tab's
self-attention): rows are what attends (queries, target tokens), columns what is attended to (keys, source
tokens); each row sums to 1, and a causal map's upper triangle is left white (0).
"""

from __future__ import annotations

import numpy as np

MAX_WIDTH = 6.5  # inches at 100 dpi: a phone shows the whole figure scaled, not cut
LABEL_SIZE = 7  # points: the smallest axis label drawn (a phone shows a 6.5-inch figure at about 0.55x)
LABEL_SPACING = 1.35  # a label's slot along its axis, in font sizes: a line's height with a little air


def fitting(count: int, length_in: float, size: float = LABEL_SIZE) -> int:
    """How many labels of `size` points fit side by side along an axis `length_in` inches long (at least 1)."""
    return max(1, min(count, int(length_in * 72 / (size * LABEL_SPACING))))


def _ticks(ax_set, tokens: list[str], size: float, length_in: float, **kw) -> None:
    """Label every token if all fit at `size`, else every k-th: labels never overlap and never shrink below
    LABEL_SIZE (56 labels 5 points tall cannot be read)."""
    step = max(1, -(-len(tokens) // fitting(len(tokens), length_in, size)))
    at = range(0, len(tokens), step)
    ax_set(at, [_label(tokens[i]) for i in at], fontsize=size, **kw)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(piece: str) -> str:
    """A token as a reader sees it: SentencePiece's "▁" (a space before) as a leading space, trimmed; a
    character model's space, newline and tab as ␣, ⏎ and ⇥."""
    if piece in ("\n", "\r\n"):
        return "⏎"
    if piece == "\t":
        return "⇥"
    return piece.replace("▁", " ").strip() or "␣"


def _finish(fig, plt):
    fig.tight_layout()
    plt.close(fig)  # Gradio renders the figure object; pyplot need not keep it
    return fig


def attention_heatmap(weights, rows: list[str], columns: list[str], title: str = "", vmax: float | None = None):
    """`vmax`: the weight drawn darkest (default the largest); larger ones are drawn as dark."""
    plt = _pyplot()
    weights = np.asarray(weights, np.float32)
    if weights.shape != (len(rows), len(columns)):
        raise ValueError(f"attention of shape {weights.shape} does not match {len(rows)} x {len(columns)} tokens")
    cell = min(0.28, (MAX_WIDTH - 1.2) / max(1, len(columns)), 7.0 / max(1, len(rows)))  # square cells
    width, height = max(3.8, 1.2 + cell * len(columns)), 1.0 + cell * len(rows)  # 3.8: room for the title
    most = max(len(rows), len(columns))
    size = 9 if most < 25 else LABEL_SIZE
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    top = float(weights.max()) if vmax is None else float(vmax)
    ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=max(1e-6, top), aspect="auto")
    _ticks(ax.set_xticks, columns, size, cell * len(columns), rotation=90)
    _ticks(ax.set_yticks, rows, size, cell * len(rows))
    ax.xaxis.tick_top()
    ax.set_title(title, fontsize=10, pad=4)
    return _finish(fig, plt)


def similarity_heatmap(matrix, labels: list[str], title: str = "", note: str = ""):
    """A square similarity matrix, each cell written out; colours from 0 (white; below 0 too) to 1 (dark).
    `note` is written under it (the Contexts view's separation of the senses)."""
    plt = _pyplot()
    matrix = np.asarray(matrix, np.float32)
    n = len(labels)
    if matrix.shape != (n, n):
        raise ValueError(f"similarity of shape {matrix.shape} does not match {n} labels")
    side = min(3.4, 1.3 + 0.36 * n)
    fig, ax = plt.subplots(figsize=(side, side), dpi=100)
    ax.imshow(matrix, cmap="YlGnBu", vmin=0.0, vmax=1.0)
    size = 9 if n <= 4 else 8
    for i in range(n):
        for j in range(n):
            value = float(matrix[i, j])
            ax.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=size, color="white" if value > 0.6 else "black"
            )
    ax.set_xticks(range(n), labels, fontsize=9)
    ax.set_yticks(range(n), labels, fontsize=9)
    ax.set_title(title, fontsize=10, pad=4)
    if note:
        ax.set_xlabel(note, fontsize=9)
    return _finish(fig, plt)


def gates_heatmap(gates: dict, rows: list[str], columns: list[str], title: str = ""):
    """One panel per gate (rows x characters), values in (0, 1): yellow = open (1), dark = shut (0)."""
    plt = _pyplot()
    names = list(gates)
    arrays = [np.asarray(gates[g], np.float32) for g in names]
    for name, a in zip(names, arrays):
        if a.shape != (len(rows), len(columns)):
            raise ValueError(f"{name} gate of shape {a.shape} does not match {len(rows)} x {len(columns)}")
    panel = 0.55 + 0.18 * len(rows)
    height = 0.6 + panel * len(names)
    fig, axes = plt.subplots(len(names), 1, figsize=(MAX_WIDTH, height), dpi=100, squeeze=False)
    size = 8 if len(columns) <= 40 else LABEL_SIZE
    image = None
    for ax, name, a in zip(axes[:, 0], names, arrays):
        image = ax.imshow(a, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        _ticks(ax.set_xticks, columns, size, MAX_WIDTH * 0.79, family="monospace")
        ax.tick_params(axis="x", length=0, pad=1)
        ax.set_title(f"{name} gate", fontsize=9, pad=2, loc="left")
    if title:
        fig.suptitle(title, fontsize=10)
    # margins by hand (tight_layout does not place a colour bar's own axes)
    fig.subplots_adjust(left=0.11, right=0.9, top=1 - 0.45 / height, bottom=0.25 / height, hspace=0.55 / panel)
    if image is not None:
        fig.colorbar(image, cax=fig.add_axes((0.92, 0.2, 0.015, 0.6)))
    plt.close(fig)
    return fig
