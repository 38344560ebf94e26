"""Translation models and decoding (translate/model.py, translate/decode.py) on tiny random and trained models."""

import dataclasses
import functools
import itertools
import json
import os

import keras
import numpy as np
import pytest

from translate import decode
from translate.model import END, START, BahdanauAttention, TranslatorConfig, build

TINY = dict(
    src_vocab=23, tgt_vocab=19, max_src_len=12, max_tgt_len=10, layers=2, dim=16, heads=2, ffn_dim=32, dropout=0.0
)
KINDS = {
    "rnn-gru": dict(arch="rnn", cell="gru"),
    "rnn-lstm": dict(arch="rnn", cell="lstm"),
    "rnn-lstm-luong": dict(arch="rnn", cell="lstm", attention="luong"),
    "rnn-gru-none": dict(arch="rnn", cell="gru", attention="none"),
    "transformer": dict(arch="transformer"),
    "transformer-sine": dict(arch="transformer", positions="sine"),
}
DECODERS = ["rnn-gru", "rnn-lstm-luong", "transformer"]  # decoded and trained (each compile takes seconds)
# the Transformer's decoding loops in the fast selection, the other kinds' in the slow one
DECODERS_FAST_FIRST = [pytest.param(k, marks=[] if k == "transformer" else pytest.mark.slow) for k in DECODERS]


@functools.cache
def tiny(kind):
    keras.utils.set_random_seed(0)
    return build(TranslatorConfig(**TINY, **KINDS[kind]))


def reverse_task(n, seed, width=8):
    """Sources of 3..width symbols; the target is the source reversed: it needs attention to be learned fast."""
    rng = np.random.default_rng(seed)
    source, decoder_input, target = [np.zeros((n, w), "int32") for w in (width, width + 1, width + 1)]
    for i in range(n):
        length = rng.integers(3, width + 1)
        tokens = rng.integers(4, 14, length)
        source[i, :length] = tokens
        target[i, :length], target[i, length] = tokens[::-1], END
        decoder_input[i, 0], decoder_input[i, 1 : length + 1] = START, tokens[::-1]
    return source, decoder_input, target


@functools.cache
def trained(kind):
    """A small model trained with plain compile/fit on the reverse task; returns it and the loss before/after."""
    # enough for >= 60% of held-out reversals right with margin (about 80% on TensorFlow and on JAX); each step
    # costs CPU in every test that needs a trained model, so no more
    steps = 150 if kind == "transformer" else 100
    keras.utils.set_random_seed(0)
    model = build(
        TranslatorConfig(
            src_vocab=14,
            tgt_vocab=14,
            max_src_len=8,
            max_tgt_len=9,
            layers=1,
            dim=64,
            heads=4,
            ffn_dim=128,
            dropout=0.0,
            **KINDS[kind],
        )
    )
    lr = 5e-3 if kind == "transformer" else 1e-2
    model.compile(
        keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    )
    source, decoder_input, target = reverse_task(64 * steps, seed=0)
    before = model.evaluate((source[:256], decoder_input[:256]), target[:256], verbose=0)
    model.fit((source, decoder_input), target, batch_size=64, epochs=1, verbose=0)
    return model, before, model.evaluate((source[:256], decoder_input[:256]), target[:256], verbose=0)


