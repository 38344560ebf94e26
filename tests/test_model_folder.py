"""core.model: one model-folder protocol. Every kind loads by bundled name, folder or Hub repo id into an object
with the same attributes, its kind read from where it is bundled or from its config.json, and saves to a folder
that loads back to the same outputs."""

import json
import os
import shutil

import numpy as np
import pytest

from core import model
from core.model import KINDS, ModelFolder
from core.resolve import ModelNotFoundError

BUNDLED = {  # one bundled model of each kind
    "lm": "char-lstm",
    "bilm": "elmo",
    "bert": "bert",
    "classifier": "sentiment",
    "translator": "translate-rnn",
}


def _folder(kind: str) -> str:
    return os.path.join(KINDS[kind].models_dir, BUNDLED[kind])


def test_every_kind_is_recognised_by_its_config_and_each_bundled_folder_is_complete():
    for kind in KINDS:
        assert model.kind_of(_folder(kind)) == kind
        assert model.present(BUNDLED[kind], kind)
        assert model.locate(BUNDLED[kind]) == (_folder(kind), kind)  # a bundled name: by the folder that holds it
    assert not model.present("elmo", "translator")


def test_a_name_that_is_no_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="as a Hugging Face Hub repo id it could not be fetched"):
        model.load("seqlab-nobody/no-such-model")
    with pytest.raises(ModelNotFoundError, match=r"model 'nope' not found: not a bundled model \(bert, .*sentiment"):
        model.load("nope")
    with pytest.raises(ModelNotFoundError, match="is not a SeqLab translator folder: it lacks config.json"):
        model.load(str(tmp_path), "translator")
    (tmp_path / "config.json").write_text('{"dim": 8}')
    with pytest.raises(ModelNotFoundError, match="its config.json is not that of a language model, "):
        model.kind_of(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelNotFoundError, match="cannot be read as a model's config"):
        model.kind_of(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="holds a SeqLab BERT, not a language model"):
        model.load(_folder("bert"), ("lm", "bilm"))  # a folder of another kind, named by its path
    with pytest.raises(ValueError, match="kind must be one of lm, bilm, bert, classifier, translator"):
        model.load("bert", "gpt")


def test_a_folder_of_a_kind_needs_all_its_files(tmp_path):
    copy = tmp_path / "half"
    shutil.copytree(_folder("classifier"), copy)
    os.remove(copy / "vocab.txt")
    with pytest.raises(ModelNotFoundError, match="is not a SeqLab classifier folder: it lacks vocab.txt"):
        model.load(str(copy))  # the kind from its config.json, then that kind's files


@pytest.mark.slow
def test_every_package_loads_a_model_folder_with_the_same_attributes():
    import classify
    import lm
    import pretrain
    import translate

    loaded = {
        "lm": lm.load("char-lstm"),
        "bilm": lm.load("elmo"),
        "bert": pretrain.load("bert"),
        "classifier": classify.load("sentiment"),
        "translator": translate.load("translate-rnn"),
    }
    for kind, m in loaded.items():
        assert isinstance(m, ModelFolder) and type(m).__name__ == KINDS[kind].cls
        assert (m.kind, m.name, m.folder) == (kind, BUNDLED[kind], _folder(kind))
        assert m.card == open(os.path.join(m.folder, "README.md"), encoding="utf-8").read() and m.card
        assert m.config is not None
    assert pretrain.api.resolve("bert") == _folder("bert") and classify.resolve("sentiment") == _folder("classifier")


@pytest.mark.slow
def test_save_then_load_gives_the_same_outputs_and_the_folder_name(tmp_path):
    from lm.generate import LanguageModel

    original = LanguageModel.load("char-lstm")  # a class's own load: its kind only
    run = tmp_path / "run"
    (run / "checkpoint-5").mkdir(parents=True)  # a training run's folder: checkpoints are not the model
    out = original.save(str(run))
    assert out == str(run)
    assert sorted(os.listdir(run)) == sorted(["checkpoint-5", *os.listdir(original.folder)])
    again = model.load(str(run))  # no kind given: read from config.json
    assert isinstance(again, LanguageModel) and (again.kind, again.name, again.folder) == ("lm", "run", str(run))
    assert again.card == original.card
    prompt = "ROMEO:\n"
    assert again.generate(prompt, max_new_tokens=40, temperature=0.0) == original.generate(
        prompt, max_new_tokens=40, temperature=0.0
    )
    os.remove(run / "README.md")
    assert model.load(str(run) + "/").card == "" and model.load(str(run) + "/").name == "run"
    with pytest.raises(ModelNotFoundError, match=r"holds a SeqLab bidirectional language model \(ELMo\), not a lang"):
        LanguageModel.load("elmo")  # lm.load gives the ELMo; LanguageModel's own load is of its kind only


