"""Text classification: tiny real runs of every architecture, padding invariance, resume after kill -9, the CLI.

Tests that train are marked slow; they run the commands in this process (tests.helpers.run_here), except the
kill -9 runs, which need a process of their own. The CLI, data, optimizer and lookup tests are quick.
"""

import json
import os
import shlex
import subprocess
import sys

import h5py
import numpy as np
import pytest

import classify
from tests.helpers import ENV, ROOT, run, run_here

GOOD = ["wonderful", "moving", "brilliant", "funny", "gorgeous", "touching"]
BAD = ["boring", "dull", "awful", "tedious", "clumsy", "lifeless"]
FRAMES = [
    "a {} film",
    "the story is {} and the cast is {}",
    "what a {} movie",
    "{} from start to end",
    "the acting was {} , really {}",
]


def _reviews(n=400):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        words, label = (GOOD, "positive") if i % 2 else (BAD, "negative")
        frame = FRAMES[i % len(FRAMES)]
        rows.append((frame.format(*rng.choice(words, frame.count("{}"))), label))
    return rows


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    rows = _reviews()
    data = root / "reviews.tsv"
    data.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows))
    docs = root / "docs.txt"
    docs.write_text("".join(f"{t}.\n" + ("\n" if i % 5 == 4 else "") for i, (t, _) in enumerate(rows)))
    vocab = str(root / "vocab")
    assert run_here("-m", "pretrain.vocab", "--corpus", str(docs), "--size", "200", "--out", vocab).returncode == 0
    bert = str(root / "bert")
    done = run_here(
        "-m",
        "pretrain.train",
        "--corpus",
        str(docs),
        "--vocab",
        vocab,
        "--out",
        bert,
        "--steps",
        "10",
        "--layers",
        "1",
        "--dim",
        "32",
        "--heads",
        "2",
        "--seq-len",
        "32",
        "--batch-size",
        "8",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return root, str(data), vocab, bert


def _args(setup, arch, out, *extra):
    root, data, vocab, bert = setup
    init = ["--init", bert] if arch == "bert" else ["--vocab", vocab]
    return [
        "train",
        "--arch",
        arch,
        "--data",
        data,
        "--out",
        out,
        "--epochs",
        "3",
        "--seq-len",
        "16",
        "--dim",
        "16",
        "--batch-size",
        "16",
        *init,
        *extra,
    ]


TRAINED = set()  # the folders _train has trained (and checked) in this module's setup folder


def _train(setup, arch, *extra):
    """A run trained once for every test that asks for it (the same arguments: the same folder)."""
    out = str(setup[0] / f"{arch}{'-'.join(extra)}")
    if out in TRAINED:
        return out
    done = run_here("-m", "classify", *_args(setup, arch, out, *extra))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Gradients do not exist" not in done.stderr  # the unused pretraining heads are frozen, not "missing"
    assert json.loads(done.stdout.strip().splitlines()[-1]) == json.load(open(os.path.join(out, "metrics.json")))
    TRAINED.add(out)
    return out


def _weights(folder):
    out = {}
    with h5py.File(os.path.join(folder, "model.weights.h5")) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_card_is_a_hub_model_card_with_the_command_and_the_test_metrics(setup):
    from huggingface_hub import ModelCard

    out = _train(setup, "cnn", "--lr", "3e-3")  # test_each_architecture_trains_...'s run
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    card = ModelCard.load(os.path.join(out, "README.md"))
    assert card.data.library_name == "keras" and {"seqlab", "text-classification"} <= set(card.data.tags)
    assert metrics["command"].startswith("python -m classify train --arch cnn") and metrics["command"] in card.text
    assert f"| test accuracy | {metrics['accuracy']:.4f} |" in card.text
    assert "![loss curve](loss_curve.png)" in card.text
    assert os.path.getsize(os.path.join(out, "loss_curve.png")) > 1000


KILL_AT_SAVE = """
import os, signal, sys
from core import checkpoint
from classify.cli import main
save, saves = checkpoint.save, []
def dying_save(*args, **kwargs):  # epoch N trained and evaluated: kill -9 before (or just after) its checkpoint
    saves.append(1)
    if len(saves) == N and BEFORE:
        os.kill(os.getpid(), signal.SIGKILL)
    path = save(*args, **kwargs)
    if len(saves) == N:
        os.kill(os.getpid(), signal.SIGKILL)
    return path
checkpoint.save = dying_save
sys.exit(main(sys.argv[1:]))
"""
RESUME = ["--epochs", "3", "--patience", "9", "--lr", "1e-3"]


@pytest.fixture(scope="module")
def straight(setup):
    """The uninterrupted run that a killed and resumed one must end as."""
    out = str(setup[0] / "resume-straight")
    assert run_here("-m", "classify", *_args(setup, "bert", out, *RESUME)).returncode == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "epoch,before", [(2, True), (1, False)], ids=["killed-before-checkpoint-2", "killed-after-checkpoint-1"]
)
def test_a_run_killed_mid_way_resumes_from_its_last_epoch_and_ends_as_the_uninterrupted_one(
    setup, straight, epoch, before
):
    """BERT with dropout, AdamW and its schedule: the run is killed (SIGKILL) after an epoch's training and
    evaluation, before its checkpoint (epoch 2: resumed from epoch 1, the best epoch's model.weights.h5 may be one
    epoch ahead) or just after it (epoch 1); the same command resumes and gives the uninterrupted run's history,
    weights, optimizer state and metrics."""
    killed = str(setup[0] / f"resume-killed-{epoch}")
    args = _args(setup, "bert", killed, *RESUME)
    script = KILL_AT_SAVE.replace("N", str(epoch)).replace("BEFORE", str(before))
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -9, done.stderr[-2000:]
    last = epoch - 1 if before else epoch
    assert json.load(open(os.path.join(killed, "checkpoint.json")))["latest"] == f"checkpoint-{20 * last}"
    assert not os.path.exists(os.path.join(killed, "metrics.json"))
    done = run_here("-m", "classify", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming after epoch {last} (best so far: epoch " in done.stderr
    assert f"epoch {last + 1}/3" in done.stderr and f"epoch {last}/3" not in done.stderr  # no epoch trained twice

    def history(folder):
        return json.load(open(os.path.join(folder, "checkpoint-60", "state.json")))["history"]

    want, got = history(straight), history(killed)
    assert [r["step"] for r in got] == [r["step"] for r in want] == list(range(10, 61, 10))  # --log-every 10
    assert [r["epoch"] for r in got if "val_accuracy" in r] == [1, 2, 3]  # one evaluation an epoch
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        rows = [i for i, r in enumerate(want) if key in r]
        assert rows == [i for i, r in enumerate(got) if key in r]
        np.testing.assert_allclose([got[i][key] for i in rows], [want[i][key] for i in rows], rtol=1e-5, atol=1e-6)
    for folder in ("", "checkpoint-60"):  # the shipped (best) model, and the last epoch's weights and optimizer
        a, b = _weights(os.path.join(straight, folder)), _weights(os.path.join(killed, folder))
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)
    m1, m2 = (json.load(open(os.path.join(f, "metrics.json"))) for f in (straight, killed))
    assert {k: v for k, v in m1.items() if k not in ("seconds", "command")} == {
        k: v for k, v in m2.items() if k not in ("seconds", "command")
    }
    command = "python -m classify " + shlex.join(args)
    assert m2["command"] == command and "commands" not in m2  # the same command resumed: one command
    assert f"```\n{command}\n```" in open(os.path.join(killed, "README.md")).read()

    if not before:
        return  # the rest is the same for both kills: checked once (each command costs ~8 s of start-up)
    # the same command on the finished run trains nothing; other settings are refused before any data is read
    again = run_here("-m", "classify", *args)
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1])["epochs"] == 3
    assert json.load(open(os.path.join(killed, "checkpoint-60", "state.json")))["commands"] == [[0, command]]
    other = run_here("-m", "classify", *_args(setup, "bert", killed, *RESUME, "--seq-len", "32", "--data", "/no/such"))
    assert other.returncode == 2 and "holds a run made with --data " in other.stderr
    assert "(not /no/such), --seq-len 16 (not 32): resume with its own settings" in other.stderr
    assert "Traceback" not in other.stderr
    fewer = run_here("-m", "classify", *_args(setup, "bert", killed, *RESUME, "--epochs", "2"))
    assert fewer.returncode == 2 and "--epochs 2 is below the epochs this run has trained (3)" in fewer.stderr


