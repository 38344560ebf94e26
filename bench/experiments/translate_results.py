"""The README's translation figures, every one from a command here.

    python bench/experiments/translate_results.py bundled     # test-book BLEU/chrF of the bundled translators
    python bench/experiments/translate_results.py attention   # the RNN with and without attention, same budget
    python bench/experiments/translate_results.py examples    # the README's ten modern-English sentences

`bundled` runs `python -m translate.evaluate` (beam 4, the 1,629 test verses of John, 1 Corinthians, Esther and
Amos) on translate-rnn and translate-transformer. `attention` trains the bundled RNN's command twice with a
shorter budget (--steps 800, the same for both arms, side by side), once with Bahdanau attention and once with
none (the
course's plain seq2seq: the decoder starts from the encoder's last state and sees nothing else), into
runs/translate-attention-*, and scores both the same way. Results go to bench/results/translate.json.
"""

import json
import os
import subprocess
import sys

from record import ROOT, update

RESULTS = os.path.join(ROOT, "bench", "results", "translate.json")
RNN = [
    "--pair",
    "web-es",
    "--arch",
    "rnn",
    "--cell",
    "gru",
    "--attention-dim",
    "128",
    "--layers",
    "1",
    "--dim",
    "256",
    "--vocab-size",
    "3500",
    "--batch-size",
    "64",
    "--lr",
    "2e-3",
    "--warmup",
    "200",
    "--eval-every",
    "300",
    "--checkpoint-every",
    "300",
    "--no-jit",
]
ABLATION_STEPS = "800"
EXAMPLES = [
    "Where is the train station?",
    "I love you, and I will never leave you.",
    "The children are playing in the garden with their dog.",
    "My mother cooks bread every morning.",
    "We went to the city to buy food.",
    "The king gave his son a great house.",
    "Do not be afraid; I am with you.",
    "She wrote a letter to her brother.",
    "The water of the river is cold.",
    "Tomorrow we will go to the mountain.",
]


def evaluate(model: str, pair: str = "web-es") -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "translate.evaluate",
            "--model",
            model,
            "--pair",
            pair,
            "--split",
            "test",
            "--beam",
            "4",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bundled() -> None:
    for name in ("translate-rnn", "translate-transformer"):
        result = evaluate(name)
        update(RESULTS, "bundled", name, value=result)
        print(name, result["bleu"], result["chrf"], file=sys.stderr)


def attention() -> None:
    """Both arms side by side (one core each), then both scored the same way."""
    outs = {arm: os.path.join(ROOT, "runs", f"translate-attention-{arm}") for arm in ("bahdanau", "none")}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "translate.train",
                *RNN,
                "--attention",
                arm,
                "--steps",
                ABLATION_STEPS,
                "--out",
                out,
            ],
            cwd=ROOT,
        )
        for arm, out in outs.items()
    ]
    if any(run.wait() for run in runs):
        sys.exit("a training run failed")
    for arm, out in outs.items():
        result = evaluate(out)
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        update(
            RESULTS,
            "attention",
            arm,
            value={**result, "steps": metrics["step"], "seconds": metrics["seconds"], "val_loss": metrics["val_loss"]},
        )
        print(arm, result["bleu"], result["chrf"], file=sys.stderr)


def examples() -> None:
    sys.path.insert(0, ROOT)
    import translate

    rows = []
    for name in ("translate-rnn", "translate-transformer"):
        t = translate.load(name)
        rows.append([x.text for x in t.translate(EXAMPLES, beam=4)])
    value = [{"english": e, "translate-rnn": r, "translate-transformer": t} for e, r, t in zip(EXAMPLES, *rows)]
    update(RESULTS, "examples", value=value)
    for row in value:
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    jobs = {"bundled": bundled, "attention": attention, "examples": examples}
    if len(sys.argv) != 2 or sys.argv[1] not in jobs:
        sys.exit(__doc__)
    jobs[sys.argv[1]]()
