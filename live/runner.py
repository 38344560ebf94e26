"""The parent side of live jobs: one job at a time (the next ones wait in a queue, Busy past it), its process
(`python -m live.job`, niced and SCHED_IDLE), its messages folded into progress dicts about once a second, Stop,
and the models handed to a live.store.Store.

    from live import Request, Runner
    runner = Runner()
    for progress in runner.train(Request(kind="bert", corpus="kjv", seconds=20)):
        progress["status"], progress["step"], progress["metrics"]
    progress["models"]  # the live names, loadable through runner.store while they live

A progress dict: status (queued | starting | training | stopping | done | stopped), kind, models (the live names),
seconds (since the job started), budget, stage (what the job is doing), step (the slowest model's), metrics ({name:
the latest train_* and heldout_* figures, steps_per_second, tokens, compile_seconds: the seconds before its
training proper, its first step's and the wait for the other model's}), history ({name: rows of step, seconds
and figures: the curves}), baselines ({name: chance_* and unigram_* figures}), views
(the data as the model sees it) and probe ({"text", "answers": {name: answer}}). The last one, status done or
stopped, has each model's summary in metrics (LM: heldout_loss, unigram_loss; BERT: heldout_mlm_accuracy,
unigram_mlm_accuracy, heldout_nsp_accuracy, ...).

The job ends on its budget, on `stop()` (it exports what it learnt), and is killed when the consumer closes the
generator (a client gone), stops reading for STALL_SECONDS, or runs past its budget by OVERTIME_SECONDS.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

from live.inputs import LiveError, Request
from live.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NICE = 10  # the job's priority below the app's: the app's requests get the cores first
IDLE = True  # and Linux's SCHED_IDLE: the job runs only on cores the app leaves idle
UPDATE_SECONDS = 1.0
STALL_SECONDS = 20.0  # a consumer that has not asked for progress for this long has gone: the job is killed
OVERTIME_SECONDS = 150.0  # start-up (imports, vocabulary, compiling) and export beyond the training budget
WAITING = 2  # requests that may wait for a busy server; one more is told "busy" at once
STOP_SECONDS = 30.0  # after Stop, how long the job may take to export before it is killed
ROLES = {"bert": ("bert",), "lm": ("lstm", "transformer")}


class Busy(LiveError):
    """Another job is training on this server."""


class Job:
    """One running job: its process, its messages and the progress they make."""

    def __init__(self, request: Request, work: str, store: Store, idle: bool = IDLE):
        self.request, self.work, self.store = request, work, store
        suffix = secrets.token_hex(3)
        self.names = [f"live-{role}-{suffix}" for role in ROLES[request.kind]]
        self.started = time.monotonic()
        self.pulled = self.started
        self.deadline = self.started + request.seconds + OVERTIME_SECONDS
        self.state = {
            "status": "starting",
            "kind": request.kind,
            "models": list(self.names),
            "seconds": 0.0,
            "budget": request.seconds,
            "stage": "starting the job's process",
            "step": 0,
            "metrics": {n: {} for n in self.names},
            "history": {n: [] for n in self.names},
            "baselines": {n: {} for n in self.names},
            "views": {},
            "probe": {"text": request.probe or "", "answers": {}},
        }
        self.folders: dict[str, str] = {}
        self.error: str | None = None
        self.messages: queue.Queue = queue.Queue()
        spec = {
            "kind": request.kind,
            "corpus": request.corpus,
            "seconds": request.seconds,
            "names": self.names,
            "probe": request.probe,
            "work": work,
            "nice": NICE,
            "idle": idle,
        }
        if request.text is not None:
            spec["text_file"] = os.path.join(work, "text.txt")
            with open(spec["text_file"], "w", encoding="utf-8") as f:
                f.write(request.text)
        with open(os.path.join(work, "spec.json"), "w", encoding="utf-8") as f:
            json.dump(spec, f)
        self.log = open(os.path.join(work, "job.log"), "w")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "live.job", os.path.join(work, "spec.json")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
            start_new_session=True,  # its own process group: a kill takes whatever it started too
        )
        self.pid = self.process.pid
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    # -------------------------------------------------------------------------------------- the process
    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                continue
        self.messages.put(None)

    def _watch(self) -> None:
        """Kill the job when its consumer went away or it ran past its time."""
        while self.alive:
            now = time.monotonic()
            if now - self.pulled > STALL_SECONDS or now > self.deadline:
                self.kill()
            time.sleep(0.5)

    def _send(self, command: dict) -> None:
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # it has ended

    def stop(self) -> None:
        """End the training at the next step; the models are still exported and kept."""
        if self.alive and self.state["status"] in ("starting", "training"):
            self.state["status"] = "stopping"
            self.deadline = min(self.deadline, time.monotonic() + STOP_SECONDS)
            self._send({"stop": True})

    def set_probe(self, text: str) -> None:
        self.state["probe"]["text"] = text
        self._send({"probe": text})

    def kill(self) -> None:
        if self.alive:
            try:
                os.killpg(self.pid, 9)
            except ProcessLookupError:
                pass
        self.process.wait()

    def close(self) -> None:
        """Kill the process if it still runs and drop its folder (the store holds the models it finished)."""
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.log):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------------------------------- the progress
    def progress(self) -> Iterator[dict]:
        """Progress dicts about once an UPDATE_SECONDS until the job ends; the last one names the kept models.
        LiveError when the job fails (its message) or is killed."""
        last, ended = 0.0, False
        while not ended:
            self.pulled = time.monotonic()
            try:
                batch = [self.messages.get(timeout=UPDATE_SECONDS)]
            except queue.Empty:
                batch = []
            while batch and batch[-1] is not None and batch[-1]["type"] != "end":
                try:
                    batch.append(self.messages.get_nowait())
                except queue.Empty:
                    break
            for message in batch:
                if message is None or message["type"] == "end":
                    ended = True
                else:
                    self._fold(message)
            if self.error:
                raise LiveError(self.error)
            if not ended and time.monotonic() - last >= UPDATE_SECONDS:
                last = time.monotonic()
                yield self.snapshot()
        self.process.wait()
        if self.error:
            raise LiveError(self.error)
        if len(self.folders) < len(self.names):
            stopped = self.state["status"] == "stopping"
            raise LiveError(
                "the training job was ended before its models were saved"
                + (" (Stop came before its first step)" if stopped else ": it ran out of time or memory")
            )
        for name in self.names:
            self.store.add(name, self.folders[name], "bert" if self.request.kind == "bert" else "lm")
        self.state["status"] = "stopped" if self.state["status"] == "stopping" else "done"
        self.state["stage"] = f"done: kept as {', '.join(self.names)} for {self.store.minutes:g} minutes"
        yield self.snapshot()

    def snapshot(self) -> dict:
        self.state["seconds"] = round(time.monotonic() - self.started, 1)
        steps = [m.get("step", 0) for m in self.state["metrics"].values()]
        self.state["step"] = min(steps) if steps else 0
        return json.loads(json.dumps(self.state))  # a copy the consumer may keep

    def _fold(self, m: dict) -> None:
        """One message of the job into the state."""
        kind, name, s = m["type"], m.get("model"), self.state
        if kind == "error":
            self.error = m["message"]
        elif kind == "stage":
            s["stage"] = m["message"] if len(self.names) == 1 else f"{role(name)}: {m['message']}"
            if "compile_seconds" in m:  # the first steps' seconds (tracing): the curves' seconds include them
                s["metrics"][name]["compile_seconds"] = m["compile_seconds"]
        elif kind == "baselines":
            s["baselines"][name] = {k: v for k, v in m.items() if k not in ("type", "model")}
        elif kind == "views":
            s["views"].update({k: v for k, v in m.items() if k not in ("type", "model")})
        elif kind == "probe":
            s["probe"]["answers"][name] = {"text": m["text"], "answer": m["answer"]}
        elif kind in ("progress", "evaluation"):
            if s["status"] == "starting":
                s["status"] = "training"
            figures = {heldout(k): v for k, v in m.items() if k not in ("type", "model", "total")}
            metrics = s["metrics"][name]
            if kind == "progress" and m["seconds"] > 0:
                figures["steps_per_second"] = round(m["step"] / m["seconds"], 2)
            metrics.update(figures)
            s["history"][name].append(figures)
        elif kind == "done":
            self.folders[name] = m["folder"]
            s["metrics"][name] = summary(self.request.kind, s["metrics"][name], m["metrics"], s["baselines"][name])


def queued(request: Request, position: int) -> dict:
    """A waiting request's progress dict: the keys of a job's, with its place in the queue."""
    ahead = "the job training now" if position == 1 else f"the job training now and {position - 1} more"
    return {
        "status": "queued",
        "position": position,
        "kind": request.kind,
        "models": [],
        "seconds": 0.0,
        "budget": request.seconds,
        "stage": f"waiting in the queue, number {position}: it starts after {ahead}",
        "step": 0,
        "metrics": {},
        "history": {},
        "baselines": {},
        "views": {},
        "probe": {"text": request.probe or "", "answers": {}},
    }


def role(name: str) -> str:
    return name.split("-")[1] if name and name.count("-") >= 2 else str(name)


def heldout(key: str) -> str:
    return "heldout_" + key[4:] if key.startswith("val_") else key


def summary(kind: str, latest: dict, metrics: dict, baselines: dict) -> dict:
    """A finished model's figures: its final held-out ones beside its baselines', and how far it trained."""
    done = {k: v for k, v in latest.items() if not k.startswith("heldout_")}
    done.update(step=metrics.get("step"), seconds=metrics.get("seconds"), parameters=metrics.get("parameters"))
    if kind == "lm":
        done |= {"heldout_loss": round(metrics["val_loss"], 5), **baselines}
    else:
        done |= {f"heldout_{k}": metrics[k] for k in ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")}
        done |= baselines
    return done


class Runner:
    """Live jobs of one app: at most `jobs` at a time, at most `waiting` more in a queue (Busy past that), their
    models kept in `store`."""

    def __init__(
        self,
        store: Store | None = None,
        root: str | None = None,
        jobs: int = 1,
        waiting: int = WAITING,
        idle: bool = IDLE,
    ):
        self.idle = idle  # False: the job is only niced (on a machine other work shares, SCHED_IDLE starves it)
        self.root = root or tempfile.mkdtemp(prefix="seqlab-live-")
        self.store = store or Store(os.path.join(self.root, "models"))
        self.jobs, self.waiting, self.running = jobs, waiting, []
        self.queue: list[object] = []  # the waiting requests' tickets, first come first
        self._lock = threading.Lock()

    def _free(self) -> bool:
        self.running = [j for j in self.running if j.alive]
        return len(self.running) < self.jobs

    def _busy(self) -> Busy:
        job = self.running[0]
        left = max(0, job.request.seconds - (time.monotonic() - job.started))
        waiting = f", {len(self.queue)} more waiting" if self.queue else ""
        return Busy(
            f"busy: a training job is running on this server ({job.request.kind}, {job.request.seconds:g} s of "
            f"training, about {left:.0f} s to go plus its start and export{waiting}); try again when it ends"
        )

    def _launch(self, request: Request) -> Job:
        job = Job(request, tempfile.mkdtemp(prefix="job-", dir=self.root), self.store, self.idle)
        self.running.append(job)
        return job

    def start(self, request: Request) -> Job:
        """Start a job now, or Busy (a job that cannot wait: the queue is train()'s)."""
        request.validate()
        with self._lock:
            if not self._free() or self.queue:
                raise self._busy()
            return self._launch(request)

    def train(self, request: Request) -> Iterator[dict]:
        """Start a job and yield its progress; closing the generator kills it. While other jobs hold the
        server it waits in the queue, yielding status "queued" with its `position` (1: next) about once an
        UPDATE_SECONDS; Busy at once when `waiting` requests already wait."""
        request.validate()
        ticket, job = object(), None
        with self._lock:
            if not self._free() or self.queue:
                if len(self.queue) >= self.waiting:
                    raise self._busy()
                self.queue.append(ticket)
            else:
                job = self._launch(request)
        try:
            while job is None:
                with self._lock:
                    if self.queue[0] is ticket and self._free():
                        self.queue.pop(0)
                        job = self._launch(request)
                        break
                    position = self.queue.index(ticket) + 1
                yield queued(request, position)
                time.sleep(UPDATE_SECONDS)
        finally:
            if job is None:  # the consumer went away while it waited
                with self._lock:
                    self.queue.remove(ticket)
        try:
            yield from job.progress()
        finally:
            job.close()

    def stop(self, name: str | None = None) -> bool:
        """Stop the running job that makes live model `name` (None: every running job); it exports what it
        learnt. False when none runs."""
        jobs = [j for j in self.running if j.alive and (name is None or name in j.names)]
        for job in jobs:
            job.stop()
        return bool(jobs)

    def set_probe(self, text: str, name: str | None = None) -> None:
        """Change the probe of the running job that makes `name` (None: every running job)."""
        for job in self.running:
            if job.alive and (name is None or name in job.names):
                job.set_probe(text)
