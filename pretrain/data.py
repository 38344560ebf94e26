"""Documents -> sentences -> token-id shards on disk -> NSP pairs -> packed, dynamically masked numpy batches.

Strings are tokenized once (`ShardWriter`: a stream of documents in, shards out as they fill); everything after
works on integer arrays memory-mapped from the shards, so the training loop does no string work, runs on any Keras
backend and streams corpora larger than memory. Within a shard the sentences of a document are contiguous, so a
run of consecutive sentences is one slice of the token array and an NSP segment is just (start, end) offsets.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
from collections.abc import Iterable

import numpy as np

from core import files
from pretrain.vocab import SPECIALS

IS_NEXT, NOT_NEXT = 0, 1  # Hugging Face's labels: 0 = B continues A
BERT_MASK_RATE, BERT_MAX_PREDICTIONS = 0.15, 20  # BERT's masking at 128 tokens: validation and evaluate use it
SHARD_TOKENS = 4_000_000  # tokens per shard: small enough to write in one go, large enough to mix documents
SPECIAL_IDS = range(len(SPECIALS))  # ids of the special tokens in a pretrain.vocab vocabulary


def sentences(text: str) -> list[str]:
    """One sentence per non-blank line (a verse, a line of verse, a line of a docs file)."""
    return [s.strip() for s in text.splitlines() if s.strip()]


# ---------------------------------------------------------------------------------------------- shards on disk
SHUFFLE_CHARS = 16_000_000  # text a ShardWriter holds to shuffle: about one shard's worth (SHARD_TOKENS x 4)
ENCODE_BATCH = 4096  # sentences tokenized at once: the tokenizer's per-sentence objects live for one batch only


class ShardWriter:
    """Documents (lists of sentences) in, one at a time; shards out/shard-NNNNN/{tokens,sentences,documents,
    sources}.npy as they fill (about `shard_tokens` tokens each), so memory does not grow with the corpus.

    Each document keeps its corpus (`source`, an index) so NotNext pairs can draw their other document from A's
    own corpus (make_pairs' `same_source`). Documents are shuffled before they go into shards, so a shard mixes
    the stream's documents (NotNext segments come from the same shard). A stream cannot be permuted whole without
    holding all of it, so the shuffle is a bounded buffer of `shuffle_chars` characters of text, seeded: while
    the buffer is full a random held document leaves it for each new one that comes; at the end what is held
    leaves in a random order. A stream that fits in the buffer is therefore permuted whole, exactly as
    rng(seed).permutation would. Documents are tokenized as they arrive (ENCODE_BATCH sentences at a time), so
    the buffer and the next shard hold token ids (about half a byte a character), not strings (Python's str
    objects and their list take more than twice the text). Written to a temporary folder and renamed on close,
    so a killed run leaves no half shard; an error inside `with` removes the temporary folder.
    """

    def __init__(self, out_dir, tokenizer, seed=0, shard_tokens=None, shuffle_chars=None):
        self.out_dir, self.tokenizer = out_dir.rstrip("/"), tokenizer
        self.shard_tokens = shard_tokens or SHARD_TOKENS
        self.shuffle_chars = SHUFFLE_CHARS if shuffle_chars is None else shuffle_chars
        self.rng = np.random.default_rng(seed)
        self.tmp = files.temp_name(self.out_dir)
        shutil.rmtree(self.tmp, ignore_errors=True)  # a killed run's leftover (containers reuse pids)
        os.makedirs(self.tmp)
        self.dtype = np.uint16 if tokenizer.get_vocab_size() <= 65535 else np.uint32
        self.incoming, self.waiting = [], 0  # documents not yet tokenized, and their sentences
        self.buffer, self.held, self.full = [], 0, False  # the shuffle buffer: (ids, lengths, source, characters)
        self.pending, self.size = [], 0  # documents of the next shard and their estimated tokens
        self.shards = self.documents = self.tokens = 0

    def add(self, sentences: list[str], source: int = 0) -> None:
        self.documents += 1
        self.incoming.append((sentences, source))
        self.waiting += len(sentences)
        if self.waiting >= ENCODE_BATCH:
            self._encode()

    def _encode(self) -> None:
        """Tokenize the incoming documents in one batch, then shuffle each into the buffer in arrival order."""
        flat = [s for doc, _ in self.incoming for s in doc]
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)  # no offsets needed
        got = [e.ids for e in encode(flat, add_special_tokens=False)] if flat else []
        lens = np.fromiter(map(len, got), np.int32, len(got))
        ids = np.fromiter(itertools.chain.from_iterable(got), self.dtype, int(lens.sum()))
        del got
        ends = np.cumsum([len(doc) for doc, _ in self.incoming])
        at = np.concatenate([[0], np.cumsum(lens, dtype=np.int64)])
        incoming, self.incoming, self.waiting = self.incoming, [], 0
        for (doc, source), end in zip(incoming, ends):
            start = end - len(doc)  # copies: a slice would keep the whole batch's array alive
            self._hold(ids[at[start] : at[end]].copy(), lens[start:end].copy(), source, sum(len(s) for s in doc))

    def _hold(self, ids, lens, source, chars) -> None:
        if self.held + chars > self.shuffle_chars:
            self.full = True
        while self.full and self.buffer and self.held + chars > self.shuffle_chars:
            j = int(self.rng.integers(len(self.buffer)))
            self.buffer[j], self.buffer[-1] = self.buffer[-1], self.buffer[j]
            self._shard(*self.buffer.pop())
        self.buffer.append((ids, lens, source, chars))
        self.held += chars

    def _shard(self, ids, lens, source, chars) -> None:
        self.held -= chars
        if len(lens):
            self.pending.append((ids, lens, source))
            self.size += chars // 4  # ~4 characters a token
        if self.size >= self.shard_tokens:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        lens = np.concatenate([x for _, x, _ in self.pending]).astype(np.int64)
        keep = lens > 0  # a sentence of only spaces/control characters tokenizes to nothing
        d = os.path.join(self.tmp, f"shard-{self.shards:05d}")
        os.makedirs(d)
        np.save(os.path.join(d, "tokens.npy"), np.concatenate([x for x, _, _ in self.pending]))
        np.save(os.path.join(d, "sentences.npy"), np.concatenate([[0], np.cumsum(lens[keep])]))
        per_doc = [int(np.count_nonzero(x)) for _, x, _ in self.pending]
        kept_sources = [src for n, (_, _, src) in zip(per_doc, self.pending) if n]
        per_doc = [n for n in per_doc if n]  # a document that tokenizes to nothing is no NotNext source
        np.save(os.path.join(d, "documents.npy"), np.concatenate([[0], np.cumsum(per_doc)]))
        np.save(os.path.join(d, "sources.npy"), np.array(kept_sources, dtype=np.int32))
        self.shards, self.tokens, self.pending, self.size = self.shards + 1, self.tokens + int(lens.sum()), [], 0

    def close(self) -> int:
        """Shard what the buffer holds, write meta.json and rename into place; the number of shards."""
        self._encode()
        held, self.buffer = self.buffer, []
        for i in self.rng.permutation(len(held)):
            self._shard(*held[i])
        self._flush()
        meta = {"shards": self.shards, "documents": self.documents, "tokens": self.tokens}
        files.write_json(os.path.join(self.tmp, "meta.json"), meta)
        if os.path.exists(self.out_dir):
            shutil.rmtree(self.out_dir)
        os.replace(self.tmp, self.out_dir)
        return self.shards

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is None:
            self.close()
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def write_shards(
    documents: Iterable[list[str]],
    tokenizer,
    out_dir: str,
    seed: int = 0,
    shard_tokens: int | None = None,
    sources: Iterable[int] | None = None,
    shuffle_chars: int | None = None,
) -> int:
    """Tokenize documents (lists of sentences; any iterable) into out_dir's shards with a ShardWriter; `sources`:
    the corpus of each document (all 0 by default). Returns the number of shards."""
    with ShardWriter(out_dir, tokenizer, seed, shard_tokens, shuffle_chars) as writer:
        for doc, source in zip(documents, itertools.repeat(0) if sources is None else sources):
            writer.add(doc, source)
    return writer.shards


class Shard:
    """Memory-mapped arrays of one shard: tokens, sentence starts (S+1), document starts in sentences (D+1), and
    each document's corpus (D; all 0 in shards written before sources were kept)."""

    def __init__(self, path: str):
        self.tokens = np.load(os.path.join(path, "tokens.npy"), mmap_mode="r")
        self.sentences = np.load(os.path.join(path, "sentences.npy"))
        self.documents = np.load(os.path.join(path, "documents.npy"))
        found = os.path.join(path, "sources.npy")
        n = len(self.documents) - 1
        self.sources = np.load(found) if os.path.exists(found) else np.zeros(n, np.int32)

    def doc_of_token(self, offset: int) -> int:
        sent = np.searchsorted(self.sentences, offset, side="right") - 1
        return int(np.searchsorted(self.documents, sent, side="right") - 1)


def open_shards(folder: str) -> list[Shard]:
    n = files.read_json(os.path.join(folder, "meta.json"))["shards"]
    return [Shard(os.path.join(folder, f"shard-{i:05d}")) for i in range(n)]


# ------------------------------------------------------------------------------------------------- NSP pairs
# what made a pair's B (the sixth column of make_pairs' rows): the true next sentences, a run from another
# document (BERT's negative), or a run from the same document at least `distance` sentences from the true next
KINDS = ("next", "other-doc", "same-doc")
NEXT, OTHER_DOC, SAME_DOC = range(3)


def make_pairs(
    shard: Shard,
    seq_len: int,
    rng: np.random.Generator,
    short_seq_prob: float = 0.1,
    same_doc: float = 0.0,
    distance: int = 3,
    same_source: bool = False,
) -> np.ndarray:
    """NSP pairs of one shard as int64 rows (a_start, a_end, b_start, b_end, label, kind) of token offsets.

    As in BERT's create_pretraining_data: consecutive sentences fill a chunk up to the target length (sometimes
    shorter, so the model also sees short inputs); A is the chunk's first sentences; B is the rest of the chunk
    (IsNext) or, half of the time, a NotNext run of sentences, in which case the unused sentences go back into the
    stream. Pairs are then truncated longest-first, A losing its start and B its end, so the A|B join stays a true
    continuation.

    A NotNext B comes from another random document (BERT's rule), or with probability `same_doc` from the same
    document: a run starting at least `distance` sentences after the true next sentence, or ending before A and
    starting at least `distance` before it. Those are the hard negatives: the topic and the style match, so only
    the link between A and B tells them apart (with other-document negatives a head can learn to tell documents
    apart instead; RoBERTa's and ALBERT's critique of NSP). A document too short for one falls back to another
    document's run (kind other-doc). With `same_doc` 0 the draws, and so the pairs, are BERT's exactly.

    `same_source`: the other document comes from A's own corpus (the shard's `sources`) when it has another. On a
    mix of corpora BERT's rule mostly pairs A with a document of another corpus, and a head can then score NSP by
    telling the corpora apart (their vocabulary, their length) instead of reading whether B follows A.
    """
    max_tokens = seq_len - 3  # [CLS] A [SEP] B [SEP]
    sent, docs = shard.sentences, shard.documents
    n_docs = len(docs) - 1
    rows = []
    pools = {}
    if same_source:  # each corpus's documents, in order: A's own pool minus A
        pools = {int(src): np.flatnonzero(shard.sources == src) for src in np.unique(shard.sources)}

    def other_document(d: int) -> int:
        pool = pools.get(int(shard.sources[d])) if same_source else None
        if pool is not None and len(pool) > 1:
            k = int(rng.integers(len(pool) - 1))
            return int(pool[k + (k >= np.searchsorted(pool, d))])
        other = int(rng.integers(n_docs - 1))
        return other + (other >= d)  # any document but this one

    def run_from(start, stop, room):
        """Sentences start.. (before `stop`) while they fit in `room` tokens; at least one."""
        end = start + 1
        while end < stop and sent[end] - sent[start] < room:
            end += 1
        return int(sent[start]), int(sent[end])

    for d in range(n_docs):
        s0, s1 = int(docs[d]), int(docs[d + 1])
        target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
        i, chunk_start = s0, s0
        while i < s1:
            length = sent[i + 1] - sent[chunk_start]
            if length >= target or i == s1 - 1:
                n = i + 1 - chunk_start
                a_split = chunk_start + (1 if n == 1 else int(rng.integers(1, n)))
                a = (int(sent[chunk_start]), int(sent[a_split]))
                if (n == 1 or rng.random() < 0.5) and n_docs > 1:
                    room = target - (a[1] - a[0])
                    b, kind = None, OTHER_DOC
                    if same_doc > 0 and rng.random() < same_doc:
                        after = list(range(a_split + distance, s1))
                        before = list(range(s0, min(chunk_start, a_split - distance + 1)))
                        if after or before:
                            start = int(rng.choice(after + before))
                            b, kind = run_from(start, s1 if start >= a_split else chunk_start, room), SAME_DOC
                    if b is None:
                        other = other_document(d)
                        o0, o1 = int(docs[other]), int(docs[other + 1])
                        b = run_from(int(rng.integers(o0, o1)), o1, room)
                    label = NOT_NEXT
                    i = a_split - 1  # the chunk's unused sentences start the next chunk
                else:
                    b, label, kind = (int(sent[a_split]), int(sent[i + 1])), IS_NEXT, NEXT
                if b[1] > b[0]:
                    rows.append(_truncate(a, b, max_tokens) + (label, kind))
                chunk_start = i + 1
                target = max_tokens if rng.random() >= short_seq_prob else int(rng.integers(2, max_tokens + 1))
            i += 1
    return np.array(rows, dtype=np.int64).reshape(-1, 6)


def _truncate(a, b, max_tokens):
    (a0, a1), (b0, b1) = a, b
    while (a1 - a0) + (b1 - b0) > max_tokens:
        if a1 - a0 > b1 - b0:
            a0 += 1
        else:
            b1 -= 1
    return a0, a1, b0, b1


def pack(tokens: np.ndarray, rows: np.ndarray, seq_len: int, cls: int, sep: int):
    """[CLS] A [SEP] B [SEP] + padding (id 0) -> token_ids, segment_ids (int32 [n, seq_len]).

    The same layout as keras_hub's MultiSegmentPacker; done in numpy so no TensorFlow op is needed.
    """
    n = len(rows)
    ids = np.zeros((n, seq_len), np.int32)
    seg = np.zeros((n, seq_len), np.int32)
    for r, (a0, a1, b0, b1) in enumerate(rows[:, :4]):
        la, lb = a1 - a0, b1 - b0
        ids[r, 0] = cls
        ids[r, 1 : 1 + la] = tokens[a0:a1]
        ids[r, 1 + la] = sep
        ids[r, 2 + la : 2 + la + lb] = tokens[b0:b1]
        ids[r, 2 + la + lb] = sep
        seg[r, 2 + la : 3 + la + lb] = 1
    return ids, seg


def pack_texts(tokenizer, a: str, b: str | None, seq_len: int, cls: int, sep: int):
    """One packed example from strings (inference): the same layout and truncation as training."""
    ta = np.array(tokenizer.encode(a, add_special_tokens=False).ids, np.int64)
    tb = np.array(tokenizer.encode(b, add_special_tokens=False).ids if b is not None else [], np.int64)
    max_tokens = seq_len - (3 if b is not None else 2)
    if b is None:
        ta = ta[:max_tokens]
        ids = np.concatenate([[cls], ta, [sep]])
        return ids, np.zeros_like(ids)
    a0, a1, b0, b1 = _truncate((0, len(ta)), (len(ta), len(ta) + len(tb)), max_tokens)
    both = np.concatenate([ta, tb])
    ids = np.concatenate([[cls], both[a0:a1], [sep], both[b0:b1], [sep]])
    seg = np.concatenate([np.zeros(a1 - a0 + 2, np.int64), np.ones(b1 - b0 + 1, np.int64)])
    return ids, seg


def bert_max_predictions(seq_len: int, mask_rate: float = BERT_MASK_RATE) -> int:
    """Prediction slots for a masking rate at any length (20 at 128, as BERT): validation and evaluate mask alike."""
    return max(BERT_MAX_PREDICTIONS, math.ceil(mask_rate * seq_len))


# -------------------------------------------------------------------------------------------------- masking
def _uniform(rng, shape) -> np.ndarray:
    """Uniform [0, 1) draws of `shape` from one generator, or row by row from a list of them (one a sequence)."""
    if isinstance(rng, np.random.Generator):
        return rng.random(shape)
    return np.stack([g.random(shape[1:]) for g in rng]).reshape(shape)


def _integers(rng, high: int, shape) -> np.ndarray:
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, high, shape)
    return np.stack([g.integers(0, high, shape[1:]) for g in rng]).reshape(shape)


