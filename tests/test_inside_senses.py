"""The Contexts view shows senses on its first click: the centred similarity, the number under each heatmap, ELMo's
fitted mix (kept with the model folder), the batched reference set; and the tabs' defaults read from the record."""

import json
import os

import numpy as np
import pytest

from inside import contexts, reference, vectors
from space import defaults
from space.examples import CONTEXT_EXAMPLES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------------------------ no model
def test_centring_removes_the_shared_direction():
    shared = np.array([10.0, 10.0, 0.0, 0.0])
    v = np.stack([shared + [0, 0, 1, 0], shared + [0, 0, 1, 0.2], shared + [0, 0, 0, 1], shared + [0, 0, 0.2, 1]])
    raw = reference.similarity(v, 0.0)
    assert raw.min() > 0.98  # every pair alike: the senses hide in the last digits
    centred = reference.similarity(v, shared)
    assert centred[0, 1] > 0.9 and centred[2, 3] > 0.9 and centred[0, 2] < 0.3


def test_separation_is_same_minus_cross_and_needs_both_kinds_of_pair():
    m = [[1, 0.8, 0.1, 0.3], [0.8, 1, 0.2, 0.0], [0.1, 0.2, 1, 0.6], [0.3, 0.0, 0.6, 1]]
    assert contexts.separation(m, ["a", "a", "b", "b"]) == pytest.approx(0.7 - 0.15)
    assert contexts.separation(m, [None, None, None, None]) is None
    assert contexts.separation(m, ["a", "a", "a", None]) is None  # no cross-sense pair


def test_sense_labels_come_off_the_sentences():
    sentences, senses = contexts.split_labels(["[River] We sat on the bank.", "The bank lent us money."])
    assert sentences == ["We sat on the bank.", "The bank lent us money."] and senses == ["river", None]


def test_the_tabs_default_to_the_best_recorded_bert_on_modern_text(tmp_path):
    record = json.load(open(defaults.RESULTS))
    modern = next(s for s in record["sets"] if s["set"] == defaults.MODERN_SET)
    names = ["bert-modern", "bert", "bert-imdb"]
    for task, metric in defaults.METRIC.items():
        order = defaults.bert_order(task, names)
        assert [modern[n][metric] for n in order] == sorted((modern[n][metric] for n in names), reverse=True)
    # the order follows the record: swap two models' figures and the default moves
    swapped = json.loads(json.dumps(record))
    row = next(s for s in swapped["sets"] if s["set"] == defaults.MODERN_SET)
    row["bert"]["mlm_accuracy"], row["bert-imdb"]["mlm_accuracy"] = 0.99, 0.01
    path = tmp_path / "r.json"
    path.write_text(json.dumps(swapped))
    assert defaults.best_bert("fill_mask", names, str(path)) == "bert"
    assert defaults.bert_order("fill_mask", ["other", *names], str(path))[-1] == "other"  # unrecorded: last


def test_recorded_sense_match_meets_the_mix_targets():
    """bench/results/sense_match.json (python -m bench.sense_match): on the held-out words ELMo's layer -1 (the
    fitted mix) is at least 0.72 and 0.20 above its context-free layer 0."""
    r = json.load(open(os.path.join(ROOT, "bench", "results", "sense_match.json")))
    assert r["held_out_words"] == [e["word"] for e in reference.halves(reference.read_words())[1]]
    mix, static = r["results"]["elmo mix"]["score"], r["results"]["elmo layer 0"]["score"]
    assert mix >= 0.72 and mix - static >= 0.20


def _example_sentences() -> list[str]:
    return [s for _, text in CONTEXT_EXAMPLES for s in contexts.split_labels(text.splitlines())[0]]


@pytest.mark.parametrize(
    "folder", ["lm/models/elmo", *(f"pretrain/models/{n}" for n in ("bert-modern", "bert", "bert-imdb"))]
)
def test_bundled_models_store_their_vectors_of_the_reference_set_and_the_examples(folder):
    """The app's first Compare reads them (inside.stored): written for these weights, these reference sentences
    and the shipped examples; else rewrite them with the command they name."""
    import hashlib

    from inside import stored

    with np.load(os.path.join(ROOT, folder, stored.FILE), allow_pickle=False) as z:
        about, sentences = json.loads(str(z["about"])), [str(x) for x in z["sentences"]]
    command = about["command"]
    weights = hashlib.sha256(open(os.path.join(ROOT, folder, stored.WEIGHTS), "rb").read()).hexdigest()
    assert about["weights_sha256"] == weights, command
    ref = reference.Reference.senses().sentences
    assert sentences[: len(ref)] == ref and about["reference_sentences"] == len(ref), command
    assert set(_example_sentences()) <= set(sentences), command


