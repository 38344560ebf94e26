"""translate.train, translate.evaluate and the translate.load API, on a tiny real pair file (issue 15)."""

import json
import os
import random
import shutil

import numpy as np
import pytest

from tests.helpers import run_here

WORDS = dict(
    zip(
        "the cat dog house red green big small runs sees eats old new man woman child tree water".split(),
        "el gato perro casa rojo verde grande pequeño corre ve come viejo nuevo hombre mujer niño árbol agua".split(),
    )
)
TINY = [
    "--layers",
    "1",
    "--dim",
    "64",
    "--heads",
    "2",
    "--ffn-dim",
    "128",
    "--vocab-size",
    "200",
    "--max-len",
    "16",
    "--batch-size",
    "16",
    "--warmup",
    "10",
    "--eval-every",
    "50",
    "--checkpoint-every",
    "300",
    "--lr",
    "2e-3",
    "--label-smoothing",
    "0",
    "--dropout",
    "0",
]


def pair_file(folder, n=1500, seed=0) -> str:
    """Word-by-word 'translations' of random English word strings: learnable in a few hundred steps."""
    rng = random.Random(seed)
    path = os.path.join(folder, "pairs.tsv")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            words = [rng.choice(list(WORDS)) for _ in range(rng.randint(3, 7))]
            f.write(" ".join(words) + "\t" + " ".join(WORDS[w] for w in words) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate")
    tsv = pair_file(str(root))
    archs = ("transformer", "rnn")
    commands = [
        ["-m", "translate.train", "--pair", tsv, "--out", str(root / a), "--arch", a, "--steps", "300", *TINY]
        for a in archs
    ]
    models = {}
    for arch, done in zip(archs, [run_here(*c) for c in commands]):
        assert done.returncode == 0, done.stderr[-3000:]
        models[arch] = (str(root / arch), json.loads(done.stdout.strip().splitlines()[-1]))
    return tsv, models


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["transformer", "rnn"])
def test_training_lowers_the_loss_and_the_folder_is_complete(trained, arch):
    out, metrics = trained[1][arch]
    history = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["step"] == 300 and history["parameters"] > 0
    state = json.load(open(os.path.join(out, "checkpoint-300", "state.json")))
    losses = [h["val_loss"] for h in state["history"] if "val_loss" in h]  # evaluation rows
    assert losses[-1] < 0.5 * losses[0], losses
    for name in ("config.json", "model.weights.h5", "metrics.json", "loss_curve.png", "README.md"):
        assert os.path.exists(os.path.join(out, name)), name
    assert "python -m translate.train" in open(os.path.join(out, "README.md")).read()


