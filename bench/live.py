"""The Train tab's jobs against their targets: a live BERT and a live LM pair on a bundled corpus, then the same
models trained from the command line for the speed they reach there.

    python -m bench.live                                  # shakespeare, 60 s a job, the CLI peers
    python -m bench.live --seconds 30 --no-cli --out /tmp/live.json
    python -m bench.live --latency --out bench/results/live_latency_cpu.json   # the app's latency while one trains

For BERT: held-out MLM accuracy against the unigram counter's ("most frequent token") and whether it rises, NSP
against the majority label's share of the held-out pairs (what a head answering one label scores), the curves
against steps and seconds. For the LM: each model's held-out loss at 10, 30 and the full seconds of training
(after its first step, which traces the model) and which one leads, the better one's final loss against 2.3
nats/char. Speed: each model's steps/s between its first and last evaluation in the job,
against the same model (its flags by core.flags.argv, the same corpus folder and vocabulary) run by
`python -m lm.train` / `python -m pretrain.train` at the job's nice level, timed from its evaluation lines the
same way. The LM job trains its two models at once on the cores: `shared` sums each model's live/alone ratio
(1.0: no worse than training them one after the other).

With --latency it measures the app instead: `python app.py` on the bundled models (as bench.serve starts it), one
gradio_client user asking /chat (its first token, the time to first token) and /classify in turn, first with no
job (--idle-seconds), then while an LM job of --seconds trains through the app's /train, from its training start
(both models compiled) to its end; the job's steps/s there against the same models from the command line.

Last line of stdout, JSON: {"machine", "loadavg", "corpus", "seconds", "bert": {...}, "lm": {...}, "cli": {...}};
with --latency: {"machine", "loadavg", "corpus", "seconds", "idle": {...}, "training": {...}, "lm": {...}, "cli",
"ratios"}.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from bench.common import emit, log, machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_LOSS = 2.3  # nats/char: the bar for the better LM (the unigram counter is about 3.3)
LEADS_AT = (10, 30)  # seconds of training at which the LM pair is compared (and at the end)
CLI_EVALUATIONS = 4  # evaluations a command-line peer runs: three intervals timed after the compiled first step
EVAL_LINE = re.compile(r"step (\d+)(?:/\d+)?: .*; ([\d.]+) steps/s")


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--seconds", type=float, default=60, help="each job's training budget (10 to 120)")
    p.add_argument("--no-cli", action="store_true", help="skip the command-line peers")
    p.add_argument("--nice-only", action="store_true", help="jobs niced but not SCHED_IDLE (a shared machine)")
    p.add_argument("--kinds", nargs="+", default=["bert", "lm"], choices=["bert", "lm"], help="the jobs to run")
    p.add_argument("--latency", action="store_true", help="the app's chat and /classify latency while a job trains")
    p.add_argument("--idle-seconds", type=float, default=40, help="--latency: how long the idle app is measured")
    p.add_argument("--max-new-tokens", type=int, default=40, help="--latency: each chat's reply length")
    p.add_argument("--out", default=None, help="also write the JSON here")
    return p.parse_args(argv)


def run_job(runner, kind: str, corpus: str, seconds: float) -> dict:
    """One job through live.Runner, as the tab runs it; its last progress dict and its wall time."""
    from live import Request

    start, last = time.monotonic(), None
    for last in runner.train(Request(kind=kind, corpus=corpus, seconds=seconds)):
        log(f"{kind} {last['status']} {last['seconds']:.0f}s step {last['step']}: {last['stage'][:80]}")
    return {"state": last, "wall_seconds": round(time.monotonic() - start, 1)}


def evaluations(rows: list, compile_seconds: float) -> list[dict]:
    """The held-out rows, with `trained` = seconds after the first (tracing) step."""
    out = []
    for r in rows:
        if any(k.startswith("heldout_") for k in r):
            out.append({**r, "trained": round(r["seconds"] - compile_seconds, 2)})
    return out


def steady_speed(points: list[tuple[int, float]]) -> float | None:
    """Steps/s between the first and the last (step, seconds) point: the first step's tracing left out."""
    if len(points) < 2 or points[-1][1] <= points[0][1]:
        return None
    return round((points[-1][0] - points[0][0]) / (points[-1][1] - points[0][1]), 3)