@pytest.mark.slow
def test_a_loss_that_becomes_nan_stops_the_run_with_exit_3_and_keeps_the_last_good_checkpoint(setup):
    """An absurd --lr, reached as BERT's warm-up climbs: finite for the first epochs, then NaN."""
    out = str(setup[0] / "nan")
    done = run_here("-m", "classify", *_args(setup, "bert", out, "--lr", "1e3", "--epochs", "40", "--patience", "40"))
    assert done.returncode == 3, done.stderr[-2000:]
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the loss became nan at step ") and "Traceback" not in done.stderr
    kept = json.load(open(os.path.join(out, "checkpoint.json")))["latest"]
    assert f"the last good checkpoint is kept in {os.path.join(out, kept)}" in message
    state = json.load(open(os.path.join(out, kept, "state.json")))
    assert state["step"] >= 20 and state["step"] < int(message.split("at step ")[1].split(";")[0])
    assert all(np.isfinite(r["train_loss"]) for r in state["history"] if "train_loss" in r)
    assert not os.path.exists(os.path.join(out, "metrics.json"))


@pytest.mark.slow
def test_mean_pooled_head_reads_the_mean_of_the_real_tokens(setup):
    from keras import ops

    clf = classify.load(_train(setup, "bert", "--lr", "3e-3", "--pool", "mean"))  # the bert-mean run above
    ids = classify.encode(clf.tokenizer, ["a wonderful film"], 16, clf.tokens)
    tokens, pooled = clf.model.bert.encode(ids, ops.zeros_like(ids), ops.cast(ids != 0, "int32"))
    real = int((ids != 0).sum())
    mean = np.asarray(tokens)[:, :real].mean(axis=1)
    np.testing.assert_allclose(np.asarray(clf.model(ids)), np.asarray(clf.model.head(mean)), atol=1e-4)
    assert not np.allclose(mean, np.asarray(pooled), atol=1e-3)  # not the [CLS] pooler's vector


