"""Character- and word-level tokenizers, saved beside the model as vocab.json ({"level", "vocab"}: SeqLab's own
format, so not the Hub's tokenizer.json, which is the `tokenizers` library's and what a translator's joint
vocabulary is saved as).

Id 0 is always [UNK], so text with characters or words the corpus never had still encodes.
"""

from __future__ import annotations

import collections
import json
import os
import re

from core import files

FILE = "vocab.json"

UNK = "[UNK]"
# Words, single punctuation marks and newlines; spaces are implied between words when decoding.
_WORD_RE = re.compile(r"\n|[A-Za-z0-9]+(?:'[A-Za-z]+)*|[^\sA-Za-z0-9]")
_NO_SPACE_BEFORE = set(".,;:!?')]}-\n")
_NO_SPACE_AFTER = set("([{-\n")


class Tokenizer:
    def __init__(self, level: str, vocab: list[str]):
        if level not in ("char", "word"):
            raise ValueError(f"tokenizer level must be 'char' or 'word', got {level!r}")
        if not vocab or vocab[0] != UNK:
            raise ValueError("tokenizer vocabulary must start with [UNK]")
        self.level, self.vocab = level, list(vocab)
        self._ids = {t: i for i, t in enumerate(self.vocab)}

    @classmethod
    def train(cls, text: str, level: str, size: int = 8000) -> Tokenizer:
        if level == "char":
            return cls("char", [UNK] + sorted(set(text)))
        counts = collections.Counter(_WORD_RE.findall(text))
        return cls("word", [UNK] + sorted(t for t, _ in counts.most_common(size - 1)))

    def __len__(self) -> int:
        return len(self.vocab)

    def pieces(self, text: str) -> list[str]:
        return list(text) if self.level == "char" else _WORD_RE.findall(text)

    def encode(self, text: str) -> list[int]:
        return [self._ids.get(p, 0) for p in self.pieces(text)]

    def decode(self, ids) -> str:
        tokens = [self.vocab[int(i)] if 0 <= int(i) < len(self.vocab) else UNK for i in ids]
        if self.level == "char":
            return "".join("\ufffd" if t == UNK else t for t in tokens)
        out = ""
        for t in tokens:
            if out and t[0] not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
                out += " "
            out += t
        return out

    def save(self, folder: str) -> None:
        files.write_text(
            os.path.join(folder, FILE),
            json.dumps({"level": self.level, "vocab": self.vocab}, ensure_ascii=False),
        )

    @classmethod
    def load(cls, folder: str) -> Tokenizer:
        spec = files.read_json(os.path.join(folder, FILE))
        return cls(spec["level"], spec["vocab"])