def at(rows: list, key: str, seconds: float):
    """The last held-out `key` reached within `seconds` of training."""
    got = [r[key] for r in rows if r["trained"] <= seconds and key in r]
    return got[-1] if got else None


def bert_result(job: dict) -> dict:
    state = job["state"]
    (name,) = state["models"]
    m, base = state["metrics"][name], state["baselines"][name]
    rows = evaluations(state["history"][name], m.get("compile_seconds", 0.0))
    accuracy = [r["heldout_mlm_accuracy"] for r in rows if "heldout_mlm_accuracy" in r]
    return {
        "status": state["status"],
        "wall_seconds": job["wall_seconds"],
        "steps": m["step"],
        "compile_seconds": m.get("compile_seconds"),
        "steps_per_second": steady_speed([(r["step"], r["seconds"]) for r in rows]),
        "heldout_mlm_accuracy": m["heldout_mlm_accuracy"],
        "unigram_mlm_accuracy": base.get("unigram_mlm_accuracy"),
        "heldout_nsp_accuracy": m["heldout_nsp_accuracy"],
        "chance_nsp_accuracy": base.get("chance_nsp_accuracy", 0.5),
        "unigram_nsp_accuracy": base.get("unigram_nsp_accuracy"),
        "mlm_above_unigram": m["heldout_mlm_accuracy"] > base.get("unigram_mlm_accuracy", 1.0),
        "mlm_rising": len(accuracy) >= 2 and accuracy[-1] > accuracy[0],
        # a head answering one label scores that label's share of the held-out pairs (unigram_nsp_accuracy, the
        # counter's), above 0.5 on an uneven set: NSP has learnt something only above it
        "nsp_above_majority": m["heldout_nsp_accuracy"] > base.get("unigram_nsp_accuracy", 1.0),
        "baselines": base,
        "curve": [
            {k: r[k] for k in r if k == "step" or k == "seconds" or k == "trained" or "heldout" in k} for r in rows
        ],
        "train_curve": [r for r in state["history"][name] if "train_mlm_loss" in r],
    }


def lm_result(job: dict, seconds: float) -> dict:
    state = job["state"]
    models, best = {}, None
    for name in state["models"]:
        m = state["metrics"][name]
        rows = evaluations(state["history"][name], m.get("compile_seconds", 0.0))
        models[name] = {
            "steps": m["step"],
            "parameters": m.get("parameters"),
            "compile_seconds": m.get("compile_seconds"),
            "steps_per_second": steady_speed([(r["step"], r["seconds"]) for r in rows]),
            "heldout_loss": m["heldout_loss"],
            "unigram_loss": m.get("unigram_loss"),
            "chance_loss": m.get("chance_loss"),
            "heldout_loss_at": {f"{t:g}": at(rows, "heldout_loss", t) for t in (*LEADS_AT, seconds)},
            "curve": [{k: r[k] for k in ("step", "seconds", "trained", "heldout_loss") if k in r} for r in rows],
            "train_curve": [
                {k: r[k] for k in ("step", "seconds", "train_loss") if k in r} for r in state["history"][name]
            ],
        }
        if best is None or m["heldout_loss"] < models[best]["heldout_loss"]:
            best = name
    leads = {}
    for t in (*LEADS_AT, seconds):
        losses = {n: v["heldout_loss_at"][f"{t:g}"] for n, v in models.items()}
        known = {n: v for n, v in losses.items() if v is not None}
        leads[f"{t:g}"] = min(known, key=known.get) if known else None
    return {
        "status": state["status"],
        "wall_seconds": job["wall_seconds"],
        "models": models,
        "best": best,
        "best_heldout_loss": models[best]["heldout_loss"],
        "target_loss": TARGET_LOSS,
        "meets_target": models[best]["heldout_loss"] <= TARGET_LOSS,
        "leader_at": leads,
    }


