"""pretrain.train on one process against two (`--distribute data`, JAX on the CPU), each on one core of its own,
and the throughput of preparing a corpus's token shards.

    python -m bench.pretrain_scale                        # BERT L2/H128, seq 128, 16 sequences a process a step
    python -m bench.pretrain_scale --steps 60 --out bench/results/pretrain_scale_cpu.json

Weak scaling, as adding machines is: each process keeps its share of the batch (--batch sequences), so two
processes train a global batch twice as large. A synthetic corpus of topic documents (--docs) and its vocabulary
are made in a scratch folder; the one-process run prepares its shards (pretrain.train.prepare_data, timed here
too, in MB/s of text), the two-process run gets a copy of them. Each run's steps/s is its trainer's own figure
(metrics.json: steps over the loop's seconds, its first step's compile included, the same in both); tokens/s is
steps/s x global batch x --seq; scaling efficiency is two processes' tokens/s over twice one process's. A core
each (sched_setaffinity), so the two processes do not share one. Last stdout line: JSON.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench.common import emit, free_port, last_json, log, machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPICS = {
    "farm": "cow sheep barn hay field plough milk goat fence tractor".split(),
    "sea": "ship wave sail fish tide anchor shore net harbour gull".split(),
    "war": "sword shield king spear battle army horse camp siege banner".split(),
}


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.pretrain_scale", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=16, help="sequences a process a step")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--docs", type=int, default=400, help="synthetic documents of 40 sentences")
    p.add_argument("--out", default=None, help="also write the JSON here")
    return p.parse_args(argv)


def write_corpus(folder: str, n_docs: int) -> int:
    """Documents of sentences drawn from a topic's words: learnable, and cheap to make at any size. Bytes."""
    import numpy as np

    rng = np.random.default_rng(0)
    os.makedirs(folder)
    size = 0
    for d in range(n_docs):
        words = TOPICS[list(TOPICS)[d % len(TOPICS)]]
        text = "\n".join(" ".join(rng.choice(words, 12)) + " ." for _ in range(40)) + "\n"
        with open(os.path.join(folder, f"doc{d:05d}.txt"), "w") as f:
            f.write(text)
        size += len(text.encode())
    return size


def env(process: int | None = None, processes: int = 1, port: int = 0) -> dict:
    e = dict(os.environ, PYTHONPATH=ROOT, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    if process is not None:
        e.update(
            KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
            KERAS_DISTRIBUTION_NUM_PROCESSES=str(processes),
            KERAS_DISTRIBUTION_PROCESS_ID=str(process),
        )
    return e


def train(args, corpus: str, vocab: str, out: str, processes: int) -> dict:
    """One pretrain.train job of `processes` processes, process i on core i; process 0's metrics."""
    argv = [sys.executable, "-m", "pretrain.train", "--corpus", corpus, "--vocab", vocab, "--out", out]
    argv += ["--steps", str(args.steps), "--checkpoint-every", str(args.steps), "--warmup", "5", "--jit"]
    argv += ["--layers", str(args.layers), "--dim", str(args.dim), "--heads", "2", "--seq-len", str(args.seq)]
    argv += ["--batch-size", str(args.batch * processes), "--dropout", "0"]
    if processes > 1:
        argv += ["--distribute", "data"]
    port, cores = free_port(), os.cpu_count() or 1
    procs = [
        subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env(i if processes > 1 else None, processes, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda core=i % cores: os.sched_setaffinity(0, {core}),
        )
        for i in range(processes)
    ]
    results = [p.communicate(timeout=3600) for p in procs]
    for p, (_, err) in zip(procs, results):
        if p.returncode:
            raise RuntimeError(f"pretrain.train on {processes} process(es) failed:\n{err[-3000:]}")
    return last_json(results[0][0])


def run(args) -> dict:
    start = machine()
    scratch = tempfile.mkdtemp(prefix="seqlab-pretrain-scale-")
    try:
        corpus, vocab = os.path.join(scratch, "corpus"), os.path.join(scratch, "vocab")
        size = write_corpus(corpus, args.docs)
        done = subprocess.run(
            [sys.executable, "-m", "pretrain.vocab", "--corpus", corpus, "--size", "200", "--out", vocab],
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        from pretrain import train as pretrain_train
        from pretrain import vocab as pretrain_vocab

        one_out = os.path.join(scratch, "one")
        t = time.perf_counter()
        pretrain_train.prepare_data(corpus, pretrain_vocab.read_vocab(vocab), os.path.join(one_out, "work"))
        prepare_s = time.perf_counter() - t
        shutil.copytree(os.path.join(one_out, "work"), os.path.join(scratch, "two", "work"))
        rows = {}
        for n, out in ((1, one_out), (2, os.path.join(scratch, "two"))):
            log(f"training on {n} process(es)")
            m = train(args, corpus, vocab, out, n)
            steps_s = m["steps"] / m["seconds"]
            rows[n] = {
                "processes": m["processes"],
                "devices": m["devices"],
                "global_batch": m["global_batch"],
                "steps": m["steps"],
                "seconds": m["seconds"],
                "steps_per_s": round(steps_s, 3),
                "tokens_per_s": round(steps_s * m["global_batch"] * args.seq, 1),
                "val_mlm_loss": m["mlm_loss"],
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "bench": "pretrain_scale",
        "command": "python -m bench.pretrain_scale " + " ".join(sys.argv[1:]),
        "model": {"layers": args.layers, "dim": args.dim, "seq_len": args.seq, "batch_per_process": args.batch},
        "one_process": rows[1],
        "two_processes": rows[2],
        "scaling_efficiency": round(rows[2]["tokens_per_s"] / (2 * rows[1]["tokens_per_s"]), 3),
        "prepare": {
            "corpus_mb": round(size / 1e6, 2),
            "seconds": round(prepare_s, 2),
            "mb_per_s": round(size / 1e6 / prepare_s, 2),
            "how": "pretrain.train.prepare_data: load, split, tokenize and write the shards, in one process",
        },
        "machine": start,
    }


def main(argv=None) -> int:
    args = parse(argv)
    emit(run(args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
