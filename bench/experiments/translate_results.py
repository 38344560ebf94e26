"""The README's translation figures, every one from a command here.

    python bench/experiments/translate_results.py tune        # each bundled translator's length penalty, on validation
    python bench/experiments/translate_results.py bundled     # test-book BLEU/chrF of the bundled translators
    python bench/experiments/translate_results.py attention   # the RNN with and without attention, same budget
    python bench/experiments/translate_results.py examples    # the README's ten modern-English sentences
    python bench/experiments/translate_results.py kjv         # both archs on kjv-web against the copy baseline
    python bench/experiments/translate_results.py ema         # the bundled Transformer's recipe, shipping --ema 0.999
    python bench/experiments/translate_results.py sentences   # its recipe with sentence pairs, in bf16, 9,000 steps
    python bench/experiments/translate_results.py longer      # its recipe given 12,000 steps (past the hour)

`tune` runs `python -m translate.tune --write` (beam 4, alphas 0.6-2.2 on the validation books, never the test
books) on both bundled translators: each decodes with its best alpha from then on (its decoding.json).
`bundled` runs `python -m translate.evaluate` (beam 4, each model's own alpha, the 1,629 test verses of John,
1 Corinthians, Esther and Amos) on translate-rnn and translate-transformer. `attention` trains the bundled RNN's
command twice with a shorter budget (--steps 800, the same for both arms, side by side), once with Bahdanau
attention and once with none (the course's plain seq2seq: the decoder starts from the encoder's last state and
sees nothing else), into runs/translate-attention-*, and scores both the same way. `kjv` trains the bundled
models' two commands on `kjv-web` (King James -> World English Bible), side by side for the same --minutes, into
runs/kjv-web-*, and scores each on the test books with the copy baseline (the KJV verse itself as the
"translation"). `ema` trains the bundled Transformer's command with --ema 0.999 (the weights' moving average is
what it exports) for --minutes 58 into runs/translate-transformer-ema, tunes its alpha on the validation books
and scores the test books. `sentences` trains the bundled Transformer's command with --split-sentences (the
single-sentence pairs cut from training verses, `corpus.parallel.sentence_pairs`) and --precision bf16 for
--steps 9000 (what fit in the hour here: 58.5 minutes at 0.39 s a step) into runs/translate-transformer-sentences,
tunes its alpha and scores it like `ema`, and translates the ten sentences with it (the recorded run got to 9,000
through four commands, planned at 10,300 steps and cut back as the machine ran slow: its `commands`). `longer`
trains the bundled Transformer's command but for --steps 12000 (1.22x the bundled 9,800: past the hour a bundled
translator may train) and with --jit (XLA: about 10% faster steps on the AMX Xeon it was run on, the same
arithmetic) into runs/translate-transformer-longer, tunes and scores it like `ema` and translates the ten
sentences: it measures what more compute buys this recipe against #15's 25 BLEU. Results go to
bench/results/translate.json.
"""

import json
import os
import subprocess
import sys

from record import ROOT, update