def mask_tokens(
    ids: np.ndarray,
    rng,
    vocab_size: int,
    mask_rate: float = BERT_MASK_RATE,
    max_predictions: int = 20,
    mask_id: int = 4,
    special_ids=SPECIAL_IDS,
):
    """BERT's MLM corruption, vectorized: returns (masked ids, positions, labels, weights).

    `mask_rate` of the non-special tokens of each row (at least one, at most `max_predictions`) are chosen; of
    those 80% become [MASK], 10% a random non-special token, 10% stay. Special tokens (`special_ids`: padding,
    [CLS], [SEP], ...; ids 0-4 in a pretrain.vocab vocabulary, elsewhere in others) are never chosen nor drawn.
    Unused prediction slots have position 0 and weight 0. `rng`: one numpy Generator for the whole batch, or one
    per row (Batches: a sequence's masks then do not depend on which process builds which rows).
    """
    special_ids = np.asarray(list(special_ids))
    eligible = ~np.isin(ids, special_ids)
    others = np.setdiff1d(np.arange(vocab_size), special_ids)
    n_pred = np.minimum(max_predictions, np.maximum(1, np.rint(eligible.sum(1) * mask_rate))).astype(np.int64)
    n_pred = np.where(eligible.any(1), n_pred, 0)
    keys = np.where(eligible, _uniform(rng, ids.shape), np.inf)  # random order of eligible positions
    width = min(max_predictions, ids.shape[1])
    chosen = np.argsort(keys, axis=1)[:, :width]
    weights = np.arange(width)[None, :] < n_pred[:, None]
    positions = np.sort(np.where(weights, chosen, ids.shape[1]), axis=1)  # in reading order, unused last
    weights = positions < ids.shape[1]
    positions = np.where(weights, positions, 0)
    rows = np.arange(len(ids))[:, None]
    labels = np.where(weights, ids[rows, positions], 0)
    out = ids.copy()
    r = _uniform(rng, positions.shape)
    random_ids = others[_integers(rng, len(others), positions.shape)]
    replace = np.where(r < 0.8, mask_id, np.where(r < 0.9, random_ids, labels))
    pr, pc = np.nonzero(weights)
    out[pr, positions[pr, pc]] = replace[pr, pc]
    if max_predictions > width:  # keep a fixed shape for compiled steps
        pad = max_predictions - width
        positions, labels = np.pad(positions, ((0, 0), (0, pad))), np.pad(labels, ((0, 0), (0, pad)))
        weights = np.pad(weights, ((0, 0), (0, pad)))
    return out, positions.astype(np.int32), labels.astype(np.int32), weights.astype(np.float32)


