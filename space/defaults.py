"""Which model a tab offers first: the one that scores best where a visitor's own text is, read from the record.

    from space import defaults
    defaults.bert_order("fill_mask", ["bert-modern", "bert", "bert-imdb"])   # best first, e.g. bert-imdb first
    defaults.best_bert("next_sentence", registry.berts)                      # a name among the loaded ones

A visitor types modern English, so the Fill-mask and Sentence pair tabs default to the BERT with the best score
on `snippets` in bench/results/bert_heldout.json (`python -m bench.bert_heldout`): modern review and editorial
snippets that no bundled BERT read. Fill-mask ranks by MLM accuracy, Sentence pair by NSP accuracy (with other-
document negatives). The order is read from that file, so a retrained model moves up or down with its record;
a model the record does not name keeps its place after the ranked ones.
"""

from __future__ import annotations

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results", "bert_heldout.json")
MODERN_SET = "snippets"  # bench.bert_heldout.MODERN: the held-out modern text
METRIC = {"fill_mask": "mlm_accuracy", "next_sentence": "nsp_accuracy"}


def scores(task: str, path: str = RESULTS) -> dict[str, float]:
    """{model: its recorded score on the modern held-out set for `task`} ({} without the record)."""
    if task not in METRIC:
        raise ValueError(f"task must be one of {', '.join(METRIC)}, got {task!r}")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    found = next((s for s in record.get("sets", []) if s.get("set") == MODERN_SET), {})
    return {m: float(r[METRIC[task]]) for m, r in found.items() if isinstance(r, dict) and METRIC[task] in r}


def bert_order(task: str, names, path: str = RESULTS) -> list[str]:
    """`names` with the recorded ones first, best score first (a stable sort: ties keep the given order)."""
    names = list(names)
    got = scores(task, path)
    ranked = sorted((n for n in names if n in got), key=lambda n: -got[n])
    return ranked + [n for n in names if n not in got]


def best_bert(task: str, names, path: str = RESULTS) -> str | None:
    """The first of `bert_order` (None when `names` is empty)."""
    return next(iter(bert_order(task, names, path)), None)
