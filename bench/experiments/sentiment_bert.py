"""What pretraining buys: the bundled BERT against its random-init twin on movie-review sentiment, three seeds.

    python bench/experiments/sentiment_bert.py [SEEDS...]      # default 0 1 2; ~4 minutes a run on 2 cores

Each run is `python -m classify train --arch bert ...` (the seed also draws the split, so seed-for-seed pairs
share their test set); every run's metrics.json goes into bench/results/sentiment.json under
bert-pretrained[-seedN] / bert-random[-seedN].
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "bench", "results", "sentiment.json")
COMMON = ["--arch", "bert", "--data", "sentiment", "--lr", "3e-4", "--epochs", "12", "--patience", "3"]


def run(init: str, seed: int) -> tuple[str, dict]:
    key = f"bert-{'pretrained' if init == 'bert' else 'random'}" + (f"-seed{seed}" if seed else "")
    out = os.path.join(ROOT, "runs", f"sentiment-{key}")
    extra = ["--init", "bert"] if init == "bert" else ["--init", "random", "--vocab", "pretrain/models/bert"]
    subprocess.run([sys.executable, "-m", "classify", "train", *COMMON, *extra, "--seed", str(seed), "--out", out],
                   cwd=ROOT, check=True)
    with open(os.path.join(out, "metrics.json")) as f:
        return key, json.load(f)


def main() -> None:
    seeds = [int(s) for s in sys.argv[1:]] or [0, 1, 2]
    for seed in seeds:
        for init in ("bert", "random"):
            key, metrics = run(init, seed)
            results = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
            results[key] = metrics
            tmp = RESULTS + ".tmp"
            with open(tmp, "w") as f:
                json.dump(results, f, indent=1)
            os.replace(tmp, RESULTS)
            print(key, metrics["accuracy"], flush=True)


if __name__ == "__main__":
    main()
