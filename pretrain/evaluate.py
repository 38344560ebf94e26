"""MLM and NSP accuracy of a model on a file: `python -m pretrain.evaluate --model bert --docs-file F [--seed S]`.

F holds one sentence per line and a blank line between documents. Pairs and masks are drawn with the seed, so a
given (model, file, seed) always gives the same figures. The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

BATCH = 32


def read_documents(path: str) -> list[list[str]]:
    import corpus
    from pretrain.data import sentences
    docs = [sentences(block) for block in re.split(r"\n\s*\n", corpus.read_text(path))]
    docs = [d for d in docs if d]
    if len(docs) < 2:
        raise ValueError(f"{path} needs at least two documents (separated by a blank line) for NSP pairs")
    return docs


def evaluate(bert, docs: list[list[str]], seed: int = 0, seq_len: int = 128, mask_rate=0.15,
             max_predictions=None) -> dict:
    """Masks as pretrain.train's validation does: 15%, with enough prediction slots for the length."""
    from pretrain import data

    seq_len = min(seq_len, bert.config.max_positions)
    if max_predictions is None:
        max_predictions = data.bert_max_predictions(seq_len, mask_rate)
    totals = dict(loss=0.0, correct=0, masked=0, nsp=0, pairs=0)
    pair_rng, k = np.random.default_rng([seed, 0, 1]), 0
    with tempfile.TemporaryDirectory() as tmp:
        data.write_shards(docs, bert.tokenizer, os.path.join(tmp, "shards"), seed=seed)
        for shard in data.open_shards(os.path.join(tmp, "shards")):  # a large file spans several
            rows = data.make_pairs(shard, seq_len, pair_rng)
            totals["pairs"] += len(rows)
            for start in range(0, len(rows), BATCH):
                part = rows[start:start + BATCH]
                ids, seg = data.pack(shard.tokens, part, seq_len, bert.ids["[CLS]"], bert.ids["[SEP]"])
                masked, pos, labels, weights = data.mask_tokens(ids, np.random.default_rng([seed, k, 3]),
                                                                bert.config.vocab_size, mask_rate, max_predictions,
                                                                bert.ids["[MASK]"], bert.ids.values())
                k += BATCH
                n = len(part)  # pad the last batch to the fixed shape so nothing recompiles
                pad = lambda a: np.pad(a, [(0, BATCH - n)] + [(0, 0)] * (a.ndim - 1))  # noqa: E731
                out = bert.model.predict_on_batch({"token_ids": pad(masked), "segment_ids": pad(seg),
                                                   "padding_mask": pad((ids != 0).astype(np.int32)),
                                                   "mask_positions": pad(pos)})
                mlm, nsp = np.asarray(out["mlm"])[:n], np.asarray(out["nsp"])[:n]
                logp = mlm - mlm.max(-1, keepdims=True)
                logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
                w = weights > 0
                totals["loss"] -= float(np.take_along_axis(logp, labels[..., None], -1)[..., 0][w].sum())
                totals["correct"] += int((mlm.argmax(-1) == labels)[w].sum())
                totals["masked"] += int(w.sum())
                totals["nsp"] += int((nsp.argmax(-1) == part[:, 4]).sum())
    return {"mlm_accuracy": totals["correct"] / max(1, totals["masked"]),
            "mlm_loss": totals["loss"] / max(1, totals["masked"]),
            "nsp_accuracy": totals["nsp"] / max(1, totals["pairs"]), "pairs": totals["pairs"],
            "masked_tokens": totals["masked"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pretrain.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="bert", help="bundled name, folder or Hugging Face repo id")
    p.add_argument("--docs-file", required=True, help="one sentence a line, blank line between documents")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seq-len", type=int, default=128)
    a = p.parse_args(argv)
    try:
        docs = read_documents(a.docs_file) if os.path.isfile(a.docs_file) else None
        if docs is None:
            raise ValueError(f"--docs-file {a.docs_file!r} not found")
        from pretrain.api import load
        result = evaluate(load(a.model), docs, seed=a.seed, seq_len=a.seq_len)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
