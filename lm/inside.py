"""Look inside the language models: attention maps, LSTM gates and the cells that track the text's layout.

Every function takes a loaded `lm.LanguageModel` and a string and returns numpy arrays (for a UI to draw):

    import lm
    from lm import inside

    gpt = lm.load("char-transformer")
    maps = inside.attention(gpt, "ROMEO:\\nBut soft")      # maps.weights: [layers, heads, T, T], rows sum to 1

    rnn = lm.load("char-lstm")
    g = inside.gates(rnn, "ROMEO:\\nBut soft")             # g.forget, g.cell, ...: [layers, T, units]
    inside.find_cells(rnn, inside.heldout_text())         # {"line position": [(layer, unit, corr), ...], ...}

Nothing here reads the model's outputs back: each pass is recomputed from the layers' own weights, one block or
one time step after another, and ends in the logits, which the tests compare with `model(tokens)`. So the maps
and gates shown are the ones the model computes, not an approximation of them.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
from keras import ops


@dataclasses.dataclass
class Attention:
    tokens: list[str]  # the tokenizer's pieces (characters for a char model) the maps are over
    weights: np.ndarray  # [layers, heads, T, T]: query rows, key columns; rows sum to 1, the future is 0
    logits: np.ndarray  # [T, vocab]: the next-token logits the same pass ends in
    start: int = 0  # index of tokens[0] among the text's pieces: > 0 when the text overflowed the context window


@dataclasses.dataclass
class Gates:
    tokens: list[str]
    input: np.ndarray  # [layers, T, units], each in (0, 1)
    forget: np.ndarray
    output: np.ndarray
    cell: np.ndarray  # c_t
    hidden: np.ndarray  # h_t, what the next layer (and the output head) reads
    logits: np.ndarray  # [T, vocab]


def attention(lm_model, text: str) -> Attention:
    """Each Transformer block's causal self-attention probabilities over `text`. A text longer than the context
    window is cut to its last seq_len pieces (positions past the window were never trained); `start` says where
    the kept part begins."""
    config = lm_model.config
    if config.arch != "transformer":
        raise ValueError(f"attention needs a Transformer language model; {_name(lm_model)} has arch {config.arch!r}")
    pieces, ids = _tokens(lm_model, text)
    start = max(0, len(pieces) - config.seq_len)
    pieces, tokens = pieces[start:], np.array([ids[start:]], "int32")
    model = lm_model.model
    positions = ops.arange(tokens.shape[1])
    x = model.embed(tokens)
    x = x + model.pos(x, positions=positions)  # TransformerLM._embed without its dropout (inference)
    maps = []
    for block in model.blocks:
        probs, x = _block(block, x)
        maps.append(probs)
    logits = model.embed(model.ln_f(x), reverse=True)  # the tied output embedding, as TransformerLM.call
    return Attention(pieces, np.stack(maps), _numpy(logits)[0], start)


def _block(block, x):
    """One Block.call with its attention written out so the probabilities can be kept: (probs [H, T, T], x)."""
    b, t = x.shape[0], x.shape[1]
    q, k, v = (ops.reshape(z, (b, t, block.heads, block.head_dim)) for z in ops.split(block.qkv(block.ln1(x)), 3, -1))
    scores = ops.einsum("bqhd,bkhd->bhqk", q, k) / np.float32(np.sqrt(block.head_dim))
    causal = np.tril(np.ones((t, t), bool))
    # -inf, not a large negative number: the future then gets exactly 0 after the softmax
    probs = ops.softmax(ops.where(causal, scores, float("-inf")), axis=-1)
    attended = ops.reshape(ops.einsum("bhqk,bkhd->bqhd", probs, v), (b, t, -1))
    x = x + block.proj(attended)  # Block._finish without its dropout
    x = x + block.out(block.fc(block.ln2(x)))
    return _numpy(probs)[0], x


# Keras activation names -> numpy, in float64. Sigmoid through logaddexp: no overflow, and small gates keep their
# digits (1 / (1 + exp(-z)) overflows for z < -709; 0.5 (1 + tanh(z / 2)) rounds gates below 1e-9 badly).
_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda z: np.exp(-np.logaddexp(0.0, -z)),
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def gates(lm_model, text: str) -> Gates:
    """Every LSTM layer's gates, cell and hidden state over `text`, from zero state as for a prompt (no context
    window: the state carries on). Gates and states are float64, so a saturated gate still reads below 1."""
    config = lm_model.config
    if config.arch != "lstm" or config.cell != "lstm":
        kind = f"cell {config.cell!r}" if config.arch == "lstm" else f"arch {config.arch!r}"
        raise ValueError(f"gates needs an LSTM language model; {_name(lm_model)} has {kind}")
    pieces, ids = _tokens(lm_model, text)
    model = lm_model.model
    x = _numpy(model.embed.embeddings)[ids]
    layers = []
    for rnn in model.rnns:  # the dropout between layers is the identity at inference
        layers.append(_lstm(rnn, x))
        x = layers[-1]["hidden"]
    head = model.head
    logits = x @ _numpy(head.kernel).astype(np.float64) + _numpy(head.bias)
    stacked = {name: np.stack([layer[name] for layer in layers]) for name in layers[0]}
    return Gates(pieces, logits=logits, **stacked)


def _lstm(rnn, x: np.ndarray) -> dict[str, np.ndarray]:
    """Keras' LSTM cell, one step at a time: z = x W + h U + b split into gates i, f, c, o (Keras' order);
    c = f c + i act(z_c), h = o act(c). The products are float32 as in the model; what follows them is float64."""
    settings = rnn.get_config()
    act, gate = (_activation(settings[key]) for key in ("activation", "recurrent_activation"))
    cell = rnn.cell
    w, u = _numpy(cell.kernel), _numpy(cell.recurrent_kernel)
    b = _numpy(cell.bias) if settings["use_bias"] else 0.0
    # the input part of every step at once: only h U has to wait for the previous step
    inputs = x.astype(np.float32) @ w + b
    units = u.shape[0]
    h, c = np.zeros(units), np.zeros(units)
    out = {name: np.empty((len(x), units)) for name in ("input", "forget", "output", "cell", "hidden")}
    for t in range(len(x)):
        # einsum's own loop, not BLAS: BLAS's threaded matrix-vector product waits on busy cores (next to a training
        # run it was over ten times slower a step), and float32 halves the memory it reads
        z = (inputs[t] + np.einsum("i,ij->j", h.astype(np.float32), u)).astype(np.float64)
        i, f, o = gate(z[:units]), gate(z[units : 2 * units]), gate(z[3 * units :])
        c = f * c + i * act(z[2 * units : 3 * units])
        h = o * act(c)
        for name, value in zip(out, (i, f, o, c, h)):
            out[name][t] = value
    return out


def _activation(name):
    if name not in _ACTIVATIONS:
        raise ValueError(f"gates cannot recompute an LSTM with activation {name!r} (knows {', '.join(_ACTIVATIONS)})")
    return _ACTIVATIONS[name]


def _tokens(lm_model, text: str) -> tuple[list[str], list[int]]:
    """The text's pieces and their ids, one for one (encode looks each piece up, [UNK] = 0 for unknown ones)."""
    pieces = lm_model.tokenizer.pieces(text or "")
    if not pieces:
        raise ValueError("the text is empty: give at least one character to look at")
    return pieces, lm_model.tokenizer.encode(text)