@pytest.mark.slow
def test_save_load_round_trip_and_the_api(trained):
    import translate

    out, _ = trained[1]["transformer"]
    t = translate.load(out)
    [a] = t.translate("the big dog sees the cat", beam=4)
    [b] = translate.load(out).translate("the big dog sees the cat", beam=4)  # a fresh load of the saved folder
    assert a.text == b.text and a.score == pytest.approx(b.score, abs=1e-5)
    assert a.text.split()[:3] == ["el", "grande", "perro"], a.text  # word by word: learnt
    assert len(a.target_tokens) == a.attention.shape[0] and len(a.source_tokens) == a.attention.shape[-1]
    np.testing.assert_allclose(a.attention.sum(-1), 1.0, atol=1e-5)
    assert a.attention_map(layer=-1, head=0).shape == (len(a.target_tokens), len(a.source_tokens))
    # beam=1 takes the greedy loop; beam search run at width 1 must pick the same tokens
    from translate.decode import translate_ids

    greedy = t.translate(["the cat", "a tree"], beam=1)
    source = np.zeros((2, t.config.max_src_len), np.int32)
    for row, text in enumerate(["the cat", "a tree"]):
        ids = t.tokenizer.source.encode(text)
        source[row, : len(ids)] = ids
    beam1 = [t.tokenizer.target.decode(r.ids) for r in translate_ids(t.model, source, beam=1, method="beam")]
    assert [g.text for g in greedy] == beam1


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["transformer", "rnn"])
def test_a_text_over_the_limit_is_translated_in_runs_of_whole_sentences(trained, arch):
    """translate_text: a text that fits is translated whole (as `translate`); one over the model's 16 subwords is
    cut at sentence ends (then ; and :, then commas, where still needed) into the fewest runs that fit, each
    translated as `translate` would, and joined with a block-diagonal attention; a part with no break that is over
    the limit is refused by name."""
    import translate

    t = translate.load(trained[1][arch][0])
    limit = t.config.max_src_len

    def size(s):
        return len(t.tokenizer.source.encode(s))

    short = "The big dog sees the cat. A small tree."
    whole = t.translate_text(short)
    assert whole.text == t.translate(short)[0].text and whole.attention.shape == t.translate(short)[0].attention.shape
    text = "The big dog sees the cat. A small tree runs.\nthe old man eats; the red house is new, a cat."
    with pytest.raises(ValueError, match="over this model's limit"):
        t.translate(text)
    runs = t._runs(text)
    assert len(runs) >= 2 and " ".join(runs) == " ".join(text.split()) and all(size(r) <= limit for r in runs)
    assert all(size(a + " " + b) > limit for a, b in zip(runs, runs[1:]))  # greedy: no two neighbours fit as one
    parts = t.translate(runs)
    joined = t.translate_text(text)
    assert joined.text == " ".join(p.text for p in parts) and joined.source == text
    assert joined.source_tokens == [x for p in parts for x in p.source_tokens]
    assert joined.target_tokens == [x for p in parts for x in p.target_tokens]
    a = joined.attention
    assert a.shape[0] == len(joined.target_tokens) and a.shape[-1] == len(joined.source_tokens)
    row = col = 0
    for p in parts:  # each run's map on the diagonal, and nothing beside it: a run attends to its own source only
        rows, cols = p.attention.shape[0], p.attention.shape[-1]
        np.testing.assert_array_equal(a[row : row + rows, ..., col : col + cols], p.attention)
        assert a[row : row + rows].sum() == pytest.approx(p.attention.sum(), rel=1e-6)
        row, col = row + rows, col + cols
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    assert min(p.score for p in parts) <= joined.score <= max(p.score for p in parts)
    assert joined.finished == all(p.finished for p in parts)
    clauses = "the old man eats the cat; the red house is new, the big dog sees a small tree, the woman runs."
    assert size(clauses) > limit and all(size(r) <= limit for r in t._runs(clauses))  # no sentence end: ; then ,
    quoted = '"The big dog sees the cat." The old man said: "a small tree runs, the red house is new."'
    assert "".join(t._runs(quoted)).count('"') == 4  # cuts keep every quote mark
    with pytest.raises(ValueError, match="no sentence end, semicolon or comma, over this model's limit of 16"):
        t.translate_text("A tree. " + "the cat " * 20 + "runs.")