def sources(n, width, seed=0, vocab=23):
    """n sources of 1..width real tokens each, padded with 0 at the end to `width`."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, width), "int32")
    for i in range(n):
        length = rng.integers(1, width + 1)
        out[i, :length] = rng.integers(4, vocab, length)
    return out


def decoder_inputs(n, length, seed=1, vocab=19):
    out = np.random.default_rng(seed).integers(4, vocab, (n, length)).astype("int32")
    out[:, 0] = START
    return out


def test_config_validates_and_round_trips(tmp_path):
    for bad, words in [
        (dict(arch="cnn"), "--arch"),
        (dict(cell="rnn"), "--cell"),
        (dict(attention="dot"), "--attention"),
        (dict(tgt_vocab=3), "special"),
        (dict(arch="rnn", dim=15), "even"),
        (dict(arch="transformer", dim=18, heads=4), "multiple"),
        (dict(dropout=1.0), "--dropout"),
        (dict(share_embeddings=True), "shared embeddings need one vocabulary, got 23 source and 19 target"),
    ]:
        with pytest.raises(ValueError, match=words):
            TranslatorConfig(**dict(TINY, **bad)).validate()
    config = TranslatorConfig(**TINY, arch="rnn", cell="lstm")
    config.save(str(tmp_path))
    assert TranslatorConfig.load(str(tmp_path)) == config
    assert os.listdir(tmp_path) == ["config.json"]  # the temp file was renamed into place
    values = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(dict(values, warmup=3)))
    with pytest.raises(ValueError, match="warmup"):
        TranslatorConfig.load(str(tmp_path))


@pytest.mark.parametrize("kind", ["rnn-lstm", "transformer"])
def test_weights_save_and_load(kind, tmp_path):
    """The tied target embedding (transformer) and the cells' weights come back into a fresh model."""
    model, source, target = tiny(kind), sources(2, 12), decoder_inputs(2, 10)
    model.save_weights(str(tmp_path / "model.weights.h5"))
    keras.utils.set_random_seed(9)
    again = build(TranslatorConfig(**TINY, **KINDS[kind]))
    again.load_weights(str(tmp_path / "model.weights.h5"))
    np.testing.assert_array_equal(np.asarray(model((source, target))), np.asarray(again((source, target))))


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_shared_embeddings_are_one_matrix_and_save_and_load(arch, tmp_path):
    """With one vocabulary the source embedding is the target's (and the Transformer's output layer's)."""
    config = TranslatorConfig(**dict(TINY, src_vocab=19, share_embeddings=True), arch=arch)
    keras.utils.set_random_seed(0)
    model, apart = build(config), build(dataclasses.replace(config, share_embeddings=False))
    assert model.src_embed is model.tgt_embed
    assert model.count_params() == apart.count_params() - 19 * TINY["dim"]
    source, target = sources(2, 12, vocab=19), decoder_inputs(2, 10)
    model.save_weights(str(tmp_path / "model.weights.h5"))
    keras.utils.set_random_seed(9)
    again = build(config)
    again.load_weights(str(tmp_path / "model.weights.h5"))
    np.testing.assert_array_equal(np.asarray(model((source, target))), np.asarray(again((source, target))))


@pytest.mark.parametrize("kind", list(KINDS))
def test_attention_sums_to_one_and_is_exactly_zero_on_padding(kind):
    model, source = tiny(kind), sources(4, 12)
    _, weights = model((source, decoder_inputs(4, 10)), return_attention=True)
    memory = model.encode(source)
    _, step, _ = model.decode_step(np.full((4,), START, "int32"), model.init_state(memory, 4), 0, memory)
    pad = source == 0
    for w in (np.asarray(weights), np.asarray(step)[:, None]):  # (B, T, S) or (B, T, layers, heads, S)
        w = w.reshape(4, -1, 12)
        if kind.endswith("none"):
            assert not w.any()  # no attention at all: the decoder sees only the encoder's last state
            continue
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
        assert (w.transpose(0, 2, 1)[pad] == 0).all()


@pytest.mark.parametrize("kind", list(KINDS))
def test_more_source_padding_changes_nothing(kind):
    model, short = tiny(kind), sources(3, 7, seed=2)
    long = np.pad(short, ((0, 0), (0, 5)))  # the same sentences, 5 more [PAD]s
    target = decoder_inputs(3, 10)
    a, wa = model((short, target), return_attention=True)
    b, wb = model((long, target), return_attention=True)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    np.testing.assert_allclose(np.asarray(wa), np.asarray(wb)[..., :7], atol=1e-6)
    # the whole greedy loop, run eagerly at both widths
    ta, *_ = decode.greedy(model, short, 10, 0.6)
    tb, *_ = decode.greedy(model, long, 10, 0.6)
    np.testing.assert_array_equal(np.asarray(ta), np.asarray(tb))


@pytest.mark.parametrize("kind", ["transformer", "transformer-sine"])
def test_causal_mask_later_decoder_tokens_never_change_earlier_logits(kind):
    model, source, target = tiny(kind), sources(2, 12), decoder_inputs(2, 10)
    changed = target.copy()
    changed[:, 6:] = (changed[:, 6:] + 1 - 4) % 15 + 4
    a, b = np.asarray(model((source, target))), np.asarray(model((source, changed)))
    np.testing.assert_allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert np.abs(a[:, 6:] - b[:, 6:]).max() > 1e-4


