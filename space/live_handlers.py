"""The Train tab's handlers and the /train endpoint, over one live.Runner (a live job at a time, its models in the
runner's live.store.Store, which space.handlers.Handlers also reads so the other tabs take a live name). Every
refusal is gr.Error with the live package's message; nothing here touches a tensor.

    from live import Runner
    from space.live_handlers import LiveHandlers
    lh = LiveHandlers(Runner())
    for progress in lh.train("lm", corpus="shakespeare", seconds=20):
        print(progress["status"], progress["metrics"])
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import gradio as gr

from live import Expired, LiveError, Request, Runner
from live.inputs import read_upload

log = logging.getLogger("seqlab.space")

PASTE, UPLOAD, BUNDLED = "paste text", "upload a .txt", "a bundled corpus"
PROBES = {"bert": "the king is [MASK] of the land .", "lm": "ROMEO:\n"}


def _error(message: str) -> gr.Error:
    log.info("refused: %s", message[:300])
    return gr.Error(message, print_exception=False)


class LiveHandlers:
    def __init__(self, runner: Runner):
        self.runner = runner

    @property
    def store(self):
        return self.runner.store

    def train(
        self, kind: str = "bert", text: str | None = None, corpus: str | None = None, seconds: float = 30
    ) -> Iterator[dict]:
        """Pretrain a small model live for `seconds` (10 to 120) on `text` (at most 1 MB) or a bundled `corpus`:
        kind "bert" (a WordPiece vocabulary of the text, then MLM + NSP) or "lm" (an LSTM and a Transformer of the
        same size on the same batches). Streams progress dicts about once a second (status, step, seconds,
        metrics, history, baselines, views, probe); the last one's "models" are live names that /fill_mask,
        /next_sentence and /generate take as `model` for 30 minutes after their last use, and its "metrics" hold
        each model's final figures (LM: heldout_loss, unigram_loss; BERT: heldout_mlm_accuracy,
        unigram_mlm_accuracy, heldout_nsp_accuracy). One job at a time: the next ones wait in a queue (status
        "queued", their `position`), and past its limit a request gets "busy" at once."""
        yield from self.run(Request(kind=kind, text=text, corpus=corpus, seconds=seconds, probe=PROBES.get(kind)))

    def run(self, request: Request) -> Iterator[dict]:
        """A job's progress dicts; its refusals and failures as gr.Error."""
        try:
            request.validate()
            yield from self.runner.train(request)  # closing this generator closes it: the job is killed
        except LiveError as e:
            raise _error(str(e)) from None

    def request(self, kind, source, corpus, text, upload, seconds, probe) -> Request:
        """The Train tab's choices as a Request (the upload read as UTF-8 text)."""
        if source == UPLOAD:
            if not upload:
                raise _error("no file uploaded: choose a .txt file, or paste text, or pick a bundled corpus")
            try:
                text = read_upload(upload if isinstance(upload, str) else upload.name)
            except LiveError as e:
                raise _error(str(e)) from None
        if source == BUNDLED:
            text = None
        else:
            corpus = None
            text = text if text is not None else ""
        return Request(kind=kind, text=text, corpus=corpus, seconds=seconds, probe=probe or PROBES.get(kind))

    def stop(self, names: str = "") -> str:
        """Stop the job whose live names are `names` (the Train tab's own job, not another visitor's)."""
        first = (names or "").split(",")[0].strip()
        if first and self.runner.stop(first):
            return "Stopping: each model is exported with what it has learnt…"
        return "No job of yours is training."

    def set_probe(self, text: str, names: str = "") -> None:
        first = (names or "").split(",")[0].strip()
        if isinstance(text, str) and first:
            self.runner.set_probe(text[:500], first)

    def zip(self, name: str) -> str | None:
        try:
            return self.store.zip(name)
        except Expired as e:
            raise _error(str(e)) from None