def _name(lm_model) -> str:
    return repr(getattr(lm_model, "name", "this model"))


def _numpy(x) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(x))


# A speaker line `NAME:` begins each speech: at the start of the text or after a blank line (tiny-Shakespeare layout).
_SPEAKER = re.compile(r"(?:^|(?<=\n\n))[^\n]+:\n")
# A quotation: an opening ' or " after a non-letter and before a letter, closed by the same mark after a non-space
# and before a non-letter, within one speech. Shakespeare's elisions ('tis, 'twere, 'gainst) are not openings;
# most apostrophes (o'er, lov'd, Venus') have a letter before them and so never open one.
_QUOTED = re.compile(
    r"""(?<![a-z])(["'])(?!(?:tis|twas|twere|twill|twould|gainst|em|tween|twixt)\b)(?=[a-z])"""
    r"""(?:(?!\n\n).)*?[^\s'"]\1(?![a-z])""",
    re.IGNORECASE | re.DOTALL,
)


def features(text: str) -> dict[str, np.ndarray]:
    """Per-character layout features of `text`, each the value after reading that character (what c_t can know
    then); a feature the text does not have (no quotations, no speaker lines, a single line) is left out."""
    n = len(text)
    t = np.arange(n)
    newline = np.array([c == "\n" for c in text], bool)
    last_newline = np.maximum.accumulate(np.where(newline, t, -1))  # -1: as if a newline came just before the text
    next_newline = np.minimum.accumulate(np.where(newline, t, n)[::-1])[::-1]  # at or after t
    after = np.append(next_newline[1:], n)  # strictly after t
    out = {"line position": t - last_newline, "end of line coming": after - t - 1}
    speeches = np.zeros(n, bool)
    speeches[[m.start() for m in _SPEAKER.finditer(text)]] = True
    if speeches.any():
        out["speech turn"] = t - np.maximum.accumulate(np.where(speeches, t, -1))
    quoted = np.zeros(n)
    for m in _QUOTED.finditer(text):
        quoted[m.start() : m.end() - 1] = 1  # from the opening mark up to, not including, the closing one
    if quoted.any():
        out["inside quotes"] = quoted
    return {name: f.astype(np.float64) for name, f in out.items() if f.std() > 0}


