"""The MLM unigram plateau and the local attention init that skips it: tiny BERT, 1,500 steps, both inits.

    python bench/experiments/bert_plateau.py            # ~3 minutes a run on 2 cores (idle machine)

Prints each run's validation curve (step, mlm_accuracy, mlm_loss, nsp_accuracy, nsp_loss) and adds it to
bench/results/bert_plateau.json under cli-random / cli-local. The other rows of that file (pre-LN, NSP off, wider
init, more heads, sinusoidal positions alone, no weight decay, 4x batch, 5x rate, a 4,000 vocabulary) were one-off
variants of the same command; all stayed at 0.135-0.148 (4x batch, not kept there: 0.149 after 750 steps).
"""

import os

from record import ROOT, no_arguments, pretrain, update

RESULTS = os.path.join(ROOT, "bench", "results", "bert_plateau.json")
VOCAB = os.path.join(ROOT, "pretrain", "models", "bert")
COMMON = [
    "--corpus",
    "kjv,shakespeare",
    "--vocab",
    VOCAB,
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
    "250",
]


def main() -> None:
    for init in ("random", "local"):
        state = pretrain([*COMMON, "--attention-init", init], os.path.join(ROOT, "runs", f"plateau-{init}"))
        update(
            RESULTS,
            "runs",
            f"cli-{init}",
            value={"change": f"--heads 4 --attention-init {init}", "validation": state["validation"]},
        )
        print(init, state["validation"][-1], flush=True)


if __name__ == "__main__":
    no_arguments(__doc__)
    main()