# --------------------------------------------------------------------------------------------------- batches
class Batches:
    """Deterministic stream of training batches: step k's batch depends only on (seed, k).

    Each epoch rebuilds the NSP pairs and shuffles them with rng(seed, epoch) and draws fresh masks per batch
    with rng(seed, step, row) (dynamic masking). Resuming at step k only recomputes the pair offsets of past
    epochs (integer work, no tokenizing), so "data position" is simply the step.

    `part` (index, count): this process's share of every batch, rows index*b..(index+1)*b of it with
    b = batch_size / count (multi-process data parallel: each process builds only its slice). Every row's masks
    come from its own generator, rng(seed, step, row), so a row is the same whichever process builds it and a run
    on P processes sees the batches of a run on one.
    """

    def __init__(
        self,
        folder: str,
        seq_len: int,
        batch_size: int,
        vocab_size: int,
        mask_rate=BERT_MASK_RATE,
        max_predictions=BERT_MAX_PREDICTIONS,
        seed=0,
        specials=None,
        same_doc: float = 0.0,
        distance: int = 3,
        part: tuple[int, int] = (0, 1),
        same_source: bool = False,
    ):
        index, count = part
        if batch_size % count or not 0 <= index < count:
            raise ValueError(f"a batch of {batch_size} has no part {index} of {count} equal parts")
        self.part, self.local = part, batch_size // count
        self.shards = open_shards(folder)
        self.same_doc, self.distance, self.same_source = same_doc, distance, same_source
        self.seq_len, self.batch_size, self.vocab_size = seq_len, batch_size, vocab_size
        self.mask_rate, self.max_predictions, self.seed = mask_rate, max_predictions, seed
        self.specials = specials or {s: i for i, s in enumerate(SPECIALS)}
        self._epoch, self._rows = None, None
        self._lengths: list[int] = []  # batches in each epoch so far: locating a step rebuilds no past epoch

    def epoch_rows(self, epoch: int) -> np.ndarray:
        """All pairs of an epoch, shuffled: (shard, a_start, a_end, b_start, b_end, label, kind)."""
        if self._epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch, 1])
            parts = [
                np.column_stack([np.full(len(p), i), p])
                for i, s in enumerate(self.shards)
                for p in [
                    make_pairs(
                        s,
                        self.seq_len,
                        rng,
                        same_doc=self.same_doc,
                        distance=self.distance,
                        same_source=self.same_source,
                    )
                ]
            ]
            rows = np.concatenate(parts) if parts else np.zeros((0, 7), np.int64)
            self._epoch, self._rows = epoch, rows[rng.permutation(len(rows))]
        if len(self._rows) < self.batch_size:
            raise ValueError(
                f"corpus gives {len(self._rows)} sentence pairs, fewer than one batch of "
                f"{self.batch_size}: use more text or a smaller --batch-size"
            )
        return self._rows

    def locate(self, step: int) -> tuple[int, int]:
        """(epoch, batch within epoch) of a global step."""
        epoch = 0
        while True:
            if epoch == len(self._lengths):
                self._lengths.append(len(self.epoch_rows(epoch)) // self.batch_size)
            if step < self._lengths[epoch]:
                return epoch, step
            step, epoch = step - self._lengths[epoch], epoch + 1

    def _slice(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """This process's rows of batch k of `rows` (an epoch's), and the first one's place in the batch."""
        first = self.part[0] * self.local
        start = k * self.batch_size + first
        return rows[start : start + self.local], first

    def batch(self, rows: np.ndarray, rng):
        ids = np.zeros((len(rows), self.seq_len), np.int32)
        seg = np.zeros_like(ids)
        for shard in np.unique(rows[:, 0]):
            sel = rows[:, 0] == shard
            ids[sel], seg[sel] = pack(
                self.shards[shard].tokens, rows[sel, 1:], self.seq_len, self.specials["[CLS]"], self.specials["[SEP]"]
            )
        masked, pos, labels, weights = mask_tokens(
            ids,
            rng,
            self.vocab_size,
            self.mask_rate,
            self.max_predictions,
            self.specials["[MASK]"],
            self.specials.values(),
        )
        x = {
            "token_ids": masked,
            "segment_ids": seg,
            "padding_mask": (ids != 0).astype(np.int32),
            "mask_positions": pos,
        }
        y = {"mlm": labels, "nsp": rows[:, 5].astype(np.int32)}
        w = {"mlm": weights, "nsp": np.ones(len(rows), np.float32)}
        return x, y, w

    def at(self, step: int):
        """The (x, y, sample_weight) batch of global step `step`."""
        epoch, i = self.locate(step)
        rows, first = self._slice(self.epoch_rows(epoch), i)
        return self.batch(rows, _generators((self.seed, step, 2), first, len(rows)))

    def __call__(self, start_step: int = 0):
        """Endless generator of the batches from global step `start_step` on."""
        step = start_step
        while True:
            yield self.at(step)
            step += 1

    def fixed(self, max_batches: int):
        """The first `max_batches` batches of epoch 0 with fixed masks: a validation set that never changes."""
        rows = self.epoch_rows(0)
        n = min(max_batches, len(rows) // self.batch_size)
        parts = [self._slice(rows, k) for k in range(n)]
        return [self.batch(r, _generators((self.seed, k, 3), first, len(r))) for k, (r, first) in enumerate(parts)]


def _generators(key: tuple, first: int, n: int) -> list[np.random.Generator]:
    """One generator for each of rows first..first+n of a batch: rng(*key, row)."""
    return [np.random.default_rng([*key, first + r]) for r in range(n)]
