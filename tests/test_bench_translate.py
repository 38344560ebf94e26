"""bench.translate_speed end to end: a tiny translator trained on a tiny TSV, SeqLab against MarianMT (issue 15).

The numbers are meaningless at this size; the test checks the plumbing: both sides run, the JSON carries the
fields the README table is made from, and every rate is positive.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random

import pytest

from tests.helpers import run_here

HAS_PEERS = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))
WORDS = dict(
    zip(
        "the cat dog house red green big small runs sees eats old new man".split(),
        "el gato perro casa rojo verde grande pequeño corre ve come viejo nuevo hombre".split(),
    )
)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PEERS, reason="the MarianMT peer needs torch and transformers")
def test_translate_speed_on_a_tiny_model(tmp_path, capsys):
    rng = random.Random(0)
    tsv = tmp_path / "pairs.tsv"
    with open(tsv, "w", encoding="utf-8") as f:
        for _ in range(120):
            words = [rng.choice(list(WORDS)) for _ in range(rng.randint(3, 7))]
            f.write(" ".join(words) + "\t" + " ".join(WORDS[w] for w in words) + "\n")
    model = str(tmp_path / "model")
    done = run_here(
        "-m",
        "translate.train",
        "--pair",
        str(tsv),
        "--out",
        model,
        "--arch",
        "transformer",
        "--layers",
        "1",
        "--dim",
        "32",
        "--heads",
        "2",
        "--ffn-dim",
        "64",
        "--vocab-size",
        "100",
        "--max-len",
        "16",
        "--batch-size",
        "8",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--eval-every",
        "2",
        "--checkpoint-every",
        "2",
        "--no-jit",
    )
    assert done.returncode == 0, done.stderr[-3000:]

    from bench import translate_speed
    from bench.common import last_json

    out = tmp_path / "results" / "speed.json"
    code = translate_speed.main(
        [
            "--model",
            model,
            "--tsv",
            str(tsv),
            "--sentences",
            "4",
            "--batch",
            "4",
            "--batch1",
            "1",
            "--repeats",
            "1",
            "--train-batch",
            "8",
            "--train-steps",
            "2",
            "--train-warmup",
            "0",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err[-3000:]  # 1: a target missed, which tiny noisy shapes may do
    r = last_json(captured.out)
    assert json.loads(out.read_text()) == r and os.listdir(tmp_path / "results") == ["speed.json"]
    assert "errors" not in r, r.get("errors")
    assert r["bench"] == "translate_speed" and r["arch"] == "transformer" and r["sentences"]["count"] == 4
    assert r["peer"]["same_architecture"] and r["peer"]["min_new_tokens_equals_max_new_tokens"]
    seqlab, marian = r["results"]["seqlab"], r["results"]["marian"]
    for side in (seqlab, marian):
        for key in ("batch", "batch_1"):
            assert side["decode"][key]["sentences_per_s"] > 0 and side["decode"][key]["output_tokens_per_s"] > 0
        assert side["train"]["target_tokens_per_s"] > 0 and side["train"]["target_tokens"] > 0
        assert side["decode_breakdown"]["per_step_ms"] is not None
    # Marian ran exactly as many decoder steps as SeqLab's longest output of each batch
    assert marian["decode"]["batch"]["steps"] == seqlab["decode"]["batch"]["longest"]
    assert marian["decode"]["batch_1"]["steps"] == seqlab["decode"]["batch_1"]["longest"]
    # the same shapes: parameter counts within Marian's extra output bias and SeqLab's learned positions
    assert abs(seqlab["params"] - marian["trainable_params"]) / seqlab["params"] < 0.05
    assert seqlab["train"]["target_tokens"] == marian["train"]["target_tokens"]
    assert r["beam_sentences_per_s_ratio"] > 0 and r["train_tokens_per_s_ratio"] > 0
    [round_] = r["rounds"]  # one round unless --rounds: its ratios are the reported ones
    assert round_["decode_ratio"] == r["beam_sentences_per_s_ratio"] and seqlab["lanes"] == 2
    assert [row["metric"] for row in r["rows"]] == ["sentences/s", "output tokens/s"] * 2 + ["target tokens/s"]
    assert "| measurement | metric | SeqLab | MarianMT |" in captured.err

    # the same tiny model through bench.translate_batches: random against grouped batches, widths reported
    from bench import translate_batches

    code = translate_batches.main(
        ["--model", model, "--pair", str(tsv), "--batch-size", "8", "--window", "2", "--steps", "3", "--warmup", "1"]
    )
    b = last_json(capsys.readouterr().out)
    assert code == 0 and [row["length_window"] for row in b["rows"]] == [0, 2]
    random_rows, grouped = b["rows"]
    assert random_rows["mean_source_width"] == 16 and grouped["mean_source_width"] < 16  # cut to the longest row
    assert all(row["s_per_step"] > 0 and row["target_tokens_per_s"] > 0 for row in b["rows"]) and b["speedup"] > 0


def test_recorded_speed_run_is_the_median_round():
    """bench/results/translate_speed_cpu.json: three rounds, two lanes, and its batch-32 row is the round with the
    median decoding ratio (the docs' table is written from this file by bench.report, tests/test_docs.py)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = json.load(open(os.path.join(root, "bench", "results", "translate_speed_cpu.json")))
    assert r["settings"]["rounds"] == 3 and r["results"]["seqlab"]["lanes"] == 2
    rows = {(row["row"].split(" (")[0], row["metric"]): row for row in r["rows"]}
    batch = rows["beam-4, batch 32", "sentences/s"]
    ratios = sorted(x["decode_ratio"] for x in r["rounds"])
    assert batch["ratio"] == pytest.approx(ratios[1], abs=0.01)
    assert all(row["seqlab"] > 0 and row["marian"] > 0 for row in r["rows"])
