"""WordPiece vocabulary for SeqLab BERT: `python -m pretrain.vocab --corpus kjv,shakespeare --size 8000 --out DIR`.

The `tokenizers` trainer is used because it is much faster than keras_hub's and gives the exact size. The
normalizer and pre-tokenizer are BERT's (lowercase, accents stripped, split on whitespace and punctuation), so
the vocab.txt tokenizes identically in keras_hub's WordPieceTokenizer and transformers' BertTokenizer.
The last stdout line is one JSON object: {"vocab": PATH, "tokens": N}.
"""

from __future__ import annotations

import hashlib
import os
import sys

from core import cli, files

# Fixed ids: [PAD] must be 0 (padding masks and HF's pad_token_id assume it); the rest follow BERT's order.
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocab(path: str) -> list[str]:
    """Tokens of a vocab.txt (or a folder holding one); ValueError when a special token is missing."""
    if os.path.isdir(path):
        path = os.path.join(path, "vocab.txt")
    if not os.path.isfile(path):
        raise ValueError(f"vocabulary {path!r} not found: build one with python -m pretrain.vocab")
    with open(path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    missing = [s for s in SPECIALS if s not in tokens]
    if missing:
        raise ValueError(f"vocabulary {path} lacks {', '.join(missing)}: BERT needs {', '.join(SPECIALS)}")
    if tokens[0] != "[PAD]":
        raise ValueError(f"vocabulary {path} must have [PAD] as token 0 (it has {tokens[0]!r})")
    return tokens


def fingerprint(tokens: list[str]) -> str:
    """What tells two vocabularies apart: a run or a prepared data folder records it."""
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16]


def make_tokenizer(tokens: list[str]):
    """A `tokenizers.Tokenizer` for a vocabulary, adding no special tokens (packing adds [CLS]/[SEP])."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(
        models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]", max_input_chars_per_word=100)
    )
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.add_special_tokens([t for t in SPECIALS if t in tokens])  # "[MASK]" in a text stays one token
    return tok


def train_vocab(texts, size: int) -> list[str]:
    """WordPiece tokens learnt from an iterable of strings, specials first."""
    from tokenizers import models, trainers

    tok = make_tokenizer(list(SPECIALS))
    tok.model = models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100)
    trainer = trainers.WordPieceTrainer(
        vocab_size=size, special_tokens=list(SPECIALS), continuing_subword_prefix="##", show_progress=False
    )
    tok.train_from_iterator(texts, trainer)
    vocab = tok.get_vocab()
    return sorted(vocab, key=vocab.get)


def write_vocab(tokens: list[str], out_dir: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "vocab.txt")
    files.write_text(path, "\n".join(tokens) + "\n")
    return path


def main(argv=None) -> int:
    p = cli.parser("python -m pretrain.vocab", __doc__)
    p.add_argument("--corpus", required=True, help="kjv, shakespeare, kjv,shakespeare, a path or hf:NAME")
    p.add_argument("--size", type=int, default=8000, help="vocabulary size (exact)")
    p.add_argument("--out", required=True, help="folder to write vocab.txt into")

    def work(a):
        if a.size < len(SPECIALS) + 26:  # before the corpus is read
            raise cli.UsageError(f"--size {a.size} is too small for a WordPiece vocabulary")
        import corpus

        docs = corpus.load(a.corpus)
        tokens = train_vocab((line for d in docs for line in d.text.splitlines() if line.strip()), a.size)
        path = write_vocab(tokens, a.out)
        print(f"wrote {path}: {len(tokens)} tokens", file=sys.stderr)
        return {"vocab": path, "tokens": len(tokens)}

    return cli.run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
