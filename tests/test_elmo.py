"""lm.bilm, ELMo at lab size (issue 16): neither direction sees the word it predicts, layer 0 is context-free, the
scalar mix is a convex combination, and `lm.train --arch bilm` trains, resumes and evaluates like the other LMs.
Every layer of the bilm is named, so building one here leaves the bundled models' layer names alone."""

import json
import math
import os

import numpy as np
import pytest
from keras import ops

import lm
from lm import bilm
from lm.model import LMConfig
from tests.helpers import run_here

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = "the bank of the river was wet . she put her money in the bank . a bear can bear the cold .".split()


def tiny(inputs="char-cnn"):
    return LMConfig(arch="bilm", level="word", vocab_size=40, seq_len=12, layers=2, dim=12, proj=8, inputs=inputs)


@pytest.mark.parametrize("inputs", ["char-cnn", "subword"])
def test_neither_direction_sees_the_word_it_predicts(inputs):
    """Forward logits at t-1 predict word t: changing word t or any later word never changes them; backward
    logits at t+1 predict word t: changing word t or any earlier word never changes them."""
    model = bilm.build(tiny(inputs))
    words = WORDS[:10]
    base = ops.convert_to_numpy(model(bilm.spell(words, inputs)[None]))[0]
    t = 5
    later = words[:t] + ["zebra", "xylophone", "quietly", "under", "moon"]
    earlier = ["zebra", "xylophone", "quietly", "under", "moon", "!"] + words[t + 1 :]
    after = ops.convert_to_numpy(model(bilm.spell(later, inputs)[None]))[0]
    before = ops.convert_to_numpy(model(bilm.spell(earlier, inputs)[None]))[0]
    np.testing.assert_allclose(after[:t, 0], base[:t, 0], atol=1e-6)  # forward, positions before t
    np.testing.assert_allclose(before[t + 1 :, 1], base[t + 1 :, 1], atol=1e-6)  # backward, positions after t
    assert not np.allclose(after[t:, 0], base[t:, 0]) and not np.allclose(before[: t + 1, 1], base[: t + 1, 1])


def test_spelling_is_deterministic_and_any_word_has_one():
    for inputs in ("char-cnn", "subword"):
        a, b = bilm.spell(["bank", "Zyzzyva", "bank"], inputs), bilm.spell(["bank"], inputs)
        assert (a[0] == a[2]).all() and (a[0] == b[0]).all() and (a[1] != 0).any() and not (a[0] == a[1]).all()


def test_scalar_mix_is_a_convex_combination():
    layers = np.random.default_rng(0).normal(size=(3, 4, 6)).astype(np.float32)
    e = bilm.Embedding(["a", "b", "c", "d"], layers)
    np.testing.assert_allclose(e.mix(), layers.mean(0), atol=1e-6)  # equal weights by default
    w = np.array([0.3, -1.0, 2.0])
    softmax = np.exp(w) / np.exp(w).sum()
    assert math.isclose(softmax.sum(), 1.0)
    np.testing.assert_allclose(e.mix(w, scale=2.0), 2.0 * np.tensordot(softmax, layers, 1), atol=1e-5)
    same = bilm.Embedding(["a"], np.repeat(layers[:1, :1], 3, axis=0))  # identical layers: the mix is that layer
    np.testing.assert_allclose(same.mix([5.0, -2.0, 0.1]), layers[0, :1], atol=1e-6)
    with pytest.raises(ValueError, match="takes 3 weights"):
        e.mix([1.0, 2.0])
    with pytest.raises(ValueError, match="layer must be -1"):
        e.vectors(3)


