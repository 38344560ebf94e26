"""Labelled text for classification: the bundled movie-review sentiment set, a CSV/TSV file, or an hf: set (its
`label` column and its text, sentence or review column, else its first; read by corpus.hub)."""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from core import files
from corpus import CorpusError, hub, read_text
from corpus.named import CACHE, fetch, vader_file

SENTIMENT_LABELS = ("negative", "positive")


def load(spec: str) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """(texts, integer labels, label names) for `spec`: "sentiment", a .csv/.tsv path, or hf:NAME[:CONFIG] /
    hf:csv:FILE / hf:json:FILE."""
    if spec == "sentiment":
        return (*_sentiment(), SENTIMENT_LABELS)
    if spec.startswith("hf:"):
        return _hf(spec)
    if os.path.isfile(spec):
        return _table(spec)
    raise CorpusError(f"data {spec!r} not found: use 'sentiment', a CSV/TSV file of text,label or hf:DATASET")


def split(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A fixed 80/10/10 train/validation/test split of n examples (independent snippets: no groups)."""
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(n * 0.8), int(n * 0.9)
    return {"train": order[:a], "validation": order[a:b], "test": order[b:]}


def _sentiment():
    """Movie-review snippets rated -4..4 by people; the sign is the label, near-neutral ones are dropped."""
    cached = os.path.join(CACHE, "movie_reviews.tsv")
    if not os.path.exists(cached):
        raw = vader_file(fetch("sentiment"), "movieReviewSnippets_GroundTruth.txt")
        files.write_text(cached, raw.replace("\r\n", "\n"))
    texts, labels = [], []
    for line in open(cached, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3 and abs(float(parts[1])) > 0.5:
            texts.append(parts[2].replace("''", '"'))
            labels.append(int(float(parts[1]) > 0))
    return texts, np.array(labels, np.int32)


def _table(path: str):
    text = read_text(path)
    dialect = "excel-tab" if path.endswith(".tsv") or "\t" in text.split("\n", 1)[0] else "excel"
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if r]
    if rows and len(rows[0]) >= 2 and _is_header(rows[0][:2], {r[1].strip() for r in rows[1:] if len(r) > 1}):
        rows = rows[1:]
    bad = next((i for i, r in enumerate(rows) if len(r) < 2 or not r[0].strip()), None)
    if not rows or bad is not None:
        raise CorpusError(f"{path}: every row needs text and a label (row {bad if bad is not None else 0} does not)")
    return _encode_labels([r[0] for r in rows], [r[1].strip() for r in rows])


def _is_header(first: list[str], other_labels: set) -> bool:
    """`text,label`, or `review,sentiment` and the like: a first row whose label is no number and no other row's."""
    text, label = (c.strip().lower() for c in first)
    if (text, label) in {("text", "label"), ("sentence", "label")}:
        return True
    try:
        float(label)
        return False
    except ValueError:
        return len(other_labels) > 1 and first[1].strip() not in other_labels


def _hf(spec: str):
    ds = hub.load_hf(spec)
    text_col = next((c for c in ("text", "sentence", "review") if c in ds.column_names), ds.column_names[0])
    labels = hub.column(ds, "label", spec)
    return _encode_labels([str(t) for t in ds[text_col]], [str(v) for v in labels])


def _encode_labels(texts, raw):
    names = tuple(sorted(set(raw)))
    if len(names) < 2:
        raise CorpusError(f"classification needs at least two labels, found {list(names)}")
    if set(names) == {"0", "1"}:
        names = ("0", "1")
    index = {n: i for i, n in enumerate(names)}
    return texts, np.array([index[v] for v in raw], np.int32), names
