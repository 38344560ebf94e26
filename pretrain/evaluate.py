"""MLM and NSP accuracy of a model on a file: `python -m pretrain.evaluate --model bert --data F [--seed S]`.

F holds one sentence per line and a blank line between documents. Pairs and masks are drawn with the seed, so a
given (model, file, seed) always gives the same figures. The last line printed is one JSON object: MLM accuracy
and loss, NSP accuracy with other-document negatives (BERT's) and with same-document ones (`nsp_accuracy_same_doc`).
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from core import cli

BATCH = 32


def read_documents(path: str) -> list[list[str]]:
    import corpus
    from pretrain.data import sentences

    if not os.path.isfile(path):
        raise FileNotFoundError(f"--data {path!r}: no such file")
    docs = [sentences(d.text) for d, _ in corpus.read(path)]  # paragraphs: corpus.load's documents of a file
    docs = [d for d in docs if d]
    if len(docs) < 2:
        raise ValueError(f"{path} needs at least two documents (separated by a blank line) for NSP pairs")
    return docs


def _pad(a: np.ndarray) -> np.ndarray:
    """The last batch padded to the fixed shape, so nothing recompiles."""
    return np.pad(a, [(0, BATCH - len(a))] + [(0, 0)] * (a.ndim - 1))


def evaluate(
    bert,
    docs: list[list[str]],
    seed: int = 0,
    seq_len: int = 128,
    mask_rate=0.15,
    max_predictions=None,
    distance: int = 3,
) -> dict:
    """MLM and NSP figures; masks as pretrain.train's validation does: 15%, enough prediction slots for the length.

    NSP is scored twice: with BERT's other-document negatives (`nsp_accuracy`; the MLM figures come from these
    pairs) and with same-document negatives `distance` or more sentences from the true next one
    (`nsp_accuracy_same_doc`, over its IsNext pairs and the negatives that really came from the same document;
    `same_doc_fallbacks` counts the documents too short to give one, which drew from another document instead)."""
    from pretrain import data

    seq_len = min(seq_len, bert.config.max_positions)
    if max_predictions is None:
        max_predictions = data.bert_max_predictions(seq_len, mask_rate)
    with tempfile.TemporaryDirectory() as tmp:
        data.write_shards(docs, bert.tokenizer, os.path.join(tmp, "shards"), seed=seed)
        shards = data.open_shards(os.path.join(tmp, "shards"))  # a large file spans several
        easy = _score(bert, shards, np.random.default_rng([seed, 0, 1]), seed, seq_len, mask_rate, max_predictions)
        hard = _score(
            bert, shards, np.random.default_rng([seed, 0, 2]), seed, seq_len, mask_rate, max_predictions, distance
        )
    kept = hard["kind"] != data.OTHER_DOC
    return {
        "mlm_accuracy": easy["correct"] / max(1, easy["masked"]),
        "mlm_loss": easy["loss"] / max(1, easy["masked"]),
        "nsp_accuracy": float(easy["right"].mean()) if len(easy["right"]) else 0.0,
        "nsp_accuracy_same_doc": float(hard["right"][kept].mean()) if kept.any() else 0.0,
        "pairs": len(easy["right"]),
        "same_doc_pairs": int((hard["kind"] == data.SAME_DOC).sum()),
        "same_doc_fallbacks": int((~kept).sum()),
        "masked_tokens": easy["masked"],
    }


def _score(bert, shards, pair_rng, seed, seq_len, mask_rate, max_predictions, distance=None) -> dict:
    """One pass over the pairs: other-document negatives, or (with `distance`) same-document ones."""
    from pretrain import data

    totals, right, kinds, k = dict(loss=0.0, correct=0, masked=0), [], [], 0
    for shard in shards:
        rows = data.make_pairs(shard, seq_len, pair_rng, same_doc=1.0 if distance else 0.0, distance=distance or 3)
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            ids, seg = data.pack(shard.tokens, part, seq_len, bert.ids["[CLS]"], bert.ids["[SEP]"])
            masked, pos, labels, weights = data.mask_tokens(
                ids,
                np.random.default_rng([seed, k, 3]),
                bert.config.vocab_size,
                mask_rate,
                max_predictions,
                bert.ids["[MASK]"],
                bert.ids.values(),
            )
            k += BATCH
            n = len(part)
            out = bert.model.predict_on_batch(
                {
                    "token_ids": _pad(masked),
                    "segment_ids": _pad(seg),
                    "padding_mask": _pad((ids != 0).astype(np.int32)),
                    "mask_positions": _pad(pos),
                }
            )
            mlm, nsp = np.asarray(out["mlm"])[:n], np.asarray(out["nsp"])[:n]
            logp = mlm - mlm.max(-1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
            w = weights > 0
            totals["loss"] -= float(np.take_along_axis(logp, labels[..., None], -1)[..., 0][w].sum())
            totals["correct"] += int((mlm.argmax(-1) == labels)[w].sum())
            totals["masked"] += int(w.sum())
            right.append(nsp.argmax(-1) == part[:, 4])
            kinds.append(part[:, 5])
    totals["right"] = np.concatenate(right) if right else np.zeros(0, bool)
    totals["kind"] = np.concatenate(kinds) if kinds else np.zeros(0, np.int64)
    return totals


def main(argv=None) -> int:
    p = cli.parser("python -m pretrain.evaluate", __doc__)
    p.add_argument("--model", default="bert", help="bundled name, folder or Hugging Face repo id")
    p.add_argument("--data", metavar="FILE", required=True, help="one sentence a line, blank line between documents")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--nsp-distance", type=int, default=3, help="a same-document negative's distance in sentences")

    def work(a):
        if a.seq_len < 8:
            raise cli.UsageError(f"--seq-len {a.seq_len} is too short for [CLS] A [SEP] B [SEP]")
        if not os.path.isfile(a.data):
            raise cli.UsageError(f"--data {a.data!r} not found")
        docs = read_documents(a.data)
        from pretrain.api import load

        return evaluate(load(a.model), docs, seed=a.seed, seq_len=a.seq_len, distance=a.nsp_distance)

    return cli.run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