def test_bahdanau_matches_its_formula_and_keras_additive_attention():
    rng = np.random.default_rng(3)
    h_enc, h_dec = rng.normal(size=(2, 5, 6)).astype("float32"), rng.normal(size=(2, 3, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = BahdanauAttention(8)
    context, weights = [np.asarray(x) for x in layer(h_dec, h_enc, layer.keys(h_enc), mask)]
    W1, W2, v = (np.asarray(layer.W1.kernel), np.asarray(layer.W2.kernel), np.asarray(layer.v.kernel))
    scores = np.tanh((h_enc @ W1)[:, None, :, :] + (h_dec @ W2)[:, :, None, :]) @ v  # (B, T, S, 1)
    scores = np.where(mask[:, None, :], scores[..., 0], -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    assert (weights[0, :, 3:] == 0).all()
    np.testing.assert_allclose(context, expected @ h_enc, atol=1e-5)
    # AdditiveAttention scores sum(scale * tanh(query + key)): query = W2 h_dec, key = W1 h_enc, scale = v.
    additive = keras.layers.AdditiveAttention(use_scale=True)
    query, key = h_dec @ W2, h_enc @ W1
    additive([query, h_enc, key], mask=[None, mask])
    additive.scale.assign(v[:, 0])
    theirs, their_weights = additive([query, h_enc, key], mask=[None, mask], return_attention_scores=True)
    np.testing.assert_allclose(weights, np.asarray(their_weights), atol=1e-6)
    np.testing.assert_allclose(context, np.asarray(theirs), atol=1e-5)


@pytest.mark.parametrize("kind", list(KINDS))
def test_teacher_forcing_equals_step_by_step_decoding(kind):
    model, source, target = tiny(kind), sources(3, 12), decoder_inputs(3, 10)
    logits, weights = [np.asarray(x) for x in model((source, target), return_attention=True)]
    memory = model.encode(source)
    state = model.init_state(memory, 3)
    for t in range(10):
        step, w, state = model.decode_step(target[:, t], state, t, memory)  # the cache: written, then read
        np.testing.assert_allclose(np.asarray(step), logits[:, t], atol=1e-5)
        np.testing.assert_allclose(np.asarray(w), weights[:, t], atol=1e-6)


def teacher_forced(model, source, ids, alpha, finished=True):
    """Score and attention of one hypothesis (ids, then [END] when finished) by a plain forward pass."""
    target = list(ids) + [END] * finished
    logits, weights = model((source[None], np.array([[START] + target[:-1]], "int32")), return_attention=True)
    logits = np.asarray(logits, np.float64)[0]
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    total = logp[np.arange(len(target)), target].sum()
    return total / ((5 + len(target)) / 6) ** alpha, np.asarray(weights)[0]


def teacher_forced_many(model, source, hypotheses, alpha):
    """teacher_forced's scores of many (ids, finished) hypotheses of one source, in one forward pass: the decoder
    is causal, so the [PAD]s after a shorter hypothesis change none of its logits."""
    targets = [list(ids) + [END] * finished for ids, finished in hypotheses]
    decoder_input = np.zeros((len(targets), max(map(len, targets))), "int32")
    for row, target in zip(decoder_input, targets):
        row[: len(target)] = [START] + target[:-1]
    logits = np.asarray(model((np.repeat(source[None], len(targets), 0), decoder_input)), np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    return [
        logp[i, np.arange(len(target)), target].sum() / ((5 + len(target)) / 6) ** alpha
        for i, target in enumerate(targets)
    ]


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("kind", DECODERS)
def test_beam_search_results_are_what_teacher_forcing_says(kind):
    """Each hypothesis' ids, score and attention (followed back through the beams) agree with a forward pass."""
    # a trained model, as random ones mostly stop at once (the exhaustive test below has one that does not)
    model, source = trained(kind)[0], reverse_task(4, seed=2)[0]
    results = decode.translate_ids(model, source, beam=4, alpha=0.6)
    for result, src in zip(results, source):
        score, weights = teacher_forced(model, src, result.ids, 0.6, result.finished)
        assert result.score == pytest.approx(score, abs=1e-4)
        real = int((src > 0).sum())
        np.testing.assert_allclose(result.attention, weights[: len(result.ids), ..., :real], atol=1e-5)
    assert len({len(r.ids) for r in results}) > 1


def test_wide_beam_finds_the_best_hypothesis_exhaustive_search_finds():
    keras.utils.set_random_seed(1)
    model = build(TranslatorConfig(**dict(TINY, tgt_vocab=5, max_tgt_len=3), arch="rnn"))
    source = sources(1, 12, seed=5)[0]
    words = [1, 4]  # the output tokens allowed besides [END]: [UNK] and the one real word
    ended = [(list(p), True) for n in range(3) for p in itertools.product(words, repeat=n)]
    cut = [(list(p), False) for p in itertools.product(words + [END], repeat=3) if END not in p]  # max_len hit
    scores = dict(zip([(tuple(h), f) for h, f in ended + cut], teacher_forced_many(model, source, ended + cut, 1.0)))
    # at most 15 hypotheses at any step (4 live x 3 + 3 ended), so a beam of 15 keeps them all: exhaustive
    result = decode.translate_ids(model, source[None], beam=15, alpha=1.0)[0]
    assert (tuple(result.ids), result.finished) == max(scores, key=scores.get)
    assert result.score == pytest.approx(max(scores.values()), abs=1e-4)


@pytest.mark.parametrize("kind", DECODERS_FAST_FIRST)
def test_beam_1_equals_greedy(kind):
    model, source = tiny(kind), sources(4, 12, seed=6)
    greedy = decode.translate_ids(model, source, beam=1, method="greedy")
    beam = decode.translate_ids(model, source, beam=1, method="beam")
    for g, b in zip(greedy, beam):
        assert g.ids == b.ids and g.finished == b.finished
        assert g.score == pytest.approx(b.score, abs=1e-5)
        np.testing.assert_allclose(g.attention, b.attention, atol=1e-6)


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("kind", DECODERS)
def test_a_batch_decodes_as_each_sentence_alone(kind):
    model, source = trained(kind)[0], reverse_task(4, seed=3)[0]
    together = decode.translate_ids(model, source, beam=3)
    for i, t in enumerate(together):
        alone = decode.translate_ids(model, source[i : i + 1], beam=3)[0]
        assert alone.ids == t.ids and alone.score == pytest.approx(t.score, abs=1e-5)
        np.testing.assert_allclose(alone.attention, t.attention, atol=1e-5)
    assert len({len(t.ids) for t in together}) > 1


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow graph with an unknown batch")
@pytest.mark.parametrize("kind", ["transformer", "rnn-gru"])
def test_the_models_trace_with_an_unknown_batch_size(kind):
    """Serving and export trace with the batch unknown: the beam folding in the attention must not branch on it."""
    import tensorflow as tf

    model, source, target = tiny(kind), sources(3, 12), decoder_inputs(3, 10)
    spec = [tf.TensorSpec((None, None), tf.int32)] * 2
    traced = tf.function(lambda s, t: model((s, t), return_attention=True), input_signature=spec)
    for got, want in zip(traced(source, target), model((source, target), return_attention=True)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("n, batch_size", [(20, 8), (16, 32)])  # beam 3: parts of 4 sentences, on two lanes
def test_lanes_decode_what_one_lane_decodes_in_order(kind, n, batch_size):
    model, source = trained(kind)[0], reverse_task(n, seed=4)[0]
    one = decode.translate_ids(model, source, beam=3, batch_size=batch_size, lanes=1)
    assert len({len(r.ids) for r in one}) > 1
    two = decode.translate_ids(model, source, beam=3, batch_size=batch_size, lanes=2)
    assert [r.ids for r in one] == [r.ids for r in two]
    for a, b in zip(one, two):
        assert a.score == pytest.approx(b.score, abs=1e-5)
        np.testing.assert_allclose(a.attention, b.attention, atol=1e-6)
    with pytest.raises(ValueError, match="lanes must be >= 1"):
        decode.translate_ids(model, source, lanes=0)


def test_no_retracing_across_lengths_widths_and_settings():
    keras.utils.set_random_seed(2)
    model = build(TranslatorConfig(**dict(TINY, layers=1), arch="transformer"))  # fresh: nothing compiled yet
    for beam in (4, 1):  # compiles (batch 4, beams 4), then greedy
        decode.translate_ids(model, sources(4, 12), beam=beam)
    traced = dict(decode.TRACES)
    for width, beam, n, max_len, alpha in [
        (3, 3, 3, 4, 0.0),
        (12, 4, 4, 10, 1.0),
        (7, 1, 3, 6, 0.6),
        (5, 3, 4, 2, 0.2),
        (1, 1, 4, 9, 2.0),
    ]:
        decode.translate_ids(model, sources(n, width, seed=width), beam=beam, max_len=max_len, alpha=alpha)
    assert dict(decode.TRACES) == traced
    if keras.backend.backend() == "tensorflow":
        # XLA compiles once per input shape, and could recompile without a Python retrace (stack-facts.md) if a
        # trace had relaxed a shape to None; one trace per function means every call matched the first trace's
        # exact shapes, so each loop compiled once. (jax.jit retraces on every new shape: TRACES covers it.)
        assert len(decode.compiled(model)) == 2
        for key, fn in decode.compiled(model).items():
            assert fn.experimental_get_tracing_count() == 1, key
            (signature,) = [c.structured_input_signature[0] for c in fn._list_all_concrete_functions()]
            assert all(spec.shape.is_fully_defined() for spec in signature), (key, signature)


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("kind", DECODERS)
def test_training_learns_to_reverse_and_greedy_decoding_gets_it_right(kind):
    model, before, after = trained(kind)
    assert after < before / 5
    held_out, _, _ = reverse_task(64, seed=1)
    results = decode.translate_ids(model, held_out, beam=1)
    right = [r.ids == [int(x) for x in s[s > 0][::-1]] for r, s in zip(results, held_out)]
    assert np.mean(right) >= 0.6, np.mean(right)
