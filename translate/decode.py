"""Greedy and beam search for translate/model.py's models, a batch of sentences at a time.

Each sentence's encoder runs once; the whole decoding loop (a while loop over at most max_tgt_len steps that
stops when every hypothesis has ended) is one compiled function with fixed shapes: sources are padded to
max_src_len, a batch to a power of two, a beam width to a power of two (unused beams are masked out), and
max_len, alpha and the width itself arrive as tensors. So a new sentence length, max_len, alpha or width within
a bucket never retraces or recompiles; each (batch, beam) bucket compiles once. Measured on the 2-core CPU
(TensorFlow), the whole loop under XLA used the least CPU time, ahead of the same loop in a tf.function without
XLA and of an XLA-compiled step called once per token from Python. Beam search keeps one encoder memory per
sentence, which its hypotheses share. translate_ids cuts its input into parts of PART_ROWS hypotheses and
decodes LANES of them side by side (threads): both measured faster on this CPU (see translate_ids).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from keras import ops, tree

from core.jit import jit
from translate.model import END, PAD, START

LANES = 2  # decoding loops run side by side by default (translate_ids)
PART_ROWS = 16  # hypotheses (sentences x beams) per compiled call: translate_ids cuts its batches this small
TRACES = collections.Counter()  # how often each loop was traced (the tests check it stops growing)


@dataclasses.dataclass
class Result:
    ids: list[int]  # target token ids, without [END]
    score: float  # sum of the tokens' log probs (with [END]) / ((5 + length) / 6) ** alpha
    attention: np.ndarray  # (len(ids), S) rnn or (len(ids), layers, heads, S) transformer; S = real source length
    finished: bool  # False when max_len cut the hypothesis off before [END]


def length_penalty(length, alpha):
    """GNMT's (Wu et al. 2016), as Marian uses it: ((5 + |Y|) / 6) ** alpha, |Y| counting [END]."""
    return ops.power((5.0 + ops.cast(length, "float32")) / 6.0, alpha)


def _never(vocab):
    """-inf for [PAD] and [START], 0 elsewhere: added to the log probs so neither is ever chosen as output."""
    ids = ops.arange(vocab)
    return ops.where(ops.logical_or(ids == PAD, ids == START), -np.inf, 0.0)


def _attention_shape(config, source):
    """One step's attention: (S,) for the rnn, (layers, heads, S) for the transformer."""
    s = ops.shape(source)[1]
    return (s,) if config.arch == "rnn" else (config.layers, config.heads, s)


def greedy(model, source, max_len, alpha):
    """source (N, S) -> tokens (N, L), attention (N, L, ...), score (N,), length (N,), finished (N,), steps."""
    TRACES["greedy"] += 1
    n, steps_max = ops.shape(source)[0], model.config.max_tgt_len
    never = _never(model.config.tgt_vocab)
    memory = model.encode(source)
    carry = (
        ops.zeros((), "int32"),
        ops.full((n,), START, "int32"),
        model.init_state(memory, n),
        ops.zeros((n,), "bool"),
        ops.zeros((n,), "float32"),
        ops.zeros((n,), "int32"),
        ops.zeros((n, steps_max), "int32"),
        ops.zeros((n, steps_max) + _attention_shape(model.config, source)),
    )

    def cond(t, token, state, done, logp, length, tokens, attention):
        return ops.logical_and(t < max_len, ops.logical_not(ops.all(done)))

    def body(t, token, state, done, logp, length, tokens, attention):
        logits, weights, state = model.decode_step(token, state, t, memory)
        logprobs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        token = ops.where(done, PAD, ops.cast(ops.argmax(logprobs + never, axis=-1), "int32"))
        logp = logp + ops.where(done, 0.0, ops.take_along_axis(logprobs, token[:, None], axis=1)[:, 0])
        length = length + ops.cast(ops.logical_not(done), "int32")
        tokens = ops.slice_update(tokens, (0, t), token[:, None])
        zeros = (0,) * (len(ops.shape(attention)) - 2)
        attention = ops.slice_update(attention, (0, t) + zeros, ops.cast(weights, "float32")[:, None])
        return t + 1, token, state, ops.logical_or(done, token == END), logp, length, tokens, attention

    t, _, _, done, logp, length, tokens, attention = ops.while_loop(cond, body, carry)
    return tokens, attention, logp / length_penalty(length, alpha), length, done, t


