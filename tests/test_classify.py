"""Sentiment classification: tiny real runs of every architecture, padding invariance, evaluate's JSON."""
import json
import os

import numpy as np
import pytest

import classify
from tests.helpers import run

GOOD = ["wonderful", "moving", "brilliant", "funny", "gorgeous", "touching"]
BAD = ["boring", "dull", "awful", "tedious", "clumsy", "lifeless"]
FRAMES = ["a {} film", "the story is {} and the cast is {}", "what a {} movie", "{} from start to end",
          "the acting was {} , really {}"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):
        words, label = (GOOD, "positive") if i % 2 else (BAD, "negative")
        frame = FRAMES[i % len(FRAMES)]
        rows.append((frame.format(*rng.choice(words, frame.count("{}"))), label))
    data = root / "reviews.tsv"
    data.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows))
    docs = root / "docs.txt"
    docs.write_text("".join(f"{t}.\n" + ("\n" if i % 5 == 4 else "") for i, (t, _) in enumerate(rows)))
    vocab = str(root / "vocab")
    assert run("-m", "pretrain.vocab", "--corpus", str(docs), "--size", "200", "--out", vocab).returncode == 0
    bert = str(root / "bert")
    done = run("-m", "pretrain.train", "--corpus", str(docs), "--vocab", vocab, "--out", bert, "--steps", "10",
               "--layers", "1", "--hidden", "32", "--heads", "2", "--seq-len", "32", "--batch-size", "8")
    assert done.returncode == 0, done.stderr[-2000:]
    return root, str(data), vocab, bert


def _train(setup, arch, *extra):
    root, data, vocab, bert = setup
    out = str(root / f"{arch}{'-'.join(extra)}")
    init = ["--init", bert] if arch == "bert" else ["--vocab", vocab]
    done = run("-m", "classify", "train", "--arch", arch, "--data", data, "--out", out, "--epochs", "3",
               "--seq-len", "16", "--dim", "16", "--batch-size", "16", *init, *extra)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Gradients do not exist" not in done.stderr  # the unused pretraining heads are frozen, not "missing"
    return out


@pytest.mark.parametrize("arch,pool", [("bilstm", None), ("cnn", None), ("bert", "cls"), ("bert", "mean")])
def test_each_architecture_trains_and_padding_never_changes_a_prediction(setup, arch, pool):
    out = _train(setup, arch, "--lr", "3e-3", *(["--pool", pool] if pool else []))
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["examples"] == 40 and metrics["arch"] == arch
    if pool:
        assert json.load(open(os.path.join(out, "config.json")))["pool"] == pool
    if arch != "bert":  # a 10-step BERT has not learned enough to promise anything
        assert metrics["accuracy"] > 0.8
    clf = classify.load(out)
    ids = classify.encode(clf.tokenizer, ["a wonderful film"], 16, clf.tokens)
    longer = np.zeros((1, 40), np.int32)
    longer[:, :16] = ids
    np.testing.assert_allclose(np.asarray(clf.model(ids)), np.asarray(clf.model(longer)), atol=1e-4)
    p = clf.predict("a wonderful film")
    assert set(p) == {"negative", "positive"} and abs(sum(p.values()) - 1) < 1e-5


def test_mean_pooled_head_reads_the_mean_of_the_real_tokens(setup):
    from keras import ops

    clf = classify.load(_train(setup, "bert", "--pool", "mean"))
    ids = classify.encode(clf.tokenizer, ["a wonderful film"], 16, clf.tokens)
    tokens, pooled = clf.model.bert.encode(ids, ops.zeros_like(ids), ops.cast(ids != 0, "int32"))
    real = int((ids != 0).sum())
    mean = np.asarray(tokens)[:, :real].mean(axis=1)
    np.testing.assert_allclose(np.asarray(clf.model(ids)), np.asarray(clf.model.head(mean)), atol=1e-4)
    assert not np.allclose(mean, np.asarray(pooled), atol=1e-3)  # not the [CLS] pooler's vector


def test_config_from_before_pooling_loads_as_cls(tmp_path):
    from classify.model import ClassifierConfig

    ClassifierConfig(arch="cnn").save(str(tmp_path))
    values = json.load(open(tmp_path / "config.json"))
    del values["pool"]
    json.dump(values, open(tmp_path / "config.json", "w"))
    assert ClassifierConfig.load(str(tmp_path)).pool == "cls"


def test_bert_fine_tunes_with_warm_up_then_linear_decay():
    import argparse

    from classify.train import _optimizer

    opt = _optimizer(argparse.Namespace(arch="bert", lr=2e-4), steps=1000)
    rate = []
    for step in (0, 50, 100, 550, 1000):
        opt.iterations.assign(step)
        rate.append(float(opt.learning_rate))
    np.testing.assert_allclose(rate, [0, 1e-4, 2e-4, 1e-4, 0], atol=1e-9)


def test_random_init_bert_is_the_same_architecture(setup):
    out = _train(setup, "bert", "--init", "random", "--vocab", setup[3])
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["init"] == "random" and config["bert"]["num_layers"] == 1


def test_evaluate_prints_accuracy_f1_and_examples(setup):
    out = _train(setup, "cnn")
    done = run("-m", "classify", "evaluate", "--model", out, "--data", setup[1])
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {"accuracy", "f1", "examples"} and result["examples"] == 40
    assert result["accuracy"] == json.load(open(os.path.join(out, "metrics.json")))["accuracy"]


def test_bad_data_is_a_clear_error(setup, tmp_path):
    bad = tmp_path / "one_label.csv"
    bad.write_text("text,label\ngood film,positive\nnice film,positive\n")
    done = run("-m", "classify", "train", "--arch", "cnn", "--data", str(bad), "--out", str(tmp_path / "o"),
               "--vocab", setup[2])
    assert done.returncode == 2 and "at least two labels" in done.stderr and "Traceback" not in done.stderr


def test_a_header_row_of_any_names_is_not_a_training_row(tmp_path):
    from classify import data
    path = tmp_path / "kaggle.csv"
    path.write_text("review,sentiment\n" + "".join(f"film {i},{'positive' if i % 2 else 'negative'}\n"
                                                  for i in range(10)))
    texts, labels, names = data.load(str(path))
    assert names == ("negative", "positive") and len(texts) == 10 and "review" not in texts


def test_a_vocabulary_other_than_the_pretrained_ones_is_refused(setup, tmp_path):
    root, data, vocab, bert = setup
    tokens = open(os.path.join(bert, "vocab.txt")).read().splitlines()
    tokens[10], tokens[11] = tokens[11], tokens[10]  # same size, two words swapped: every id would still "fit"
    other = tmp_path / "other"
    other.mkdir()
    (other / "vocab.txt").write_text("\n".join(tokens) + "\n")
    done = run("-m", "classify", "train", "--arch", "bert", "--data", data, "--init", bert, "--vocab", str(other),
               "--out", str(tmp_path / "o"), "--epochs", "1")
    assert done.returncode == 2 and "is not the vocabulary" in done.stderr and "Traceback" not in done.stderr
