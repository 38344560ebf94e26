"""Corpora shared by every SeqLab model: named, local files or folders, and `hf:` data sets.

A corpus is a list of documents (a play, a book of the Bible, a file). Each carries a `group` and the held-out
split is made by group, so validation text never shares a play or book with training text.

`load(spec)` holds them all; `read(spec)` gives the same documents one at a time (a file line by line, an `hf:`
set row by row, streamed with `streaming=True`), which is how pretrain.prepare reads a corpus larger than memory.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

import numpy as np

from corpus.named import NAMED, load_named


class CorpusError(ValueError):
    """A corpus that cannot be used; the message names the corpus and the problem."""


@dataclasses.dataclass(frozen=True)
class Document:
    text: str
    group: str


def load(spec: str) -> list[Document]:
    """Documents of `spec`: a named corpus, several joined by commas, a text file, a folder, or an hf: set
    (corpus.hub: hf:NAME[:CONFIG], hf:json:FILE, ...; its `text` column, else its first)."""
    spec = (spec or "").strip()
    if len(parts(spec)) > 1:
        return [d for part in parts(spec) for d in load(part)]
    docs = [d for d, _ in read(spec)]
    if not docs:
        raise CorpusError(f"corpus {spec!r} is empty: it holds no text")
    return docs


def check(spec: str) -> None:
    """A corpus (not a mix) that cannot be read fails here, before any of it is read."""
    spec = (spec or "").strip()
    if not spec:
        raise CorpusError("no corpus given: pass a name (" + ", ".join(NAMED) + "), a path or hf:DATASET")
    if spec.startswith("hf:"):
        from corpus import hub

        hub.parse(spec)
    elif spec not in NAMED and not os.path.exists(spec):
        raise CorpusError(
            f"corpus {spec!r} not found: not a named corpus ({', '.join(NAMED)}), "
            "an existing file or folder, or hf:DATASET"
        )


def read(spec: str, max_chars: int | None = None, streaming: bool = False) -> Iterator[tuple[Document, int]]:
    """The non-blank documents of one corpus (not a mix) as load gives them, one at a time, each with the bytes of
    the source read for it. A file is read line by line and an hf: set row by row (`streaming`: through datasets'
    streaming, nothing downloaded whole; else the set is loaded into the datasets cache first). `max_chars`: a
    document longer than that is given in pieces of about that size, cut between lines, in the same group."""
    spec = (spec or "").strip()
    check(spec)
    if spec in NAMED:  # small, pinned packages: held whole
        for text, group in load_named(spec):
            if max_chars and len(text) > max_chars:
                yield from _whole(_split_lines(text), group, max_chars)
            elif text.strip():
                yield Document(text, group), len(text.encode())
    elif spec.startswith("hf:"):
        from corpus import hub

        yield from _paragraphs(_split_lines(hub.texts(spec, streaming=streaming)), spec, max_chars)
    elif os.path.isdir(spec):
        found = False
        for root, _, names in sorted(os.walk(spec)):
            for name in sorted(names):
                if name.startswith(".") or not name.endswith((".txt", ".md", ".text")):
                    continue
                found, path = True, os.path.join(root, name)
                yield from _whole(_file_lines(path), os.path.relpath(path, spec), max_chars)
        if not found:
            raise CorpusError(f"folder {spec!r} has no .txt or .md files")
    else:
        yield from _paragraphs(_file_lines(spec), os.path.basename(spec), max_chars)


def parts(spec: str) -> list[str]:
    """The corpora of a mix, `a,b` (one, for a spec that names a path with a comma in it)."""
    spec = (spec or "").strip()
    if "," in spec and not os.path.exists(spec):
        return [part.strip() for part in spec.split(",") if part.strip()]
    return [spec]


def read_text(path: str) -> str:
    return "".join(line for line, _ in _file_lines(path))


def _file_lines(path: str) -> Iterator[tuple[str, int]]:
    """(line with its newline, its bytes) of a UTF-8 text file, read line by line."""
    with open(path, "rb") as f:
        if b"\x00" in f.read(65536):
            raise CorpusError(f"{path} looks binary (it has NUL bytes): give a UTF-8 text file")
        f.seek(0)
        at = 0
        for raw in f:
            try:
                yield raw.decode("utf-8"), len(raw)
            except UnicodeDecodeError as e:
                raise CorpusError(f"{path} is not UTF-8 text (byte {at + e.start}): convert it to UTF-8") from None
            at += len(raw)


def _split_lines(texts: str | Iterable[str]) -> Iterator[tuple[str, int]]:
    """(line with its newline, its bytes) of a text, or of texts joined by newlines (an hf: set's rows), without
    joining them; only "\\n" ends a line, as in a file read line by line."""
    last = None
    for text in [texts] if isinstance(texts, str) else texts:
        for piece in text.split("\n"):
            if last is not None:
                yield last + "\n", len(last.encode()) + 1
            last = piece
    if last:
        yield last, len(last.encode())


def _whole(lines, group: str, max_chars: int | None) -> Iterator[tuple[Document, int]]:
    """One document of all the lines (a folder's file, a named corpus's document), in pieces past max_chars."""
    buf, size, nbytes = [], 0, 0
    for line, n in lines:
        buf.append(line)
        size, nbytes = size + len(line), nbytes + n
        if max_chars and size >= max_chars:
            yield Document("".join(buf), group), nbytes
            buf, size, nbytes = [], 0, 0
    text = "".join(buf)
    if text.strip():
        yield Document(text, group), nbytes


# A plain file has no document marks; paragraphs are documents and runs of them form the groups,
# so the held-out split takes contiguous stretches of text, not scattered lines.
BLOCKS_PER_GROUP = 50


def _paragraphs(lines, name: str, max_chars: int | None) -> Iterator[tuple[Document, int]]:
    """Paragraphs of lines, the text between blank lines (a whitespace-only line that ends in a newline, after the
    first line: re.split(r"\\n\\s*\\n") of the whole text), each stripped of its newlines and ended by one; group
    NAME#k for the k-th run of BLOCKS_PER_GROUP paragraphs."""
    buf, size, nbytes, i, first, cut = [], 0, 0, 0, True, False

    def flush():
        text = "".join(buf).strip("\n")
        return (Document(text + "\n", f"{name}#{i // BLOCKS_PER_GROUP}"), nbytes) if text.strip() else None

    for line, n in lines:
        nbytes += n
        if line.endswith("\n") and not line.strip() and not first:
            got = flush()
            if got:
                yield got
                nbytes = 0
            if got or cut:  # the paragraph's last piece is given: the next one is the next paragraph
                i += 1
            buf, size, cut = [], 0, False
        else:
            buf.append(line)
            size += len(line)
            if max_chars and size >= max_chars and (got := flush()):
                yield got
                buf, size, nbytes, cut = [], 0, 0, True
        first = False
    if got := flush():
        yield got


def split(docs: list[Document], val_fraction: float = 0.1, seed: int = 0):
    """(train, validation) by group: a fixed permutation of the sorted groups, the same for every model."""
    groups = sorted({d.group for d in docs})
    if len(groups) < 2:
        raise CorpusError("corpus has a single document group: it cannot be split into train and validation")
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = max(1, int(round(len(groups) * val_fraction)))
    held = {groups[i] for i in order[:n_val]}
    return [d for d in docs if d.group not in held], [d for d in docs if d.group in held]


def text_of(docs: list[Document]) -> str:
    return "\n".join(d.text.rstrip("\n") + "\n" for d in docs)
