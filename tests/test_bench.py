"""The benchmarks run end to end at tiny shapes and print the JSON fields the comparison relies on.

SeqLab's benchmarks run in this process (TensorFlow is imported once); the peers run in one subprocess each only
when torch and transformers are installed. Tests over ~10 s are marked slow (`pytest -m "not slow"` skips them).
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from tests.helpers import run

HAS_PEERS = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))


def _json_of(capsys) -> dict:
    from bench.common import last_json

    return last_json(capsys.readouterr().out)


@pytest.mark.slow
def test_lm_generate_random_weights(capsys):
    from bench import lm_generate

    assert (
        lm_generate.main(
            [
                "--layers",
                "1",
                "--heads",
                "2",
                "--dim",
                "32",
                "--vocab",
                "20",
                "--seq",
                "48",
                "--new-tokens",
                "6",
                "--repeats",
                "1",
            ]
        )
        == 0
    )
    r = _json_of(capsys)
    assert r["bench"] == "lm_generate" and r["params"] > 0 and r["new_tokens"] == 6
    assert r["tokens_per_s"] > 0 and r["first_token_ms"] > 0 and r["compile_s"] > 0
    # changing temperature / top-k / top-p never retraces the compiled prefill and decoding loop
    assert r["setting_change"]["retraces"] == 0
    assert r["setting_change"]["tracing_counts"] == {"prefill": 1, "decode": 1}


def test_lm_train(capsys):
    from bench import lm_train

    assert (
        lm_train.main(
            [
                "--layers",
                "1",
                "--heads",
                "2",
                "--dim",
                "32",
                "--vocab",
                "20",
                "--seq",
                "16",
                "--batch",
                "2",
                "--steps",
                "2",
                "--warmup-steps",
                "0",
                "--no-jit",
            ]
        )
        == 0
    )
    r = _json_of(capsys)
    assert r["bench"] == "lm_train" and r["tokens_per_s"] > 0 and r["step_ms"] > 0
    assert r["params"] > 0 and r["loss_last"] > 0


def test_bert_train(capsys):
    from bench import bert_train

    assert (
        bert_train.main(
            [
                "--layers",
                "1",
                "--heads",
                "2",
                "--dim",
                "32",
                "--vocab",
                "60",
                "--seq",
                "16",
                "--batch",
                "2",
                "--steps",
                "2",
                "--warmup-steps",
                "0",
                "--max-predictions",
                "4",
                "--no-jit",
            ]
        )
        == 0
    )
    r = _json_of(capsys)
    assert r["bench"] == "bert_train" and r["seqs_per_s"] > 0 and r["tokens_per_s"] > 0 and r["params"] > 0
    assert r["gflop_per_s"] > 0  # three decimals: a tiny shape on a loaded machine does well under 0.1 GFLOP/s


def test_bert_batches_mask_15_percent():
    import numpy as np

    from bench.bert_data import CLS, SEP, hf_labels, mlm_batch

    x, y, w = mlm_batch(np.random.default_rng(0), 8, 128, 8192, 0.15, 20)
    assert (x["token_ids"][:, 0] == CLS).all() and (x["token_ids"][:, -1] == SEP).all()
    assert (w["mlm"].sum(1) == 19).all()  # 15% of the 125 non-special tokens, rounded
    labels = hf_labels(x, y, w, 128)
    assert ((labels != -100).sum(1) == 19).all()


def test_gpu_flops_formula():
    from bench.gpu_bert import flops
    from pretrain.model import BertConfig

    c = BertConfig.preset("base", vocab_size=30522)
    f = flops(c, batch=1, seq=128, predictions=20, params=110_000_000)
    L, H, S, V = 12, 768, 128, 30522
    expected = 6 * S * 12 * L * H * H + 12 * L * S * S * H + 6 * 20 * (H * H + H * V) + 6 * (H * H + 2 * H)
    assert f["model_flops_per_step"] == expected
    assert f["naive_flops_per_step"] == 6 * 110_000_000 * S + 12 * L * S * S * H


def test_compare_judges_rows():
    from bench import compare

    row = compare.judge(
        "gen_4l128",
        {"tokens_per_s": 900.0, "first_token_ms": 12.0, "setting_change": {"retraces": 0}},
        {"tokens_per_s": 150.0},
        "tokens_per_s",
        5.0,
    )
    assert row["ratio"] == 6.0 and row["pass"]
    slow = compare.judge("bert_l2h128", {"seqs_per_s": 40.0}, {"seqs_per_s": 30.0}, "seqs_per_s", 2.0)
    assert slow["ratio"] == 1.33 and not slow["pass"]
    broken = compare.judge("lm_train_4l128", {"error": "exit 1"}, {"tokens_per_s": 1.0}, "tokens_per_s", 1.0)
    assert not broken["pass"] and broken["errors"]
    text = compare.table([row, slow, broken])
    assert "| gen_4l128 | tokens_per_s | 900.0 | 150.0 | 6.0 | >= 5.0x | 12.0 / None | yes |" in text
    # --quick keeps the module and subcommand, swaps the shape
    assert compare._args("bench.peers lm_train --layers 4", "--layers 1") == [
        "-m",
        "bench.peers",
        "lm_train",
        "--layers",
        "1",
    ]


PEER_RUNS = [
    ("lm_generate", "--layers 1 --heads 2 --dim 32 --vocab 20 --seq 48 --new-tokens 6 --repeats 1", "tokens_per_s"),
    (
        "lm_train",
        "--layers 1 --heads 2 --dim 32 --vocab 20 --seq 16 --batch 2 --steps 2 --warmup-steps 0",
        "tokens_per_s",
    ),
    (
        "bert_train",
        "--layers 1 --heads 2 --dim 32 --vocab 60 --seq 16 --batch 2 --steps 2 --warmup-steps 0 --max-predictions 4",
        "seqs_per_s",
    ),
]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PEERS, reason="torch and transformers are not installed")
def test_peers():
    """All three peer benchmarks in one subprocess (torch + transformers imported once)."""
    calls = [[sub, *args.split()] for sub, args, _ in PEER_RUNS]
    proc = run("-c", f"from bench import peers\nfor a in {calls!r}:\n    assert peers.main(a) == 0", timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["bench"] for r in lines] == [sub for sub, _, _ in PEER_RUNS]
    for r, (_, _, field) in zip(lines, PEER_RUNS):
        assert r[field] > 0 and r["params"] > 0 and r["impl"].startswith("transformers")


@pytest.mark.slow
def test_app_startup_tiny_models():
    """The start-up bench on tiny models only: its random LM and BERT, and the app tests' tiny classifier,
    translator and ELMo (tests/apphelpers.py), so that the app loads no bundled model."""
    from tests import apphelpers

    tiny = apphelpers.tiny_models()
    proc = run(
        "-m",
        "bench.app_startup",
        "--tiny-models",
        "--classifier",
        apphelpers.tiny_classifier(),
        "--translators",
        tiny["translate-rnn"],
        "--encoders",
        tiny["elmo"],
        "--timeout",
        "150",
        timeout=240,
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and r["ready_s"] > 0 and r["first_answer_s"] >= r["ready_s"], r
    assert r["engines_s"] >= r["ready_s"], r  # the LM engines are built after start-up
    assert r["translators"] == tiny["translate-rnn"] and r["encoders"] == tiny["elmo"]


@pytest.mark.slow
def test_lm_step_and_quantize_benchmarks():
    """bench.lm_step and bench.lm_quantize on the bundled LSTM, tiny settings: the fields docs/ quotes. In
    subprocesses, as a user runs them: run in the test process they leave TensorFlow state behind that breaks the
    next files' models on the same worker (variables without a value, "no attribute 'assign'")."""
    from bench.common import last_json

    done = run(
        "-m",
        "bench.lm_step",
        "--models",
        "char-lstm",
        "--slots",
        "1",
        "4",
        "--steps",
        "8",
        "--calls",
        "2",
        "--streams",
        "2",
        "--stream-tokens",
        "16",
        "--memory-rounds",
        "1",
        "--memory-streams",
        "16",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    r = last_json(done.stdout)["models"]["char-lstm"]
    assert set(r["steps"]) == {"1", "4"} and r["steps"]["4"]["8"]["tokens_per_s"] > 0
    assert set(r["prefill_ms"]) == {"32", "64", "128"} and r["single_stream_tokens_per_s"] > 0
    assert set(r["concurrent_tokens_per_s"]["2"]) == {"two at a time", "engine"}
    assert len(r["rss_mb_per_round"]) == 1
    done = run("-m", "bench.lm_quantize", "--models", "char-lstm", "--windows", "2", "--calls", "2", "--no-shapes")
    assert done.returncode == 0, done.stderr[-2000:]
    q = last_json(done.stdout)["models"]["char-lstm"]
    assert q["fp32"]["loss"] > 0 and abs(q["int8"]["loss_change"]) < 0.01  # int8 barely moves the loss
    assert "error" in q["bfloat16"]  # TF has no bfloat16 QR for the LSTM's orthogonal initializer


def test_sense_matching_result_scores_chance_at_layer_0():
    """In bench/results/sense_match.json a context-free layer (every model's layer 0) scores exactly chance and
    every score is a probability; the docs' table is written from this file by bench.report (tests/test_docs.py)."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = json.load(open(os.path.join(root, "bench", "results", "sense_match.json")))["results"]
    assert len(results) >= 10
    for name, r in results.items():
        assert 0 <= r["score"] <= 1, name
        if name.endswith("layer 0"):
            assert r["score"] == r["chance"], name