def cli_speed(module: str, argv: list[str], nice: int) -> dict:
    """`python -m module argv` at `nice`, timed from its evaluation lines (step, steps/s so far)."""
    start = time.monotonic()
    done = subprocess.run(
        ["nice", "-n", str(nice), sys.executable, "-m", module, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed ({done.returncode}): {done.stderr[-2000:]}")
    points = [(int(s), int(s) / float(v)) for s, v in EVAL_LINE.findall(done.stderr) if float(v) > 0]
    return {
        "command": f"python -m {module} " + " ".join(argv),
        "steps_per_second": steady_speed(points),
        "wall_seconds": round(time.monotonic() - start, 1),
    }


def cli_peers(corpus: str, work: str, lm: dict | None, bert: dict | None) -> dict:
    """The jobs' models from the command line, on the same corpus folder (and WordPiece vocabulary)."""
    import corpus as corpora
    from core import flags
    from core.budget import Budget
    from live import tasks
    from live.documents import write_documents
    from live.runner import NICE
    from lm.tokenizer import Tokenizer
    from pretrain import vocab

    folder = write_documents(os.path.join(work, "corpus"), corpus=corpus)
    out = {}
    if lm is not None:
        train_docs, _ = corpora.split(corpora.load(folder))
        size = len(Tokenizer.train(corpora.text_of(train_docs), "char"))
        for model in (tasks.matched_lstm(tasks.TRANSFORMER, size), tasks.TRANSFORMER):
            config = tasks.lm_config(folder, os.path.join(work, model.arch), 60, model)
            config.budget = Budget(steps=config.eval_every * CLI_EVALUATIONS)
            log(f"cli: lm.train {model.arch}")
            name = next(n for n in lm["models"] if f"-{model.arch}-" in n)
            peer = cli_speed("lm.train", flags.argv(config), NICE)
            live_speed = lm["models"][name]["steps_per_second"]
            peer["live_ratio"] = round(live_speed / peer["steps_per_second"], 3) if live_speed else None
            out[model.arch] = peer
        ratios = [out[a]["live_ratio"] for a in ("lstm", "transformer")]
        out["lm_shared"] = round(sum(ratios), 3) if None not in ratios else None
    if bert is not None:
        docs = corpora.load(folder)
        pieces = vocab.train_vocab((x for d in docs for x in d.text.splitlines() if x.strip()), tasks.VOCAB_SIZE)
        vocab.write_vocab(pieces, os.path.join(work, "vocab"))
        config = tasks.bert_config(folder, os.path.join(work, "vocab"), os.path.join(work, "bert"), 60)
        config.budget = Budget(steps=config.eval_every * CLI_EVALUATIONS)
        log("cli: pretrain.train")
        peer = cli_speed("pretrain.train", flags.argv(config), NICE)
        live_speed = bert["steps_per_second"]
        peer["live_ratio"] = round(live_speed / peer["steps_per_second"], 3) if live_speed else None
        out["bert"] = peer
    return out


CLASSIFY = "A gorgeous, moving film."


def ask(client, args, record: dict, i: int) -> None:
    """One streamed /chat (bench.serve's: its time to first token) and one /classify, into `record`."""
    from bench.serve import _chat

    _chat(client, 0, i, args, record)
    start = time.perf_counter()
    try:
        client.predict(CLASSIFY, api_name="/classify")
        record["classify"].append(time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001  (counted and shown)
        record["errors"].append(f"classify: {type(e).__name__}: {str(e)[:200]}")


def serve_while(client, args, go_on) -> dict:
    """/chat and /classify in turn while `go_on()`: their latency percentiles (ms)."""
    from bench.serve import _percentiles

    record = {"completed": 0, "ttft": [], "gaps": [], "tokens": 0, "busy": 0, "busy_s": [], "errors": []}
    record["classify"] = []
    start, i, when = time.monotonic(), 0, []
    while go_on():
        when.append(time.monotonic() - start)
        ask(client, args, record, i)
        i += 1
    slowest = sorted(zip(record["ttft"], when), reverse=True)[:5] if not record["errors"] else []
    return {
        "seconds": round(time.monotonic() - start, 1),
        "chats": record["completed"],
        "ttft_ms": _percentiles(record["ttft"]),
        "classify_ms": _percentiles(record["classify"]),
        "slowest_ttft_ms_at_s": [[round(1000 * t, 1), round(w, 1)] for t, w in slowest],
        "errors": len(record["errors"]) + record["busy"],
        "error_samples": record["errors"][:5],
    }


def latency(args) -> dict:
    """The app idle, then while an LM job trains through its /train: chat's first token and /classify."""
    import threading

    from gradio_client import Client

    from bench.serve import App

    args.model = None  # /chat's default model, as bench.serve asks it
    log("latency: starting the app")
    app = App("on")
    try:
        client = Client(app.url, verbose=False, ssl_verify=False)
        ask(client, args, {"completed": 0, "ttft": [], "gaps": [], "tokens": 0, "errors": [], "classify": []}, 0)
        until = time.monotonic() + args.idle_seconds
        idle = serve_while(client, args, lambda: time.monotonic() < until)
        log(f"idle: {idle}")
        job = {"training": threading.Event(), "ended": threading.Event(), "state": None}

        def train():
            trainer = Client(app.url, verbose=False, ssl_verify=False)
            start = time.monotonic()
            try:
                submitted = trainer.submit(
                    kind="lm", text=None, corpus=args.corpus, seconds=args.seconds, api_name="/train"
                )
                for state in submitted:
                    job["state"] = state
                    metrics = state.get("metrics", {}).values()
                    if metrics and all("compile_seconds" in m for m in metrics):
                        job["training"].set()  # both models compiled: the training proper runs
            finally:
                job["wall_seconds"] = round(time.monotonic() - start, 1)
                job["ended"].set()
                job["training"].set()

        thread = threading.Thread(target=train, daemon=True)
        thread.start()
        job["training"].wait()
        busy = serve_while(client, args, lambda: not job["ended"].is_set() and job["state"]["status"] == "training")
        log(f"while training: {busy}")
        thread.join()
        client.close()
    finally:
        app.stop()
    if job["state"] is None or job["state"]["status"] != "done":
        raise RuntimeError(f"the /train job did not finish: {str(job['state'])[:2000]}")
    return {"idle": idle, "training": busy, "lm": lm_result(job, args.seconds)}


def latency_main(args) -> int:
    result = {"machine": machine(), "corpus": args.corpus, "seconds": args.seconds}
    result["max_new_tokens"] = args.max_new_tokens
    result["job_priority"] = "nice 10, SCHED_IDLE"  # the app's live.Runner, as the Space runs it
    load = [list(os.getloadavg())]
    with tempfile.TemporaryDirectory(prefix="bench-live-") as work:
        result |= latency(args)
        load.append(list(os.getloadavg()))
        if not args.no_cli:
            result["cli"] = cli_peers(args.corpus, os.path.join(work, "cli"), result["lm"], None)
            load.append(list(os.getloadavg()))
    idle, busy = result["idle"], result["training"]
    result["ratios"] = {
        "chat_ttft_p95_training_over_idle": round(busy["ttft_ms"]["p95"] / idle["ttft_ms"]["p95"], 3),
        "classify_p95_training_over_idle": round(busy["classify_ms"]["p95"] / idle["classify_ms"]["p95"], 3),
        "lm_shared_live_over_cli": result.get("cli", {}).get("lm_shared"),
        "targets": "chat first token p95 at most 2x idle; the job's steps/s at least 0.7 of the command line's",
    }
    result["loadavg"] = {
        "note": "1, 5, 15 min load averages at the start, after the app's runs and after the CLI peers",
        "samples": [[round(x, 2) for x in s] for s in load],
    }
    emit(result, args.out)
    return 0


def main(argv=None) -> int:
    args = parse(argv)
    if args.latency:
        return latency_main(args)
    from live import Runner

    result = {"machine": machine(), "corpus": args.corpus, "seconds": args.seconds}
    result["job_priority"] = "nice 10" if args.nice_only else "nice 10, SCHED_IDLE"
    load = [list(os.getloadavg())]
    with tempfile.TemporaryDirectory(prefix="bench-live-") as work:
        runner = Runner(root=os.path.join(work, "jobs"), idle=not args.nice_only)
        if "bert" in args.kinds:
            result["bert"] = bert_result(run_job(runner, "bert", args.corpus, args.seconds))
            load.append(list(os.getloadavg()))
        if "lm" in args.kinds:
            result["lm"] = lm_result(run_job(runner, "lm", args.corpus, args.seconds), args.seconds)
            load.append(list(os.getloadavg()))
        if not args.no_cli:
            try:
                cli = os.path.join(work, "cli")
                result["cli"] = cli_peers(args.corpus, cli, result.get("lm"), result.get("bert"))
            except Exception as e:  # noqa: BLE001  (the jobs' figures are kept; the failure is in the result)
                result["cli"] = {"error": f"{type(e).__name__}: {e}"[:2000]}
            load.append(list(os.getloadavg()))
    result["loadavg"] = {
        "note": "1, 5, 15 min load averages at the start, after each job and after the CLI peers (a shared machine)",
        "samples": [[round(x, 2) for x in s] for s in load],
    }
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
