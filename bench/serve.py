"""Serving benchmark: the real app under N concurrent gradio_client users streaming /chat, engine off and on.

    python -m bench.serve                                           # 1, 4, 16, 32 users, 60 s each, off then on
    python -m bench.serve --users 16 --seconds 20 --modes on        # a quick look
    python -m bench.serve --out bench/results/serve_cpu.json

For each mode it starts `python app.py` on the bundled models with SEQLAB_ENGINE=off (today's path: each stream
decodes alone at batch 1, two chats at a time, the rest wait in Gradio's queue) or on (lm.engine: every stream
joins one batch per model), then for each user count every user has its own Client and streams /chat again and
again for --seconds, and a mixed load (/chat and the other endpoints in turn) at --mixed-users. Named as
vLLM's benchmark_serving names them:
  ttft_ms       submit -> the first non-empty partial reply (p50/p95/p99); ttft_first_ms for each user's first
                chat (all N submitted at the same instant), ttft_later_ms for the rest (arrivals as chats end)
  itl_ms        time between one partial reply and the next (p50/p95), and tokens_per_update
  output_tokens_per_s  characters of every reply received (char-level models: one token each) / seconds
  completed / errors / busy (told "busy" or "Queue is full" at once; busy_ms: how long that answer took)
  rss_mb        the app's resident memory at the start and end of each run
  cpu_cores_used / cpu_ms_per_chat   the app's CPU and this benchmark's own (its clients), per second and per chat
The client threads share this machine's two cores with the app: the figures include that cost for both modes.
Last line of stdout: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

from bench.common import QUIET_ENV, emit, log, machine, rss_mb, wait_until_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESSAGES = ["Good morrow, fair lady.", "What news from Verona?", "Speak soft, my love.", "O, wilt thou go?"]


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, nargs="+", default=[1, 4, 16, 32])
    p.add_argument("--mixed-users", type=int, default=16, help="users of the mixed load (0: none)")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--modes", nargs="+", default=["off", "on"], choices=["off", "on"])
    p.add_argument("--model", default=None, help="the LM /chat uses (default: the app's first, char-transformer)")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--out", default=None, help="also write the JSON here")
    return p.parse_args(argv)


class App:
    """`python app.py` on a free port with the bundled models, in its own process."""

    def __init__(self, engine: str, timeout: float = 300):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="seqlab-serve-", suffix=".log", delete=False)
        env = {**os.environ, **QUIET_ENV, "SEQLAB_ENGINE": engine, "GRADIO_SERVER_PORT": str(self.port)}
        self.proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_until_ready(self.proc, self.url, self.text, timeout)
        deadline = time.perf_counter() + timeout
        while engine == "on" and "LM engines ready" not in self.text():  # they compile after start-up
            if time.perf_counter() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"the LM engines were not built: {self.text()[-2000:]}")
            time.sleep(0.25)

    def text(self) -> str:
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def cpu_s(self) -> float:
        """CPU seconds the app has used (user + system, all its threads, TensorFlow's own pools included)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _percentiles(values, qs=(50, 95, 99)) -> dict:
    if not values:
        return {f"p{q}": None for q in qs}
    values = sorted(values)
    return {f"p{q}": round(1000 * values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))], 1) for q in qs}


def _chat(client, user: int, i: int, args, record: dict) -> None:
    """One streamed /chat: its TTFT, the gaps between updates, the characters received, or how it failed."""
    start = time.perf_counter()
    last, shown, gaps, ttft = None, 0, [], None
    try:
        job = client.submit(
            MESSAGES[(user + i) % len(MESSAGES)], args.model, args.max_new_tokens, 0.8, 0, 1.0, api_name="/chat"
        )
        for part in job:
            now = time.perf_counter()
            if part and ttft is None:
                ttft = now - start
            elif part and len(part) > shown:
                gaps.append((now - last, len(part) - shown))
            if part:
                last, shown = now, len(part)
        job.result()
        record["completed"] += 1
        ttft = ttft if ttft is not None else time.perf_counter() - start
        record["ttft"].append(ttft)
        record["ttft_first" if i == 0 else "ttft_later"].append(ttft)  # i == 0: every user arrives at once
        record["gaps"].extend(gaps)
        record["tokens"] += shown
    except Exception as e:  # noqa: BLE001 - every failure is counted and shown
        message = str(e)
        if "busy" in message or "Queue is full" in message:
            record["busy"] += 1
            record["busy_s"].append(time.perf_counter() - start)
        else:
            record["errors"].append(f"{type(e).__name__}: {message[:200]}")


