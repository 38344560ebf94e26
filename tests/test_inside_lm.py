"""Looking inside the bundled language models (issue 16): attention maps and LSTM gates recomputed from the layers'
weights reproduce the models' own logits, and find_cells finds the line-position cells on held-out Shakespeare.

Only bundled models are loaded in this process, and no other Keras model is built here: a model built first
would shift Keras's automatic layer names, by which the bundled weights are read.
"""

from __future__ import annotations

import numpy as np
import pytest

import lm
from lm import inside

# Held-out text (Macbeth is a validation play), with a speaker line, a blank line and a character not in the
# vocabulary ("é", read as [UNK]).
TEXT = (
    "MACBETH:\nIs this a dagger which I see before me,\nThe handle toward my hand? Come, let me clutch thee.\n\n"
    "LADY MACBETH:\nThat which hath made them drunk hath made me bold; née\n"
)


@pytest.fixture(scope="module")
def gpt():
    return lm.load("char-transformer")


@pytest.fixture(scope="module")
def rnn():
    return lm.load("char-lstm")


def model_logits(m, text: str) -> np.ndarray:
    return np.asarray(m.model(np.array([m.tokenizer.encode(text)], "int32")))[0]


# -------------------------------------------------------------------------------------------------- attention
def test_attention_maps_are_the_models_own(gpt):
    got = inside.attention(gpt, TEXT)
    c, t = gpt.config, len(TEXT)
    assert got.tokens == list(TEXT) and got.start == 0
    assert got.weights.shape == (c.layers, c.heads, t, t)
    # the step-by-step pass that produced these maps ends in the model's logits: the maps are the real ones
    np.testing.assert_allclose(got.logits, model_logits(gpt, TEXT), rtol=0, atol=1e-4)
    # float32 softmax: each of the t terms of a row is off by ~1 ulp (6e-8), so a row sums to 1 within ~1e-5
    np.testing.assert_allclose(got.weights.sum(-1), 1, rtol=0, atol=1e-5)
    assert got.weights.min() >= 0
    assert not np.triu(got.weights, k=1).any()  # the future is exactly 0 (masked before the softmax)
    # the first query sees only itself: exp(s)/exp(s), within float32 rounding (a vectorised exp gives 0.99999994)
    np.testing.assert_allclose(got.weights[..., 0, 0], np.ones((c.layers, c.heads)), rtol=0, atol=1e-6)


def test_attention_keeps_the_last_context_window_of_a_long_text(gpt):
    text = TEXT * 3
    window = gpt.config.seq_len
    got = inside.attention(gpt, text)
    assert len(text) > window and got.start == len(text) - window
    assert "".join(got.tokens) == text[-window:] and got.weights.shape[-1] == window
    np.testing.assert_allclose(got.logits, model_logits(gpt, text[-window:]), rtol=0, atol=1e-4)


def test_attention_refuses_an_lstm_and_empty_text(gpt, rnn):
    with pytest.raises(ValueError, match="needs a Transformer"):
        inside.attention(rnn, TEXT)
    with pytest.raises(ValueError, match="empty"):
        inside.attention(gpt, "")


# ------------------------------------------------------------------------------------------------------ gates
def test_gates_are_the_lstms_own(rnn):
    got = inside.gates(rnn, TEXT)
    c, t = rnn.config, len(TEXT)
    assert got.tokens == list(TEXT)
    for name in ("input", "forget", "output", "cell", "hidden"):
        assert getattr(got, name).shape == (c.layers, t, c.dim), name
    np.testing.assert_allclose(got.logits, model_logits(rnn, TEXT), rtol=0, atol=1e-4)
    for name in ("input", "forget", "output"):
        values = getattr(got, name)
        assert values.min() > 0 and values.max() < 1, name
    np.testing.assert_allclose(got.hidden, got.output * np.tanh(got.cell), rtol=0, atol=1e-12)


def test_gates_refuses_a_transformer_and_empty_text(gpt, rnn):
    with pytest.raises(ValueError, match="needs an LSTM"):
        inside.gates(gpt, TEXT)
    with pytest.raises(ValueError, match="empty"):
        inside.gates(rnn, "")


# ------------------------------------------------------------------------------------------------- find_cells
def test_features_count_what_the_layout_says():
    text = "A:\nab\n\nB:\nsay 'Go on' 'tis\n"
    f = inside.features(text)
    at = text.index
    assert f["line position"][: at("b") + 2].tolist() == [1, 2, 0, 1, 2, 0]
    assert f["end of line coming"][:3].tolist() == [1, 0, 2]  # "A", ":" then the newline before "ab"
    assert f["speech turn"][at("B")] == 0 and f["speech turn"][at("B") - 1] == at("B") - 1
    quoted = "".join(ch for ch, q in zip(text, f["inside quotes"]) if q)
    assert quoted == "'Go on"  # from the opening mark to the closing one; the elision 'tis opens nothing
    assert set(inside.features("one line, no speaker, no quotes\nand a second")) == {
        "line position",
        "end of line coming",
    }


def test_find_cells_finds_line_position_cells_on_heldout_text(rnn):
    text = inside.heldout_text(3000)
    assert 1500 < len(text) <= 3000 and text.count("\n\n") > 10
    found = inside.find_cells(rnn, text, top=3)
    assert set(found) == {"line position", "end of line coming", "speech turn"}  # no quotations in this text
    cells = found["line position"]
    assert len(cells) == 3 and all(
        0 <= layer < rnn.config.layers and 0 <= unit < rnn.config.dim for layer, unit, _ in cells
    )
    # measured: |r| 0.84-0.90 for the best cell (layer 0, unit 54) on 1,500 to 20,000 held-out characters
    assert abs(cells[0][2]) >= 0.6
    assert [abs(r) for _, _, r in cells] == sorted((abs(r) for _, _, r in cells), reverse=True)
    assert inside.find_cells(rnn, text, top=3) == found


def test_find_cells_needs_an_lstm(gpt):
    with pytest.raises(ValueError, match="needs an LSTM"):
        inside.find_cells(gpt, TEXT)


def test_the_gates_view_names_the_cells_found_on_held_out_plays(rnn):
    """What README and docs/inside.md say of the line-position cell is what the record holds and what the LSTM
    gates view shows on its own example: the cell found on held-out plays, with its r over the example."""
    import json

    from inside import cells
    from space.examples import GATES_EXAMPLE

    record = json.load(open(cells.RECORD))  # python -m inside.cells --out bench/results/lstm_cells.json
    assert record["model"] == rnn.name == "char-lstm"
    best = record[cells.HELD_OUT]["line position"][0]
    text = inside.heldout_text(4000)  # the command's default
    assert len(text) == record["chars"][cells.HELD_OUT]
    found = inside.find_cells(rnn, text, top=1)
    assert found["line position"][0][:2] == (best["layer"], best["unit"])  # the record is the model's
    assert found["line position"][0][2] == pytest.approx(best["r"], abs=1e-3)
    view = cells.gate_view(rnn, GATES_EXAMPLE)
    shown = {c.feature: c for c in view.cells}
    line = shown["line position"]
    assert (line.layer, line.unit, line.held_out) == (best["layer"], best["unit"], True)
    assert line.correlation > 0.5 and f"L{line.layer} u{line.unit}" in view.rows
    assert all(c.held_out for c in view.cells if c.feature in record[cells.HELD_OUT])
