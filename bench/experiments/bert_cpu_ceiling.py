"""How far the bundled `bert` recipe is from this CPU's ceiling, and what issue #3's targets would cost on it.

    python bench/experiments/bert_cpu_ceiling.py      # ~1.5 minutes on an idle 2-core machine

1. The step as `pretrain.train` compiles it (bench.bert_train at the bundled shape: mini-224, seq 128, batch 32,
   vocab 8,000, 40 prediction slots) under each option the CPU has: TensorFlow fp32 (the bundled run), --jit,
   bf16, and JAX with XLA.
2. The ceiling: every weight matmul of that step timed alone in TensorFlow, weighted by its share of the work:
   the rate the step would reach if nothing but its matmuls cost time (backward matmuls counted at the forward
   shape's speed; attention's own score and sum products, ~8% of the work, left out).
3. The arithmetic: how many sequences the GPU run that came within 0.004 of the targets saw (18,080 x 128) and how
   long this machine needs for them at the best measured rate.
Writes bench/results/bert_cpu_ceiling.json.
"""

import json
import os
import subprocess
import sys
import time

from record import ROOT, no_arguments, update

OUT = os.path.join(ROOT, "bench", "results", "bert_cpu_ceiling.json")
SHAPE = [
    "--layers",
    "4",
    "--heads",
    "4",
    "--dim",
    "224",
    "--seq",
    "128",
    "--batch",
    "32",
    "--vocab",
    "8000",
    "--max-predictions",
    "40",
    "--mask-rate",
    "0.3",
    "--steps",
    "20",
]
VARIANTS = {
    "tensorflow fp32 (the bundled run)": ({}, []),
    "tensorflow fp32 --jit": ({}, ["--jit"]),
    "tensorflow bf16": ({}, ["--precision", "bf16"]),
    "jax fp32 --jit": ({"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}, ["--jit"]),
}
GPU_RUN = os.path.join(ROOT, "bench", "results", "gpu_pretrain_h100.json")  # its bert-d0: MLM 0.447, NSP 0.896
CPU_RUN = os.path.join(ROOT, "pretrain", "models", "bert", "metrics.json")  # the bundled bert, trained here


def sequences(metrics: dict) -> int:
    """Sequences a run saw: steps x batch, from the batch in its command."""
    command = metrics["command"].split()
    return metrics["steps"] * int(command[command.index("--batch-size") + 1])


def step_rates() -> dict:
    rates = {}
    for name, (env, flags) in VARIANTS.items():
        done = subprocess.run(
            [sys.executable, "-m", "bench.bert_train", *SHAPE, *flags],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT, **env),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rates[name] = {k: row[k] for k in ("seqs_per_s", "step_ms", "gflop_per_s")}
        print(name, rates[name], file=sys.stderr)
    return rates


def matmul_ceiling(dtype: str) -> dict:
    """GFLOP/s of each matmul shape of the step (rows x inner x outer), and their work-weighted harmonic mean."""
    import tensorflow as tf

    rows, h, vocab, slots = 32 * 128, 224, 8000, 32 * 40
    shapes = {
        "q, k, v, attention output (x4 per layer)": ((rows, h, h), 4 * 4),
        "feed-forward in": ((rows, h, 4 * h), 4),
        "feed-forward out": ((rows, 4 * h, h), 4),
        "MLM output (tied embedding)": ((slots, h, vocab), 1),
    }
    out, work, seconds = {}, 0.0, 0.0
    for name, ((m, k, n), count) in shapes.items():
        a = tf.cast(tf.random.normal((m, k)), dtype)
        b = tf.cast(tf.random.normal((k, n)), dtype)
        f = tf.function(tf.matmul)
        f(a, b).numpy()
        repeats = 30
        start = time.perf_counter()
        for _ in range(repeats):
            c = f(a, b)
        c.numpy()
        per_call = (time.perf_counter() - start) / repeats
        flops = 2.0 * m * k * n
        out[name] = round(flops / per_call / 1e9, 1)
        work += 3 * count * flops  # forward and the two backward matmuls, each about the forward's size
        seconds += 3 * count * per_call
    out["weighted"] = round(work / seconds / 1e9, 1)
    return out


def main() -> None:
    rates = step_rates()
    ceiling = {dtype: matmul_ceiling(dtype) for dtype in ("float32", "bfloat16")}
    best = max(rates.values(), key=lambda r: r["seqs_per_s"])
    cpu_sequences = sequences(json.load(open(CPU_RUN)))
    gpu_sequences = sequences(json.load(open(GPU_RUN))["runs"]["bert-d0"])
    result = {
        "note": "bench.bert_train at the bundled bert's shape, 20 timed steps each, on an idle 2-core machine; "
        "ceiling = the step's matmuls timed alone (TensorFlow, oneDNN)",
        "step": rates,
        "matmul_ceiling_gflop_per_s": ceiling,
        "share_of_fp32_ceiling": round(
            rates["tensorflow fp32 (the bundled run)"]["gflop_per_s"] / ceiling["float32"]["weighted"], 2
        ),
        "targets_arithmetic": {
            "gpu_sequences_to_0.447_0.896": gpu_sequences,
            "cpu_hour_sequences": cpu_sequences,
            "ratio": round(gpu_sequences / cpu_sequences, 1),
            "best_cpu_seqs_per_s": best["seqs_per_s"],
            "hours_on_this_machine_at_best_rate": round(gpu_sequences / best["seqs_per_s"] / 3600, 1),
        },
    }
    for key, value in result.items():
        update(OUT, key, value=value)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    no_arguments(__doc__)
    main()