def find_cells(lm_model, text: str, top: int = 3) -> dict[str, list[tuple[int, int, float]]]:
    """For each layout feature of `text`: the (layer, unit, Pearson correlation) of the `top` LSTM cells whose c_t
    follows it best over the text, by |correlation| (Karpathy, Johnson and Fei-Fei 2015, "Visualizing and
    Understanding Recurrent Networks"). Features are per character, so the model must be character-level."""
    if lm_model.tokenizer.level != "char":
        raise ValueError("find_cells needs a character-level model: its features count characters")
    cells = gates(lm_model, text).cell  # [layers, T, units]
    layers, n, units = cells.shape
    flat = cells.transpose(1, 0, 2).reshape(n, layers * units)
    found = {}
    for name, feature in features(text).items():
        corr = _correlations(flat, feature)
        best = np.argsort(-np.abs(corr), kind="stable")[:top]  # stable: ties keep unit order, so runs agree
        found[name] = [(int(i // units), int(i % units), float(corr[i])) for i in best]
    return found


def _correlations(columns: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column with `feature`; a constant column correlates 0 (not NaN)."""
    centred = columns - columns.mean(axis=0)
    f = feature - feature.mean()
    spread = np.sqrt((centred**2).sum(axis=0) * (f**2).sum())
    return np.divide(centred.T @ f, spread, out=np.zeros(columns.shape[1]), where=spread > 0)


def heldout_text(chars: int = 4000) -> str:
    """About `chars` characters of held-out Shakespeare, the same share of each validation play (the trainers'
    split, `corpus.split(docs, 0.1)`), each cut at the end of a speech: text the bundled models never trained on."""
    import corpus

    _, validation = corpus.split(corpus.load("shakespeare"), 0.1)
    share = chars // len(validation)
    parts = []
    for doc in validation:
        head = doc.text[:share]
        parts.append(head[: head.rfind("\n\n") + 2] if "\n\n" in head else head)
    return "".join(parts)
