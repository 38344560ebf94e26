"""Time from starting the app to a gradio_client that connects, and to its first answer.

    python -m bench.app_startup                          # `python app.py`, bundled models
    python -m bench.app_startup --script                 # `bash scripts/app.sh`: as a user starts it (venv made)
    python -m bench.app_startup --script --out bench/results/app_startup_avx2.json  # the README's (on AVX2)
    python -m bench.app_startup --lm-models DIR1,DIR2 --bert-models DIR --timeout 120
    python -m bench.app_startup --tiny-models --classifier DIR --translators DIR --encoders DIR   # no bundled model

Starts the app on a free port (its own process group), polls until `gradio_client.Client(url)` connects (it reads
the app's config and API), then asks /generate for 20 tokens and stops the app. Last line of stdout, JSON:
ready_s (connected; the target is < 30 s), first_answer_s (the first answer back, counted from the start too),
app_reported_s (the app's own "started in X s" log line, when it prints one), engines_s (its "LM engines ready"
line: chat served by the batched engines; the target is 45 s), and the app's exit status if it died.
With --script the time includes app.sh's `pip install -q -r requirements.txt` check of the installed venv.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from bench.common import QUIET_ENV, emit, free_port, machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.app_startup", description=__doc__.split("\n")[0])
    p.add_argument("--lm-models", default=None)
    p.add_argument("--bert-models", default=None)
    p.add_argument("--classifier", default=None)
    p.add_argument("--translators", default=None)
    p.add_argument("--encoders", default=None)
    p.add_argument("--script", action="store_true", help="start it with `bash scripts/app.sh` (as the README does)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    p.add_argument("--poll", type=float, default=0.25, help="seconds between connection attempts")
    p.add_argument("--out", default=None, help="also write the JSON result to this file (e.g. bench/results/...)")
    p.add_argument(
        "--tiny-models",
        action="store_true",
        help="serve tiny random-weight models made in a temporary folder (plumbing check)",
    )
    args = p.parse_args(argv)
    tmp = None
    if args.tiny_models:
        tmp = tempfile.mkdtemp(prefix="seqlab-app-bench-")
        args.lm_models, args.bert_models = tiny_models(tmp)

    from gradio_client import Client  # imported before the clock starts: it is the client's cost, not the app's

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = (
        ["bash", os.path.join(ROOT, "scripts", "app.sh")]
        if args.script
        else [sys.executable, os.path.join(ROOT, "app.py")]
    )
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    for flag, value in (
        ("--lm-models", args.lm_models),
        ("--bert-models", args.bert_models),
        ("--classifier", args.classifier),
        ("--translators", args.translators),
        ("--encoders", args.encoders),
    ):
        if value:
            cmd += [flag, value]
    env = dict(os.environ, **QUIET_ENV, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    from space.models import engine_config  # before the clock starts: it imports Keras

    batching = engine_config(env) is not None  # SEQLAB_ENGINE=off: no engines to wait for
    log = tempfile.TemporaryFile(mode="a+")  # append: the app's writes land at the end while this reads it
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ready, answered, engines, attempts, error = None, None, None, 0, None
    try:
        while time.perf_counter() - start < args.timeout:
            if proc.poll() is not None:
                error = f"app.py exited with status {proc.returncode} before it was ready"
                break
            attempts += 1
            try:
                client = Client(url, verbose=False)
                ready = time.perf_counter() - start
                break
            except Exception:  # not listening yet, or config not served yet
                time.sleep(args.poll)
        else:
            error = f"not ready after {args.timeout:.0f} s"
        if ready:
            try:
                client.predict("ROMEO:\n", max_new_tokens=20, seed=0, api_name="/generate")
                answered = time.perf_counter() - start
            except Exception as e:  # the first request failed: that is the result
                error = f"the first /generate failed: {type(e).__name__}: {e}"
        while batching and answered and engines is None and time.perf_counter() - start < args.timeout:
            if proc.poll() is not None:
                break
            log.seek(0)
            if "LM engines ready" in log.read():  # chat is served by the batched engines from here on
                engines = time.perf_counter() - start
            time.sleep(args.poll)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group this benchmark started, nothing else
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    log.seek(0)
    text = log.read()
    reported = re.findall(r"started in ([0-9.]+) s", text)
    result = {
        "bench": "app_startup",
        "impl": "seqlab",
        "started_by": "scripts/app.sh" if args.script else "app.py",
        "ready_s": round(ready, 2) if ready else None,
        "first_answer_s": round(answered, 2) if answered else None,
        "app_reported_s": float(reported[-1]) if reported else None,
        "engines_s": round(engines, 2) if engines else None,
        "attempts": attempts,
        "lm_models": args.lm_models or "bundled",
        "bert_models": args.bert_models or "bundled",
        "classifier": args.classifier or "bundled",
        "translators": args.translators or "bundled",
        "encoders": args.encoders or "bundled",
        "machine": machine(),
        "tf_notes_in_log": len(re.findall(r"oneDNN custom operations|Could not find cuda drivers", text)),
        "command": " ".join(["python -m bench.app_startup", *(sys.argv[1:] if argv is None else argv)]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if error:
        result["error"] = error
        result["log_tail"] = text.strip().splitlines()[-8:]
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    emit(result, args.out if answered else None)
    return 0 if answered else 1


def tiny_models(folder: str) -> tuple[str, str]:
    """A 1-layer 32-d transformer LM and a 1-layer 32-d BERT with random weights, in SeqLab's folder formats."""
    import types

    from bench.lm_generate import random_model_folder
    from pretrain import model as bert
    from pretrain import vocab

    lm_dir = os.path.join(folder, "tiny-lm")
    os.makedirs(lm_dir)
    random_model_folder(
        types.SimpleNamespace(arch="transformer", vocab=40, seq=64, layers=1, dim=32, heads=2, seed=0), lm_dir
    )
    tokens = (
        list(vocab.SPECIALS)
        + [w for w in "the a lord is my shepherd and of to in".split()]
        + [chr(c) for c in range(ord("a"), ord("z") + 1)]
        + ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    )
    bert_dir = os.path.join(folder, "tiny-bert")
    config = bert.BertConfig(vocab_size=len(tokens), num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64)
    bert.save(bert.build(config), bert_dir)
    vocab.write_vocab(tokens, bert_dir)
    return lm_dir, bert_dir


if __name__ == "__main__":
    sys.exit(main())
