"""Peak memory and throughput of `python -m pretrain.prepare` on synthetic corpora of growing size.

    python -m bench.prepare_memory --out bench/results/prepare_memory_cpu.json     # 50 MB and 500 MB
    python -m bench.prepare_memory --sizes 5,20                                     # quicker

A text file of each size (paragraphs of sentences of Zipf-distributed synthetic words, generated in a scratch
folder) is prepared by the command in a subprocess, with one vocabulary learnt beforehand from the first 5 MB (so
every run tokenizes alike). Peak RSS is the child's own high-water mark (os.wait4's ru_maxrss; `peak_rss_mb` is in
MiB); a run on a 1 MB file gives the start-up part of it (the interpreter, numpy, the tokenizer: the command
imports no TensorFlow), so what the stream itself holds is the peak above that. Throughput: the file's MB over the
command's wall time, and over the manifest's `seconds` (the read-tokenize-write pass alone). The tokenizer keeps its own
default threads. Target: the largest corpus's peak RSS within 20% of the smallest's. Last stdout line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench.common import emit, log, machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 0.2  # peak RSS of the largest corpus within 20% of the smallest's


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.prepare_memory", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="50,500", help="corpus sizes in MB, comma separated")
    p.add_argument("--vocab", type=int, default=8000, help="WordPiece vocabulary size")
    p.add_argument("--scratch", default=None, help="folder for the corpora and shards (default: a temporary one)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    return p.parse_args(argv)


def write_corpus(path: str, mb: float, seed: int = 0) -> int:
    """Paragraphs (5-15 sentences of 6-20 words) of 20,000 synthetic words drawn by Zipf's law, to `mb` MB. Bytes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    words = np.array(["".join(rng.choice(letters, rng.integers(2, 10))) for _ in range(20_000)])
    p = 1 / np.arange(1, len(words) + 1)
    p /= p.sum()
    limit, size = int(mb * 1e6), 0
    with open(path, "w", encoding="utf-8") as f:
        while size < limit:
            drawn = words[rng.choice(len(words), 200_000, p=p)].tolist()
            lengths = rng.integers(6, 21, len(drawn) // 6)
            ends = np.cumsum(lengths)
            ends = ends[ends <= len(drawn)]
            lines = [" ".join(drawn[a:b]) + " ." for a, b in zip(np.concatenate([[0], ends[:-1]]), ends)]
            breaks = np.cumsum(rng.integers(5, 16, len(lines)))
            text, start = [], 0
            for end in breaks[breaks <= len(lines)]:
                text.append("\n".join(lines[start:end]) + "\n\n")
                start = end
            chunk = "".join(text)[: limit - size]
            f.write(chunk)
            size += len(chunk.encode())
    return size


def run_prepare(corpus: str, vocab: str, out: str, scratch: str) -> dict:
    """The command in a child process: its wall time, peak RSS (MB, its own ru_maxrss) and manifest."""
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}  # the tokenizer's own default
    cmd = [sys.executable, "-m", "pretrain.prepare", "--corpus", corpus, "--vocab", vocab, "--out", out]
    logs = os.path.join(scratch, "stdout.txt"), os.path.join(scratch, "stderr.txt")
    t = time.perf_counter()
    with open(logs[0], "wb") as stdout, open(logs[1], "wb") as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not every child's high-water mark
    wall = time.perf_counter() - t
    if status:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{open(logs[1]).read()[-3000:]}")
    manifest = json.loads(open(logs[0]).read().strip().splitlines()[-1])
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "manifest": manifest}


def main(argv=None) -> int:
    a = parse(argv)
    sizes = [float(s) for s in a.sizes.split(",")]
    scratch = a.scratch or tempfile.mkdtemp(prefix="prepare-memory-")
    os.makedirs(scratch, exist_ok=True)
    at_start = machine()
    try:
        from pretrain import vocab

        sample = os.path.join(scratch, "sample.txt")
        write_corpus(sample, 5)
        with open(sample, encoding="utf-8") as f:
            tokens = vocab.train_vocab((line for line in f if line.strip()), a.vocab)
        vocab_path = vocab.write_vocab(tokens, os.path.join(scratch, "vocab"))
        runs = []
        for mb in [1.0, *sizes]:
            corpus = os.path.join(scratch, f"corpus-{mb:g}mb.txt")
            log(f"writing a {mb:g} MB corpus")
            size = write_corpus(corpus, mb)
            log(f"preparing {corpus}")
            got = run_prepare(corpus, vocab_path, os.path.join(scratch, "out"), scratch)
            m = got.pop("manifest")
            runs.append(
                {
                    "mb": round(size / 1e6, 1),
                    **got,
                    "prepare_s": m["seconds"],
                    "mb_per_s": round(size / 1e6 / got["wall_s"], 2),
                    "stream_mb_per_s": round(size / 1e6 / m["seconds"], 2),
                    "tokens": m["train"]["tokens"] + m["val"]["tokens"],
                    "documents": m["train"]["documents"] + m["val"]["documents"],
                    "shards": m["train"]["shards"] + m["val"]["shards"],
                }
            )
            log(json.dumps(runs[-1]))
            shutil.rmtree(os.path.join(scratch, "out"), ignore_errors=True)
            os.remove(corpus)
    finally:
        if not a.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    base, small, large = runs[0], runs[1], runs[-1]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    above = (large["peak_rss_mb"] - base["peak_rss_mb"]) / max(1e-9, small["peak_rss_mb"] - base["peak_rss_mb"])
    result = {
        "bench": "prepare_memory",
        "command": "python -m bench.prepare_memory" + (f" --sizes {a.sizes}" if a.sizes != "50,500" else ""),
        "vocab": len(tokens),
        "start_up": base,
        "runs": runs[1:],
        "peak_ratio": round(ratio, 3),
        "above_start_up_ratio": round(above, 3),
        "target": f"peak RSS of {large['mb']:g} MB within {TARGET:.0%} of {small['mb']:g} MB's",
        "met": abs(ratio - 1) <= TARGET,
        "machine": at_start,
    }
    emit(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
