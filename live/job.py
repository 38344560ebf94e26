"""One live job in its own process: `python -m live.job SPEC.json`, started by live.runner.

    python -m live.job jobs/1/spec.json   # {kind, text_file or corpus, seconds, names, probe, nice, idle}

It lowers its own priority (the app's requests come first; with "idle", Linux's SCHED_IDLE), writes the job's corpus
folder (and for BERT a WordPiece vocabulary of it, pretrain.vocab), then runs core.trainer over live.tasks: one
LiveBert, or two LiveLM (an LSTM and a Transformer of about the same parameter count) in two threads on the same
batches. stdout is one JSON object a line: stage, baselines, views, progress (about once a second a model),
evaluation, probe, done, error, end. stdin takes JSON lines from the parent: {"probe": TEXT} changes the probe,
{"stop": true} ends the training at the next step (each model is still exported); when stdin closes (the parent went
away) it exits.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROGRESS_SECONDS = 1.0


class Emitter:
    """JSON lines on stdout, one writer at a time (two trainers' threads and the probe share it)."""

    def __init__(self, stream=None):
        self.stream, self.lock = stream or sys.stdout, threading.Lock()

    def __call__(self, message: dict) -> None:
        with self.lock:
            self.stream.write(json.dumps(message) + "\n")
            self.stream.flush()


class Listener:
    """core.trainer events of one model as messages: stages, a progress line at most once a PROGRESS_SECONDS
    (the mean of the steps' metrics since the last one), each evaluation's row, and the end."""

    def __init__(self, name: str, emit, tokens_per_step: int, budget, warm=None, first_step=None, together=()):
        self.name, self.emit, self.tokens_per_step = name, emit, tokens_per_step
        # warm: compiles what the evaluations and probes run, after the first step; first_step: set once both
        # are done; together: every model's first_step (this one's too): the second step waits for them all, so
        # no model trains beside another's compile
        self.budget, self.warm, self.first_step, self.together = budget, warm, first_step, list(together)
        self.sums, self.count, self.last = {}, 0, 0.0

    def __call__(self, e) -> None:
        base = {"model": self.name, "step": e.step, "seconds": round(e.seconds, 3)}
        if e.kind == "step":
            if e.step == 1:
                began = time.perf_counter()
                if self.warm is not None:
                    self.warm()
                warmed = time.perf_counter()
                if self.first_step is not None:
                    self.first_step.set()
                for done in self.together:
                    done.wait()
                waited = time.perf_counter() - warmed
                # the first step and the warm-up trace the model (seconds on two cores), the other model's too:
                # the visitor's seconds are of training
                start = e.seconds + time.perf_counter() - began
                self.budget.minutes += start / 60
                message = f"compiled the training step in {e.seconds:.1f} s, the evaluation in {warmed - began:.1f} s"
                message += f", then waited {waited:.1f} s for the other model's" if waited >= 0.1 else ""
                self.emit({"type": "stage", **base, "message": message, "compile_seconds": round(start, 3)})
            for k, v in e.metrics.items():
                self.sums[k] = self.sums.get(k, 0.0) + v
            self.count += 1
            if e.seconds - self.last >= PROGRESS_SECONDS:
                train = {f"train_{k}": round(v / self.count, 5) for k, v in self.sums.items()}
                self.emit(
                    {"type": "progress", **base, "total": e.total, "tokens": e.step * self.tokens_per_step, **train}
                )
                self.sums, self.count, self.last = {}, 0, e.seconds
        elif e.kind == "evaluation":
            row = {k: round(v, 5) for k, v in e.metrics.items() if k.startswith("val_")}
            self.emit({"type": "evaluation", **base, **row})
        elif e.kind in ("stage", "stopped"):
            self.emit({"type": "stage", **base, "message": e.message})
        elif e.kind == "done":
            self.emit({"type": "done", **base, "folder": e.message, "metrics": e.metrics})


def read_commands(trainers: list, probe: dict, stream=None) -> None:
    """The parent's commands from stdin until it closes; then the process ends (nobody reads its output)."""
    for line in stream or sys.stdin:
        try:
            command = json.loads(line)
        except ValueError:
            continue
        if isinstance(command.get("probe"), str):
            probe["text"] = command["probe"]
        if command.get("stop"):
            for trainer in trainers:
                trainer.stop()
    os._exit(0)


def tagged(emit, name: str, message: dict) -> None:
    emit({**message, "model": name})


def first_sentence(folder: str) -> str:
    from live.documents import lines_of

    with open(os.path.join(folder, sorted(os.listdir(folder))[0]), encoding="utf-8") as f:
        return next(iter(lines_of(f.read())), "")[:200]


def bert_job(spec: dict, work: str, corpus: str, emit, probe: dict) -> list:
    import corpus as corpora
    from core.trainer import Trainer
    from live import tasks
    from pretrain import vocab

    emit({"type": "stage", "model": spec["names"][0], "message": "training the WordPiece vocabulary"})
    docs = corpora.load(corpus)
    tokens = vocab.train_vocab((line for d in docs for line in d.text.splitlines() if line.strip()), tasks.VOCAB_SIZE)
    vocab.write_vocab(tokens, os.path.join(work, "vocab"))
    config = tasks.bert_config(corpus, os.path.join(work, "vocab"), os.path.join(work, "bert"), spec["seconds"])
    task = tasks.LiveBert(config, functools.partial(tagged, emit, spec["names"][0]), probe, first_sentence(corpus))
    listener = Listener(spec["names"][0], emit, config.batch_size * config.seq_len, config.budget, task.warm)
    return [(Trainer(task, config, [listener]), "live bert")]


def lm_job(spec: dict, work: str, corpus: str, emit, probe: dict) -> list:
    import corpus as corpora
    from core.trainer import Trainer
    from live import tasks
    from lm.tokenizer import Tokenizer

    train_docs, _ = corpora.split(corpora.load(corpus))
    vocab_size = len(Tokenizer.train(corpora.text_of(train_docs), "char"))
    models = [tasks.matched_lstm(tasks.TRANSFORMER, vocab_size), tasks.TRANSFORMER]
    trainers, compiled = [], [threading.Event() for _ in models]
    for i, (name, model) in enumerate(zip(spec["names"], models)):
        config = tasks.lm_config(corpus, os.path.join(work, model.arch), spec["seconds"], model)
        report = functools.partial(tagged, emit, name)
        task = tasks.LiveLM(config, report, probe, views=i == 0, after=compiled[i - 1] if i else None)
        tokens = config.batch_size * model.seq_len
        listener = Listener(name, emit, tokens, config.budget, task.warm, compiled[i], together=compiled)
        trainers.append((Trainer(task, config, [listener]), f"live {model.arch}"))
    return trainers


def run(spec: dict, emit) -> None:
    from live.documents import write_documents

    work = spec["work"]
    probe = {"text": spec.get("probe") or ""}
    text = None
    if spec.get("text_file"):
        with open(spec["text_file"], encoding="utf-8") as f:
            text = f.read()
    trainers = []
    commands = threading.Thread(target=read_commands, args=(trainers, probe), daemon=True)
    commands.start()
    corpus = write_documents(os.path.join(work, "corpus"), text=text, corpus=spec.get("corpus"))
    make = bert_job if spec["kind"] == "bert" else lm_job
    pairs = make(spec, work, corpus, emit, probe)
    trainers += [t for t, _ in pairs]
    errors = []

    def train(trainer, command):
        try:
            trainer.run(command)
        except BaseException as e:  # noqa: BLE001  (reported to the parent, which shows it)
            errors.append(e)
        finally:
            for listener in trainer.listeners:
                if listener.first_step is not None:
                    listener.first_step.set()

    if len(pairs) > 1:
        import keras_hub  # noqa: F401  (imported once here, not by two threads building models)
    threads = [threading.Thread(target=train, args=pair, daemon=True) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    os.nice(int(spec.get("nice", 10)))
    if spec.get("idle") and hasattr(os, "SCHED_IDLE"):
        # the cores only when nothing else wants them: every thread it starts (TensorFlow's pools) inherits it
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    emit = Emitter()
    start = time.perf_counter()
    try:
        run(spec, emit)
    except Exception as e:  # noqa: BLE001  (one line for the visitor; the traceback goes to the job's log)
        import traceback

        traceback.print_exc()
        emit({"type": "error", "message": f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)})
        return 1
    emit({"type": "end", "seconds": round(time.perf_counter() - start, 2)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
