"""core.model: one model-folder protocol. Every kind loads by bundled name, folder or Hub repo id into an object
with the same attributes, its kind read from where it is bundled or from its config.json, and saves to a folder
that loads back to the same outputs."""

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
