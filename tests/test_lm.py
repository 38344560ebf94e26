"""Language models: the properties the issue names, on tiny real models.

Generation tests use tiny models with seeded random weights, saved as model folders (generation's properties do
not depend on training); training tests run `lm.train.train(TrainConfig(...))` in this process without XLA, a few
seconds each. The `slow` ones run the command lines end to end in subprocesses.
"""

import json
import os
import shutil

import h5py
import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lm
from core import checkpoint
from core.budget import Budget
from core.optim import OptimizerConfig
from lm import data
from lm.generate import CHUNK, StopStrings, needs_refill
from lm.model import LMConfig, build
from lm.tokenizer import Tokenizer
from lm.train import TrainConfig, compile_model, export, model_card, train
from tests.helpers import run_here, tiny_corpus

COMMAND = "python -m lm.train --corpus tiny.txt --steps 20 (tiny)"
TINY = [
    "--layers",
    "2",
    "--dim",
    "32",
    "--heads",
    "2",
    "--seq-len",
    "32",
    "--batch-size",
    "8",
    "--eval-every",
    "10",
    "--checkpoint-every",
    "10",
]


def tiny_run(corpus: str, out: str, steps: int, **model) -> TrainConfig:
    """The TINY command line as a TrainConfig, without XLA (it compiles slower than these runs take)."""
    shape = {"layers": 2, "dim": 32, "heads": 2, "seq_len": 32, **model}
    return TrainConfig(
        corpus=corpus,
        out=out,
        budget=Budget(steps=steps),
        model=LMConfig(**shape),
        batch_size=8,
        eval_every=10,
        checkpoint_every=10,
        jit=False,
    )


def lm_train(capsys, *argv: str) -> tuple[int, str, str]:
    """`python -m lm.train ARGV` in this process: (exit code, stdout, stderr)."""
    from lm.train import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def save_model_folder(folder: str, model, config: LMConfig, tokenizer: Tokenizer) -> str:
    """A model folder as lm.train ships one: config, tokenizer, weights (through the uncompiled twin)."""
    os.makedirs(folder, exist_ok=True)
    config.save(folder)
    tokenizer.save(folder)
    export(model, folder)
    return folder


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return tiny_corpus(str(tmp_path_factory.mktemp("corpus")))


@pytest.fixture(scope="module")
def loaded(corpus_file, tmp_path_factory):
    """A tiny char Transformer (context 32) and char LSTM with seeded random weights, each loaded once with
    lm.load: every load compiles its own prefill and decoding loop."""
    root = tmp_path_factory.mktemp("random")
    tokenizer = Tokenizer.train(open(corpus_file).read(), "char")
    models = {}
    for arch in ("transformer", "lstm"):
        config = LMConfig(arch=arch, vocab_size=len(tokenizer), seq_len=32, layers=2, dim=32, heads=2)
        models[arch] = lm.load(save_model_folder(str(root / arch), peaked_random_model(config), config, tokenizer))
    return models


def peaked_random_model(config: LMConfig, seed: int = 1):
    """Seeded random weights, scaled x5 so next-token distributions are peaked like a trained model's (top
    token ~0.4): a fresh init's are near uniform, and its near-ties would let float rounding flip greedy
    comparisons between the cached and the uncached paths."""
    keras.utils.set_random_seed(seed)
    model = build(config)
    model.set_weights([w * 5 for w in model.get_weights()])
    return model


def train_and_copy_at(config: TrainConfig, step: int, copy: str, command: str) -> None:
    """Train `config`, copying its folder to `copy` just after the checkpoint at `step` is written: the folder a
    kill -9 at that moment would leave."""
    save = checkpoint.save

    def save_and_copy(root, model, optimizer, state):
        path = save(root, model, optimizer, state)
        if state["step"] == step:
            shutil.copytree(root, copy)
        return path

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoint, "save", save_and_copy)
        train(config, command=command)