def test_the_learnable_mix_starts_as_the_equal_mix_and_trains():
    """bilm.ScalarMix, for a downstream task: equal weights and scale 1 at first (Embedding.mix), and a gradient
    step moves its weights, which stay a softmax (they sum to 1)."""
    import keras

    layers = np.random.default_rng(1).normal(size=(2, 3, 4, 6)).astype(np.float32)
    mix = bilm.ScalarMix(3, name="mix")
    np.testing.assert_allclose(
        ops.convert_to_numpy(mix(layers))[0], bilm.Embedding(list("abcd"), layers[0]).mix(), 1e-5
    )
    x = keras.Input((3, 4, 6))
    model = keras.Model(x, mix(x), name="mix_model")
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.train_on_batch(layers, 2.0 * layers[:, 2])  # the target is twice the last layer
    w = ops.convert_to_numpy(ops.softmax(mix.w))
    assert (
        math.isclose(float(w.sum()), 1.0, rel_tol=1e-6)
        and w[2] > 1 / 3
        and float(ops.convert_to_numpy(mix.gamma)) > 1.0
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny ELMo trained by the real command on a small text, then resumed to a larger --steps."""
    work = tmp_path_factory.mktemp("elmo")
    text = work / "text.txt"
    rng = np.random.default_rng(0)
    sentences = " ".join(WORDS).replace(" . ", " .\n").splitlines()  # three sentences: each word predictable
    lines = [" ".join(rng.choice(sentences, 2)) for _ in range(400)]
    # paragraphs of 3 lines: a plain file's groups are 50 paragraphs, so this makes 3 and one is held out
    text.write_text("\n\n".join("\n".join(lines[i : i + 3]) for i in range(0, 400, 3)) + "\n")
    out = work / "elmo"
    args = ["-m", "lm.train", "--corpus", str(text), "--out", str(out), "--arch", "bilm"]
    args += ["--level", "word", "--layers", "2", "--dim", "24", "--proj", "16", "--seq-len", "16", "--batch-size"]
    args += ["8", "--eval-every", "15", "--checkpoint-every", "15", "--lr", "1e-2", "--no-jit", "--warmup", "5"]
    for steps in ("30", "60"):  # the second run resumes the first at step 30
        done = run_here(*args, "--steps", steps)
        assert done.returncode == 0, done.stderr[-2000:]
    return out, text, done


@pytest.mark.slow  # the trained fixture: two lm.train runs, 60 steps
def test_training_lowers_both_losses_and_resumes(trained):
    out, _, done = trained
    assert "resumed from" in done.stderr and "at step 30" in done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["step"] == 60
    from core import checkpoint

    history = checkpoint.read_state(checkpoint.latest(str(out)))["history"]
    validations = [h for h in history if "val_loss" in h]  # the curve's rows, and one at each evaluation
    assert [h["step"] for h in validations] == [15, 30, 45, 60]
    assert validations[-1]["val_loss"] < validations[0]["val_loss"] - 0.3
    vocab = len(json.load(open(os.path.join(out, "vocab.json")))["vocab"])
    assert metrics["val_loss_forward"] < math.log(vocab) and metrics["val_loss_backward"] < math.log(vocab)
    card = open(os.path.join(out, "README.md")).read()
    assert "ELMo-style" in card and "forward / backward" in card and "--arch bilm" in card


@pytest.mark.slow  # the trained fixture: two lm.train runs, 60 steps
def test_embed_layer_zero_is_context_free_and_the_others_are_not(trained):
    out, _, _ = trained
    elmo = lm.load(str(out))
    a, b = elmo.embed("the bank of the river"), elmo.embed("her money in the bank")
    i, j = a.tokens.index("bank"), b.tokens.index("bank")
    assert a.layers.shape == (3, 5, 32) and a.mix().shape == (5, 32)
    # the same word, the same vector: the character CNN sees only the word (float32 rounding may differ by ~1e-7
    # where the word sits elsewhere in the batch; the contextual layers below differ by more than 1e-4)
    np.testing.assert_allclose(a.layers[0, i], b.layers[0, j], rtol=0, atol=1e-6)
    for layer in (1, 2):
        assert not np.allclose(a.layers[layer, i], b.layers[layer, j], atol=1e-4)
    with pytest.raises(ValueError, match="no words"):
        elmo.embed("   ")


@pytest.mark.slow  # the trained fixture: two lm.train runs, 60 steps
def test_evaluate_reports_each_direction(trained, tmp_path):
    out, text, _ = trained
    part = tmp_path / "part.txt"  # a few paragraphs of the text: the figures are per-token means, whatever its size
    part.write_text("\n\n".join(text.read_text().split("\n\n")[:6]) + "\n")
    done = run_here("-m", "lm.evaluate", "--model", str(out), "--data", str(part))
    assert done.returncode == 0, done.stderr[-1000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(r) >= {"forward_loss", "forward_perplexity", "backward_loss", "backward_perplexity", "loss"}
    assert math.isclose(r["forward_perplexity"], math.exp(r["forward_loss"]), rel_tol=1e-3)
