"""Pretraining you can watch: a small BERT (MLM + NSP), or an LSTM and a Transformer side by side, trained for
seconds on a visitor's text, each job in its own process, with its progress streamed as dicts.

    from live import Request, Runner
    runner = Runner()
    for progress in runner.train(Request(kind="lm", corpus="shakespeare", seconds=20)):
        print(progress["seconds"], progress["metrics"])
    name = progress["models"][0]                 # a live name, e.g. "live-lstm-3f2a9c"
    runner.store.load(name).generate("ROMEO:")   # a core.model ModelFolder while it lives (30 min)

The parts, one job each: live.inputs (what a request may be), live.documents (the text as a corpus folder),
live.baselines (chance and the unigram counter), live.views (the data as the model sees it), live.probes (the
model's answers mid-training), live.tasks (lm's and pretrain's tasks for core.trainer, with those added),
live.job (the child process: `python -m live.job SPEC.json`), live.runner (the parent: one job at a time, its
process, Stop, the progress dicts) and live.store (the live names, their expiry and the zip).
"""

from live.inputs import LiveError, Request
from live.runner import Busy, Runner
from live.store import Expired, Store

__all__ = ["Busy", "Expired", "LiveError", "Request", "Runner", "Store"]
