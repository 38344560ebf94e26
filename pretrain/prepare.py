"""A corpus as token shards, read as a stream: `python -m pretrain.prepare --corpus C --vocab V --out DIR`.

    python -m pretrain.prepare --corpus big.txt --vocab 30000 --out data/big      # a vocabulary learnt on a sample
    python -m pretrain.prepare --corpus kjv,shakespeare --vocab runs/bert --out data/bible-plays
    python -m pretrain.train --data data/big --out runs/bert-big --preset base --steps 100000

Documents come one at a time from corpus.read, the reader corpus.load is made of (a text file line by line:
paragraphs are documents; a folder file by file: each file is one; an `hf:` set row by row, streamed by datasets,
its rows joined as lines; a named corpus whole), are split into sentences (one a line), go through
pretrain.data.ShardWriter's bounded shuffle and are tokenized in batches into shards as they fill, so memory does
not grow with the corpus (`python -m bench.prepare_memory`). A document longer than MAX_DOCUMENT_CHARS is cut into
several, for the same reason.

The held-out split is a pure function of a document's group (a book, a play, a file, a run of 50 paragraphs): the
group is held out when a hash of its name falls in the first VAL_FRACTION, so the same text is held out on every
read of the stream, for every seed and in every mix the corpus is part of. (Should no group fall there, the one
with the smallest hash is held out.) A mix (`a,b`) is read once first to measure each corpus: its documents are
then interleaved by their shares of the text, so every shard mixes the corpora as the whole does, and
--corpus-cap keeps an evenly spread part of a larger corpus's training documents.

--vocab: a vocab.txt (or a folder holding one), or a size: a WordPiece vocabulary of that many tokens learnt
(pretrain.vocab) from the first --vocab-sample-mb of training text. DIR gets train/ and val/ (pretrain.data's
shards), vocab.txt and manifest.json (the corpus, its documents' fingerprint, the vocabulary's, the seed, and the
documents, tokens and bytes of each split), written to a temporary folder and renamed. The last stdout line is the
manifest's JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import os
import shutil
import sys
import time
from collections.abc import Iterator

from core import cli, files, flags
from core.cli import UsageError
from pretrain import data, vocab

VAL_FRACTION = 0.1
SPLIT = "sha256(group) < 0.1"  # the held-out rule, recorded in each manifest: data made by another rule differs
MAX_DOCUMENT_CHARS = 1_000_000  # a longer paragraph or file is cut into documents of this size
MANIFEST = "manifest.json"
# what decides the shards: a prepared folder with the same key is the same data
KEY = ("corpus", "documents", "split", "val_fraction", "seed", "corpus_cap", "vocab", "shard_tokens", "shuffle_mb")
COMMAND = "python -m pretrain.prepare"


@dataclasses.dataclass(kw_only=True)
class PrepareConfig:
    corpus: str = flags.field(help="kjv, shakespeare, kjv,shakespeare, a text file, a folder or hf:NAME[:CONFIG]")
    vocab: str = flags.field(
        help="a vocab.txt or a folder holding one, or a size (a WordPiece vocabulary learnt from the first "
        "--vocab-sample-mb of training text)",
        metavar="FILE|SIZE",
    )
    out: str = flags.field(help="folder to write train/, val/, vocab.txt and manifest.json into")
    seed: int = flags.field(0, help="the shuffle of documents into shards (the held-out split does not depend on it)")
    corpus_cap: float | None = flags.field(
        None,
        help="in a mix of corpora (--corpus a,b), the largest share of the training text one corpus may give",
        metavar="SHARE",
    )
    vocab_sample_mb: float = flags.field(100.0, help="training text a vocabulary of --vocab SIZE is learnt from")
    shuffle_mb: float = flags.field(16.0, help="training text held to shuffle documents (held-out: a tenth)")
    shard_tokens: int = flags.field(data.SHARD_TOKENS, help="tokens a shard (about)")

    def validate(self) -> PrepareConfig:
        """Every check that reads no corpus."""
        if self.corpus_cap is not None and not 0 < self.corpus_cap <= 1:
            raise UsageError(f"--corpus-cap must be a share in (0, 1] (got {self.corpus_cap})")
        for flag, value in (
            ("--vocab-sample-mb", self.vocab_sample_mb),
            ("--shuffle-mb", self.shuffle_mb),
            ("--shard-tokens", self.shard_tokens),
        ):
            if value <= 0:
                raise UsageError(f"{flag} must be positive (got {value})")
        size = vocab_size(self.vocab)
        if size is not None and size < len(vocab.SPECIALS) + 26:
            raise UsageError(f"--vocab {self.vocab} is too small for a WordPiece vocabulary")
        return self


def vocab_size(spec: str) -> int | None:
    """The size --vocab asks to learn, or None for a vocabulary file."""
    return int(spec) if spec.strip().isdigit() and not os.path.exists(spec) else None


# ---------------------------------------------------------------------------------------------- the stream
@dataclasses.dataclass
class Document:
    sentences: list[str]
    group: str
    bytes: int
    source: int = 0  # the index of its corpus in a mix
    held: bool = False  # in the held-out split

    @property
    def chars(self) -> int:
        return sum(len(s) for s in self.sentences)


def held_out(group: str) -> bool:
    return _rank(group) < VAL_FRACTION


def _rank(group: str) -> float:
    return int.from_bytes(hashlib.sha256(group.encode()).digest()[:8], "big") / 2**64


def read(spec: str, streaming: bool = True) -> Iterator[Document]:
    """The documents of one corpus (not a mix), one at a time: corpus.read's (corpus.load's documents and groups,
    an hf: set streamed unless `streaming` is False), cut past MAX_DOCUMENT_CHARS, as sentences."""
    import corpus

    for d, nbytes in corpus.read(spec, MAX_DOCUMENT_CHARS, streaming):
        yield Document(data.sentences(d.text), d.group, nbytes)


def cap_shares(totals: list[float], cap: float | None) -> list[float]:
    """The share of each corpus's training text a mix keeps so none is above `cap` of the whole, measured
    against the other corpora's full size (so a cap below 1 / the number of corpora cuts all of them); None keeps
    everything, so each corpus weighs by its size."""
    if cap is None or len(totals) < 2:
        return [1.0] * len(totals)
    shares = []
    for s, total in enumerate(totals):
        others = sum(t for k, t in enumerate(totals) if k != s)
        allowed = cap / (1 - cap) * others if cap < 1 else total  # s's text over the whole = cap
        shares.append(min(1.0, allowed / total) if total else 1.0)
    return shares


def capped(docs, shares: list[float]) -> Iterator[Document]:
    """The documents a cap keeps: held-out ones all, training ones of a capped corpus evenly spread through the
    stream (error diffusion: each is kept once the corpus's share of the text so far has paid for it), so the kept
    text is within one document of its share, at any point of the stream."""
    credit = [0.0] * len(shares)
    for d in docs:
        if d.held or shares[d.source] >= 1:
            yield d
            continue
        credit[d.source] += shares[d.source] * d.chars
        if credit[d.source] >= d.chars:
            credit[d.source] -= d.chars
            yield d


class Stream:
    """The documents of a corpus spec (a mix: interleaved), each marked held-out or not, with a cap applied.
    After a full pass: `fingerprint` (of every document's group and length, what notices a changed corpus),
    `groups` (how many, up to 2) and `lowest` (the group of the smallest hash). `streaming`: read's."""

    def __init__(self, spec: str, cap=None, measured: list[dict] | None = None, extra=None, streaming=True):
        import corpus

        self.spec, self.parts, self.cap, self.extra = spec, corpus.parts(spec), cap, extra
        for part in self.parts:
            corpus.check(part)
        self.measured, self.streaming = measured, streaming
        self.fingerprint, self.groups, self.lowest = None, 0, None

    def __iter__(self) -> Iterator[Document]:
        hashes = [hashlib.sha256() for _ in self.parts]
        seen, lowest = [], (2.0, None)

        def marked(part: int) -> Iterator[Document]:
            nonlocal lowest
            last, count = None, 0
            for d in read(self.parts[part], self.streaming):
                count += 1
                hashes[part].update(f"{d.group}\t{d.chars}\n".encode())
                if d.group != last:
                    last, rank = d.group, _rank(d.group)
                    lowest = min(lowest, (rank, d.group))
                    if len(seen) < 2 and d.group not in seen:
                        seen.append(d.group)
                d.source, d.held = part, rank < VAL_FRACTION or d.group == self.extra
                yield d
            if not count:
                import corpus

                raise corpus.CorpusError(f"corpus {self.parts[part]!r} is empty: it holds no text")

        if len(self.parts) == 1:
            yield from marked(0)
        else:
            measured = self.measured or measure(self.spec, self.streaming)
            shares = cap_shares([m["train_chars"] for m in measured], self.cap)
            sizes = [m["chars"] for m in measured]
            yield from capped(_interleave([marked(p) for p in range(len(self.parts))], sizes), shares)
        self.groups, self.lowest = len(seen), lowest[1]
        self.fingerprint = _combine([h.hexdigest()[:16] for h in hashes])


def _combine(fingerprints: list[str]) -> str:
    """One corpus's fingerprint, or a mix's: of its corpora's, in order."""
    if len(fingerprints) == 1:
        return fingerprints[0]
    return hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:16]


def _interleave(streams, sizes) -> Iterator[Document]:
    """Documents of several streams, the next always from the one furthest behind its share of the text."""
    heap = [(0.0, p) for p in range(len(streams))]
    done = [0] * len(streams)
    while heap:
        _, p = heapq.heappop(heap)
        d = next(streams[p], None)
        if d is None:
            continue
        done[p] += d.chars
        heapq.heappush(heap, (done[p] / max(1, sizes[p]), p))
        yield d


def measure(spec: str, streaming: bool = True) -> list[dict]:
    """One read pass over each corpus of a spec: its characters, its training characters and its fingerprint."""
    import corpus

    out = []
    for part in corpus.parts(spec):
        stream = Stream(part, streaming=streaming)
        chars = train = 0
        for d in stream:
            chars += d.chars
            train += 0 if d.held else d.chars
        out.append({"corpus": part, "chars": chars, "train_chars": train, "documents": stream.fingerprint})
    return out


def fingerprint(spec: str) -> str:
    """The documents' fingerprint of a spec, as prepare records it (a read pass, no tokenizing)."""
    return _combine([m["documents"] for m in measure(spec)])


# ------------------------------------------------------------------------------------------------ prepare
def key(config: PrepareConfig, documents: str, tokens: list[str]) -> dict:
    """What decides a prepared folder's shards (compared with a manifest's `key_of`)."""
    values = {
        "corpus": config.corpus,
        "documents": documents,
        "split": SPLIT,
        "val_fraction": VAL_FRACTION,
        "seed": config.seed,
        "vocab": vocab.fingerprint(tokens),
        "shard_tokens": config.shard_tokens,
        "shuffle_mb": config.shuffle_mb,
    }
    if config.corpus_cap is not None:
        values["corpus_cap"] = config.corpus_cap
    return values


def key_of(manifest: dict) -> dict:
    return {k: manifest[k] for k in KEY if k in manifest}


def read_manifest(folder: str, flag: str = "--data") -> dict:
    """The manifest of a prepared folder; a UsageError naming what is missing."""
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {folder!r} not found: make it with {COMMAND} --corpus C --vocab V --out {folder}")
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        raise UsageError(
            f"{flag} {folder!r} holds no {MANIFEST}: it is not a prepared data folder (make one with {COMMAND})"
        )
    return files.read_json(path)


def learn_vocab(config: PrepareConfig, measured=None, say=None, streaming: bool = True) -> list[str]:
    """A WordPiece vocabulary of --vocab tokens from the first --vocab-sample-mb of the training documents."""
    limit = config.vocab_sample_mb * 1e6

    def lines():
        size = 0
        for d in Stream(config.corpus, config.corpus_cap, measured, streaming=streaming):
            if d.held:
                continue  # the held-out text stays unseen, by the vocabulary too
            yield from d.sentences
            size += d.chars
            if size >= limit:
                return

    tokens = vocab.train_vocab(lines(), vocab_size(config.vocab))
    (say or _say)(f"learnt a vocabulary of {len(tokens)} tokens from up to {config.vocab_sample_mb:g} MB of text")
    return tokens


def prepare(config: PrepareConfig, tokens: list[str] | None = None, say=None, streaming: bool = True) -> dict:
    """Write config.out (train/, val/, vocab.txt, manifest.json) from a stream of config.corpus; the manifest.
    `tokens`: the vocabulary (default: config.vocab's, read or learnt). `streaming` False reads an hf: set
    through the datasets cache instead (the same documents)."""
    say = say or _say
    config.validate()
    out = config.out.rstrip("/")
    if os.path.isdir(out) and os.listdir(out) and not _prepared(out):
        raise UsageError(f"--out {out!r} exists and is not a prepared data folder: give a new folder")
    # checks each corpus exists before anything is read
    stream = Stream(config.corpus, config.corpus_cap, streaming=streaming)
    if tokens is None and vocab_size(config.vocab) is None:
        tokens = vocab.read_vocab(config.vocab)
    measured = measure(config.corpus, streaming) if len(stream.parts) > 1 else None
    tokens = tokens or learn_vocab(config, measured, say, streaming)
    tokenizer = vocab.make_tokenizer(tokens)
    tmp = files.temp_name(out)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        start, extra = time.perf_counter(), None
        while True:
            stream = Stream(config.corpus, config.corpus_cap, measured, extra, streaming)
            splits = _write(stream, tokenizer, tmp, config, say)
            if stream.groups < 2:
                raise UsageError(
                    f"corpus {config.corpus!r} has a single document group: it cannot be split into train and "
                    "validation"
                )
            if splits["val"]["documents"] or extra is not None:
                break
            extra = stream.lowest  # no group hashed into the held-out share: the lowest one is held out
        manifest = {
            **key(config, stream.fingerprint, tokens),
            "corpora": stream.parts,
            "vocab_size": len(tokens),
            "vocab_from": config.vocab if vocab_size(config.vocab) is None else f"{config.vocab_sample_mb:g} MB",
            **({"held_out_group": extra} if extra is not None else {}),
            **splits,
            "bytes": splits["train"]["bytes"] + splits["val"]["bytes"],
            "seconds": round(time.perf_counter() - start, 2),
        }
        vocab.write_vocab(tokens, tmp)
        files.write_json(os.path.join(tmp, MANIFEST), manifest)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _prepared(folder: str) -> bool:
    """A folder prepare (or pretrain.train's work/data, in any version) wrote: safe to replace."""
    return any(os.path.exists(os.path.join(folder, name)) for name in (MANIFEST, "key.json"))


def _write(stream: Stream, tokenizer, folder: str, config: PrepareConfig, say) -> dict:
    """One pass of the stream into folder/train and folder/val; each split's documents, tokens, bytes, shards."""
    counts = {name: {"documents": 0, "tokens": 0, "bytes": 0, "shards": 0} for name in ("train", "val")}
    chars = int(config.shuffle_mb * 1e6)
    # the held-out stream is VAL_FRACTION of the corpus: a buffer of that share of --shuffle-mb mixes documents from
    # the same stretch of the corpus as the training one does, and is full (so memory is at its bound) as early
    val_chars = int(chars * VAL_FRACTION)
    t0, reported, read = time.perf_counter(), 0, 0
    with (
        data.ShardWriter(os.path.join(folder, "train"), tokenizer, config.seed, config.shard_tokens, chars) as train,
        data.ShardWriter(os.path.join(folder, "val"), tokenizer, config.seed, config.shard_tokens, val_chars) as val,
    ):
        for d in stream:
            name, writer = ("val", val) if d.held else ("train", train)
            writer.add(d.sentences, d.source)
            counts[name]["documents"] += 1
            counts[name]["bytes"] += d.bytes
            read += d.bytes
            if read - reported >= 100e6:
                reported = read
                say(f"read {read / 1e6:,.0f} MB ({read / 1e6 / (time.perf_counter() - t0):.1f} MB/s)")
    for name, writer in (("train", train), ("val", val)):
        counts[name].update(tokens=writer.tokens, shards=writer.shards)
    return counts


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------------- CLI
def parser():
    return flags.add(cli.parser(COMMAND, __doc__), PrepareConfig)


def main(argv=None) -> int:
    # datasets' IterableDataset imports torch whenever it is installed (seconds, hundreds of MB), only to share its
    # epoch with torch DataLoader workers; its USE_TORCH switch, read when datasets is first imported, turns it off
    os.environ.setdefault("USE_TORCH", "0")
    work = lambda args: prepare(flags.build(PrepareConfig, args).validate())  # noqa: E731
    return cli.run(parser(), argv, work, tensorflow=False)  # tokenizers, numpy and datasets only


if __name__ == "__main__":
    sys.exit(main())