@pytest.mark.slow
def test_random_init_bert_is_the_same_architecture(setup):
    out = _train(setup, "bert", "--init", "random", "--vocab", setup[3])
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["init"] == "random" and config["bert"]["num_layers"] == 1


@pytest.mark.slow
def test_evaluate_prints_accuracy_f1_and_examples(setup):
    out = _train(setup, "cnn", "--lr", "3e-3")
    done = run_here("-m", "classify", "evaluate", "--model", out, "--data", setup[1])
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {"accuracy", "f1", "examples"} and result["examples"] == 40
    assert result["accuracy"] == json.load(open(os.path.join(out, "metrics.json")))["accuracy"]


def test_config_from_before_pooling_loads_as_cls(tmp_path):
    from classify.model import ClassifierConfig

    ClassifierConfig(arch="cnn").save(str(tmp_path))
    values = json.load(open(tmp_path / "config.json"))
    del values["pool"]
    json.dump(values, open(tmp_path / "config.json", "w"))
    assert ClassifierConfig.load(str(tmp_path)).pool == "cls"


def test_bert_fine_tunes_with_warm_up_then_linear_decay():
    from classify.train import TrainConfig, make_optimizer

    opt = make_optimizer(TrainConfig(arch="bert", out="unused", lr=2e-4), total_steps=1000)
    rate = []
    for step in (0, 50, 100, 550, 1000):
        opt.iterations.assign(step)
        rate.append(float(opt.learning_rate))
    np.testing.assert_allclose(rate, [0, 1e-4, 2e-4, 1e-4, 0], atol=1e-9)
    assert opt.global_clipnorm == 1.0 and opt.weight_decay == 0.01 and opt.epsilon == 1e-6
    # the schedule is a saveable core one, not a class made inside a function
    assert type(opt._learning_rate).__module__ == "core.optim"


