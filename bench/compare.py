"""Run SeqLab and its peer (transformers + PyTorch) on every target row, each in its own subprocess, in one run.

    python -m bench.compare                       # all rows: markdown table on stdout, JSON as the last line
    python -m bench.compare --rows gen_4l128,bert_l2h128 --out runs/bench.json
    python -m bench.compare --quick               # tiny shapes, few steps: checks the plumbing, not the speed

Rows run one after another (never two benchmarks at once); SeqLab first, then the peer, for each row. A row's
ratio is SeqLab's metric / the peer's; `pass` compares it with the target (and first-token latency, recompiles,
app start-up with theirs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.common import QUIET_ENV, emit, last_json, machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GEN = "--layers {l} --heads {h} --dim {d} --vocab 65 --new-tokens {n}"
ROWS = {
    # name: (description, seqlab args, peer args, metric, target ratio)
    "gen_4l128": (
        "streaming generation, 4 layers / 128-d, vocab 65, batch 1, top-k 50",
        "bench.lm_generate " + GEN.format(l=4, h=4, d=128, n=200),
        "bench.peers lm_generate " + GEN.format(l=4, h=4, d=128, n=200),
        "tokens_per_s",
        5.0,
    ),
    "gen_6l384": (
        "streaming generation, 6 layers / 384-d, vocab 65, batch 1, top-k 50",
        "bench.lm_generate " + GEN.format(l=6, h=6, d=384, n=200),
        "bench.peers lm_generate " + GEN.format(l=6, h=6, d=384, n=200),
        "tokens_per_s",
        5.0,
    ),
    "bert_l2h128": (
        "BERT MLM+NSP training, L2/H128, seq 128, batch 32, vocab 8192",
        "bench.bert_train --layers 2 --heads 2 --dim 128 --seq 128 --batch 32 --vocab 8192 --steps 10",
        "bench.peers bert_train --layers 2 --heads 2 --dim 128 --seq 128 --batch 32 --vocab 8192 --steps 10",
        "seqs_per_s",
        2.0,
    ),
    "lm_train_4l128": (
        "LM training, 4 layers / 128-d, seq 64, batch 12, vocab 65",
        "bench.lm_train --layers 4 --heads 4 --dim 128 --seq 64 --batch 12 --vocab 65 --steps 30",
        "bench.peers lm_train --layers 4 --heads 4 --dim 128 --seq 64 --batch 12 --vocab 65 --steps 30",
        "tokens_per_s",
        1.0,
    ),
    "lm_train_4l128_cpu_defaults": (
        "LM training as lm_train_4l128, the process left as the libraries set it (no core.jit.configure)",
        "bench.lm_train --layers 4 --heads 4 --dim 128 --seq 64 --batch 12 --vocab 65 --steps 30 --cpu-defaults",
        "bench.peers lm_train --layers 4 --heads 4 --dim 128 --seq 64 --batch 12 --vocab 65 --steps 30",
        "tokens_per_s",
        1.0,
    ),
    "app_startup": (
        "python app.py ready to serve (gradio_client connects)",
        "bench.app_startup",
        None,
        "ready_s",
        None,
    ),
}
QUICK = {  # tiny shapes for tests: same code paths, seconds instead of minutes
    "gen_4l128": ("--layers 1 --heads 2 --dim 32 --vocab 20 --seq 64 --new-tokens 8 --repeats 1",) * 2,
    "gen_6l384": ("--layers 1 --heads 2 --dim 32 --vocab 20 --seq 64 --new-tokens 8 --repeats 1",) * 2,
    "bert_l2h128": ("--layers 1 --heads 2 --dim 32 --seq 32 --batch 4 --vocab 100 --steps 2 --warmup-steps 0",) * 2,
    "lm_train_4l128": ("--layers 1 --heads 2 --dim 32 --seq 16 --batch 4 --vocab 20 --steps 2 --warmup-steps 0",) * 2,
}
FIRST_TOKEN_MS = 50.0
APP_READY_S = 30.0


def _args(spec: str, quick_extra: str | None) -> list[str]:
    parts = spec.split()
    if quick_extra is not None:  # keep the module (and subcommand), replace the shape
        keep = 2 if parts[0] == "bench.peers" else 1
        parts = parts[:keep] + quick_extra.split()
    return ["-m", *parts]


def run_one(args: list[str], timeout: float) -> dict:
    env = dict(os.environ, **QUIET_ENV, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "command": " ".join(["python", *args])}
    wall = round(time.perf_counter() - start, 1)
    try:
        result = last_json(proc.stdout)
    except ValueError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail), "command": " ".join(["python", *args])}
    result.update(command=" ".join(["python", *args]), process_wall_s=wall)
    return result


def judge(name: str, seqlab: dict, peer: dict | None, metric: str, target: float | None) -> dict:
    row = {
        "row": name,
        "metric": metric,
        "seqlab": seqlab.get(metric),
        "peer": (peer or {}).get(metric),
        "target": target,
    }
    checks = []
    if target is not None and row["seqlab"] and row["peer"]:
        row["ratio"] = round(row["seqlab"] / row["peer"], 2)
        checks.append(row["ratio"] >= target)
    else:
        row["ratio"] = None
    if name.startswith("gen_"):
        row["first_token_ms"] = seqlab.get("first_token_ms")
        row["peer_first_token_ms"] = (peer or {}).get("first_token_ms")
        row["retraces_after_setting_change"] = (seqlab.get("setting_change") or {}).get("retraces")
        if row["first_token_ms"] is not None:
            checks.append(row["first_token_ms"] < FIRST_TOKEN_MS)
        if row["retraces_after_setting_change"] is not None:
            checks.append(row["retraces_after_setting_change"] == 0)
    if name == "app_startup" and row["seqlab"] is not None:
        checks.append(row["seqlab"] < APP_READY_S)
    row["pass"] = bool(checks) and all(checks) and "error" not in seqlab and "error" not in (peer or {})
    errors = [f"{who}: {r['error']}" for who, r in (("seqlab", seqlab), ("peer", peer or {})) if "error" in r]
    if errors:
        row["errors"] = errors
    return row


def table(rows: list[dict]) -> str:
    out = [
        "| row | metric | SeqLab | transformers | ratio | target | first token ms (SeqLab / HF) | pass |",
        "|---|---|---:|---:|---:|---:|---:|:-:|",
    ]
    for r in rows:
        target = (
            f">= {r['target']}x" if r["target"] else (f"< {APP_READY_S:.0f} s" if r["row"] == "app_startup" else "")
        )
        ftm = ""
        if "first_token_ms" in r:
            ftm = f"{r['first_token_ms']} / {r['peer_first_token_ms']}"
        out.append(
            f"| {r['row']} | {r['metric']} | {r['seqlab']} | {r['peer'] if r['peer'] is not None else '-'} | "
            f"{r['ratio'] if r['ratio'] is not None else '-'} | {target} | {ftm} | "
            f"{'yes' if r['pass'] else 'NO'} |"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    p.add_argument("--rows", default=",".join(ROWS), help=f"comma list of {', '.join(ROWS)}")
    p.add_argument("--quick", action="store_true", help="tiny shapes and few steps (plumbing check)")
    p.add_argument("--no-peer", action="store_true", help="SeqLab only")
    p.add_argument("--timeout", type=float, default=900, help="seconds per benchmark process")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="run each row's pair this many times, one after the other (a shared machine's load moves): the "
        "row's ratio is the median of the pairs' ratios",
    )
    args = p.parse_args(argv)
    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        p.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    if args.quick:
        names = [n for n in names if n in QUICK]
    rows, raw = [], {}
    for name in names:
        desc, mine, theirs, metric, target = ROWS[name]
        quick = QUICK.get(name) if args.quick else (None, None)
        print(f"[{name}] {desc}", file=sys.stderr, flush=True)
        pairs = []
        for _ in range(max(1, args.repeats)):
            seqlab = run_one(_args(mine, quick[0]), args.timeout)
            peer = None if theirs is None or args.no_peer else run_one(_args(theirs, quick[1]), args.timeout)
            pairs.append((seqlab, peer, judge(name, seqlab, peer, metric, target)))
            print(f"  seqlab {seqlab.get(metric)}  peer {(peer or {}).get(metric)}", file=sys.stderr, flush=True)
        ratios = [row["ratio"] for *_, row in pairs if row["ratio"] is not None]
        # the pair whose ratio is the median one stands for the row; every pair's figures are kept
        seqlab, peer, row = sorted(pairs, key=lambda p: p[2]["ratio"] or 0)[len(pairs) // 2]
        if len(pairs) > 1:
            row["ratios"] = ratios
            row["pass"] = row["pass"] and bool(ratios) and statistics.median(ratios) >= (target or 0)
        raw[name] = {"seqlab": seqlab, "peer": peer}
        if len(pairs) > 1:
            raw[name]["repeats"] = [{"seqlab": a, "peer": b} for a, b, _ in pairs]
        rows.append(row)
    report = {
        "rows": rows,
        "results": raw,
        "machine": machine(),
        "quick": args.quick,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(table(rows))
    print()
    emit(report, args.out)
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