@pytest.mark.slow
def test_a_saved_classifier_scores_the_same(tmp_path):
    import classify

    clf = classify.load("sentiment")
    again = model.load(clf.save(str(tmp_path / "copy")))
    texts = ["A gorgeous, moving film.", "Dull and far too long."]
    np.testing.assert_allclose(again.probabilities(texts), clf.probabilities(texts), rtol=0, atol=1e-7)
    assert again.name == "copy" and again.kind == "classifier" and again.save(again.folder) == again.folder


@pytest.mark.slow
def test_weights_load_by_their_names_whatever_the_process_built_first():
    """A weight is found by its variable path, a path of explicit layer names: models built before a bundled one,
    which move Keras's automatic name counters (dense_7, layer_normalization_3, a second 'bert'), change nothing."""
    from keras import ops

    import classify
    import lm
    from classify.model import ClassifierConfig
    from classify.model import build as build_classifier
    from lm.model import LMConfig
    from lm.model import build as build_lm
    from pretrain.model import BertConfig
    from pretrain.model import build as build_bert

    first = lm.load("char-transformer")
    ids = np.asarray([first.tokenizer.encode("ROMEO:\nWhat light through yonder window")], np.int32)
    want = ops.convert_to_numpy(first.model(ids))
    build_lm(LMConfig(vocab_size=30, seq_len=8, layers=3, dim=8, heads=2))
    build_lm(LMConfig(arch="lstm", vocab_size=30, seq_len=8, layers=1, dim=8))
    build_classifier(ClassifierConfig(arch="bilstm", vocab_size=30, seq_len=8, dim=8))
    bert = dict(vocab_size=50, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32, max_positions=16)
    build_bert(BertConfig(**bert))  # another model named "bert" in this process, before the classifier's
    again = lm.load("char-transformer")
    assert [v.path for v in again.model.weights] == [v.path for v in first.model.weights]
    np.testing.assert_array_equal(ops.convert_to_numpy(again.model(ids)), want)
    clf = classify.load("sentiment")
    assert clf.model.bert.weights[0].path.startswith("bert/")  # where a pretrained BERT's file has it
    reference = os.path.join(os.path.dirname(__file__), "data", "bundled_reference.json")
    for text, scores in json.load(open(reference))["classify/sentiment"].items():
        got = clf.predict(text)
        for label, p in scores.items():
            assert got[label] == pytest.approx(p, abs=1e-6), (text, label)


def test_a_weights_file_that_is_another_models_names_what_differs(tmp_path):
    import h5py
    import keras

    from core import checkpoint
    from lm.model import LMConfig, build

    net = build(LMConfig(arch="lstm", vocab_size=30, seq_len=8, layers=1, dim=8))
    path = str(tmp_path / "model.weights.h5")
    checkpoint.save_weights(net, path)
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    assert sorted(names) == sorted(v.path for v in net.weights)  # one dataset per weight, named by its path
    again = build(LMConfig(arch="lstm", vocab_size=30, seq_len=8, layers=1, dim=8))
    checkpoint.load_weights(again, path)
    for a, b in zip(net.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with h5py.File(path, "a") as f:
        del f["recurrent_lm/head/bias"]
        f["recurrent_lm/extra/kernel"] = np.zeros(3, np.float32)
        del f["recurrent_lm/embed/embeddings"]
        f["recurrent_lm/embed/embeddings"] = np.zeros((31, 8), np.float32)
    with pytest.raises(ValueError) as e:
        checkpoint.load_weights(again, path)
    assert str(e.value) == (
        f"weights file {path} does not match model recurrent_lm: it lacks 1 of the model's weights: "
        "recurrent_lm/head/bias; it has 1 datasets the model has no weight for: recurrent_lm/extra/kernel; "
        "1 have another shape: recurrent_lm/embed/embeddings (31, 8) (the model's is (30, 8))"
    )
    keras.Model.save_weights(net, path)  # Keras's own layout is not read: the message says what converts it
    with pytest.raises(ValueError, match="Keras's object-graph layout, which SeqLab does not read: scripts/convert"):
        checkpoint.load_weights(again, path)