def _other(client, i: int, record: dict) -> None:
    kind = ("generate", "fill_mask", "next_sentence", "classify", "translate")[i % 5]
    start = time.perf_counter()
    try:
        if kind == "generate":
            client.predict("ROMEO:\n", max_new_tokens=40, seed=i, api_name="/generate")
        elif kind == "fill_mask":
            client.predict("and the lord [MASK] unto them", 5, api_name="/fill_mask")
        elif kind == "next_sentence":
            client.predict("In the beginning.", "And the earth.", api_name="/next_sentence")
        elif kind == "classify":
            client.predict("A gorgeous, moving film.", api_name="/classify")
        else:
            client.predict("Where is the train station?", None, 4, api_name="/translate")
        record["other"].setdefault(kind, []).append(time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001
        if "busy" in str(e) or "Queue is full" in str(e):
            record["busy"] += 1
        else:
            record["errors"].append(f"{kind}: {type(e).__name__}: {str(e)[:200]}")


def _record() -> dict:
    """What one run collects (see _chat and _other)."""
    lists = ("ttft", "ttft_first", "ttft_later", "gaps", "busy_s", "errors")
    return {"completed": 0, "tokens": 0, "busy": 0, "other": {}, **{k: [] for k in lists}}


def run_users(app: App, users: int, seconds: float, args, mixed: bool = False) -> dict:
    from gradio_client import Client

    # ssl_verify=False: gradio_client opens a new httpx client per request, and loading the CA bundle into each one's
    # SSL context took a quarter of the bench's own CPU (py-spy), CPU the app on the same two cores then lacks.
    # The app is plain http on 127.0.0.1; nothing is verified either way.
    clients = [Client(app.url, verbose=False, ssl_verify=False) for _ in range(users)]
    record = _record()
    for c in clients[:1]:  # warm the path once (not counted)
        _chat(c, 0, 0, args, _record())
    rss_start, app_cpu, own_cpu = app.rss_mb(), app.cpu_s(), sum(os.times()[:2])
    deadline = time.perf_counter() + seconds

    def loop(u):
        i = 0
        while time.perf_counter() < deadline:
            if mixed and i % 2:
                _other(clients[u], i // 2 + u, record)
            else:
                _chat(clients[u], u, i, args, record)
            i += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(u,)) for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    app_cpu, own_cpu = app.cpu_s() - app_cpu, sum(os.times()[:2]) - own_cpu
    for c in clients:
        c.close()
    itl = [gap for gap, _ in record["gaps"]]
    updates = len(record["gaps"]) + len(record["ttft"])
    result = {
        "users": users,
        "mixed": mixed,
        "seconds": round(elapsed, 1),
        "completed": record["completed"],
        "errors": len(record["errors"]),
        "busy": record["busy"],
        "busy_ms": _percentiles(record["busy_s"], (50, 95)),
        "ttft_ms": _percentiles(record["ttft"]),
        # the users' first chats start in the same few milliseconds; the later ones arrive as earlier ones end
        "ttft_first_ms": _percentiles(record["ttft_first"]),
        "ttft_later_ms": _percentiles(record["ttft_later"]),
        "itl_ms": _percentiles(itl, (50, 95)),
        "tokens_per_update": round(record["tokens"] / updates, 2) if updates else None,
        "output_tokens_per_s": round(record["tokens"] / elapsed, 1),
        "rss_mb": {"start": round(rss_start), "end": round(app.rss_mb())},
        # where the two cores went: the app's and this benchmark's own CPU (its gradio_client users)
        "cpu_cores_used": {"app": round(app_cpu / elapsed, 2), "clients": round(own_cpu / elapsed, 2)},
        "cpu_ms_per_chat": {
            "app": round(1000 * app_cpu / max(record["completed"], 1), 1),
            "clients": round(1000 * own_cpu / max(record["completed"], 1), 1),
        },
        "error_samples": record["errors"][:5],
    }
    if mixed:
        result["other_ms"] = {k: _percentiles(v, (50, 95)) for k, v in sorted(record["other"].items())}
    log(
        f"{users} users{' mixed' if mixed else ''}: {result['completed']} chats, TTFT {result['ttft_ms']}, "
        f"ITL {result['itl_ms']}, {result['output_tokens_per_s']} tokens/s, {result['errors']} errors, "
        f"{result['busy']} busy, RSS {result['rss_mb']}"
    )
    return result


def main(argv=None) -> dict:
    args = parse(argv)
    result = {"machine": machine(), "seconds_per_run": args.seconds, "max_new_tokens": args.max_new_tokens, "modes": {}}
    for mode in args.modes:
        log(f"engine {mode}: starting the app")
        app = App(mode)
        try:
            runs = [run_users(app, users, args.seconds, args) for users in args.users]
            if args.mixed_users:
                runs.append(run_users(app, args.mixed_users, args.seconds, args, mixed=True))
        finally:
            app.stop()
        result["modes"][mode] = runs
    return emit(result, args.out)


if __name__ == "__main__":
    main()
