"""The bundled models give the outputs recorded before the core refactor (issue 14), with no retraining.

tests/data/bundled_reference.json was written by tests/data/record_bundled_reference.py on the code before the
change; each test here repeats that script's calls for one package and compares. The figures written out below
(ELMo, the modern-English BERT, the translators, which that script does not cover) were recorded from the weights
files in Keras's own layout, before scripts/convert_weights.py rewrote every bundled model's file by variable path.
"""

import json
import os

import pytest

REFERENCE = json.load(open(os.path.join(os.path.dirname(__file__), "data", "bundled_reference.json")))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["char-transformer", "char-lstm"])
def test_bundled_language_models_generate_the_recorded_text(name):
    import lm

    model, want = lm.load(name), REFERENCE[f"lm/{name}"]
    assert model.generate("ROMEO:\n", max_new_tokens=80, temperature=0.0) == want["greedy"]
    assert model.generate("JULIET:\n", max_new_tokens=60, temperature=0.8, top_k=20, seed=3) == want["sampled"]


@pytest.mark.slow
def test_bundled_classifier_gives_the_recorded_scores():
    import classify

    clf, want = classify.load("sentiment"), REFERENCE["classify/sentiment"]
    for text, scores in want.items():
        got = clf.predict(text)
        assert set(got) == set(scores), text
        for label, p in scores.items():
            assert got[label] == pytest.approx(p, abs=1e-6), (text, label)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert", "bert-imdb"])
def test_bundled_berts_give_the_recorded_fill_mask_nsp_and_embedding(name):
    import numpy as np

    import pretrain

    bert, want = pretrain.load(name), REFERENCE[f"pretrain/{name}"]
    texts = ["in the beginning god created the [MASK] and the earth.", "the acting was [MASK] and the story was dull."]
    for text, recorded in zip(texts, want["fill_mask"]):
        got = bert.fill_mask(text, top_k=5)
        assert [[token for token, _ in mask] for mask in got] == [[token for token, _ in mask] for mask in recorded]
        np.testing.assert_allclose(
            [[p for _, p in mask] for mask in got],
            [[p for _, p in mask] for mask in recorded],
            rtol=0,
            atol=1e-6,
            err_msg=text,
        )
    pairs = [
        ("I went to the shop to buy bread.", "It was closed, so I came home hungry."),
        ("to be, or not to be:", "that is the question"),
    ]
    np.testing.assert_allclose([bert.next_sentence(a, b) for a, b in pairs], want["nsp"], rtol=0, atol=1e-6)
    embed_sum = float(np.asarray(bert.embed("the lord is my shepherd")[1], np.float64).sum())
    # a sum of over a thousand float32 values of either sign: CPU kernels differ by ~1e-5 (6.5e-6 seen on a Xeon);
    # a changed model moves it by far more
    assert embed_sum == pytest.approx(want["embed_sum"], abs=1e-4)


@pytest.mark.slow
def test_bundled_modern_bert_gives_the_recorded_fill_mask_nsp_and_embedding():
    import numpy as np

    import pretrain

    bert = pretrain.load("bert-modern")
    (got,) = bert.fill_mask("in the beginning god created the [MASK] and the earth.", top_k=5)
    assert [token for token, _ in got] == ["earth", "lord", "world", "sky", "house"]
    want = [0.06072544306516647, 0.02790740691125393, 0.025622202083468437, 0.02344595082104206, 0.022521233186125755]
    np.testing.assert_allclose([p for _, p in got], want, rtol=0, atol=1e-6)
    nsp = bert.next_sentence("to be, or not to be:", "that is the question")
    assert nsp == pytest.approx(0.593161404132843, abs=1e-6)
    embed_sum = float(np.asarray(bert.embed("the lord is my shepherd")[1], np.float64).sum())
    assert embed_sum == pytest.approx(1.0767819891916588, abs=1e-4)  # a signed float32 sum: see the test above


@pytest.mark.slow
def test_bundled_elmo_gives_the_recorded_layers_and_predictions():
    import numpy as np

    import lm

    elmo = lm.load("elmo")
    text = "She sat on the bank of the river."
    e = elmo.embed(text)
    # sums of 3,456 float32 values of either sign each: a changed model moves them by far more than 1e-3
    np.testing.assert_allclose(
        [float(np.asarray(layer, np.float64).sum()) for layer in e.layers],
        [201.27003151807003, -73.45656662411056, -172.65718077495694],
        rtol=0,
        atol=1e-3,
    )
    # the equal-weight mix as recorded; the default mix is now the folder's fitted one (mix.json, inside.mix)
    equal = e.mix([0.0, 0.0, 0.0], 1.0)
    np.testing.assert_allclose(equal[0, :4], [-1.1512798, -0.12192119, 0.55576849, -0.04562801], rtol=0, atol=1e-5)
    logits = elmo.logits(text)  # [T, 2, vocab]: each direction's best guess at every word and its logit
    assert logits.argmax(-1).T.tolist() == [
        [7763, 7406, 7314, 0, 5463, 7314, 0, 15, 1],
        [1, 1900, 0, 4526, 7314, 0, 5463, 7314, 0],
    ]
    np.testing.assert_allclose(
        logits.max(-1).T,
        [
            [7.63973, 7.8252, 8.80734, 8.20628, 9.09049, 9.43617, 8.35335, 9.1915, 13.06749],
            [13.86822, 7.07607, 6.82525, 8.02666, 10.35882, 7.78136, 8.77837, 7.42944, 6.84955],
        ],
        rtol=0,
        atol=1e-4,
    )


TRANSLATIONS = {  # greedy and beam-4 translations of two verses, and the beams' scores
    "translate-rnn": (
        ["En el principio comenzado el Dios a los cielos y la tierra.", "Y lloró Jesús."],
        ["En el principio comenzado a Dios los cielos y la tierra.", "Y lloró Jesús."],
        [-3.4733314514160156, -2.1365668773651123],
    ),
    "translate-transformer": (
        ["En el principio crió Dios los cielos y la tierra.", "Y lloró Jesús."],
        ["En el principio crió Dios los cielos y la tierra.", "Y lloró Jesús."],
        [-0.4321284294128418, -1.5888980627059937],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TRANSLATIONS))
def test_bundled_translators_give_the_recorded_translations(name):
    import translate

    model = translate.load(name)
    verses = ["In the beginning God created the heavens and the earth.", "Jesus wept."]
    greedy, beam, scores = TRANSLATIONS[name]
    assert [t.text for t in model.translate(verses, beam=1)] == greedy
    got = model.translate(verses, beam=4)
    assert [t.text for t in got] == beam
    assert [t.score for t in got] == pytest.approx(scores, abs=1e-5)
