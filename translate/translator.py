"""A trained translator ready to use: text in, translations out, each with its tokens, attention and score.

import translate
t = translate.load("translate-transformer")          # bundled name, model folder or Hub repo id
[out] = t.translate("Where is the train station?", beam=4)
out.text, out.source_tokens, out.target_tokens, out.attention.shape, out.score
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from core.config import SavedConfig

MAX_BEAM = 16
MAX_SENTENCES = 64


@dataclasses.dataclass
class Decoding(SavedConfig):
    """FOLDER/decoding.json: the length penalty a translator decodes with unless told otherwise, chosen on
    validation data by `python -m translate.tune --write` (as Hugging Face's generation_config.json holds a
    model's num_beams and length_penalty). A folder without the file decodes with GNMT's usual 0.6."""

    FILE = "decoding.json"
    alpha: float = 0.6  # GNMT's length penalty ((5 + |Y|) / 6) ** alpha
    tuned: dict = dataclasses.field(default_factory=dict)  # how: the data, beam and validation BLEU per alpha

    @classmethod
    def load_or_default(cls, folder: str) -> Decoding:
        return cls.load(folder) if os.path.exists(os.path.join(folder, cls.FILE)) else cls()


@dataclasses.dataclass
class Translation:
    source: str
    text: str
    source_tokens: list[str]  # subword pieces ("▁" marks a space before)
    target_tokens: list[str]
    attention: np.ndarray  # (target, source) for the rnn; (target, layers, heads, source) for the transformer
    score: float  # log probability with GNMT's length penalty
    finished: bool  # False when the length limit cut the output before [END]

    def attention_map(self, layer: int = -1, head: int | None = None) -> np.ndarray:
        """(target, source): the rnn's map, or one transformer layer's, one head or the mean of its heads."""
        a = self.attention
        if a.ndim == 2:
            return a
        a = a[:, layer]
        return a.mean(1) if head is None else a[:, head]


class Translator:
    def __init__(self, folder: str, name: str | None = None):
        from core.checkpoint import load_weights
        from translate.model import TranslatorConfig, build
        from translate.tokenizer import PairTokenizer

        self.folder, self.name = folder, name or os.path.basename(os.path.normpath(folder))
        self.config = TranslatorConfig.load(folder)
        self.tokenizer = PairTokenizer.load(folder)
        self.decoding = Decoding.load_or_default(folder)
        self.model = build(self.config)
        load_weights(self.model, os.path.join(folder, "model.weights.h5"))
        card = os.path.join(folder, "README.md")
        self.card = open(card, encoding="utf-8").read() if os.path.exists(card) else ""

    def __repr__(self):
        c = self.config
        kind = f"{c.cell} + {c.attention}" if c.arch == "rnn" else f"{c.layers}+{c.layers} layers"
        return f"<SeqLab translator {self.name}: {c.arch} ({kind}), {c.dim}-d>"

    def warm_up(self) -> None:
        """Compile the decoding loops a request uses (greedy and beam), so the first visitor does not wait."""
        for beam in (1, 4):
            self.translate("a", beam=beam)

    def translate_text(self, text: str, beam: int = 4, alpha: float | None = None) -> Translation:
        """One text as a visitor types it, as one Translation: whole when it fits the model's source limit, else cut
        between sentences (corpus.parallel.sentences) into the fewest consecutive runs that each fit, translated in
        one batch and joined, where the plain `translate` would refuse it. Whole is the rule, because it scored
        higher: on the web-es test verses of two or more sentences, translating them sentence by sentence lost
        0.8-1.0 BLEU (bench/experiments/translate_split.py). The joined attention is block-diagonal: each run's
        target subwords attend only to that run's source subwords."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text is empty: give a sentence to translate")
        runs = self._runs(text)
        parts = self.translate(runs, beam=beam, alpha=alpha)
        return parts[0] if len(parts) == 1 else _joined(text, parts)

    def _runs(self, text: str) -> list[str]:
        """The text, or its sentences packed greedily into runs of at most max_src_len subwords each."""
        from corpus.parallel import sentences

        def size(t: str) -> int:
            return len(self.tokenizer.source.encode(t))

        limit = self.config.max_src_len
        if size(text) <= limit:
            return [text]
        runs: list[str] = []
        for sentence in sentences(text):
            if runs and size(runs[-1] + " " + sentence) <= limit:
                runs[-1] += " " + sentence
            else:
                runs.append(sentence)  # one sentence over the limit is refused by name in translate
        return runs

    def _source_ids(self, text) -> list[int]:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text is empty: give a sentence to translate")
        ids = self.tokenizer.source.encode(text)
        limit = self.config.max_src_len
        if len(ids) > limit:
            raise ValueError(
                f"the text is {len(ids)} subwords, over this model's limit of {limit}: split it into shorter sentences"
            )
        pieces = self.tokenizer.source.pieces(ids)
        if all(i == 1 or piece == "▁" for i, piece in zip(ids, pieces)):  # [UNK]s and bare word gaps only
            raise ValueError(f"no known subwords in {text[:40]!r}: this model knows none of its characters")
        return ids

    def translate(
        self, text_or_list, beam: int = 4, alpha: float | None = None, max_len: int | None = None
    ) -> list[Translation]:
        """Translations of one text or a list of texts (one Translation each), by beam search (beam 1: greedy).
        alpha: the length penalty; None = the model's own (`self.decoding.alpha`, from its decoding.json)."""
        from translate.decode import translate_ids

        texts = [text_or_list] if isinstance(text_or_list, str) else list(text_or_list)
        if not texts:
            raise ValueError("no text given: pass a sentence or a list of sentences")
        if len(texts) > MAX_SENTENCES:
            raise ValueError(f"{len(texts)} sentences at once is over the limit of {MAX_SENTENCES}")
        if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or not 1 <= beam <= MAX_BEAM:
            raise ValueError(f"beam must be a whole number from 1 to {MAX_BEAM}, got {beam!r}")
        rows = [self._source_ids(t) for t in texts]
        source = np.zeros((len(rows), self.config.max_src_len), np.int32)
        for r, ids in enumerate(rows):
            source[r, : len(ids)] = ids
        alpha = self.decoding.alpha if alpha is None else alpha
        results = translate_ids(self.model, source, beam=int(beam), alpha=alpha, max_len=max_len)
        src_side, tgt_side = self.tokenizer.source, self.tokenizer.target
        return [
            Translation(
                source=t,
                text=tgt_side.decode(r.ids),
                source_tokens=src_side.pieces(ids),
                target_tokens=tgt_side.pieces(r.ids),
                attention=np.asarray(r.attention, np.float32),
                score=r.score,
                finished=r.finished,
            )
            for t, ids, r in zip(texts, rows, results)
        ]


def _joined(text: str, parts: list[Translation]) -> Translation:
    """Translations of consecutive runs of one text as one: texts, tokens and scores in order (the score is the mean
    per target subword), the attention maps on the diagonal of one (target, [layers, heads,] source) array."""
    targets = sum(len(p.target_tokens) for p in parts)
    sources = sum(len(p.source_tokens) for p in parts)
    inner = parts[0].attention.shape[1:-1]  # () for the rnn, (layers, heads) for the transformer
    attention = np.zeros((targets, *inner, sources), np.float32)
    t = s = 0
    for p in parts:
        rows, cols = p.attention.shape[0], p.attention.shape[-1]
        attention[t : t + rows, ..., s : s + cols] = p.attention
        t, s = t + rows, s + cols
    return Translation(
        source=text,
        text=" ".join(p.text for p in parts),
        source_tokens=[tok for p in parts for tok in p.source_tokens],
        target_tokens=[tok for p in parts for tok in p.target_tokens],
        attention=attention,
        score=float(sum(p.score * len(p.target_tokens) for p in parts) / max(targets, 1)),
        finished=all(p.finished for p in parts),
    )