def beam_search(model, source, width, max_len, alpha, beams):
    """Beam search with `beams` slots (static) of which the first `width` (a tensor, <= beams) are used.

    A finished hypothesis stays in its slot and continues only with [PAD] at no cost, so every step ranks the
    finished ones (at their length-penalised score) against the live extensions: the beam keeps the `width` best
    hypotheses seen. Instead of reordering an attention history every step, the loop records each step's token,
    the slot it came from and the attention of the row that produced it; the host follows the back-pointers."""
    TRACES["beam"] += 1
    n, steps_max, vocab = ops.shape(source)[0], model.config.max_tgt_len, model.config.tgt_vocab
    rows = n * beams
    # row = n*beams + k. The memory stays one per sentence (the model's attention reads it for all its beams);
    # only the decoder's state is per hypothesis.
    memory = model.encode(source)
    state = tree.map_structure(lambda x: ops.repeat(x, beams, axis=0), model.init_state(memory, n))
    slot = ops.arange(beams)
    used = slot < width
    # Every slot starts as the same [START]: only slot 0 may expand at the first step, or the beam fills with
    # copies of one hypothesis.
    logp = ops.broadcast_to(ops.where(slot == 0, 0.0, -np.inf)[None, :], (n, beams))
    pad_only = ops.where(ops.arange(vocab) == PAD, 0.0, -np.inf)
    offsets = (ops.arange(n) * beams)[:, None]
    carry = (
        ops.zeros((), "int32"),
        ops.full((rows,), START, "int32"),
        state,
        ops.zeros((n, beams), "bool"),
        logp,
        ops.zeros((n, beams), "int32"),
        ops.zeros((n, beams), "float32"),
        ops.zeros((n, beams, steps_max), "int32"),
        ops.zeros((n, beams, steps_max), "int32"),
        ops.zeros((rows, steps_max) + _attention_shape(model.config, source)),
    )

    def cond(t, token, state, done, logp, length, score, tokens, parents, attention):
        settled = ops.logical_or(done, ops.isinf(logp))  # finished, or a slot that holds nothing
        return ops.logical_and(t < max_len, ops.logical_not(ops.all(settled)))

    def body(t, token, state, done, logp, length, score, tokens, parents, attention):
        logits, weights, state = model.decode_step(token, state, t, memory)
        logprobs = ops.reshape(ops.log_softmax(ops.cast(logits, "float32"), axis=-1), (n, beams, vocab))
        logprobs = ops.where(done[..., None], pad_only, logprobs + _never(vocab))
        total = logp[..., None] + logprobs  # (n, beams, vocab)
        grown = length + ops.cast(ops.logical_not(done), "int32")
        normalized = total / length_penalty(grown, alpha)[..., None]
        score, pick = ops.top_k(ops.reshape(normalized, (n, beams * vocab)), beams)  # sorted, best first
        parent, token = pick // vocab, ops.cast(pick % vocab, "int32")
        # slots past the asked width drop out, so one compiled function serves every width up to `beams`
        score = ops.where(used, score, -np.inf)
        logp = ops.where(used, ops.take_along_axis(ops.reshape(total, (n, -1)), pick, axis=1), -np.inf)
        done = ops.logical_or(ops.take_along_axis(done, parent, axis=1), token == END)
        length = ops.take_along_axis(grown, parent, axis=1)
        tokens = ops.slice_update(tokens, (0, 0, t), token[..., None])
        parents = ops.slice_update(parents, (0, 0, t), ops.cast(parent, "int32")[..., None])
        zeros = (0,) * (len(ops.shape(attention)) - 2)
        attention = ops.slice_update(attention, (0, t) + zeros, ops.cast(weights, "float32")[:, None])
        state = tree.map_structure(lambda x: ops.take(x, ops.reshape(offsets + parent, (rows,)), axis=0), state)
        return t + 1, ops.reshape(token, (rows,)), state, done, logp, length, score, tokens, parents, attention

    t, _, _, done, _, length, score, tokens, parents, attention = ops.while_loop(cond, body, carry)
    return tokens, parents, attention, score, length, done, t


def _kind(beam: int, method: str) -> tuple[str, int]:
    """("greedy" | "beam", the beam slots compiled for): method auto decodes beam 1 greedily."""
    kind = "greedy" if method == "greedy" or (method == "auto" and beam == 1) else "beam"
    return kind, 1 if kind == "greedy" else _bucket(beam)


def _bucket(n: int, cap: int | None = None) -> int:
    """The power of two >= n (at most cap, when cap >= n): the shapes the compiled loops are made for."""
    size = 1
    while size < n:
        size *= 2
    return min(size, cap) if cap is not None and cap >= n else size


def compiled(model) -> dict:
    """The model's compiled loops, {(kind, batch, beams): function}. Kept on the model, so they go with it; in its
    __dict__ directly because Keras would otherwise track the dict as if it held layers. setdefault: two lanes
    asking at once get the same dict."""
    return model.__dict__.setdefault("_translate_loops", {})


_TRACING = threading.Lock()


def _loop(model, kind: str, batch: int, beams: int):
    loops, key = compiled(model), (kind, batch, beams)
    if key in loops:  # made under the lock (once), looked up without it
        return loops[key]
    with _TRACING:
        if key not in loops:
            if kind == "greedy":
                fn = jit(lambda source, width, max_len, alpha: greedy(model, source, max_len, alpha))
            else:
                fn = jit(lambda source, width, max_len, alpha: beam_search(model, source, width, max_len, alpha, beams))
            loops[key] = fn
        return loops[key]