# ------------------------------------------------------------------------------------------------ the models
@pytest.fixture(scope="module")
def models():
    import lm
    import pretrain

    encoders = {"elmo": lm.load("elmo")}
    berts = {n: pretrain.load(n) for n in ("bert-modern", "bert", "bert-imdb")}
    ref = reference.Reference.senses()
    every = [*encoders.values(), *berts.values()]
    assert ref.load(every) == every  # the stored vectors, as the app reads them
    return encoders, berts, ref


@pytest.mark.slow
def test_stored_vectors_are_the_models_own(models):
    """What the app reads for the examples and the reference set is what the models compute (float16)."""
    encoders, berts, ref = models
    texts = _example_sentences() + ref.sentences[:16]
    for m in [*encoders.values(), *berts.values()]:
        layers = (0, 1, 2, -1) if m in encoders.values() else (-1,)
        assert ref.is_stored(m, texts, layers), m.name
        for got, fresh in zip(ref.word_vectors(m, texts, layers), vectors.word_vectors_many(m, texts, layers)):
            assert got.words == fresh.words, m.name
            for layer in layers:
                np.testing.assert_allclose(got.vectors[layer], fresh.vectors[layer], rtol=1e-2, atol=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize("example", CONTEXT_EXAMPLES, ids=[e[0] for e in CONTEXT_EXAMPLES])
def test_shipped_examples_separate_the_senses(models, example):
    """ELMo's mix and every BERT's last layer: the number under the heatmap is positive, and both same-sense
    pairs come above every cross-sense pair."""
    encoders, berts, ref = models
    word, text = example
    reps = contexts.representations(encoders, berts)
    c = contexts.compare(word, text.splitlines(), reps, ref)
    assert c.senses == [c.senses[0]] * 2 + [c.senses[2]] * 2 and c.senses[0] != c.senses[2]
    shown = {r.label: r for r in c.representations}
    assert shown["static (elmo layer 0)"].separation == pytest.approx(0.0, abs=1e-6)
    for label in ["elmo mix", *(f"{n} layer 4" for n in berts)]:
        r = shown[label]
        assert r.separation > 0, label
        m = np.asarray(r.matrix)
        assert min(m[0, 1], m[2, 3]) > m[:2, 2:].max(), label


@pytest.mark.slow
def test_mix_weights_round_trip_with_the_model_folder(models, tmp_path):
    import lm
    from lm import bilm

    elmo = models[0]["elmo"]
    recorded = bilm.read_mix(elmo.folder)
    assert recorded is not None and len(recorded["weights"]) == 3  # fitted: python -m inside.mix
    e = elmo.embed("She sat on the bank of the river.")
    np.testing.assert_allclose(e.mix(), e.mix(recorded["weights"], recorded["gamma"]), atol=1e-6)
    copy = lm.load(elmo.save(str(tmp_path / "elmo")))
    assert copy.mix_weights == tuple(recorded["weights"]) and bilm.read_mix(copy.folder) == recorded
    bilm.write_mix(copy.folder, [0.0, 0.0, 0.0], 2.0)
    again = lm.load(copy.folder).embed("She sat on the bank of the river.")
    np.testing.assert_allclose(again.mix(), 2.0 * e.layers.mean(axis=0), atol=1e-5)


@pytest.mark.slow
def test_batched_vectors_are_each_texts_own(models):
    encoders, berts, _ = models
    texts = ["She sat on the bank of the river.", "A bank.", "The old mattress has a broken spring, they said."]
    for m in [encoders["elmo"], berts["bert-imdb"]]:
        many = m.embed_many(texts) if hasattr(m, "embed_many") else m.hidden_states_many(texts)
        for text, got in zip(texts, many):
            if hasattr(m, "embed_many"):
                one = m.embed(text)
                assert got.tokens == one.tokens
                np.testing.assert_allclose(got.layers, one.layers, atol=1e-4)
            else:
                tokens, states = m.hidden_states(text)
                assert got[0] == tokens
                np.testing.assert_allclose(got[1], states, atol=1e-4)


@pytest.mark.slow
def test_a_whole_word_mask_is_answered_with_whole_words(models):
    berts = models[1]
    texts = [
        "The movie was so [MASK] that I fell asleep.",
        "She [MASK] the door and left.",
        "He bought two [MASK] of bread.",
        "The [MASK] was boring and too long.",
    ]
    for name, bert in berts.items():
        for text in texts:
            (answers,) = bert.fill_mask(text, top_k=10)
            assert len(answers) == 10 and not any(t.startswith("##") for t, _ in answers), (name, text, answers)
            assert [p for _, p in answers] == sorted((p for _, p in answers), reverse=True)
