"""What pretraining buys: a pretrained BERT against its random-init twin on movie-review sentiment, three seeds.

    python bench/experiments/sentiment_bert.py [--init bert-imdb] [SEEDS...]   # default bert, seeds 0 1 2
                                                                              # ~5 minutes a run on 2 cores

Each run is `python -m classify train --arch bert ...` (the seed also draws the split, so seed-for-seed pairs
share their test set); the twin has the same architecture and vocabulary and random weights. Every run's
metrics.json goes into bench/results/sentiment.json under INIT-pretrained[-seedN] / INIT-random[-seedN]
(for the bundled `bert`: bert-pretrained / bert-random).
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "bench", "results", "sentiment.json")
COMMON = ["--arch", "bert", "--data", "sentiment", "--lr", "3e-4", "--epochs", "12", "--patience", "3"]


def run(model: str, pretrained: bool, seed: int) -> tuple[str, dict]:
    key = f"{model}-{'pretrained' if pretrained else 'random'}" + (f"-seed{seed}" if seed else "")
    out = os.path.join(ROOT, "runs", f"sentiment-{key}")
    extra = ["--init", model] if pretrained else ["--init", "random", "--vocab", f"pretrain/models/{model}"]
    subprocess.run([sys.executable, "-m", "classify", "train", *COMMON, *extra, "--seed", str(seed), "--out", out],
                   cwd=ROOT, check=True)
    with open(os.path.join(out, "metrics.json")) as f:
        return key, json.load(f)


def main() -> None:
    args = sys.argv[1:]
    model = "bert"
    if args[:1] == ["--init"]:
        model, args = args[1], args[2:]
    for seed in [int(s) for s in args] or [0, 1, 2]:
        for pretrained in (True, False):
            key, metrics = run(model, pretrained, seed)
            results = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
            results[key] = metrics
            tmp = RESULTS + ".tmp"
            with open(tmp, "w") as f:
                json.dump(results, f, indent=1)
            os.replace(tmp, RESULTS)
            print(key, metrics["accuracy"], flush=True)


if __name__ == "__main__":
    main()
