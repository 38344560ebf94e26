"""Language models: the properties the issue names, on tiny real models trained through the CLI."""
import json
import os

import numpy as np
import pytest

import lm
from lm.model import LMConfig, build
from lm.tokenizer import Tokenizer
from tests.helpers import run, tiny_corpus

TINY = ["--layers", "2", "--dim", "32", "--heads", "2", "--seq-len", "32", "--batch-size", "8",
        "--eval-every", "10", "--checkpoint-every", "10"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny char Transformer and char LSTM, each trained 30 steps with `python -m lm.train`."""
    root = tmp_path_factory.mktemp("lm")
    text = tiny_corpus(str(root))
    models = {}
    for arch in ("transformer", "lstm"):
        out = str(root / arch)
        done = run("-m", "lm.train", "--arch", arch, "--corpus", text, "--out", out, "--steps", "30", *TINY)
        assert done.returncode == 0, done.stderr[-2000:]
        models[arch] = out
    return text, models


def test_tokenizers_round_trip():
    text = "ROMEO:\nBut soft, what light?\n\n"
    char = Tokenizer.train(text, "char")
    assert char.decode(char.encode(text)) == text
    assert char.encode("Z") == [0]  # unseen character -> [UNK]
    word = Tokenizer.train(text * 3, "word", 100)
    assert word.decode(word.encode(text)) == text.rstrip("\n") + "\n\n"
    assert word.decode(word.encode("But thunder?")) == "But [UNK]?"


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


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_cached_greedy_generation_equals_uncached(trained, arch):
    model = lm.load(trained[1][arch])
    prompt = "ROMEO:\n"
    fast = model.generate(prompt, max_new_tokens=20, temperature=0)
    ids = model.tokenizer.encode(prompt)
    for _ in range(20):  # recompute the whole sequence for every token
        logits = np.asarray(model.model(np.array([ids[-model.context_length:]], "int32")))
        ids.append(int(logits[0, -1].argmax()))
    assert fast == model.tokenizer.decode(ids)[len(prompt):]


def test_sampling_settings_seeds_and_no_retracing(trained):
    model = lm.load(trained[1]["transformer"])
    kw = dict(max_new_tokens=30)
    assert model.generate("JULIET:\n", seed=3, **kw) == model.generate("JULIET:\n", seed=3, **kw)
    greedy = model.generate("JULIET:\n", temperature=0, **kw)
    assert model.generate("JULIET:\n", top_k=1, seed=5, **kw) == greedy
    assert model.generate("JULIET:\n", top_p=1e-6, seed=6, **kw) == greedy
    texts = {model.generate("JULIET:\n", temperature=t, top_k=k, top_p=p, seed=s, **kw)
             for t, k, p, s in [(1.5, 0, 1.0, 1), (1.5, 0, 1.0, 2), (0.7, 5, 0.9, 1), (1.0, 50, 0.5, 4)]}
    assert len(texts) >= 3  # different settings and seeds really change the text
    assert model._decode.experimental_get_tracing_count() == 1
    assert model._prefill.experimental_get_tracing_count() == 1


def test_stream_yields_pieces_and_honours_stop_and_long_prompts(trained):
    model = lm.load(trained[1]["lstm"])
    pieces = list(model.stream("ROMEO:\n", max_new_tokens=40, temperature=0))
    assert len(pieces) > 10 and "".join(pieces) == model.generate("ROMEO:\n", max_new_tokens=40, temperature=0)
    full = model.generate("ROMEO:\n", max_new_tokens=40, temperature=0)
    stop = full[5:7]  # whatever the model writes, cut before its first occurrence
    stopped = model.generate("ROMEO:\n", max_new_tokens=40, temperature=0, stop=[stop])
    assert stopped == full[:full.find(stop)]
    long_prompt = "x" * 10 + "ROMEO:\n" * 200  # far beyond the context: keeps its end
    assert model.generate(long_prompt, max_new_tokens=5, temperature=0) == \
        model.generate("ROMEO:\n" * 20, max_new_tokens=5, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        model.generate("a", top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate("a", temperature=-1)


def test_generation_past_the_context_window_keeps_going(trained):
    model = lm.load(trained[1]["transformer"])
    text = model.generate("ROMEO:\n", max_new_tokens=100, temperature=1.0, seed=0)  # context is 32
    assert len(text) == 100


def test_save_load_round_trip_gives_identical_logits(trained):
    a, b = lm.load(trained[1]["transformer"]), lm.load(trained[1]["transformer"])
    tokens = np.array([a.tokenizer.encode("ROMEO:\nBut soft")], "int32")
    np.testing.assert_array_equal(np.asarray(a.model(tokens)), np.asarray(b.model(tokens)))


def test_model_folder_is_complete(trained):
    folder = trained[1]["transformer"]
    for name in ("config.json", "model.weights.h5", "tokenizer.json", "metrics.json", "README.md",
                 "loss_curve.png"):
        assert os.path.getsize(os.path.join(folder, name)) > 0, name
    metrics = json.load(open(os.path.join(folder, "metrics.json")))
    assert metrics["step"] == 30 and metrics["val_loss"] < 4.0  # below log(vocab): it learned something
    assert "python -m lm.train" in open(os.path.join(folder, "README.md")).read()
    assert os.listdir(os.path.join(folder, "logs"))  # TensorBoard events


def test_resume_continues_step_count_and_loss(trained, tmp_path):
    text = trained[0]
    out = str(tmp_path / "m")
    first = run("-m", "lm.train", "--corpus", text, "--out", out, "--steps", "20", *TINY)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run("-m", "lm.train", "--corpus", text, "--out", out, "--steps", "40", *TINY)
    assert second.returncode == 0 and "resumed" in second.stderr and "at step 20" in second.stderr
    assert "Skipping variable loading" not in second.stderr  # the optimizer state is restored, not skipped
    history = json.load(open(os.path.join(out, "checkpoint-40", "state.json")))["history"]
    assert [h["step"] for h in history] == [10, 20, 30, 40]
    assert history[-1]["val_loss"] < history[1]["val_loss"]
    # other settings on the same folder would train on into a model its config and card do not describe
    for change, message in ((["--dim", "48"], "--dim 32 (not 48)"), (["--batch-size", "4"], "--batch-size 8 (not 4)"),
                            (["--corpus", "kjv"], f"--corpus {text} (not kjv)")):
        other = run("-m", "lm.train", "--corpus", text, "--out", out, "--steps", "50", *TINY, *change)
        assert other.returncode == 2 and message in other.stderr and "Traceback" not in other.stderr, other.stderr
    assert not os.path.exists(os.path.join(out, "checkpoint-50"))


def test_word_level_model_trains_generates_and_evaluates(trained, tmp_path):
    out = str(tmp_path / "word")
    done = run("-m", "lm.train", "--arch", "lstm", "--level", "word", "--vocab-size", "50",
               "--corpus", trained[0], "--out", out, "--steps", "20", *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    model = lm.load(out)
    text = model.generate("ROMEO:\n", max_new_tokens=12, temperature=0)
    assert text and all(w in open(trained[0]).read() for w in text.split() if w.isalpha())
    # what follows a word starts with the space between them, so prompt + output reads right
    firsts = [model.generate("It is the east, and Juliet is the", max_new_tokens=1, temperature=1.0, seed=s)
              for s in range(20)]
    assert not [f for f in firsts if f[:1].isalnum()], firsts
    assert [f for f in firsts if f[:1] == " " and f[1:2].isalnum()], firsts


def test_generate_and_evaluate_clis(trained, tmp_path):
    gen = run("-m", "lm.generate", "--model", trained[1]["transformer"], "--prompt", "ROMEO:",
              "--max-new-tokens", "25", "--seed", "1", "--top-k", "10", "--top-p", "0.9")
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert gen.stdout.startswith("ROMEO:") and len(gen.stdout) >= 6 + 25
    held_out = tmp_path / "held.txt"
    held_out.write_text("JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n\n")
    ev = run("-m", "lm.evaluate", "--model", trained[1]["lstm"], "--text-file", str(held_out))
    assert ev.returncode == 0, ev.stderr[-2000:]
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    assert result["tokens"] == len(held_out.read_text()) - 1
    assert result["perplexity"] == pytest.approx(np.exp(result["loss"]), rel=1e-3)
    assert result["bits_per_char"] == pytest.approx(result["loss"] / np.log(2), rel=1e-3)


@pytest.mark.parametrize("args, message", [
    (["--corpus", "/no/such/file", "--steps", "5"], "not found"),
    (["--corpus", "shakespeare", "--steps", "-3"], "budget must be positive"),
    (["--corpus", "shakespeare", "--steps", "5", "--dim", "30", "--heads", "4"], "multiple of --heads"),
])
def test_bad_cli_input_exits_with_a_clear_message(tmp_path, args, message):
    done = run("-m", "lm.train", "--out", str(tmp_path / "bad"), *args)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr


def test_unknown_model_name_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="not a SeqLab language model folder"):
        lm.load(str(tmp_path))  # a real folder, but no model in it
    bad = run("-m", "lm.generate", "--model", "no-such-model")
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr


def test_hub_repo_ids_go_through_huggingface_hub(trained, tmp_path):
    """The real snapshot_download path, offline: a Hub cache laid out as huggingface_hub writes it."""
    import shutil
    import subprocess
    import sys

    from tests.helpers import ENV, ROOT

    repo = tmp_path / "hub" / "models--seqlab--tiny-lm"
    revision = "0" * 40
    shutil.copytree(trained[1]["transformer"], repo / "snapshots" / revision,
                    ignore=shutil.ignore_patterns("checkpoint*", "logs"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    env = dict(ENV, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"))

    def generate(model):
        return subprocess.run([sys.executable, "-m", "lm.generate", "--model", model, "--prompt", "ROMEO:",
                               "--max-new-tokens", "10", "--temperature", "0"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    done = generate("seqlab/tiny-lm")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ROMEO:") and len(done.stdout) > len("ROMEO:")
    missing = generate("seqlab/not-there")
    assert missing.returncode == 2 and "model 'seqlab/not-there' not found: no such folder" in missing.stderr
    (line,) = [line for line in missing.stderr.splitlines() if "not-there" in line]  # one line says it all
    assert line.startswith("error:") and "Hub repo id it could not be fetched" in line
