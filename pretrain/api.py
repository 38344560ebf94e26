"""Inference on a trained SeqLab BERT: fill_mask, next_sentence and embed, and a look inside: hidden_states
(every layer's vectors) and attention (every head's softmax weights).

    import pretrain
    bert = pretrain.load("bert")
    tokens, states = bert.hidden_states("the bank of the river")  # states [layers + 1, 7, 224]
    tokens, maps = bert.attention("the [MASK] of the river")      # maps [layers, heads, 7, 7]

Inputs are padded to a few fixed lengths (BUCKETS) and masks to a fixed number of slots, so the compiled predict
function is traced once per bucket (the three shortest warmed at load) and never again per request.
"""

from __future__ import annotations

import numpy as np

from core import model as folders
from core.model import KINDS, ModelFolder
from core.resolve import ModelNotFoundError

MODELS = KINDS["bert"].models_dir
BUCKETS = (32, 64, 128, 256, 512)
BATCH = 16  # hidden_states_many's rows a call (fixed, so each bucket compiles once for it too)
SLOTS = 16  # [MASK] positions scored per call; more masks take more calls of the same shape


def resolve(name: str) -> str:
    """Folder of a bundled model name, a local folder, or a hub repo id (downloaded with snapshot_download);
    ModelNotFoundError (an OSError and a ValueError) when there is none."""
    return folders.locate(name, "bert")[0]


def load(name: str = "bert") -> Pretrained:
    """A BERT by bundled name, folder or Hub repo id, through core.model.load."""
    return folders.load(name, "bert")