RESULTS = os.path.join(ROOT, "bench", "results", "translate.json")
RNN = [  # the bundled RNN's settings, less its pair and vocabulary
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
# random batches, as the bundled RNN was trained (before length grouping)
WEB_ES_RNN = ["--pair", "web-es", *RNN, "--vocab-size", "3500", "--length-window", "0"]
TRANSFORMER = [
    "--arch",
    "transformer",
    "--layers",
    "3",
    "--dim",
    "192",
    "--heads",
    "4",
    "--ffn-dim",
    "768",
    "--batch-size",
    "64",
    "--lr",
    "1e-3",
    "--warmup",
    "400",
    "--eval-every",
    "250",
    "--checkpoint-every",
    "250",
    "--no-jit",
]
KJV_MINUTES = "45"  # each, side by side: about 22 minutes of the whole machine each
KJV_VOCAB = "4000"  # one joint vocabulary (both sides are English), so the embeddings are shared
ABLATION_STEPS = "800"
LONGER_STEPS = "12000"  # the bundled Transformer got 9,800 into its hour
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


def _run_json(module: str, *args: str) -> dict:
    """`python -m MODULE ARGS` in the repo; its last stdout line, the JSON every SeqLab command ends with."""
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def evaluate(model: str, pair: str = "web-es") -> dict:
    return _run_json("translate.evaluate", "--model", model, "--pair", pair, "--split", "test", "--beam", "4")


def _tune(model: str) -> dict:
    return _run_json("translate.tune", "--model", model, "--pair", "web-es", "--write")


def tune() -> None:
    for name in ("translate-rnn", "translate-transformer"):
        result = _tune(name)
        update(RESULTS, "tuned", name, value=result)
        print(name, result["best_alpha"], result["scores"], file=sys.stderr)


def bundled() -> None:
    for name in ("translate-rnn", "translate-transformer"):
        result = evaluate(name)
        update(RESULTS, "bundled", name, value=result)
        print(name, result["bleu"], result["chrf"], file=sys.stderr)


def train_side_by_side(runs: dict[str, list[str]]) -> None:
    """`python -m translate.train ARGS --out runs/NAME` for each NAME at once (the cores shared), then wait."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "translate.train", *args, "--out", os.path.join(ROOT, "runs", name)], cwd=ROOT
        )
        for name, args in runs.items()
    ]
    if any(proc.wait() for proc in procs):
        sys.exit("a training run failed")


def _scored(name: str, pair: str) -> dict:
    out = os.path.join(ROOT, "runs", name)
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    return {
        **evaluate(out, pair),
        "steps": metrics["step"],
        "seconds": metrics["seconds"],
        "val_loss": metrics["val_loss"],
        "command": metrics["command"],
    }


def attention() -> None:
    """Both arms side by side (one core each), then both scored the same way."""
    arms = {f"translate-attention-{arm}": arm for arm in ("bahdanau", "none")}
    train_side_by_side(
        {name: [*WEB_ES_RNN, "--attention", arm, "--steps", ABLATION_STEPS] for name, arm in arms.items()}
    )
    for name, arm in arms.items():
        result = _scored(name, "web-es")
        update(RESULTS, "attention", arm, value=result)
        print(arm, result["bleu"], result["chrf"], file=sys.stderr)


def kjv() -> None:
    """Both architectures on kjv-web, the bundled models' settings, side by side, then the copy baseline."""
    archs = {"kjv-web-rnn": ("rnn", RNN), "kjv-web-transformer": ("transformer", TRANSFORMER)}
    train_side_by_side(
        {
            name: ["--pair", "kjv-web", *args, "--vocab-size", KJV_VOCAB, "--minutes", KJV_MINUTES]
            for name, (_, args) in archs.items()
        }
    )
    for name, (arch, _) in archs.items():
        result = _scored(name, "kjv-web")  # evaluate adds the copy baseline for a same-language pair
        update(RESULTS, "kjv-web", arch, value=result)
        print(arch, result["bleu"], "copy", result["copy_bleu"], file=sys.stderr)


def ema() -> None:
    name = "translate-transformer-ema"
    out = os.path.join(ROOT, "runs", name)
    train_side_by_side({name: ["--pair", "web-es", *TRANSFORMER, "--vocab-size", "3500", "--ema", "0.999",
                               "--minutes", "58"]})  # fmt: skip
    tuned = _tune(out)
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    result = {**_scored(name, "web-es"), "tuned": tuned}
    result["val_loss_trained_weights"] = metrics["val_loss_trained_weights"]
    update(RESULTS, "ema", value=result)
    print("ema", result["bleu"], result["chrf"], "alpha", tuned["best_alpha"], file=sys.stderr)


def sentences() -> None:
    name = "translate-transformer-sentences"
    out = os.path.join(ROOT, "runs", name)
    args = ["--pair", "web-es", *TRANSFORMER, "--vocab-size", "3500", "--split-sentences", "--precision", "bf16"]
    train_side_by_side({name: [*args, "--steps", "9000"]})
    tuned = _tune(out)
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    result = {**_scored(name, "web-es"), "tuned": tuned, "commands": metrics["commands"]}
    result["sentence_pairs"] = metrics["sentence_pairs"]
    result["examples_modern"] = dict(zip(EXAMPLES, _translations(out)))
    update(RESULTS, "sentences", value=result)
    print("sentences", result["bleu"], result["chrf"], "alpha", tuned["best_alpha"], file=sys.stderr)


def longer() -> None:
    name = "translate-transformer-longer"
    out = os.path.join(ROOT, "runs", name)
    train_side_by_side(
        {name: ["--pair", "web-es", *TRANSFORMER, "--vocab-size", "3500", "--steps", LONGER_STEPS, "--jit"]}
    )
    tuned = _tune(out)
    result = {**_scored(name, "web-es"), "tuned": tuned}
    result["examples_modern"] = dict(zip(EXAMPLES, _translations(out)))
    update(RESULTS, "longer", value=result)
    print("longer", result["bleu"], result["chrf"], "alpha", tuned["best_alpha"], file=sys.stderr)


def _translations(model: str) -> list[str]:
    sys.path.insert(0, ROOT)
    import translate

    return [x.text for x in translate.load(model).translate(EXAMPLES, beam=4)]


def examples() -> None:
    rows = [_translations(name) for name in ("translate-rnn", "translate-transformer")]
    value = [{"english": e, "translate-rnn": r, "translate-transformer": t} for e, r, t in zip(EXAMPLES, *rows)]
    update(RESULTS, "examples", value=value)
    for row in value:
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    jobs = {
        "tune": tune,
        "bundled": bundled,
        "attention": attention,
        "examples": examples,
        "kjv": kjv,
        "ema": ema,
        "sentences": sentences,
        "longer": longer,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in jobs:
        sys.exit(__doc__)
    jobs[sys.argv[1]]()
