"""An LSTM LM's gates over a text, and the cells that track the text's layout (Karpathy-style).

    import lm
    from inside import cells
    rnn = lm.load("char-lstm")
    view = cells.gate_view(rnn, "ROMEO:\\nBut soft, what light\\nthrough yonder window breaks?\\n")
    [(c.feature, c.layer, c.unit, round(c.correlation, 2)) for c in view.cells]   # [("line position", 0, 54, 0.9), ...]
    view.rows, view.gates["forget"].shape        # ['L0 u54', ..., 'L0 mean', 'L1 mean'], (rows, T)

For each layout feature the text has (lm.inside.features: line position, end of line coming, speech turn, inside
quotes) the cell whose state c_t correlates best with it over this text (lm.inside.find_cells); the gate rows
are those cells' input, forget and output gates, then each layer's mean over all its units.
"""

from __future__ import annotations

import dataclasses

import numpy as np

GATES = ("forget", "input", "output")


@dataclasses.dataclass
class Cell:
    feature: str
    layer: int
    unit: int
    correlation: float  # Pearson's r of c_t with the feature over the text
    values: np.ndarray  # [T]: c_t, character by character


@dataclasses.dataclass
class GateView:
    tokens: list[str]  # the characters
    cells: list[Cell]  # one per feature, best first
    rows: list[str]  # what each gate row is: a cell ("L0 u54": layer 0, unit 54) or a layer's mean ("L0 mean")
    gates: dict[str, np.ndarray]  # gate -> [rows, T], each in (0, 1)


def gate_view(lm_model, text: str, top: int = 1) -> GateView:
    """The gates and the tracking cells of a character-level LSTM LM over `text` (ValueError otherwise)."""
    from lm import inside as lm_inside

    g = lm_inside.gates(lm_model, text)
    found = lm_inside.find_cells(lm_model, text, top=top) if len(g.tokens) > 1 else {}
    cells = [
        Cell(feature, layer, unit, corr, g.cell[layer, :, unit])
        for feature, picks in found.items()
        for layer, unit, corr in picks
    ]
    cells.sort(key=lambda c: -abs(c.correlation))
    units = list(dict.fromkeys((c.layer, c.unit) for c in cells))
    layers = g.cell.shape[0]
    rows = [f"L{layer} u{unit}" for layer, unit in units] + [f"L{layer} mean" for layer in range(layers)]
    gates = {}
    for gate in GATES:
        values = getattr(g, gate)  # [layers, T, units]
        picked = [values[layer, :, unit] for layer, unit in units]
        gates[gate] = np.stack(picked + [values[layer].mean(-1) for layer in range(layers)])
    return GateView(list(g.tokens), cells, rows, gates)
