"""Load on the real server: 16 concurrent gradio_client users for a while (issue 6, "Reliability and safety"),
their /chat and /generate streams decoded together by the app's LM engines (lm.engine, issue 17).

Each user has its own Client and loops over the five endpoints, streaming /chat (time to first token measured:
submit -> first non-empty partial reply) and calling /generate, /fill_mask, /next_sentence and /classify. Every
request must be answered or told the queue is full; the app's resident memory (VmRSS from /proc) must stay flat:
it is read after a warm-up round, half-way and at the end.

    python -m tests.test_load_app --seconds 60            # starts the app (tiny test models) and prints the figures
    python -m tests.test_load_app --seconds 60 --url URL  # against a running app (no RSS figures unless --pid)
    SEQLAB_TEST_MODELS=bundled python -m tests.test_load_app --seconds 60   # with the bundled models

In the test suite the run is SEQLAB_LOAD_SECONDS long (default 12 s).
"""

import argparse
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apphelpers  # noqa: E402  (puts the repository on sys.path)

from bench.common import rss_mb  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytestmark = pytest.mark.slow  # a real server under load for SEQLAB_LOAD_SECONDS

USERS = 16
CHAT_MESSAGES = ["Good morrow, fair lady.", "What news from Verona?", "Speak soft, my love.", "O, wilt thou go?"]
RSS_SLACK_MB = 64  # allowed growth from half-way to the end (allocator noise, Python free lists)


def _percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))]


def one_round(client, user: int, i: int, stats: dict, lock: threading.Lock, chat_tokens: int = 60) -> None:
    """One request of user `user`'s i-th step; records its outcome (and TTFT for /chat) in `stats`."""
    kind = ("chat", "generate", "chat", "fill_mask", "chat", "next_sentence", "chat", "classify")[i % 8]
    start = time.perf_counter()
    ttft = None
    try:
        if kind == "chat":
            job = client.submit(
                CHAT_MESSAGES[(user + i) % len(CHAT_MESSAGES)], None, chat_tokens, 0.8, 0, 1.0, api_name="/chat"
            )
            for part in job:
                if ttft is None and part:
                    ttft = time.perf_counter() - start
            result = job.result()
            ok = isinstance(result, str)
        elif kind == "generate":
            ok = isinstance(
                client.predict("ROMEO:\n", max_new_tokens=20, seed=user * 1000 + i, api_name="/generate"), str
            )
        elif kind == "fill_mask":
            ok = isinstance(client.predict("and the lord [MASK] unto them", 5, api_name="/fill_mask"), dict)
        elif kind == "next_sentence":
            ok = "IsNext" in client.predict("In the beginning.", "And the earth.", api_name="/next_sentence")
        else:
            ok = "positive" in client.predict("A gorgeous, moving film.", api_name="/classify")
        outcome = "answered" if ok else "bad answer"
    except Exception as e:  # noqa: BLE001 - every failure is counted and shown
        outcome = "queue full" if "Queue is full" in str(e) else "error"
        if outcome == "error":
            with lock:
                stats["errors"].append(f"{kind}: {type(e).__name__}: {str(e)[:200]}")
    seconds = time.perf_counter() - start
    with lock:
        stats["outcomes"][outcome] = stats["outcomes"].get(outcome, 0) + 1
        stats["latency"].setdefault(kind, []).append(seconds)
        if ttft is not None:
            stats["ttft"].append(ttft)


