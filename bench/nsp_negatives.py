"""NSP's old negatives against the new at a fixed budget: the same small BERT trained twice on one mix of corpora,
once with BERT's other-document negatives (`--nsp-negatives other-doc`: most of them from another corpus of the
mix) and once with other documents of A's own corpus (`same-corpus`), same seed, same steps, same prepared shards.

    python -m bench.nsp_negatives --out bench/results/nsp_negatives_cpu.json     # bert-modern's mix
    python -m bench.nsp_negatives --corpus kjv,shakespeare --steps 100            # quicker

The mix is prepared once (`pretrain.prepare`, with bert-modern's vocabulary) and each run is the real command
(`python -m pretrain.train --data DIR ...`). Each model is then scored by pretrain.evaluate.evaluate on every
corpus's held-out documents (the groups prepare held out: no run read them) and on `snippets` (VADER's review and
editorial snippets, which no run read): NSP accuracy with other-document negatives from the same set (so from the
same corpus: a head that tells corpora apart scores chance there) and with same-document negatives 3+ sentences
from the true next one. `all_not_next` is what a head answering NotNext for every pair scores on the same pairs (a
chunk of one sentence is always NotNext, so NotNext is a little more than half of them). Each set is at most
--max-docs documents (a fixed sample), each cut to its first --max-sentences sentences, so scoring stays a small
part of the time. The last stdout line is the JSON result.
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

from bench.bert_heldout import MODERN
from bench.common import emit, log, machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = ("other-doc", "same-corpus")  # BERT's rule, and the one that keeps a NotNext B in A's corpus


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.nsp_negatives", description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="web,sotu,imdb,brown", help="the mix (default: bert-modern's)")
    p.add_argument("--vocab", default=os.path.join(ROOT, "pretrain", "models", "bert-modern"), help="a vocab.txt")
    p.add_argument("--steps", type=int, default=600, help="training steps of each run")
    p.add_argument("--preset", default="tiny", help="pretrain.train's --preset")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-docs", type=int, default=150, help="documents of each scored set, at most")
    p.add_argument("--max-sentences", type=int, default=40, help="sentences of each scored document, at most")
    p.add_argument("--scratch", default=None, help="folder for the shards and runs (default: a temporary one)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    return p.parse_args(argv)


def held_out_sets(spec: str, max_docs: int, max_sentences: int) -> dict[str, list[list[str]]]:
    """{corpus: its held-out documents, as sentence lists} for each corpus of the mix, and `snippets`."""
    import numpy as np

    import corpus
    from pretrain import data, prepare

    def sample(docs):
        docs = [d[:max_sentences] for d in docs if len(d) >= 2]
        pick = np.random.default_rng(0).permutation(len(docs))[:max_docs]
        return [docs[i] for i in sorted(pick)]

    sets = {part: sample([d.sentences for d in prepare.Stream(part) if d.held]) for part in corpus.parts(spec)}
    if MODERN not in sets:
        sets[MODERN] = sample([data.sentences(d.text) for d in corpus.load(MODERN)])
    return sets


def majority(docs: list[list[str]], tokenizer, seed: int, seq_len: int) -> dict:
    """What a head that answers NotNext for every pair scores: the share of NotNext among the pairs each of
    pretrain.evaluate's two NSP figures counts (the same shards and pair draws; a chunk of one sentence is always
    NotNext, so the share is above one half)."""
    import numpy as np

    from pretrain import data

    with tempfile.TemporaryDirectory() as tmp:
        data.write_shards(docs, tokenizer, os.path.join(tmp, "s"), seed=seed)
        shards = data.open_shards(os.path.join(tmp, "s"))
        shares = {}
        for key, stream, same_doc in (("other_doc", 1, 0.0), ("same_doc", 2, 1.0)):
            rng = np.random.default_rng([seed, 0, stream])
            rows = np.concatenate([data.make_pairs(sh, seq_len, rng, same_doc=same_doc, distance=3) for sh in shards])
            rows = rows[rows[:, 5] != data.OTHER_DOC] if same_doc else rows
            shares[key] = round(float(np.mean(rows[:, 4] == data.NOT_NEXT)), 4)
    return shares


def train(data_dir: str, out: str, rule: str, a) -> dict:
    """One run of the real command; its last JSON line and wall time."""
    cmd = [sys.executable, "-m", "pretrain.train", "--data", data_dir, "--out", out, "--steps", str(a.steps)]
    cmd += ["--preset", a.preset, "--seq-len", str(a.seq_len), "--batch-size", str(a.batch_size)]
    cmd += ["--seed", str(a.seed), "--nsp-negatives", rule, "--checkpoint-every", str(a.steps)]
    log(" ".join(cmd[1:]))
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return {"result": json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": round(time.perf_counter() - t, 1)}


def main(argv=None) -> int:
    a = parse(argv)
    scratch = a.scratch or tempfile.mkdtemp(prefix="nsp-negatives-")
    os.makedirs(scratch, exist_ok=True)
    at_start = machine()
    try:
        from pretrain import prepare

        data_dir = os.path.join(scratch, "data")
        t = time.perf_counter()
        manifest = prepare.prepare(prepare.PrepareConfig(corpus=a.corpus, vocab=a.vocab, out=data_dir), say=log)
        prepare_s = round(time.perf_counter() - t, 1)
        sets = held_out_sets(a.corpus, a.max_docs, a.max_sentences)
        runs = {rule: train(data_dir, os.path.join(scratch, rule), rule, a) for rule in RULES}

        import pretrain
        from pretrain.evaluate import evaluate

        scores, baseline = {}, {}
        for rule in RULES:
            bert = pretrain.load(os.path.join(scratch, rule))
            baseline = baseline or {n: majority(d, bert.tokenizer, a.seed, a.seq_len) for n, d in sets.items()}
            scores[rule] = {}
            for name, docs in sets.items():
                got = evaluate(bert, docs, seed=a.seed, seq_len=a.seq_len)
                keep = ("nsp_accuracy", "nsp_accuracy_same_doc", "mlm_accuracy", "pairs", "same_doc_pairs")
                scores[rule][name] = {k: round(got[k], 4) if isinstance(got[k], float) else got[k] for k in keep}
                log(rule, name, json.dumps(scores[rule][name]))
    finally:
        if not a.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    mean = {
        rule: {
            k: round(sum(s[k] for s in scores[rule].values()) / len(scores[rule]), 4)
            for k in ("nsp_accuracy", "nsp_accuracy_same_doc")
        }
        for rule in RULES
    }
    result = {
        "bench": "nsp_negatives",
        "command": "python -m bench.nsp_negatives" + (f" --corpus {a.corpus}" if a.corpus != parse([]).corpus else ""),
        "corpus": a.corpus,
        "settings": {k: getattr(a, k) for k in ("steps", "preset", "seq_len", "batch_size", "seed", "max_docs")},
        "max_sentences": a.max_sentences,
        "prepare_s": prepare_s,
        "train_documents": manifest["train"]["documents"],
        "runs": {
            rule: {
                "wall_s": r["wall_s"],
                "steps": r["result"]["steps"],  # validation on the run's own held-out shards, its own negatives
                "val_nsp_accuracy": r["result"]["nsp_accuracy"],
                "val_mlm_accuracy": r["result"]["mlm_accuracy"],
            }
            for rule, r in runs.items()
        },
        "scores": scores,
        "mean": mean,
        "all_not_next": baseline,
        "sets": {name: len(docs) for name, docs in sets.items()},
        "machine": at_start,
    }
    emit(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