@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    """A tiny char Transformer (dropout 0.1) trained 20 steps by lm.train, and its folder as it was just after
    the step-10 checkpoint (what a kill -9 then leaves): resume tests continue copies of that one and compare
    with the uninterrupted run."""
    root = tmp_path_factory.mktemp("trained")
    out, at_10 = str(root / "tiny"), str(root / "at-10")
    train_and_copy_at(tiny_run(corpus_file, out, 20, dropout=0.1), 10, at_10, command=COMMAND)
    return out, at_10


def test_tokenizers_round_trip():
    text = "ROMEO:\nBut soft, what light?\n\n"
    char = Tokenizer.train(text, "char")
    assert char.decode(char.encode(text)) == text
    assert char.encode("Z") == [0]  # unseen character -> [UNK]
    word = Tokenizer.train(text * 3, "word", 100)
    assert word.decode(word.encode(text)) == text.rstrip("\n") + "\n\n"
    assert word.decode(word.encode("But thunder?")) == "But [UNK]?"


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_char_tokenizer_round_trips_any_text_it_was_trained_on(corpus_text, more):
    char = Tokenizer.train(corpus_text + more, "char")
    assert char.decode(char.encode(corpus_text)) == corpus_text
    unseen = Tokenizer.train(corpus_text, "char")
    assert len(unseen.encode(more)) == len(more)  # one id per character, seen or not


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab\n", max_size=3), max_size=30),
    st.lists(st.text(alphabet="ab\n", max_size=3), max_size=3),
)
def test_stop_strings_show_exactly_the_text_before_the_first_stop(pieces, stop):
    """Whatever the tokens decode to, the pieces shown add up to the text before the earliest stop string, and
    no piece is shown that a later token could turn into the start of one."""
    release, text, shown = StopStrings(stop), "", ""
    for piece in pieces:
        text += piece
        shown += release.piece(text)
        assert not any(s and s in shown for s in stop)
        if release.stopped:
            break
    else:
        shown += release.rest(text)
    hits = [text.find(s) for s in stop if s and s in text]
    assert shown == (text[: min(hits)] if hits else text)


def test_refill_rule_keeps_every_write_inside_the_context():
    assert not needs_refill(0, CHUNK) and needs_refill(1, CHUNK)
    assert needs_refill(100, 100 + CHUNK - 1) and not needs_refill(100, 100 + CHUNK)


def test_causal_mask_later_tokens_never_change_earlier_logits():
    model = build(LMConfig(arch="transformer", vocab_size=20, seq_len=16, layers=2, dim=32, heads=4, dropout=0))
    tokens = np.random.default_rng(0).integers(0, 20, (1, 16)).astype("int32")
    changed = tokens.copy()
    changed[0, 10:] = (changed[0, 10:] + 1) % 20
    a, b = np.asarray(model(tokens)), np.asarray(model(changed))
    np.testing.assert_allclose(a[:, :10], b[:, :10], atol=1e-5)
    assert np.abs(a[:, 10:] - b[:, 10:]).max() > 1e-3


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_step_by_step_state_equals_full_forward(arch):
    """The KV cache (Transformer) and carried state (LSTM) give the logits of recomputing from the start."""
    model = build(LMConfig(arch=arch, vocab_size=20, seq_len=16, layers=2, dim=32, heads=4, dropout=0))
    tokens = np.random.default_rng(1).integers(0, 20, (1, 16)).astype("int32")
    full = np.asarray(model(tokens))
    logits, state = model.prefill(tokens, 4)
    np.testing.assert_allclose(np.asarray(logits), full[:, 3], atol=1e-4)
    for i in range(4, 16):
        logits, state = model.step(tokens[:, i], state, i)
        np.testing.assert_allclose(np.asarray(logits), full[:, i], atol=1e-4)


