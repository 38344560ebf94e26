"""Two recipe choices for the bundled BERT, each a 1,500-step tiny run on kjv+shakespeare (books and plays as
documents), validated at BERT's 15% masking whatever the run trains with:

    python bench/experiments/bert_recipe.py            # ~3-4 minutes a run on 2 cores (idle machine)

- vocabulary: 8,000 (the bundled size) against 4,000 (a smaller vocabulary makes more, easier word pieces, but a
  128-token window then holds less text);
- masking: 15% against 30% of the tokens during training (more predictions per forward pass).
Results go to bench/results/bert_recipe.json under vocab8000 / vocab4000 / mask30.
"""

import os
import subprocess
import sys

from record import ROOT, no_arguments, pretrain, update

RESULTS = os.path.join(ROOT, "bench", "results", "bert_recipe.json")
COMMON = [
    "--corpus",
    "kjv,shakespeare",
    "--preset",
    "tiny",
    "--heads",
    "4",
    "--seq-len",
    "128",
    "--batch-size",
    "32",
    "--steps",
    "1500",
    "--lr",
    "1e-3",
    "--warmup",
    "300",
    "--dropout",
    "0",
    "--checkpoint-every",
    "500",
]
BUNDLED_VOCAB = os.path.join(ROOT, "pretrain", "models", "bert")
RUNS = {
    "vocab8000": ["--vocab", BUNDLED_VOCAB],
    "vocab4000": ["--vocab", os.path.join(ROOT, "runs", "recipe-vocab4000")],
    "mask30": ["--vocab", BUNDLED_VOCAB, "--mask-rate", "0.3", "--max-predictions", "40"],
}


def main() -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pretrain.vocab",
            "--corpus",
            "kjv,shakespeare",
            "--size",
            "4000",
            "--out",
            RUNS["vocab4000"][1],
        ],
        cwd=ROOT,
        check=True,
    )
    for name, extra in RUNS.items():
        state = pretrain([*COMMON, *extra], os.path.join(ROOT, "runs", f"recipe-{name}-run"))
        update(
            RESULTS,
            "runs",
            name,
            value={"flags": " ".join(extra), "seconds": round(state["seconds"], 1), "validation": state["validation"]},
        )
        print(name, state["validation"][-1], flush=True)


if __name__ == "__main__":
    no_arguments(__doc__)
    main()
