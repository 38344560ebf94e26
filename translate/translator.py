"""A trained translator ready to use: text in, translations out, each with its tokens, attention and score.

import translate
t = translate.load("translate-transformer")          # bundled name, model folder or Hub repo id
[out] = t.translate("Where is the train station?", beam=4)
out.text, out.source_tokens, out.target_tokens, out.attention.shape, out.score
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from core.config import SavedConfig
from core.model import ModelFolder

MAX_BEAM = 16
MAX_SENTENCES = 64
# Where translate_text may cut a text that is over the limit, coarsest first: line breaks and sentence ends, then
# semicolons and colons, then commas (each cut keeps its punctuation on the left).
CUTS = (r"([.!?][\"')\]]*)\s+", r"([;:])\s+", r"(,)\s+")


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


class Translator(ModelFolder):
    KIND = "translator"

    def __init__(self, folder: str, name: str | None = None):
        from core.checkpoint import load_weights
        from translate.model import TranslatorConfig, build
        from translate.tokenizer import PairTokenizer

        super().__init__(folder, name)
        self.config = TranslatorConfig.load(folder)
        self.tokenizer = PairTokenizer.load(folder)
        self.decoding = Decoding.load_or_default(folder)
        self.model = build(self.config)
        load_weights(self.model, os.path.join(folder, "model.weights.h5"))

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
        at sentence ends (then at ; and :, then at commas, only where a part is still too long) and packed into the
        fewest consecutive runs that each fit, translated in batches and joined, where the plain `translate` would
        refuse it. Whole is the rule, because it scored higher: on the web-es validation verses of two or more
        sentences, translating them sentence by sentence lost BLEU (bench/experiments/translate_split.py). The
        joined attention is block-diagonal: each run's target subwords attend only to that run's source subwords."""
        runs = self._runs(text)
        step = MAX_SENTENCES  # translate's own limit per call
        parts = [p for i in range(0, len(runs), step) for p in self.translate(runs[i : i + step], beam, alpha)]
        return parts[0] if len(parts) == 1 else _joined(text, parts)

    def _runs(self, text) -> list[str]:
        """The text, or its parts (CUTS, the finest level only where a coarser part is still over max_src_len)
        packed greedily into runs of at most max_src_len subwords. Hand-written rather than corpus.parallel.sentences,
        which wants a capital after a sentence end and drops unbalanced quotes: cutting more often costs nothing
        here, as the packing joins back whatever fits."""
        limit = self.config.max_src_len

        def size(t: str) -> int:
            return len(self.tokenizer.source.encode(t))

        if not isinstance(text, str) or size(text) <= limit:
            return [text]  # translate itself refuses what is not text

        def parts(piece: str, level: int) -> list[str]:
            if size(piece) <= limit or level == len(CUTS):
                return [piece]
            cut = re.sub(CUTS[level], "\\1\n", piece).split("\n")  # line breaks cut at the first level too
            return [q for p in cut if p.strip() for q in parts(" ".join(p.split()), level + 1)]

        runs: list[str] = []
        for piece in parts(text, 0):
            if size(piece) > limit:
                raise ValueError(
                    f"a part of the text is {size(piece)} subwords with no sentence end, semicolon or comma, over this "
                    f"model's limit of {limit}: {piece[:60]!r}..."
                )
            if runs and size(runs[-1] + " " + piece) <= limit:
                runs[-1] += " " + piece
            else:
                runs.append(piece)
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
    """Translations of consecutive runs of one text as one: texts and tokens in order, the runs' scores (log
    probability with the length penalty) averaged by their target subwords, the attention maps on the diagonal of
    one (target, [layers, heads,] source) array."""
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
        score=float(np.average([p.score for p in parts], weights=[max(1, len(p.target_tokens)) for p in parts])),
        finished=all(p.finished for p in parts),
    )