def run_load(url: str, seconds: float, users: int = USERS, pid: int | None = None, log=print) -> dict:
    from gradio_client import Client

    stats = {"outcomes": {}, "latency": {}, "ttft": [], "errors": [], "in_flight_max": 0, "rss": {}}
    lock = threading.Lock()
    clients = [Client(url, verbose=False) for _ in range(users)]
    # warm-up: every user calls every endpoint once (all code paths, all sessions, connection pools)
    warm = {"outcomes": {}, "latency": {}, "ttft": [], "errors": [], "in_flight_max": 0}
    threads = [
        threading.Thread(target=lambda u=u: [one_round(clients[u], u, i, warm, lock) for i in range(8)])
        for u in range(users)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if pid:
        stats["rss"]["after warm-up"] = rss_mb(pid)
    active = [0]
    deadline = time.perf_counter() + seconds
    halfway = time.perf_counter() + seconds / 2

    def user_loop(u):
        i = u  # users start at different points of the cycle
        while time.perf_counter() < deadline:
            with lock:
                active[0] += 1
                stats["in_flight_max"] = max(stats["in_flight_max"], active[0])
            one_round(clients[u], u, i, stats, lock)
            with lock:
                active[0] -= 1
            i += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=user_loop, args=(u,)) for u in range(users)]
    for t in threads:
        t.start()
    samples = []
    while any(t.is_alive() for t in threads):
        if pid:
            samples.append(rss_mb(pid))
            if "half-way" not in stats["rss"] and time.perf_counter() >= halfway:
                stats["rss"]["half-way"] = samples[-1]
        time.sleep(0.5)
    for t in threads:
        t.join()
    stats["seconds"] = time.perf_counter() - started
    if pid:
        stats["rss"]["end"] = rss_mb(pid)
        stats["rss"]["max"] = max(samples + [stats["rss"]["end"]])
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - older clients have no close()
            pass
    total = sum(stats["outcomes"].values())
    stats["requests"] = total
    stats["ttft_p50"] = _percentile(stats["ttft"], 50)
    stats["ttft_p95"] = _percentile(stats["ttft"], 95)
    log(
        f"load: {users} users for {stats['seconds']:.0f} s: {total} requests ({total / stats['seconds']:.1f}/s), "
        + ", ".join(f"{k} {v}" for k, v in sorted(stats["outcomes"].items()))
        + f"; {stats['in_flight_max']} in flight at most"
    )
    log(
        f"load: /chat time to first token p50 {stats['ttft_p50'] * 1000:.0f} ms, p95 {stats['ttft_p95'] * 1000:.0f} ms "
        f"({len(stats['ttft'])} streams)"
    )
    log(
        "load: latency p50/p95 per endpoint: "
        + ", ".join(
            f"/{k} {_percentile(v, 50) * 1000:.0f}/{_percentile(v, 95) * 1000:.0f} ms ({len(v)})"
            for k, v in sorted(stats["latency"].items())
        )
    )
    if stats["rss"]:
        log("load: app RSS " + ", ".join(f"{k} {v:.0f} MB" for k, v in stats["rss"].items()))
    for e in stats["errors"][:10]:
        log(f"load: error: {e}")
    return stats


def check(stats: dict, users: int = USERS) -> None:
    assert not stats["errors"], stats["errors"][:5]
    assert stats["outcomes"].get("bad answer", 0) == 0
    assert stats["outcomes"].get("answered", 0) > 0 and stats["ttft"]
    assert stats["in_flight_max"] == users, "not every user had a request in flight at once"
    rss = stats["rss"]
    if rss:
        growth = rss["end"] - rss["half-way"]
        assert growth < RSS_SLACK_MB, f"RSS grew {growth:.0f} MB in the second half: {rss}"
        assert rss["end"] - rss["after warm-up"] < 2 * RSS_SLACK_MB, f"RSS grew over the run: {rss}"


def test_sixteen_users_for_a_while():
    server = apphelpers.shared_server()
    seconds = float(os.environ.get("SEQLAB_LOAD_SECONDS", "12"))  # 16 streams hold both cores: keep it short
    stats = run_load(server.url, seconds, pid=getattr(server, "pid", None), log=lambda s: print("\n" + s, end=""))
    print()
    check(stats)
    if hasattr(server, "log_text") and server.log_text():
        assert "LM engines ready" in server.log_text(), "the streams did not go through the LM engines"
    # a normal call works afterwards
    from gradio_client import Client

    assert "positive" in Client(server.url, verbose=False).predict("A gorgeous, moving film.", api_name="/classify")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.test_load_app", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--users", type=int, default=USERS)
    p.add_argument("--url", default=None, help="a running app (default: start one with the test models)")
    p.add_argument("--pid", type=int, default=None, help="the running app's process id, for RSS figures")
    args = p.parse_args(argv)
    server = None
    if args.url:
        url, pid = args.url, args.pid
    else:
        server = apphelpers.AppServer(apphelpers.model_env())
        url, pid = server.url, server.pid
        print(f"app started in {server.startup_seconds:.1f} s at {url}")
    try:
        stats = run_load(url, args.seconds, args.users, pid)
        check(stats, args.users)
    except AssertionError as e:
        print(f"FAILED: {e}")
        return 1
    finally:
        if server:
            tracebacks = server.log_text().count("Traceback")
            print(f"server log: {tracebacks} tracebacks")
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
