"""What a live job may be asked for, checked before any process starts: every bad input is a LiveError whose
message names the problem (and, for a text too short, how much is needed).

    from live.inputs import Request
    r = Request(kind="bert", text=open("notes.txt").read(), seconds=30).validate()
    r = Request(kind="lm", corpus="shakespeare", seconds=60).validate()
"""

from __future__ import annotations

import dataclasses
import os

KINDS = ("bert", "lm")
CORPORA = ("shakespeare", "kjv", "sotu", "web", "brown", "snippets")  # bundled corpora offered in the list
MIN_SECONDS, MAX_SECONDS = 10, 120
MAX_BYTES = 1024 * 1024  # a pasted or uploaded text, in UTF-8 bytes
# Enough text for each kind: a WordPiece vocabulary and NSP pairs for a batch in both the training and the
# held-out documents (a tenth of them), or a window of characters in each.
MIN_CHARS = {"bert": 20_000, "lm": 3_000}
MIN_LINES = {"bert": 200, "lm": 20}


class LiveError(ValueError):
    """A live job that cannot be run as asked; the message says why."""


@dataclasses.dataclass
class Request:
    """One job: `kind` bert | lm, the visitor's `text` or a bundled `corpus` (one of them), `seconds` of training,
    and the probe's first text (BERT: a sentence with [MASK]; LM: a prompt)."""

    kind: str = "bert"
    text: str | None = None
    corpus: str | None = None
    seconds: float = 30
    probe: str | None = None

    def validate(self) -> Request:
        if self.kind not in KINDS:
            raise LiveError(f"kind must be bert or lm, got {str(self.kind)[:40]!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)):
            raise LiveError(f"seconds must be a number from {MIN_SECONDS} to {MAX_SECONDS}, got {self.seconds!r}"[:200])
        if not MIN_SECONDS <= self.seconds <= MAX_SECONDS:
            raise LiveError(f"seconds must be between {MIN_SECONDS} and {MAX_SECONDS}, got {self.seconds:g}")
        corpus = self.corpus.strip() if isinstance(self.corpus, str) and self.corpus.strip() else None
        has_text = isinstance(self.text, str) and self.text.strip() != ""
        if corpus is not None and has_text:
            raise LiveError("give either text or corpus, not both")
        if corpus is not None:
            if corpus not in CORPORA:
                raise LiveError(f"corpus {corpus[:60]!r} is not one of the bundled corpora: {', '.join(CORPORA)}")
            self.text, self.corpus = None, corpus
        elif self.text is None:
            raise LiveError("give a text (pasted or uploaded) or choose a bundled corpus")
        else:
            self.text, self.corpus = check_text(self.text, self.kind), None
        if self.probe is not None and not isinstance(self.probe, str):
            raise LiveError(f"probe must be text, got {type(self.probe).__name__}")
        return self


def check_text(text, kind: str) -> str:
    """The visitor's text, refused when it is not text, blank, over MAX_BYTES or too short for `kind`."""
    if not isinstance(text, str):
        raise LiveError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise LiveError("text is empty: paste some text, upload a .txt file or choose a bundled corpus")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise LiveError(f"text is not valid Unicode: a lone surrogate at character {e.start}") from None
    if size > MAX_BYTES:
        raise LiveError(f"text is too large: {size:,} bytes of UTF-8, the limit is {MAX_BYTES:,} (1 MB)")
    if "\x00" in text:
        raise LiveError("text holds NUL characters: it looks binary, not text")
    lines = sum(1 for line in text.splitlines() if line.strip())
    chars = len(text.strip())
    if chars < MIN_CHARS[kind] or lines < MIN_LINES[kind]:
        what = "a WordPiece vocabulary and sentence pairs" if kind == "bert" else "training and held-out windows"
        raise LiveError(
            f"text is too short to build {what}: {chars:,} characters on {lines:,} lines; {kind} needs at least "
            f"{MIN_CHARS[kind]:,} characters on {MIN_LINES[kind]:,} non-blank lines (one sentence a line)"
        )
    return text


def read_upload(path: str) -> str:
    """The text of an uploaded file: UTF-8 at most MAX_BYTES, not binary (LiveError naming the problem)."""
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise LiveError(f"the uploaded file is too large: {size:,} bytes, the limit is {MAX_BYTES:,} (1 MB)")
    with open(path, "rb") as f:
        raw = f.read()
    if b"\x00" in raw:
        raise LiveError("the uploaded file is binary (it has NUL bytes): upload a UTF-8 .txt file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LiveError(
            f"the uploaded file is not UTF-8 text (an invalid byte at offset {e.start}): save it as UTF-8"
        ) from None