@pytest.mark.slow
def test_tune_chooses_alpha_on_held_out_pairs_and_the_model_decodes_with_it(trained, tmp_path, capsys):
    import shutil

    import translate

    out = str(tmp_path / "model")
    shutil.copytree(trained[1]["transformer"][0], out)  # the shared fixture's folder stays as it is
    assert translate.load(out).decoding.alpha == 0.6  # no decoding.json: GNMT's usual value
    dev = pair_file(str(tmp_path), n=40, seed=7)
    done = run_here("-m", "translate.tune", "--model", out, "--tsv", dev, "--alphas", "2,0,0.6", "--write")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["alpha"] for r in result["scores"]] == [0.0, 0.6, 2.0] and result["sentences"] == 40
    best = max(result["scores"], key=lambda r: (r["bleu"], r["chrf"], -r["alpha"]))
    assert result["best_alpha"] == best["alpha"] and result["written"] == os.path.join(out, "decoding.json")
    saved = json.load(open(result["written"]))
    assert saved["alpha"] == best["alpha"] and saved["tuned"]["scores"] == result["scores"]
    card = open(os.path.join(out, "README.md")).read()
    assert f"length penalty at alpha {best['alpha']}, chosen on" in card and "--alphas 0.0,0.6,2.0 --beam 4" in card
    t = translate.load(out)
    assert t.decoding.alpha == best["alpha"]
    texts = ["the big dog sees the cat", "a small tree", "the old man eats"]
    assert [x.score for x in t.translate(texts)] == [x.score for x in t.translate(texts, alpha=best["alpha"])]
    from translate.translator import Decoding

    Decoding(alpha=2.0).save(out)  # an alpha the default (0.6) cannot be mistaken for
    t = translate.load(out)
    scores = [x.score for x in t.translate(texts)]
    assert scores == [x.score for x in t.translate(texts, alpha=2.0)]
    assert scores != [x.score for x in t.translate(texts, alpha=0.6)]
    # evaluate decodes with the model's own alpha unless told, and says which (in this process: no new start-up)
    from corpus import parallel
    from translate import evaluate, tune

    assert evaluate.score(t, parallel.load_pairs(dev)[:4])["alpha"] == 2.0  # the alpha its decoding.json holds
    assert tune.main(["--model", out, "--tsv", dev, "--alphas", "0.6,nine"]) == 2
    assert "--alphas must be numbers separated by commas" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    "text, beam, message",
    [
        ("", 4, "text is empty"),
        ("the cat " * 40, 4, "over this model's limit"),
        ("the cat", 0, "beam must be"),
        ("the cat", 99, "beam must be"),
        ("ЖЖЖ", 4, "no known subwords"),
    ],
)
def test_bad_input_gets_a_clear_error(trained, text, beam, message):
    import translate

    with pytest.raises(ValueError, match=message):
        translate.load(trained[1]["rnn"][0]).translate(text, beam=beam)


@pytest.mark.slow
def test_resume_continues_and_other_settings_are_refused(trained, tmp_path):
    tsv = trained[0]
    out = str(tmp_path / "m")
    ema = ["--ema", "0.9"]  # the run ships the weights' moving average; its checkpoint keeps the trained weights
    first = run_here("-m", "translate.train", "--pair", tsv, "--out", out, "--steps", "20", *TINY, *ema)
    assert first.returncode == 0, first.stderr[-2000:]
    with open(os.path.join(out, "decoding.json"), "w") as f:
        json.dump({"alpha": 1.8, "tuned": {}}, f)  # tuned for the 20-step weights
    more = run_here("-m", "translate.train", "--pair", tsv, "--out", out, "--steps", "30", *TINY, *ema)
    assert more.returncode == 0 and "resumed from" in more.stderr
    assert not os.path.exists(os.path.join(out, "decoding.json")) and "run python -m translate.tune" in more.stderr
    metrics = json.loads(more.stdout.splitlines()[-1])
    assert metrics["step"] == 30 and metrics["ema"] == 0.9 and np.isfinite(metrics["val_loss_trained_weights"])
    card = open(os.path.join(out, "README.md")).read()
    assert "- step 20: `python -m translate.train" in card  # the card lists both commands
    assert "moving average at momentum 0.9" in card
    import h5py

    def first_kernel(path):  # the embedding matrix: the same first dataset in both files
        with h5py.File(path) as f:
            names = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            return np.asarray(f[sorted(names)[0]])

    shipped, trained_weights = (
        first_kernel(os.path.join(out, "model.weights.h5")),
        first_kernel(os.path.join(out, "checkpoint-30", "model.weights.h5")),
    )
    assert shipped.shape == trained_weights.shape and not np.allclose(shipped, trained_weights)
    other = run_here(
        "-m", "translate.train", "--pair", tsv, "--out", out, "--steps", "40", *TINY[2:], "--dim", "48",
        "--length-window", "0", "--split-sentences", "--precision", "bf16",
    )  # fmt: skip
    assert other.returncode == 2 and "--dim 64 (not 48)" in other.stderr
    assert "--split-sentences False (not True)" in other.stderr and "--precision fp32 (not bf16)" in other.stderr
    assert "--length-window 32 (not 0)" in other.stderr  # the batches a resume would see are part of the run
    assert "--ema 0.9 (not 0.0)" in other.stderr  # the optimizer's variables hold the average


