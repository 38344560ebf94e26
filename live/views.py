"""The data as the model sees it, as plain dicts and strings: the WordPiece vocabulary and how a sentence splits,
one NSP pair `[CLS] A [SEP] B [SEP]` with its segment ids, its label and its masked positions by kind (80% [MASK],
10% a random token, 10% kept), and for the LM one window and its shifted targets.

    from live.views import lm_window
    lm_window(inputs=[5, 6, 7], targets=[6, 7, 8], vocab=["[UNK]", ...], limit=40)
"""

from __future__ import annotations

import numpy as np

IS_NEXT = 0  # pretrain.data's label for a B that follows A
SAMPLE_PIECES = 40


def vocabulary(tokens: list[str], tokenizer, sentence: str, seed: int = 0) -> dict:
    """The vocabulary's size, a sample of its pieces (whole words and ##continuations) and `sentence` split."""
    from pretrain.vocab import SPECIALS

    pieces = [t for t in tokens if t not in SPECIALS]
    rng = np.random.default_rng(seed)
    sample = [pieces[i] for i in sorted(rng.choice(len(pieces), min(SAMPLE_PIECES, len(pieces)), replace=False))]
    split = tokenizer.encode(sentence, add_special_tokens=False).tokens
    return {
        "size": len(tokens),
        "specials": list(SPECIALS),
        "continuations": sum(t.startswith("##") for t in pieces),
        "sample": sample,
        "sentence": sentence,
        "pieces": split,
    }


def mask_kind(masked: int, label: int, mask_id: int) -> str:
    """What BERT's corruption did at a chosen position: "mask" (80%), "random" (10%) or "kept" (10%)."""
    return "mask" if masked == mask_id else "kept" if masked == label else "random"


def bert_pair(x: dict, y: dict, w: dict, tokens: list[str], mask_id: int, row: int = 0) -> dict:
    """Row `row` of a pretrain batch as the model reads it: its pieces (masked), segment ids, IsNext/NotNext and
    each masked position with the original piece, what replaced it and the kind of replacement."""
    length = int(x["padding_mask"][row].sum())
    ids = x["token_ids"][row][:length]
    masks = []
    for pos, label, used in zip(x["mask_positions"][row], y["mlm"][row], w["mlm"][row]):
        if used > 0:
            masks.append(
                {
                    "position": int(pos),
                    "original": tokens[int(label)],
                    "shown": tokens[int(ids[pos])],
                    "kind": mask_kind(int(ids[pos]), int(label), mask_id),
                }
            )
    return {
        "pieces": [tokens[int(i)] for i in ids],
        "segments": [int(s) for s in x["segment_ids"][row][:length]],
        "label": "IsNext" if int(y["nsp"][row]) == IS_NEXT else "NotNext",
        "masked": masks,
    }


def lm_window(inputs, targets, vocab: list[str], limit: int = 60) -> dict:
    """The first `limit` tokens of one training window and the targets it is scored on (the same shifted by one)."""
    shown = [vocab[int(i)] for i in list(inputs)[:limit]]
    wanted = [vocab[int(i)] for i in list(targets)[:limit]]
    return {"length": len(list(inputs)), "inputs": shown, "targets": wanted}
