"""Subword vocabularies for translation: byte-pair encoding (BPE) trained with the `tokenizers` library.

    from translate.tokenizer import PairTokenizer
    tok = PairTokenizer.train(splits["train"], vocab_size=8000)   # training pairs only
    ids = tok.source.encode("In the beginning, God created")      # [..] ints, no [START]/[END]
    tok.target.decode([2, 523, 97, 3, 0, 0])                      # text up to [END]; [PAD]/[START] dropped
    tok.source.pieces("In the beginning,")                        # ['▁In', '▁the', '▁beginning', ',']: attention axes
    tok.save("runs/my-translator"); PairTokenizer.load("runs/my-translator")

Why BPE with a SentencePiece-style "▁" for spaces: decoding is the exact inverse of encoding (spaces are tokens,
so "earth." and "¿Con" come back as written, with no rules for which punctuation takes a space), accents and case
are kept, and the merges are learnt in about a second a megabyte. WordPiece would need a detokeniser that guesses
the spacing around punctuation in two languages. Punctuation is always a token of its own.

One vocabulary per side by default when the languages differ (English and Spanish share few words, so a joint
vocabulary would spend half its entries on the other language), a joint one when most target words also occur in
the sources (KJV -> WEB: both English), decided by `joint=None` from the training pairs. A joint vocabulary is saved
once, as `tokenizer.json`; separate ones as `tokenizer-source.json` and `tokenizer-target.json`.
Specials are exactly [PAD]=0 [UNK]=1 [START]=2 [END]=3; an unknown character encodes as [UNK] and decodes as "⁇".
"""

from __future__ import annotations

import collections
import os
import re

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from core import files

SPECIALS = ("[PAD]", "[UNK]", "[START]", "[END]")
PAD, UNK, START, END = 0, 1, 2, 3
JOINT_FILE, SOURCE_FILE, TARGET_FILE = "tokenizer.json", "tokenizer-source.json", "tokenizer-target.json"
JOINT_OVERLAP = 0.5  # share of target words also seen in the sources above which one vocabulary serves both


class SubwordTokenizer:
    """One side's vocabulary."""

    def __init__(self, tokenizer: Tokenizer):
        got = [tokenizer.id_to_token(i) for i in range(len(SPECIALS))]
        if tuple(got) != SPECIALS:
            raise ValueError(f"tokenizer specials must be {list(SPECIALS)} at ids 0-3, got {got}")
        self.tokenizer = tokenizer

    @classmethod
    def train(cls, texts: list[str], vocab_size: int = 8000) -> SubwordTokenizer:
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        # the same text however it was typed: composed accents, single spaces
        tok.normalizer = normalizers.Sequence(
            [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
        )
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIALS),
            min_frequency=2,
            limit_alphabet=1000,
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer, length=len(texts))
        return cls(tok)

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """encode of many texts at once (in parallel, several times faster)."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids) -> str:
        """Text of ids up to the first [END], without [PAD] and [START]; [UNK] reads "⁇"."""
        out = []
        for i in map(int, ids):
            if i == END:
                break
            if i not in (PAD, START):
                out.append(i)
        return self.tokenizer.decode(out, skip_special_tokens=False).replace("[UNK]", "⁇")

    def pieces(self, text_or_ids) -> list[str]:
        """The token strings of a text or of ids ("▁" marks a space before), e.g. for attention axes."""
        ids = self.encode(text_or_ids) if isinstance(text_or_ids, str) else [int(i) for i in text_or_ids]
        return [self.tokenizer.id_to_token(i) or "[UNK]" for i in ids]


class PairTokenizer:
    """Source and target vocabularies (the same object when joint)."""

    def __init__(self, source: SubwordTokenizer, target: SubwordTokenizer):
        self.source, self.target = source, target

    @property
    def joint(self) -> bool:
        return self.source is self.target

    @classmethod
    def train(cls, pairs, vocab_size: int = 8000, joint: bool | None = None) -> PairTokenizer:
        """From training pairs (objects with .source and .target, e.g. corpus.parallel.Pair) only."""
        sources, targets = [p.source for p in pairs], [p.target for p in pairs]
        if not sources:
            raise ValueError("no training pairs to learn a vocabulary from")
        if joint is None:
            joint = word_overlap(sources, targets) > JOINT_OVERLAP
        if joint:
            shared = SubwordTokenizer.train(sources + targets, vocab_size)
            return cls(shared, shared)
        return cls(SubwordTokenizer.train(sources, vocab_size), SubwordTokenizer.train(targets, vocab_size))

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        written = {JOINT_FILE: self.source} if self.joint else {SOURCE_FILE: self.source, TARGET_FILE: self.target}
        for name, side in written.items():
            with files.atomic(os.path.join(folder, name)) as tmp:
                side.tokenizer.save(tmp)
        for name in {JOINT_FILE, SOURCE_FILE, TARGET_FILE} - set(written):  # never leave the other layout behind
            if os.path.exists(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))

    @classmethod
    def load(cls, folder: str) -> PairTokenizer:
        def side(name):
            return SubwordTokenizer(Tokenizer.from_file(os.path.join(folder, name)))

        if os.path.exists(os.path.join(folder, JOINT_FILE)):
            shared = side(JOINT_FILE)
            return cls(shared, shared)
        if os.path.exists(os.path.join(folder, SOURCE_FILE)) and os.path.exists(os.path.join(folder, TARGET_FILE)):
            return cls(side(SOURCE_FILE), side(TARGET_FILE))
        raise FileNotFoundError(f"{folder} has no {JOINT_FILE}, nor {SOURCE_FILE} and {TARGET_FILE}")


def word_overlap(sources: list[str], targets: list[str]) -> float:
    """Share of the target's running words (lower-cased) that also occur in the sources."""
    seen = {w for s in sources for w in re.findall(r"\w+", s.lower())}
    counts = collections.Counter(w for t in targets for w in re.findall(r"\w+", t.lower()))
    total = sum(counts.values())
    return sum(n for w, n in counts.items() if w in seen) / total if total else 0.0