def _run(model, key, *args):
    """Call a compiled loop. Its first call (the trace and the XLA compile) runs alone under _TRACING: CPython
    3.11 cannot parse in two threads at once and a trace parses the model's code (stack-facts.md), so lanes and
    concurrent requests never trace together; once warm, calls run side by side without the lock."""
    fn, warm = _loop(model, *key), model.__dict__.setdefault("_translate_warm", set())
    if key in warm:
        return fn(*args)
    with _TRACING:
        out = fn(*args)
        warm.add(key)
    return out


def _results(ids, attention, score, length, done, source) -> list[Result]:
    out = []
    for i in range(len(source)):
        n = int(length[i]) - int(bool(done[i]))  # drop [END]
        real = int(np.max(np.nonzero(source[i])[0], initial=-1)) + 1
        out.append(Result([int(x) for x in ids[i, :n]], float(score[i]), attention[i, :n, ..., :real], bool(done[i])))
    return out


def search(
    model,
    source,
    beam: int = 4,
    alpha: float = 0.6,
    max_len: int | None = None,
    method: str = "auto",
    batch_size: int = 32,
) -> list[Result]:
    """One batch of sources (N <= batch_size, max_src_len). method: auto (greedy at beam 1) | greedy | beam."""
    n = len(source)
    batch = _bucket(n, batch_size)
    padded = np.concatenate([source, np.repeat(source[:1], batch - n, axis=0)])  # filler rows: copies of row 0
    kind, beams = _kind(beam, method)
    out = _run(
        model,
        (kind, batch, beams),
        padded,
        np.asarray(beam, "int32"),
        np.asarray(max_len, "int32"),
        np.asarray(alpha, "float32"),
    )
    out = [np.asarray(x) for x in out]
    if kind == "greedy":
        tokens, attention, score, length, done, _ = out
        return _results(tokens, attention, score, length, done, source)
    tokens, parents, attention, score, length, done, steps = out
    # Follow the back-pointers from the best slot (0: top_k sorts) to [START], collecting tokens and attention.
    slot, rows = np.zeros(batch, "int64"), np.arange(batch)
    ids = np.zeros((batch, int(steps)), "int32")
    chosen = np.zeros((batch, int(steps)) + attention.shape[2:], "float32")
    for t in reversed(range(int(steps))):
        parent = parents[rows, slot, t]
        ids[:, t] = tokens[rows, slot, t]
        chosen[:, t] = attention[rows * beams + parent, t]
        slot = parent
    return _results(ids, chosen, score[:, 0], length[:, 0], done[:, 0], source)


def translate_ids(
    model,
    source_ids,
    beam: int = 4,
    alpha: float = 0.6,
    max_len: int | None = None,
    batch_size: int = 32,
    method: str = "auto",
    lanes: int | None = None,
) -> list[Result]:
    """Translate source ids (N, S), padded with 0 at the end: in parts of at most batch_size sentences and
    PART_ROWS hypotheses, decoded `lanes` (default LANES) at a time in threads. One Result per row, in order."""
    config = model.config
    max_len = config.max_tgt_len if max_len is None else int(max_len)
    if not 1 <= max_len <= config.max_tgt_len:
        raise ValueError(f"max_len must be in [1, {config.max_tgt_len}] (the model's max_tgt_len), got {max_len}")
    if int(beam) < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    lanes = LANES if lanes is None else int(lanes)
    if lanes < 1:
        raise ValueError(f"lanes must be >= 1, got {lanes}")
    if method not in ("auto", "greedy", "beam"):
        raise ValueError(f"method must be auto, greedy or beam, got {method!r}")
    source = np.asarray(source_ids, "int32")
    if source.ndim != 2:
        raise ValueError(f"source_ids must be (sentences, tokens), got shape {source.shape}")
    if source.shape[1] > config.max_src_len:
        if source[:, config.max_src_len :].any():
            raise ValueError(f"a source has more than max_src_len={config.max_src_len} tokens; cut it first")
        source = source[:, : config.max_src_len]
    # Always the model's full source width, so the sentence length is data, never a shape.
    source = np.pad(source, ((0, 0), (0, config.max_src_len - source.shape[1])))
    # Parts of PART_ROWS hypotheses (4 sentences at beam 4, 16 greedy), decoded `lanes` at a time. Both measured on
    # the bundled Transformer (bench/experiments/translate_parts.py): one XLA:CPU call keeps ~1.6 of the 2 cores
    # busy, two side by side ~1.95; a part's step costs less per row while its self-attention caches fit the CPU's
    # caches (translate_cache_length.py), and a part stops at its own longest output. Beam 4, 64 verses: 33.8
    # sentences/s in parts of 32 sentences on one lane, 43.3 on two, 60.5 in parts of 4 on two.
    part = max(1, min(batch_size, PART_ROWS // _kind(int(beam), method)[1]))
    chunks = [source[start : start + part] for start in range(0, len(source), part)]
    run = lambda chunk: search(model, chunk, int(beam), float(alpha), max_len, method, batch_size)  # noqa: E731
    if lanes == 1 or len(chunks) == 1:
        return [r for chunk in chunks for r in run(chunk)]
    with ThreadPoolExecutor(lanes, thread_name_prefix="translate-lane") as pool:
        return [r for part in pool.map(run, chunks) for r in part]
