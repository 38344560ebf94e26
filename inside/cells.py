"""An LSTM LM's gates over a text, and the cells that track the text's layout (Karpathy-style).

    import lm
    from inside import cells
    rnn = lm.load("char-lstm")
    view = cells.gate_view(rnn, "ROMEO:\\nBut soft, what light\\nthrough yonder window breaks?\\n")
    [(c.feature, c.layer, c.unit, round(c.correlation, 2)) for c in view.cells]   # [("line position", 0, 54, 0.9), ...]
    view.rows, view.gates["forget"].shape        # ['L0 u54', ..., 'L0 mean', 'L1 mean'], (rows, T)

For each layout feature the text has (lm.inside.features: line position, end of line coming, speech turn, inside
quotes) a cell whose state c_t follows it, with its correlation over this text: the cell found on held-out plays
(`python -m inside.cells`, recorded in bench/results/lstm_cells.json) where the record has the model and the
feature, else the cell that correlates best over this text (lm.inside.find_cells). The held-out cell comes first:
a few lines are too short a text to find a cell by, since line position and the line's end coming are nearly
mirror images within a line, so on a short text one cell can fit either (on the view's example the search picks
layer 0 unit 54, the held-out line-position cell, for "end of line coming"). The gate rows are those cells'
input, forget and output gates, then each layer's mean over all its units.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

GATES = ("forget", "input", "output")
RECORD = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "results", "lstm_cells.json"
)
HELD_OUT = "held-out plays"  # the record's key for the cells found on held-out text


def heldout_cells(model_name: str, path: str = RECORD) -> dict[str, tuple[int, int]]:
    """{feature: (layer, unit)}: the best cell per feature on held-out plays, as recorded for `model_name` ({} when
    the record is missing or is of another model)."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    if record.get("model") != model_name:
        return {}
    return {feature: (picks[0]["layer"], picks[0]["unit"]) for feature, picks in record.get(HELD_OUT, {}).items()}


@dataclasses.dataclass
class Cell:
    feature: str
    layer: int
    unit: int
    correlation: float  # Pearson's r of c_t with the feature over the text
    values: np.ndarray  # [T]: c_t, character by character
    held_out: bool = False  # found on held-out plays (else: the best over this text)


@dataclasses.dataclass
class GateView:
    tokens: list[str]  # the characters
    cells: list[Cell]  # one per feature, best first
    rows: list[str]  # what each gate row is: a cell ("L0 u54": layer 0, unit 54) or a layer's mean ("L0 mean")
    gates: dict[str, np.ndarray]  # gate -> [rows, T], each in (0, 1)


def gate_view(lm_model, text: str, top: int = 1, known: dict[str, tuple[int, int]] | None = None) -> GateView:
    """The gates and the tracking cells of a character-level LSTM LM over `text` (ValueError otherwise). `known`:
    {feature: (layer, unit)} cells to show for those features (default: the record's held-out cells for this
    model, heldout_cells), with their correlation over `text`; other features get the best cell over `text`."""
    from lm import inside as lm_inside

    known = heldout_cells(getattr(lm_model, "name", "")) if known is None else known
    g = lm_inside.gates(lm_model, text)
    found = lm_inside.find_cells(lm_model, text, top=top) if len(g.tokens) > 1 else {}
    features = lm_inside.features(text) if len(g.tokens) > 1 else {}
    cells = []
    for feature, picks in found.items():
        if feature in known:
            layer, unit = known[feature]
            values = g.cell[layer, :, unit]
            corr = float(lm_inside._correlations(values[:, None].astype(np.float64), features[feature])[0])
            cells.append(Cell(feature, layer, unit, corr, values, held_out=True))
        else:
            cells += [Cell(feature, layer, unit, corr, g.cell[layer, :, unit]) for layer, unit, corr in picks]
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


def main(argv=None) -> int:
    """`python -m inside.cells [--model char-lstm] [--out FILE]`: the cells that track each layout feature on
    held-out plays (lm.inside.heldout_text) and on the LSTM gates view's own example, as one JSON object."""
    import argparse

    import lm
    from lm import inside as lm_inside
    from space.examples import GATES_EXAMPLE

    p = argparse.ArgumentParser(prog="python -m inside.cells", description=main.__doc__.split("\n")[0])
    p.add_argument("--model", default="char-lstm", help="a character-level LSTM LM (default char-lstm)")
    p.add_argument("--chars", type=int, default=4000, help="characters of held-out plays (default 4000)")
    p.add_argument("--out", help="also write the JSON here, e.g. bench/results/lstm_cells.json")
    a = p.parse_args(argv)
    model = lm.load(a.model)
    texts = {"held-out plays": lm_inside.heldout_text(a.chars), "the view's example": GATES_EXAMPLE}
    out = {"command": "python -m inside.cells", "model": a.model, "chars": {k: len(t) for k, t in texts.items()}}
    for what, text in texts.items():
        found = lm_inside.find_cells(model, text, top=3)
        out[what] = {
            f: [{"layer": la, "unit": u, "r": round(r, 3)} for la, u, r in picks] for f, picks in found.items()
        }
    known = {f: (picks[0]["layer"], picks[0]["unit"]) for f, picks in out[HELD_OUT].items()}
    view = gate_view(model, GATES_EXAMPLE, known=known)  # what the LSTM gates view shows on its example
    out["the view's cells on its example"] = {
        c.feature: {"layer": c.layer, "unit": c.unit, "r": round(c.correlation, 3), "held_out": c.held_out}
        for c in view.cells
    }
    from bench.common import emit, machine

    out["machine"] = machine()
    emit(out, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
