"""The text of a live job as a corpus folder of documents, the form core's corpus.load, lm.train and
pretrain.train read: one file a document, so the held-out split takes whole documents.

    from live.documents import write_documents
    folder = write_documents("jobs/1/corpus", text=open("notes.txt").read())   # or corpus="shakespeare"
    import corpus; corpus.load(folder)

A pasted text becomes documents of LINES_PER_DOC consecutive lines (one sentence a line: a long line is cut at
its sentence ends, as BERT's pairs are made of sentences); a bundled corpus keeps its own documents (plays, books),
the first of them up to MAX_CORPUS_CHARS, so a job's data takes seconds to prepare.
"""

from __future__ import annotations

import os
import re

LINES_PER_DOC = 40
MAX_CORPUS_CHARS = 2_000_000
LONG_LINE = 200  # characters: a line longer than this is split into its sentences
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def lines_of(text: str) -> list[str]:
    """The non-blank lines of `text`, a long one split at its sentence ends."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        out += [s for s in _SENTENCE_END.split(line) if s.strip()] if len(line) > LONG_LINE else [line]
    return out


def chunks(text: str) -> list[str]:
    """The pasted text's documents: LINES_PER_DOC lines each (fewer for a short text, so there are at least 10)."""
    lines = lines_of(text)
    per_doc = max(2, min(LINES_PER_DOC, len(lines) // 10))
    return ["\n".join(lines[i : i + per_doc]) + "\n" for i in range(0, len(lines), per_doc)]


def write_documents(folder: str, text: str | None = None, corpus: str | None = None) -> str:
    """Write the documents of `text` or of bundled `corpus` as FOLDER/doc-NNNNN.txt; returns the folder."""
    if corpus is not None:
        import corpus as corpora

        docs, size = [], 0
        for d in corpora.load(corpus):
            if size >= MAX_CORPUS_CHARS:
                break
            docs.append(d.text)
            size += len(d.text)
    else:
        docs = chunks(text or "")
    os.makedirs(folder, exist_ok=True)
    for i, doc in enumerate(docs):
        with open(os.path.join(folder, f"doc-{i:05d}.txt"), "w", encoding="utf-8") as f:
            f.write(doc)
    return folder