class Pretrained(ModelFolder):
    KIND = "bert"

    def __init__(self, folder: str, name: str | None = None):
        from pretrain import model as bert
        from pretrain import vocab

        super().__init__(folder, name)
        self.tokens = vocab.read_vocab(folder)
        self.tokenizer = vocab.make_tokenizer(self.tokens)
        self.ids = {s: self.tokens.index(s) for s in vocab.SPECIALS}
        self._continuation = np.array([t.startswith("##") for t in self.tokens])
        self.model = bert.load(folder, all_outputs=True)
        self.config = self.model.config
        self._inside = None  # pretrain.model.Inside, made on the first hidden_states or attention call
        self.buckets = [b for b in BUCKETS if b < self.config.max_positions] + [self.config.max_positions]
        for b in self.buckets[:3]:  # warm the common lengths; longer ones compile on first use
            warm = np.full(b, self.ids["[SEP]"])
            warm[0] = self.ids["[CLS]"]
            self._run(warm, np.zeros(b, np.int64))

    def __repr__(self):
        c = self.config
        return f"<SeqLab BERT {self.name}: L{c.num_layers}/H{c.hidden_size}, vocab {c.vocab_size}>"

    # ------------------------------------------------------------------------------------------------ core
    def _pad(self, ids, seg, positions=()):
        """One example padded to the smallest bucket that fits, as the model's input dict."""
        n = len(ids)
        length = next((b for b in self.buckets if b >= n), None)
        if length is None:
            raise ValueError(f"input of {n} tokens is longer than the model's {self.config.max_positions}")
        x = {
            "token_ids": np.zeros((1, length), np.int32),
            "segment_ids": np.zeros((1, length), np.int32),
            "padding_mask": np.zeros((1, length), np.int32),
            "mask_positions": np.zeros((1, SLOTS), np.int32),
        }
        x["token_ids"][0, :n], x["segment_ids"][0, :n], x["padding_mask"][0, :n] = ids, seg, 1
        x["mask_positions"][0, : len(positions)] = positions
        return x

    def _run(self, ids, seg, positions=()):
        """One example through the model at the smallest bucket that fits; numpy outputs."""
        return {k: np.asarray(v)[0] for k, v in self.model.predict_on_batch(self._pad(ids, seg, positions)).items()}

    def _run_inside(self, ids, seg):
        """{"states": [L + 1, bucket, H], "attention": [L, heads, bucket, bucket]} at the padded bucket length:
        the same buckets as _run, so pretrain.model.Inside is traced once per bucket, never per request."""
        return self._inside_batch(self._pad(ids, seg))

    def _inside_batch(self, x: dict, row: int | None = 0):
        from pretrain import model as bert

        if self._inside is None:
            self._inside = bert.Inside(self.model)
        x = {k: v for k, v in x.items() if k != "mask_positions"}
        out = {k: np.asarray(v) for k, v in self._inside.predict_on_batch(x).items()}
        return out if row is None else {k: v[row] for k, v in out.items()}

    def _encode(self, a: str, b: str | None = None):
        from pretrain.data import pack_texts

        return pack_texts(self.tokenizer, a, b, self.config.max_positions, self.ids["[CLS]"], self.ids["[SEP]"])

    # ----------------------------------------------------------------------------------------------- public
    def fill_mask(self, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """For each [MASK] in `text`, the top_k (token, probability) predictions. A [MASK] that stands alone as a
        word gets whole-word tokens only (with the model's probabilities, which then sum to less than 1); one
        followed by a ## piece ("[MASK]##ing") may be any piece."""
        ids, seg = self._encode(text)
        where = np.nonzero(ids == self.ids["[MASK]"])[0]
        pieces = (
            self.tokenizer.encode(text, add_special_tokens=False).ids if len(ids) == self.config.max_positions else []
        )  # only a text packed to the model's full length can have been cut
        if pieces.count(self.ids["[MASK]"]) > len(where):
            raise ValueError(
                f"the text is {len(pieces)} wordpieces, past the model's {len(ids) - 2}: a [MASK] "
                "after that would go unanswered; shorten the text"
            )
        if len(where) == 0:
            raise ValueError("fill_mask needs at least one [MASK] in the text, e.g. 'the lord is my [MASK]'")
        # a [MASK] standing for a whole word (not followed by a ## piece) is answered with word starts only: a
        # continuation piece ("##s") there would glue onto the word before it, not fill the blank
        whole = [not (i + 1 < len(ids) and self.tokens[ids[i + 1]].startswith("##")) for i in where]
        results = []
        for start in range(0, len(where), SLOTS):
            chunk = where[start : start + SLOTS]
            logits = self._run(ids, seg, chunk)["mlm"][: len(chunk)]
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            for p, word in zip(probs, whole[start : start + SLOTS]):
                if word:  # the model's own probabilities, continuation pieces left out (not renormalised)
                    p = np.where(self._continuation, -1.0, p)
                best = np.argsort(-p, kind="stable")[:top_k]
                results.append([(self.tokens[i], float(p[i])) for i in best])
        return results

    def next_sentence(self, a: str, b: str) -> float:
        """Probability that `b` follows `a` (IsNext)."""
        logits = self._run(*self._encode(a, b))["nsp"]
        p = np.exp(logits - logits.max())
        return float(p[0] / p.sum())

    def embed(self, text: str) -> tuple[list[str], np.ndarray]:
        """Wordpiece tokens (with [CLS] and [SEP]) and their contextual vectors [n, hidden]."""
        ids, seg = self._encode(text)
        return [self.tokens[i] for i in ids], self._run(ids, seg)["sequence"][: len(ids)]

    def hidden_states(self, text: str) -> tuple[list[str], np.ndarray]:
        """Wordpiece tokens (with [CLS] and [SEP], as `embed`) and every layer's vectors [layers + 1, n, hidden].

        Layer 0 is context-free: the wordpiece's token embedding alone, with no position or segment embedding
        and no LayerNorm, so the same wordpiece has the same vector in every sentence. Layers 1..L are the
        outputs of the transformer blocks; the last is what `embed` returns.

            tokens, states = pretrain.load("bert").hidden_states("he sat on the bank")
            states.shape  # (5, 7, 224): [CLS] he sat on the bank [SEP], layers 0-4
        """
        ids, seg = self._encode(text)
        return [self.tokens[i] for i in ids], self._run_inside(ids, seg)["states"][:, : len(ids)]

    def hidden_states_many(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """`hidden_states` of each text, BATCH texts of one length bucket a call (one compiled shape per bucket:
        a reference set of hundreds of sentences in seconds, not one call each)."""
        encoded = [self._encode(t) for t in texts]
        out: list = [None] * len(texts)
        by_bucket: dict[int, list[int]] = {}
        for i, (ids, _) in enumerate(encoded):
            by_bucket.setdefault(next(b for b in self.buckets if b >= len(ids)), []).append(i)
        for length, rows in by_bucket.items():
            for start in range(0, len(rows), BATCH):
                chunk = rows[start : start + BATCH]
                x = {k: np.zeros((BATCH, length), np.int32) for k in ("token_ids", "segment_ids", "padding_mask")}
                for j, i in enumerate(chunk):
                    ids, seg = encoded[i]
                    x["token_ids"][j, : len(ids)], x["segment_ids"][j, : len(ids)] = ids, seg
                    x["padding_mask"][j, : len(ids)] = 1
                states = self._inside_batch(x, row=None)["states"]
                for j, i in enumerate(chunk):
                    ids = encoded[i][0]
                    out[i] = ([self.tokens[t] for t in ids], states[j, :, : len(ids)])
        return out

    def attention(self, text: str) -> tuple[list[str], np.ndarray]:
        """Wordpiece tokens (with [CLS] and [SEP]) and every block's softmax attention [layers, heads, n, n]:
        row i is what query token i attends to, each row sums to 1. The text may hold [MASK]s.

        Recomputed from each block's own query and key weights (keras_hub's encoder does not return them;
        pretrain.model.attention_probs); the padding of the bucket got exactly 0 weight and is cut off.

            tokens, maps = pretrain.load("bert").attention("the lord is my [MASK]")
            maps[0, 1].argmax(-1)  # where each token looks most in the first block's second head
        """
        ids, seg = self._encode(text)
        n = len(ids)
        return [self.tokens[i] for i in ids], self._run_inside(ids, seg)["attention"][:, :, :n, :n]


__all__ = ["MODELS", "ModelNotFoundError", "Pretrained", "load", "resolve"]
