"""Does the Train tab's live BERT learn NSP in the steps a 60-s job gets? The tab's own task (live.tasks.LiveBert on
the tab's shakespeare folder and WordPiece vocabulary, its 256 held-out pairs) run for a fixed number of steps
with one setting changed at a time, so settings compare at equal steps whatever else loads the machine.

    python bench/experiments/live_bert_nsp.py STEPS NAME [NAME ...]      # e.g. 420 tab nsp10+dropout0
    python bench/experiments/live_bert_nsp.py 300 overlap_ceiling         # after a tab run: the cue's ceiling

NAME joins settings with +: tab (live.tasks.bert_config as it is), a key of SETTINGS, nspW (the NSP loss term
weighted W), warmupN, maskR (training mask rate), negatives=KIND (--nsp-negatives).

Each run's held-out MLM accuracy (against the unigram counter's) and NSP accuracy (against the majority label's
share of the held-out pairs, what a head answering one label scores) every EVERY steps go to
bench/results/live_bert_nsp_cpu.json under NAME.
"""

import dataclasses
import os
import sys
import tempfile
import time

from record import ROOT, update

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RESULTS = os.path.join(ROOT, "bench", "results", "live_bert_nsp_cpu.json")
WORK = os.path.join(tempfile.gettempdir(), "live-bert-nsp")  # the corpus folder and vocabulary, made once
EVERY = 60


def replace_optimizer(config, **changes):
    return dataclasses.replace(config, optimizer=dataclasses.replace(config.optimizer, **changes))


# one change against the tab's setting each (live.tasks.bert_config as it is)
SETTINGS = {
    "tab": lambda c: c,
    "dropout0": lambda c: dataclasses.replace(c, architecture=dataclasses.replace(c.architecture, dropout=0.0)),
    "lr2e-3": lambda c: replace_optimizer(c, lr=2e-3),
    "lr3e-3": lambda c: replace_optimizer(c, lr=3e-3),
    "noclip": lambda c: replace_optimizer(c, clip_norm=0.0),
    "seq32": lambda c: dataclasses.replace(c, seq_len=32),
    "batch32": lambda c: dataclasses.replace(c, batch_size=32),
    "random_init": lambda c: dataclasses.replace(c, attention_init="random"),
    "heads4": lambda c: dataclasses.replace(c, architecture=dataclasses.replace(c.architecture, heads=4)),
}


def corpus_and_vocab() -> tuple[str, str]:
    import corpus as corpora
    from live import tasks
    from live.documents import write_documents
    from pretrain import vocab

    folder, vocab_dir = os.path.join(WORK, "corpus"), os.path.join(WORK, "vocab")
    if not os.path.exists(os.path.join(vocab_dir, "vocab.txt")):
        write_documents(folder, corpus="shakespeare")
        docs = corpora.load(folder)
        lines = (line for d in docs for line in d.text.splitlines() if line.strip())
        vocab.write_vocab(vocab.train_vocab(lines, tasks.VOCAB_SIZE), vocab_dir)
    return folder, vocab_dir


def run(name: str, steps: int) -> dict:
    import shutil

    from core.budget import Budget
    from core.trainer import Trainer
    from live import tasks

    folder, vocab_dir = corpus_and_vocab()
    spec = name.split("+")
    nsp_weight = next((float(s[3:]) for s in spec if s.startswith("nsp") and s[3:].replace(".", "").isdigit()), None)
    out = os.path.join(WORK, "runs", f"{name}@{steps}")
    shutil.rmtree(out, ignore_errors=True)
    config = tasks.bert_config(folder, vocab_dir, out, 60)
    for s in spec:
        if s in SETTINGS:
            config = SETTINGS[s](config)
        elif s.startswith("negatives="):
            config = dataclasses.replace(config, nsp_negatives=s.split("=", 1)[1])
        elif s.startswith("warmup"):
            config = replace_optimizer(config, warmup=int(s[6:]))
        elif s.startswith("mask"):
            rate = float(s[4:])
            config = dataclasses.replace(config, masking=dataclasses.replace(config.masking, mask_rate=rate))
        elif not (s.startswith("nsp") and nsp_weight is not None):
            raise SystemExit(f"unknown setting {s!r}")
    config = dataclasses.replace(config, budget=Budget(steps=steps), eval_every=EVERY)
    baselines, rows = {}, []

    def report(message):
        if message.get("type") == "baselines":
            baselines.update(message)

    class Task(tasks.LiveBert):
        def batch(self, step):  # nspW: the NSP term weighs W times in the loss (held-out figures unweighted)
            x, y, w = super().batch(step)
            return x, y, {**w, "nsp": w["nsp"] * (nsp_weight or 1.0)}

        def evaluate(self, model, run):
            figures = super().evaluate(model, run)
            rows.append({"step": run.step, **{k: figures[k] for k in ("val_mlm_accuracy", "val_nsp_accuracy")}})
            print(name, rows[-1], flush=True)
            return figures

    task = Task(config, report, {}, "")
    start = time.monotonic()
    Trainer(task, config).run(f"live_bert_nsp {name}")
    last = rows[-1]
    return {
        "steps": steps,
        "wall_s": round(time.monotonic() - start, 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "mlm_accuracy": last["val_mlm_accuracy"],
        "unigram_mlm_accuracy": baselines.get("unigram_mlm_accuracy"),
        "nsp_accuracy": last["val_nsp_accuracy"],
        "majority_nsp_share": baselines.get("unigram_nsp_accuracy"),
        "curve": rows,
    }


def overlap_ceiling(steps: int) -> dict:
    """What the pairs' plainest NSP cue gives a model fitted to all the training pairs: logistic regression on which
    wordpieces A and B share (one indicator a vocabulary entry), `steps` full-batch gradient steps. A BERT must
    learn that comparison of its two segments through attention; this is what it could score with it."""
    import numpy as np

    from live import tasks
    from pretrain import data

    folder = os.path.join(WORK, "runs", "tab@420", "work", "data")  # the shards a 420-step "tab" run prepared

    def pairs(split: str):
        shard = data.open_shards(os.path.join(folder, split))[0]
        rows = data.make_pairs(shard, tasks.BERT_SEQ_LEN, np.random.default_rng([0, 0, 1]))  # epoch 0's draws
        tokens = np.asarray(shard.tokens)
        x = np.zeros((len(rows), tasks.VOCAB_SIZE), np.float32)
        for i, (a0, a1, b0, b1, _, _) in enumerate(rows):
            x[i, np.intersect1d(tokens[a0:a1], tokens[b0:b1])] = 1.0
        return x, rows[:, 4].astype(np.float32)

    (x, y), (xv, yv) = pairs("train"), pairs("val")
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= 0.5 * (x.T @ (p - y) / len(y) + 1e-4 * w)
        b -= 0.5 * float(np.mean(p - y))
    score = lambda x, y: round(float(np.mean(((x @ w + b) > 0) == (y > 0.5))), 4)  # noqa: E731
    return {
        "train_pairs": len(y),
        "heldout_pairs": len(yv),
        "train_accuracy": score(x, y),
        "heldout_accuracy": score(xv, yv),
        "heldout_majority_share": round(float(max(yv.mean(), 1 - yv.mean())), 4),
    }


def main() -> None:
    steps, names = int(sys.argv[1]), sys.argv[2:]
    for name in names:
        result = overlap_ceiling(steps) if name == "overlap_ceiling" else run(name, steps)
        print(name, {k: v for k, v in result.items() if k != "curve"}, flush=True)
        update(RESULTS, f"{name}@{steps}", value=result)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if sys.argv[1:] else 2)
    main()