@pytest.mark.slow
def test_sentence_pairs_and_bf16_train_and_the_model_decodes_in_float32(tmp_path, capsys):
    """--split-sentences adds a pair per sentence of two-sentence lines; --precision bf16 trains in bfloat16 and
    leaves float32 weights, a float32 global policy and a card that says both (in process: no CLI start-up)."""
    import keras

    import translate
    from translate import train

    rng = random.Random(1)
    path = str(tmp_path / "two.tsv")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(400):
            en, es = [], []
            for _ in range(2):
                words = [rng.choice(list(WORDS)) for _ in range(rng.randint(2, 4))]
                en.append(" ".join(words).capitalize() + ".")
                es.append(" ".join(WORDS[w] for w in words).capitalize() + ".")
            f.write(" ".join(en) + "\t" + " ".join(es) + "\n")
    out = str(tmp_path / "m")
    argv = ["--pair", path, "--out", out, "--steps", "20", *TINY, "--split-sentences", "--precision", "bf16"]
    assert train.main(argv) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    train_lines = metrics["train_pairs"] - metrics["sentence_pairs"]
    assert metrics["sentence_pairs"] == 2 * train_lines and metrics["precision"] == "bf16"
    assert metrics["dropped_pairs"] == 0 and np.isfinite(metrics["val_loss"])
    assert keras.mixed_precision.global_policy().name == "float32"
    card = open(os.path.join(out, "README.md")).read()
    assert "single sentences cut from verses" in card and "bf16 matmuls" in card
    t = translate.load(out)
    assert all(w.dtype == "float32" for w in t.model.weights) and t.model.compute_dtype == "float32"
    assert isinstance(t.translate("The cat runs.", beam=2)[0].text, str)