def test_bilstm_and_cnn_keep_a_constant_adam_rate():
    import keras

    from classify.train import TrainConfig, make_optimizer

    for arch, lr, want in (("cnn", None, 1e-3), ("bilstm", 3e-3, 3e-3)):
        opt = make_optimizer(TrainConfig(arch=arch, out="unused", lr=lr), total_steps=1000)
        assert type(opt) is keras.optimizers.Adam and float(opt.learning_rate) == pytest.approx(want)


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"epochs": 0}, "--epochs, --batch-size, --dim and --minutes must be positive"),
        ({"minutes": 0}, "--epochs, --batch-size, --dim and --minutes must be positive"),
        ({"seq_len": 3}, "--seq-len must be at least 4"),
        ({"dropout": 1.0}, "--dropout must be in [0, 1)"),
        ({"arch": "rnn"}, "--arch must be one of bilstm, cnn, bert"),
    ],
)
def test_train_config_validates(bad, message):
    from classify.train import TrainConfig

    with pytest.raises(ValueError) as e:
        TrainConfig(**{"arch": "cnn", "out": "x", **bad}).validate()
    assert message in str(e.value)


def cli(capsys, *argv: str) -> tuple[int, str]:
    """`python -m classify ARGV` run in this process (the module's entry is classify.cli.main, which the --help
    test runs as a real `python -m`): (exit code, stderr). Argparse's refusals exit 2 as they do there."""
    from classify.cli import main

    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_cli_lists_both_subcommands_and_refuses_bad_arguments_before_reading_data(tmp_path, capsys):
    done = run("-m", "classify", "--help")
    assert done.returncode == 0 and "train" in done.stdout and "evaluate" in done.stdout
    code, err = cli(
        capsys, "train", "--arch", "cnn", "--out", str(tmp_path / "o"), "--epochs", "0", "--data", "/no/such/data.csv"
    )
    assert (
        code == 2
        and err.strip().splitlines()[-1] == "error: --epochs, --batch-size, --dim and --minutes must be positive"
    )
    assert not os.path.exists(tmp_path / "o")
    code, err = cli(capsys, "train", "--arch", "rnn", "--out", str(tmp_path / "o"))
    assert code == 2 and "invalid choice: 'rnn'" in err
    code, err = cli(capsys, "evaluate", "--model", "no-such-classifier")
    assert code == 2 and err.strip().splitlines()[-1].startswith(
        "error: classifier 'no-such-classifier' not found: not a bundled classifier (sentiment)"
    )


def test_training_takes_the_train_subcommand(tmp_path, capsys):
    """`python -m classify --arch ...` (no subcommand) is refused by argparse: the spelling is `classify train`."""
    code, err = cli(capsys, "--arch", "cnn", "--out", str(tmp_path / "o"))
    assert code == 2 and "{train,evaluate}" in err and not os.path.exists(tmp_path / "o")


def test_the_config_is_the_command_line():
    """flags.argv gives the flags of a config made in Python (its card's command); they parse back to it."""
    from classify.cli import parser
    from classify.train import TrainConfig
    from core import flags
    from core.budget import Budget

    config = TrainConfig(arch="bert", out="runs/x", epochs=3, minutes=2.5, lr=3e-4, pool="mean", vocab="v")
    argv = flags.argv(config)
    assert argv[:4] == ["--out", "runs/x", "--arch", "bert"] and "--budget" not in " ".join(argv)
    assert flags.build(TrainConfig, parser().parse_args(["train", *argv])) == config
    assert config.validate().budget == Budget(minutes=2.5)  # the trainer's wall-clock cap; the steps are epochs'
    with pytest.raises(ValueError, match="a classifier's budget is epochs="):
        TrainConfig(arch="cnn", out="x", budget=Budget(steps=100)).validate()


