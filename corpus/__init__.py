"""Corpora shared by every SeqLab model: named, local files or folders, and `hf:` data sets.

A corpus is a list of documents (a play, a book of the Bible, a file). Each carries a `group` and the held-out
split is made by group, so validation text never shares a play or book with training text.
"""

from __future__ import annotations

import dataclasses
import os
import re

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
    if not spec:
        raise CorpusError("no corpus given: pass a name (" + ", ".join(NAMED) + "), a path or hf:DATASET")
    if len(parts(spec)) > 1:
        return [d for part in parts(spec) for d in load(part)]
    if spec in NAMED:
        docs = [Document(text, group) for text, group in load_named(spec)]
    elif spec.startswith("hf:"):
        docs = _load_hf(spec)
    elif os.path.isdir(spec):
        docs = _load_folder(spec)
    elif os.path.isfile(spec):
        docs = _blocks(read_text(spec), os.path.basename(spec))
    else:
        raise CorpusError(
            f"corpus {spec!r} not found: not a named corpus ({', '.join(NAMED)}), "
            "an existing file or folder, or hf:DATASET"
        )
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise CorpusError(f"corpus {spec!r} is empty: it holds no text")
    return docs


def parts(spec: str) -> list[str]:
    """The corpora of a mix, `a,b` (one, for a spec that names a path with a comma in it)."""
    spec = (spec or "").strip()
    if "," in spec and not os.path.exists(spec):
        return [part.strip() for part in spec.split(",") if part.strip()]
    return [spec]


def read_text(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    if b"\x00" in raw[:65536]:
        raise CorpusError(f"{path} looks binary (it has NUL bytes): give a UTF-8 text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path} is not UTF-8 text (byte {e.start}): convert it to UTF-8") from None


def _load_folder(path: str) -> list[Document]:
    docs = []
    for root, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            if name.startswith(".") or not name.endswith((".txt", ".md", ".text")):
                continue
            full = os.path.join(root, name)
            docs.append(Document(read_text(full), os.path.relpath(full, path)))
    if not docs:
        raise CorpusError(f"folder {path!r} has no .txt or .md files")
    return docs


# A plain file has no document marks; paragraphs are documents and runs of them form the groups,
# so the held-out split takes contiguous stretches of text, not scattered lines.
_BLOCKS_PER_GROUP = 50


def _blocks(text: str, name: str) -> list[Document]:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [Document(p.strip("\n") + "\n", f"{name}#{i // _BLOCKS_PER_GROUP}") for i, p in enumerate(paragraphs)]


def _load_hf(spec: str) -> list[Document]:
    from corpus import hub

    ds = hub.load_hf(spec)
    column = "text" if "text" in ds.column_names else ds.column_names[0]
    return _blocks("\n".join(str(t) for t in ds[column]), spec)


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