@pytest.mark.slow
def test_evaluate_prints_bleu_chrf_and_signatures_as_its_last_line(trained, tmp_path):
    tsv, models = trained
    small = tmp_path / "small.tsv"
    small.write_text("".join(open(tsv).readlines()[:40]))
    done = run_here(
        "-m",
        "translate.evaluate",
        "--model",
        models["transformer"][0],
        "--tsv",
        str(small),
        "--beam",
        "2",
        "--copy-baseline",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sentences"] == 40 and 0 <= result["bleu"] <= 100 and result["bleu"] > result["copy_bleu"]
    assert result["bleu_signature"].startswith("nrefs:1|") and "chrf_signature" in result
    assert "books" not in result  # a TSV has no books
    import translate
    from corpus.parallel import Pair
    from translate.evaluate import score

    lines = [line.rstrip("\n").split("\t") for line in open(small, encoding="utf-8")]
    bible = [
        Pair(src, tgt, book, f"{book}.1.{i}")
        for i, (src, tgt) in enumerate(lines)
        for book in [("Amos", "John")[i % 2]]
    ]
    translator = translate.load(models["transformer"][0])
    scored = score(translator, bible, beam=2)
    assert scored["bleu"] == result["bleu"] and set(scored["books"]) == {"Amos", "John"}  # the same 40 pairs
    for book in ("Amos", "John"):  # a book's scores are its own pairs', scored alone
        alone = score(translator, [p for p in bible if p.group == book], beam=2)
        assert scored["books"][book] == {"sentences": 20, "bleu": alone["bleu"], "chrf": alone["chrf"]}, book


@pytest.mark.slow  # three CLI subprocesses, each importing TensorFlow
def test_bad_arguments_fail_before_any_data_is_read(tmp_path, capsys):
    """In process (each CLI start costs ~7 s of imports): main() exits 2 with the message, nothing is read."""
    from translate import evaluate, train

    def cli(main, *argv):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse's own errors
            code = e.code
        return code, capsys.readouterr().err

    code, err = cli(train.main, "--pair", "no-such-pair", "--out", str(tmp_path), "--steps", "10",
                    "--label-smoothing", "1.5")  # fmt: skip
    assert code == 2 and "--label-smoothing must be in [0, 1)" in err
    code, err = cli(train.main, "--pair", "web-es", "--out", str(tmp_path), "--steps", "10", "--minutes", "1")
    assert code == 2 and "not allowed with argument" in err
    code, err = cli(evaluate.main, "--model", "no-such-model", "--pair", "web-es")
    assert code == 2 and "translator 'no-such-model' not found" in err
    code, err = cli(train.main, "--pair", "hf:x", "--out", str(tmp_path), "--steps", "10", "--source-lang", "en")
    assert code == 2 and "--source-lang and --target-lang go together" in err
    code, err = cli(evaluate.main, "--model", "no-such-model", "--pair", "hf:x", "--target-lang", "es")
    assert code == 2 and "--source-lang and --target-lang go together" in err
    assert os.listdir(tmp_path) == []  # no run folder was started


@pytest.mark.slow
def test_an_hf_set_is_read_in_the_direction_the_flags_give(trained, tmp_path, capsys):
    """A local JSON Lines file of {"translation": {"en", "es"}} rows through --pair hf:json:FILE: without
    --source-lang / --target-lang the CLI says how to choose; with them it scores en -> es (es -> en scores the
    Spanish side against the English, far lower), tune records the flags in its command, and a training run keeps
    them."""
    from translate import evaluate, train, tune

    tsv, models = trained
    rows = [line.rstrip("\n").split("\t") for line in open(tsv, encoding="utf-8")]
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text("".join(json.dumps({"translation": {"en": s, "es": t}}) + "\n" for s, t in rows))
    base = ["--model", models["transformer"][0], "--pair", f"hf:json:{jsonl}", "--beam", "1", "--limit", "30"]

    def cli(main, *argv):
        code = main([*base, *argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out.strip().splitlines()[-1]) if code == 0 else err)

    code, err = cli(evaluate.main)
    assert code == 2 and "translates ['en', 'es']: choose the direction (--source-lang SOURCE --target-lang" in err
    code, forward = cli(evaluate.main, "--source-lang", "en", "--target-lang", "es")
    assert code == 0 and forward["sentences"] == 30 and forward["languages"] == ["en", "es"], forward
    code, backward = cli(evaluate.main, "--source-lang", "es", "--target-lang", "en")
    assert code == 0 and backward["bleu"] < forward["bleu"] - 20
    folder = tmp_path / "copy"  # --write changes the folder: not the module's trained model
    shutil.copytree(models["transformer"][0], folder)
    base[1] = str(folder)
    code, tuned = cli(tune.main, "--alphas", "0.6", "--source-lang", "en", "--target-lang", "es", "--write")
    assert code == 0 and tuned["written"]
    command = json.load(open(tuned["written"]))["tuned"]["command"]
    assert "--source-lang en --target-lang es" in command
    # the direction is a run setting: a resume that turns it round is refused by name
    run = ["--pair", f"hf:json:{jsonl}", "--out", str(tmp_path / "run"), *TINY]
    assert train.main([*run, "--steps", "2", "--source-lang", "en", "--target-lang", "es"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["languages"] == ["en", "es"]
    card = open(tmp_path / "run" / "README.md", encoding="utf-8").read()  # its evaluate command reads the same way
    assert f"--pair hf:json:{jsonl} --source-lang en --target-lang es --split test" in card and "(en → es)" in card
    assert train.main([*run, "--steps", "4", "--source-lang", "es", "--target-lang", "en"]) == 2
    assert "--source-lang en (not es), --target-lang es (not en)" in capsys.readouterr().err


def test_the_config_fields_are_the_flags(capsys):
    """translate.train's flags come from TrainConfig (and its model and optimizer configs): its own defaults, one
    --max-len for both lengths, and no flag for what the run fills in (lengths, vocabularies, resolved sharing)."""
    import argparse

    from core import flags
    from core.budget import Budget
    from translate.train import TrainConfig

    p = flags.add(argparse.ArgumentParser(), TrainConfig)
    args = p.parse_args(["--pair", "web-es", "--out", "runs/x", "--steps", "5", "--max-len", "20", "--arch", "rnn"])
    c = flags.build(TrainConfig, args).validate()
    assert c.budget == Budget(steps=5) and (c.eval_every, c.checkpoint_every, c.jit) == (200, 200, False)
    assert c.optimizer.warmup == 400 and c.model.arch == "rnn" and c.share_embeddings == "auto"
    m = c.resolved(300, 400, False)
    assert (m.max_src_len, m.max_tgt_len, m.src_vocab, m.tgt_vocab) == (20, 21, 300, 400)
    flagged = {a.dest for a in p._actions}
    assert not flagged & {"max_src_len", "max_tgt_len", "src_vocab", "tgt_vocab"}
    assert flags.argv(c) == ["--out", "runs/x", "--steps", "5", "--pair", "web-es", "--arch", "rnn", "--max-len", "20"]
    with pytest.raises(SystemExit):
        p.parse_args(["--pair", "web-es", "--out", "x", "--steps", "5", "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--precision fp16 is not for translate.train"):
        TrainConfig(pair="web-es", out="x", budget=Budget(steps=5), precision="fp16").validate()
    with pytest.raises(ValueError, match="--max-len must be >= 1"):
        TrainConfig(pair="web-es", out="x", budget=Budget(steps=5), max_len=0).validate()


def test_recorded_translation_results_agree_with_the_bundled_models():
    """bench/results/translate.json (written by bench/experiments/translate_results.py) agrees with the bundled
    folders: each model's decoding.json alpha is the one its validation sweep chose and the one its test-book score
    used; kjv-web's two models beat copying on the same test books; translating whole verses scored higher than
    sentence by sentence on the validation books. The docs' tables are written from these files by bench.report."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = json.load(open(os.path.join(root, "bench", "results", "translate.json"), encoding="utf-8"))
    for name in ("translate-rnn", "translate-transformer"):
        tuned = results["tuned"][name]
        saved = json.load(open(os.path.join(root, "translate", "models", name, "decoding.json")))
        assert saved["alpha"] == tuned["best_alpha"] == results["bundled"][name]["alpha"], name
        assert tuned["best_alpha"] == max(tuned["scores"], key=lambda r: r["bleu"])["alpha"], name
    kjv = results["kjv-web"]
    assert kjv["rnn"]["copy_bleu"] == kjv["transformer"]["copy_bleu"]  # the same test books for both
    for arch in ("rnn", "transformer"):
        assert kjv[arch]["bleu"] > kjv[arch]["copy_bleu"], arch
    split = json.load(open(os.path.join(root, "bench", "results", "translate_split.json"), encoding="utf-8"))
    rnn, tr = split["translate-rnn"], split["translate-transformer"]
    assert rnn["split"] == tr["split"] == "validation" and rnn["verses"] == tr["verses"]  # never the test books
    assert rnn["whole"]["bleu"] > rnn["by_sentence"]["bleu"] and tr["whole"]["bleu"] > tr["by_sentence"]["bleu"]