def _greedy_uncached(model, prompt: str, n: int) -> str:
    """Greedy text by recomputing the whole window for every token, with the stream's window rule: decode in
    chunks of CHUNK; when the next chunk would pass the context, start again from the most recent half."""
    ids = model._encode_prompt(prompt)
    tokens, context = list(ids), list(ids)

    def argmax():
        return int(np.asarray(model.model(np.array([context], "int32")))[0, -1].argmax())

    token, window = argmax(), len(context)
    while len(tokens) - len(ids) < n:
        tokens.append(token)
        context.append(token)
        if needs_refill(window, model.context_length):
            context = tokens[-(model.context_length // 2) :]
            token, window = argmax(), len(context)
            continue
        for _ in range(CHUNK - 1):
            tokens.append(argmax())
            context.append(tokens[-1])
        token, window = argmax(), window + CHUNK
    return model.tokenizer.decode(tokens[len(ids) - 1 : len(ids) + n])[len(model.tokenizer.decode(ids[-1:])) :]


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_cached_greedy_generation_equals_uncached(loaded, arch):
    """Within one context window (7 prompt + 16 new tokens of 32; the refill is tested below)."""
    model = loaded[arch]
    prompt = "ROMEO:\n"
    fast = model.generate(prompt, max_new_tokens=16, temperature=0)
    ids = model.tokenizer.encode(prompt)
    for _ in range(16):  # recompute the whole sequence for every token
        logits = np.asarray(model.model(np.array([ids], "int32")))
        ids.append(int(logits[0, -1].argmax()))
    assert fast == model.tokenizer.decode(ids)[len(prompt) :]


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_generation_past_the_context_window_goes_on_from_the_recent_half(loaded, arch):
    model = loaded[arch]  # context 32: 40 tokens refill the window twice (after the 17th and the 34th)
    assert len(model.generate("ROMEO:\n", max_new_tokens=40, temperature=1.0, seed=0)) == 40
    assert model.generate("ROMEO:\n", max_new_tokens=40, temperature=0) == _greedy_uncached(model, "ROMEO:\n", 40)


def test_sampling_settings_seeds_and_no_retracing(loaded):
    model = loaded["transformer"]
    kw = dict(max_new_tokens=30)
    assert model.generate("JULIET:\n", seed=3, **kw) == model.generate("JULIET:\n", seed=3, **kw)
    greedy = model.generate("JULIET:\n", temperature=0, **kw)
    assert model.generate("JULIET:\n", top_k=1, seed=5, **kw) == greedy
    assert model.generate("JULIET:\n", top_p=1e-6, seed=6, **kw) == greedy
    texts = {
        model.generate("JULIET:\n", temperature=t, top_k=k, top_p=p, seed=s, **kw)
        for t, k, p, s in [(1.5, 0, 1.0, 1), (1.5, 0, 1.0, 2), (0.7, 5, 0.9, 1), (1.0, 50, 0.5, 4)]
    }
    assert len(texts) >= 3  # different settings and seeds really change the text
    assert model._decode.experimental_get_tracing_count() == 1
    assert model._prefill.experimental_get_tracing_count() == 1


def test_stream_yields_pieces_and_honours_stop_and_long_prompts(loaded):
    model = loaded["lstm"]
    pieces = list(model.stream("ROMEO:\n", max_new_tokens=40, temperature=0))
    assert len(pieces) > 10 and "".join(pieces) == model.generate("ROMEO:\n", max_new_tokens=40, temperature=0)
    full = model.generate("ROMEO:\n", max_new_tokens=40, temperature=0)
    stop = full[5:7]  # whatever the model writes, cut before its first occurrence
    stopped = model.generate("ROMEO:\n", max_new_tokens=40, temperature=0, stop=[stop])
    assert stopped == full[: full.find(stop)]
    assert model.generate("ROMEO:\n", max_new_tokens=40, temperature=0, stop=["no such text"]) == full
    assert list(model.stream("ROMEO:\n", max_new_tokens=0)) == []
    long_prompt = "x" * 10 + "ROMEO:\n" * 200  # far beyond the context: keeps its end
    assert model.generate(long_prompt, max_new_tokens=5, temperature=0) == model.generate(
        "ROMEO:\n" * 20, max_new_tokens=5, temperature=0
    )
    with pytest.raises(ValueError, match="top_p"):
        model.generate("a", top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate("a", temperature=-1)


def test_save_load_round_trip_gives_identical_logits(corpus_file, tmp_path):
    """A model trained in memory, shipped the way lm.train ships it and loaded fresh, computes the same logits."""
    text = open(corpus_file).read()
    tokenizer = Tokenizer.train(text, "char")
    config = LMConfig(vocab_size=len(tokenizer), seq_len=16, layers=1, dim=16, heads=2, dropout=0.1)
    model = compile_model(build(config), OptimizerConfig(lr=1e-2, warmup=0), total_steps=10, jit=False)
    ids = data.encode(tokenizer, text)
    for step in range(3):  # trained weights, and an optimizer with state the shipped file must not hold
        model.train_on_batch(*data.batch(ids, step, 4, config.seq_len, seed=0))
    folder = save_model_folder(str(tmp_path / "m"), model, config, tokenizer)
    with h5py.File(os.path.join(folder, "model.weights.h5")) as f:
        assert "optimizer" not in f
    tokens = np.array([tokenizer.encode("ROMEO:\nBut soft")], "int32")
    fresh = lm.load(folder)
    np.testing.assert_array_equal(np.asarray(fresh.model(tokens)), np.asarray(model(tokens, training=False)))
    assert np.abs(np.asarray(build(config)(tokens)) - np.asarray(model(tokens))).max() > 1e-3  # not an init


@pytest.mark.slow  # the trained fixture: a 20-step lm.train run
def test_model_folder_is_complete(trained, corpus_file):
    from huggingface_hub import ModelCard

    folder = trained[0]
    for name in ("config.json", "model.weights.h5", "vocab.json", "metrics.json", "README.md", "loss_curve.png"):
        assert os.path.getsize(os.path.join(folder, name)) > 0, name
    metrics = json.load(open(os.path.join(folder, "metrics.json")))
    assert metrics["step"] == 20 and metrics["command"] == COMMAND
    assert metrics["val_loss"] < np.log(json.load(open(os.path.join(folder, "config.json")))["vocab_size"])
    card = ModelCard.load(os.path.join(folder, "README.md"))
    assert card.data.library_name == "keras" and {"seqlab", "transformer", "char-level"} <= set(card.data.tags)
    for fact in (
        "2 layers, 32-d, 2 heads, learned positions",
        "context 32 tokens",
        f"`{corpus_file}`",
        "| steps | 20 at batch 8 |",
        "min on",
        "CPU cores",
        f"{metrics['val_loss']:.4f} nats/token",
        f"({metrics['val_loss'] / np.log(2):.3f} bits/char)",
        f"```\n{COMMAND}\n```",
        "![loss curve](loss_curve.png)",
    ):
        assert fact in card.text, fact
    assert os.listdir(os.path.join(folder, "logs"))  # TensorBoard events
    lstm = LMConfig(arch="lstm", cell="gru", layers=2, dim=32, vocab_size=10)
    assert "2 x GRU 32" in model_card("x", lstm, metrics, [[0, COMMAND]]).render(folder)


def _history(out: str, step: int) -> list[dict]:
    return json.load(open(os.path.join(out, f"checkpoint-{step}", "state.json")))["history"]


@pytest.mark.slow  # the trained fixture: a 20-step lm.train run
def test_an_interrupted_run_with_dropout_resumes_exactly(trained, corpus_file, tmp_path, capsys):
    """The checkpoint holds the dropout RNG and the smoothed loss, so the resumed run's history is the
    uninterrupted one's. (tests/test_training_failures.py does this with a real kill -9 and XLA.)"""
    straight, at_10 = trained
    out = str(shutil.copytree(at_10, tmp_path / "killed"))
    capsys.readouterr()
    train(tiny_run(corpus_file, out, 20, dropout=0.1), command=COMMAND)
    assert "at step 10" in capsys.readouterr().err
    want, got = _history(straight, 20), _history(out, 20)
    assert [h["step"] for h in got] == [h["step"] for h in want] == [10, 20]
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose([h[key] for h in got], [h[key] for h in want], rtol=0, atol=1e-5)
    assert json.load(open(os.path.join(out, "checkpoint-20", "state.json")))["commands"] == [[0, COMMAND]]


@pytest.mark.slow  # the trained fixture: a 20-step lm.train run
def test_resume_extends_a_finished_run_and_refuses_other_settings(trained, corpus_file, tmp_path, capsys):
    out = str(shutil.copytree(trained[0], tmp_path / "m"))
    capsys.readouterr()
    train(tiny_run(corpus_file, out, 30, dropout=0.1), command="python -m lm.train --steps 30")
    err = capsys.readouterr().err
    assert "resumed from" in err and "at step 20" in err
    history = _history(out, 30)
    assert [h["step"] for h in history] == [10, 20, 30]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    readme = open(os.path.join(out, "README.md")).read()  # both commands, each from the step it started at
    assert f"- step 0: `{COMMAND}`" in readme and "- step 20: `python -m lm.train --steps 30`" in readme
    # other settings on the same folder would train on into a model its config and card do not describe; they
    # are refused before the corpus is read (kjv is not even looked at)
    base = ["--corpus", corpus_file, "--out", out, "--steps", "50", *TINY, "--no-jit"]
    for change, message in (
        (["--dim", "48"], "--dim 32 (not 48)"),
        (["--batch-size", "4"], "--batch-size 8 (not 4)"),
        (["--corpus", "kjv"], f"--corpus {corpus_file} (not kjv)"),
    ):
        code, stdout, err = lm_train(capsys, *base, *change)
        assert code == 2 and message in err and err.startswith("error: ") and not stdout, err
    assert not os.path.exists(os.path.join(out, "checkpoint-50"))


def test_word_level_model_generates_with_spaces_and_evaluates(corpus_file, tmp_path):
    from lm.evaluate import evaluate

    text = open(corpus_file).read()
    tokenizer = Tokenizer.train(text, "word", 50)
    assert len(tokenizer) == 50
    config = LMConfig(arch="lstm", level="word", vocab_size=len(tokenizer), seq_len=32, layers=1, dim=32)
    model = lm.load(save_model_folder(str(tmp_path / "word"), peaked_random_model(config), config, tokenizer))
    generated = model.generate("ROMEO:\n", max_new_tokens=12, temperature=0)
    assert generated and all(w in text for w in generated.split() if w.isalpha())
    # what follows a word starts with the space between them, so prompt + output reads right
    firsts = [
        model.generate("It is the east, and Juliet is the", max_new_tokens=1, temperature=1.0, seed=s)
        for s in range(20)
    ]
    assert not [f for f in firsts if f[:1].isalnum()], firsts
    assert [f for f in firsts if f[:1] == " " and f[1:2].isalnum()], firsts
    held_out = "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n"
    result = evaluate(model, held_out)
    assert result["tokens"] == len(tokenizer.encode(held_out)) - 1 and "bits_per_char" not in result


@pytest.mark.slow
def test_train_generate_and_evaluate_clis(corpus_file, tmp_path):
    """The three commands end to end, a word-level LSTM this time; each one's last stdout line is JSON
    (lm.generate's with --json)."""
    out = str(tmp_path / "cli")
    done = run_here(
        "-m",
        "lm.train",
        "--corpus",
        corpus_file,
        "--out",
        out,
        "--steps",
        "10",
        *TINY,
        "--arch",
        "lstm",
        "--level",
        "word",
        "--vocab-size",
        "50",
        "--no-jit",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == json.load(open(os.path.join(out, "metrics.json")))
    assert len(lm.load(out).tokenizer) == 50
    gen = run_here(
        "-m",
        "lm.generate",
        "--model",
        out,
        "--prompt",
        "ROMEO:",
        "--max-new-tokens",
        "25",
        "--seed",
        "1",
        "--top-k",
        "10",
        "--top-p",
        "0.9",
    )
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert gen.stdout.startswith("ROMEO:") and len(gen.stdout.split()) >= 10 and "pieces" not in gen.stdout
    as_json = run_here(
        "-m",
        "lm.generate",
        "--model",
        out,
        "--prompt",
        "ROMEO:",
        "--max-new-tokens",
        "25",
        "--seed",
        "1",
        "--top-k",
        "10",
        "--top-p",
        "0.9",
        "--json",
    )
    result = json.loads(as_json.stdout.splitlines()[-1])
    assert as_json.stdout.startswith(gen.stdout) and result["text"] == gen.stdout[len("ROMEO:") :]
    held_out = tmp_path / "held.txt"
    held_out.write_text("JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n\n")
    ev = run_here("-m", "lm.evaluate", "--model", out, "--data", str(held_out))
    assert ev.returncode == 0, ev.stderr[-2000:]
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    assert result["perplexity"] == pytest.approx(np.exp(result["loss"]), rel=1e-3)
    assert result["tokens"] == len(lm.load(out).tokenizer.encode(held_out.read_text())) - 1
    assert "bits_per_char" not in result


@pytest.mark.parametrize(
    "args, message",
    [
        (["--corpus", "/no/such/file", "--steps", "5"], "not found"),
        (["--corpus", "shakespeare", "--steps", "-3"], "budget must be positive"),
        # checked before the corpus is read: the missing file is never reached
        (["--corpus", "/no/such/file", "--steps", "5", "--dim", "30", "--heads", "4"], "multiple of --heads"),
        (["--corpus", "/no/such/file", "--steps", "5", "--lr", "0"], "--lr must be positive"),
        (["--corpus", "/no/such/file", "--steps", "5", "--eval-every", "0"], "--eval-every"),
    ],
)
def test_bad_cli_input_exits_with_a_clear_message(tmp_path, capsys, args, message):
    code, stdout, err = lm_train(capsys, "--out", str(tmp_path / "bad"), *args)
    # the one error line ends stderr (a missing corpus is found after the trainer says it reads the data)
    assert code == 2 and err.splitlines()[-1].startswith("error: ") and message in err and not stdout, err


def test_bad_cli_input_to_evaluate_and_generate(loaded, capsys):
    from lm import evaluate, generate

    folder = loaded["lstm"].folder
    with pytest.raises(SystemExit) as exit_:  # argparse: a required flag missing
        evaluate.main(["--model", folder])
    assert exit_.value.code == 2 and "the following arguments are required: --data" in capsys.readouterr().err
    assert generate.main(["--model", folder, "--top-p", "0"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: top_p must be in (0, 1]") and not out  # nothing written before the error


def test_unknown_model_name_is_a_clear_error(tmp_path, capsys):
    from core.resolve import ModelNotFoundError
    from lm.generate import main

    with pytest.raises(ModelNotFoundError, match="is not a SeqLab language model folder: it lacks config.json"):
        lm.load(str(tmp_path))  # a real folder, but no model in it
    assert main(["--model", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: language model 'no-such-model' not found: not a bundled language model "
        "(char-lstm, char-transformer, elmo)"  # elmo: the bundled bidirectional LM (lm.load gives its embed API)
    )


def test_hub_repo_ids_go_through_huggingface_hub(trained, tmp_path, monkeypatch):
    """The real snapshot_download path, offline: a Hub cache laid out as huggingface_hub writes it (the cache
    folder that HF_HUB_CACHE would name, set where huggingface_hub reads it at each call)."""
    import shutil

    from huggingface_hub import constants

    from tests.helpers import run_here

    repo = tmp_path / "hub" / "models--seqlab--tiny-lm"
    revision = "0" * 40
    shutil.copytree(trained[0], repo / "snapshots" / revision, ignore=shutil.ignore_patterns("checkpoint*", "logs"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def generate(model):
        return run_here(
            "-m", "lm.generate", "--model", model, "--prompt", "ROMEO:", "--max-new-tokens", "10", "--temperature", "0"
        )

    done = generate("seqlab/tiny-lm")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ROMEO:") and len(done.stdout) > len("ROMEO:")
    missing = generate("seqlab/not-there")
    assert missing.returncode == 2 and "model 'seqlab/not-there' not found: no such folder" in missing.stderr
    (line,) = [line for line in missing.stderr.splitlines() if "not-there" in line]  # one line says it all
    assert line.startswith("error:") and "Hub repo id it could not be fetched" in line