def test_batch_n_is_a_function_of_n_and_the_seed_and_each_epoch_reads_every_row_once(tmp_path):
    """What makes a resumed run the uninterrupted one: batches are drawn by (seed, epoch), not by a running RNG."""
    from classify.train import ClassifyTask, TrainConfig
    from core.trainer import Run, fresh_state

    data = tmp_path / "reviews.tsv"
    data.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in _reviews(100)))

    def task(seed):
        config = TrainConfig(arch="cnn", out=str(tmp_path), data=str(data), batch_size=16, seq_len=16, seed=seed)
        t = ClassifyTask(config.validate())
        t.prepare(Run(str(tmp_path), fresh_state(t.settings()), resumed=False, say=lambda message: None))
        return t

    a, b, other = task(0), task(0), task(1)
    assert a.steps_per_epoch == 5 and a.config.eval_every == a.config.checkpoint_every == 5  # 80 rows, 16 a batch
    for step in (0, 4, 7, 13):
        for x, y in zip(a.batch(step), b.batch(step)):
            np.testing.assert_array_equal(x, y)
    rows = sorted(map(tuple, a.split["train"][0].tolist()))
    for epoch in (0, 1):
        seen = np.concatenate([a.batch(epoch * 5 + i)[0] for i in range(5)])
        assert sorted(map(tuple, seen.tolist())) == rows
    assert not np.array_equal(a.batch(0)[0], a.batch(5)[0])  # epochs are shuffled anew
    assert not np.array_equal(a.batch(0)[0], other.batch(0)[0])  # and by the seed


def test_load_takes_a_bundled_name_a_folder_or_a_hub_id(tmp_path):
    from core.resolve import ModelNotFoundError

    assert classify.resolve("sentiment") == os.path.join(classify.MODELS, "sentiment")
    with pytest.raises(ModelNotFoundError, match="as a Hugging Face Hub repo id it could not be fetched"):
        classify.load("someone/no-such-classifier")  # HF_HUB_OFFLINE=1 in the tests: it tried the Hub, fast
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="is not a SeqLab classifier folder: it lacks model.weights.h5"):
        classify.load(str(tmp_path))
    with pytest.raises(OSError, match="classifier 'nope' not found"):  # callers that catch OSError keep working
        classify.load("nope")


def test_bad_data_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "one_label.csv"
    bad.write_text("text,label\ngood film,positive\nnice film,positive\n")
    code, err = cli(capsys, "train", "--arch", "cnn", "--data", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and "at least two labels" in err and "Traceback" not in err


def test_a_header_row_of_any_names_is_not_a_training_row(tmp_path):
    from classify import data

    path = tmp_path / "kaggle.csv"
    path.write_text(
        "review,sentiment\n" + "".join(f"film {i},{'positive' if i % 2 else 'negative'}\n" for i in range(10))
    )
    texts, labels, names = data.load(str(path))
    assert names == ("negative", "positive") and len(texts) == 10 and "review" not in texts


def test_a_vocabulary_other_than_the_pretrained_ones_is_refused(tmp_path, capsys):
    data = tmp_path / "reviews.tsv"
    data.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in _reviews(20)))
    import pretrain.api

    tokens = open(os.path.join(pretrain.api.resolve("bert-imdb"), "vocab.txt")).read().splitlines()
    tokens[10], tokens[11] = tokens[11], tokens[10]  # same size, two words swapped: every id would still "fit"
    other = tmp_path / "other"
    other.mkdir()
    (other / "vocab.txt").write_text("\n".join(tokens) + "\n")
    code, err = cli(
        capsys,
        "train",
        "--arch",
        "bert",
        "--data",
        str(data),
        "--init",
        "bert-imdb",
        "--vocab",
        str(other),
        "--out",
        str(tmp_path / "o"),
        "--epochs",
        "1",
    )
    assert code == 2 and "is not the vocabulary" in err and "Traceback" not in err
