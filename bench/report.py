"""Write every table of measured figures in README.md and docs/ from the recorded results.

A table stands between two markers in a Markdown file:

    <!-- report:NAME -->
    ... written by the table's function ...
    <!-- /report -->

`python -m bench.report` rewrites what stands between every pair from the results (each model folder's
`metrics.json`, `bench/results/*.json`); `python -m bench.report --check` writes nothing and exits 1 naming each
table that differs from what it would write (so a figure typed by hand, or a result re-measured without the docs
being regenerated, fails the check). Adding a table is one function and its `@table("NAME")` line below: the
function gets the path of the file it writes into (links differ between README.md and docs/) and returns Markdown,
which should name the machine, the command and the results file.
"""

import argparse
import glob
import json
import os
import re
import sys
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = "bench/results"
# markers stand at the start of a line: an indented one (an example in a code block) is text
MARKER = re.compile(r"^(<!-- report:([a-z0-9_]+) -->\n)(.*?)^(<!-- /report -->)", re.S | re.M)
TABLES: dict[str, Callable[[str], str]] = {}


def table(name: str):
    """Register a table: `fn(where) -> markdown`, `where` the repository-relative path of the file it goes into."""

    def register(fn):
        TABLES[name] = fn
        return fn

    return register


class ReportError(Exception):
    """A table cannot be written: an unknown table name, or a results file it needs is missing."""


class Missing(ReportError):
    """A results file a table needs is not there."""


# ---- helpers the tables share ----------------------------------------------------------------------------------


def load(path: str) -> dict:
    full = os.path.join(ROOT, path)
    if not os.path.exists(full):
        raise Missing(f"{path} is missing: run the command that writes it")
    with open(full, encoding="utf-8") as f:
        return json.load(f)


def result(name: str) -> dict:
    return load(f"{RESULTS}/{name}.json")


def machine(record: dict | None, fallback: str = "machine not recorded") -> str:
    """`AMD EPYC (avx2), 2 cores, load 1.4`: the CPU model and vector ISA a result was measured on."""
    if not record:
        return fallback
    if isinstance(record, str):
        return record
    cpu = record.get("cpu") or record.get("machine") or "CPU not recorded"
    isa = record.get("isa") or "ISA not recorded"
    text = f"{cpu} ({isa}), {record.get('cpus', '?')} cores"
    if record.get("loadavg_1m") is not None:
        text += f", load {record['loadavg_1m']}"
    return text


def md(header: list[str], rows: list[list], align: str = "") -> str:
    """A Markdown table; `align` one letter a column, `l` or `r` (default `l`)."""
    align = align.ljust(len(header), "l")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def source(command: str, path: str, record: dict | str | None) -> str:
    return f"Measured by `{command}` (`{path}`) on {machine(record)}."


def link(where: str, target: str, text: str) -> str:
    """A link from README.md to a repository file; in docs/ (which MkDocs builds alone) the path as code."""
    if where == "README.md":
        return f"[{text}]({target})"
    return f"{text} (`{target}`)"


def target(row: dict) -> tuple[str, str]:
    """A bench row's target as `≥ 2x` and whether it was met (`met`, `missed`, or blank without a target)."""
    goal = f"≥ {row['target']:g}x" if row.get("target") else ""
    return goal, {True: "met", False: "missed", None: ""}[row.get("pass")]


def n(value, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


# ---- the tables ------------------------------------------------------------------------------------------------

MODEL_FOLDERS = [
    ("char-transformer", "lm/models/char-transformer"),
    ("char-lstm", "lm/models/char-lstm"),
    ("elmo", "lm/models/elmo"),
    ("bert", "pretrain/models/bert"),
    ("bert-imdb", "pretrain/models/bert-imdb"),
    ("bert-modern", "pretrain/models/bert-modern"),
    ("translate-rnn", "translate/models/translate-rnn"),
    ("translate-transformer", "translate/models/translate-transformer"),
    ("sentiment", "classify/models/sentiment"),
]


def _held_out(name: str, m: dict) -> str:
    if "val_loss_forward" in m:
        return f"forward / backward **{m['val_loss_forward']:.3f} / {m['val_loss_backward']:.3f}** nats/word"
    if "mlm_accuracy" in m:
        return f"MLM accuracy **{m['mlm_accuracy']:.3f}**, NSP **{m['nsp_accuracy']:.3f}**"
    if "accuracy" in m:
        return f"test accuracy **{m['accuracy']:.3f}**, F1 {m['f1']:.3f} ({m['examples']:,} reviews)"
    if "val_bleu_greedy" in m:
        bleu = f"greedy BLEU {m['val_bleu_greedy']:.1f} ({m['bleu_pairs']} verses)"
        return f"validation loss **{m['val_loss']:.3f}**, {bleu}"
    return f"**{m['val_loss']:.3f}** nats/char"


def _trained(m: dict) -> str:
    steps = m.get("step", m.get("steps"))
    done = f"{steps:,} steps" if steps is not None else f"{m['epochs']} epochs"
    data = m.get("corpus") or m.get("pair") or m.get("data")
    return f"`{data}`, {done}, {m['seconds'] / 60:.1f} min"


def _machine_of_model(m: dict) -> str:
    if isinstance(m.get("machine"), dict):
        return machine(m["machine"])
    if "machine" in m:
        return m["machine"] + ("" if "EPYC" in m["machine"] or "Xeon" in m["machine"] else "; CPU model not recorded")
    note = m.get("note", "") + " " + m.get("command", "")
    if "H100" in note or "h100" in note:
        return "one H100"
    if "2-core machine" in note:
        return "2 CPU cores (its note); CPU model not recorded"
    return "a machine not recorded"


@table("models")
def models(where: str) -> str:
    rows = []
    for name, folder in MODEL_FOLDERS:
        m = load(f"{folder}/metrics.json")
        card = link(where, f"{folder}/README.md", f"`{name}`")
        params = f"{m['parameters'] / 1e6:.2f} M" if "parameters" in m else ""
        rows.append([card, params, _trained(m), _held_out(name, m), _machine_of_model(m)])
    text = md(["model (card)", "parameters", "trained on, for", "held-out result (`metrics.json`)", "machine"], rows)
    return text + "\n\nFrom each model folder's `metrics.json`; the card in the folder holds the command that made it."


@table("sense_match")
def sense_match(where: str) -> str:
    r = result("sense_match")
    rows = [
        [rep, f"{v['score']:.3f}", n(v.get("development_score"), 3), f"{v['chance']:.3f}"]
        for rep, v in r["results"].items()
    ]
    held, dev = len(r.get("held_out_words", [])), len(r.get("development_words", []))
    text = md(
        ["representation", f"score ({held} held-out words)", f"development words ({dev})", "chance"], rows, "lrrr"
    )
    return text + "\n\n" + source("python -m bench.sense_match --out bench/results/sense_match.json",
                                  f"{RESULTS}/sense_match.json", r.get("machine"))  # fmt: skip


@table("bert_heldout")
def bert_heldout(where: str) -> str:
    r = result("bert_heldout")
    names = list(r["models"])
    rows = []
    for s in r["sets"]:
        cells = [f"`{s['set']}`", s["documents"]]
        for name in names:
            m = s.get(name)
            cells.append(
                f"{m['mlm_accuracy']:.3f} / {m['nsp_accuracy']:.3f} / {m['nsp_accuracy_same_doc']:.3f}" if m else ""
            )
        c = s["counters"]
        cells.append(
            f"{c['trigram_mlm_accuracy']:.3f} / {c['bigram_mlm_accuracy']:.3f} / {c['unigram_mlm_accuracy']:.3f}"
        )
        rows.append(cells)
    header = ["held-out set", "docs"] + [f"`{x}`" for x in names] + ["trigram / bigram / unigram counter"]
    text = md(header, rows, "lr")
    return (
        text
        + "\n\nEach model cell: MLM accuracy / NSP accuracy with other-document negatives / with same-document ones. "
        + source(
            "python -m bench.bert_heldout --out bench/results/bert_heldout.json",
            f"{RESULTS}/bert_heldout.json",
            r.get("machine"),
        )  # fmt: skip
    )


@table("gpu_pretrain")
def gpu_pretrain(where: str) -> str:
    r = result("gpu_pretrain_h100")
    rows = []
    for key, run in r["runs"].items():
        corpus = re.search(r"--corpus (\S+)", run["command"]).group(1)
        batch = re.search(r"--batch-size (\d+)", run["command"])
        extra = re.search(r"--dropout ([0-9.]+)", run["command"])
        what = f"`{corpus}`" + (f", dropout {extra.group(1)}" if extra and float(extra.group(1)) else "")
        rows.append(
            [
                key,
                what,
                f"{run['steps']:,} × {batch.group(1) if batch else '?'}",
                f"{run['steps_per_s']:.1f}",
                f"**{run['mlm_accuracy']:.3f}**",
                f"**{run['nsp_accuracy']:.3f}**",
            ]  # fmt: skip
        )
    text = md(["run", "corpus", "steps × batch", "steps/s", "held-out MLM", "held-out NSP"], rows, "llrrrr")
    device = f"one {r['device'].upper()}, {r['runs_side_by_side']} runs side by side"
    return text + "\n\n" + source("bash bench/gpu_pretrain.sh run 7.5", f"{RESULTS}/gpu_pretrain_h100.json", device)


COMPARE_ROWS = {
    "gen_4l128": "streaming generation, tokens/s (4 layers, 128-d, vocab 65)",
    "gen_6l384": "streaming generation, tokens/s (6 layers, 384-d, vocab 65)",
    "bert_l2h128": "BERT MLM+NSP training, sequences/s (L2/H128, seq 128, batch 32)",
    "lm_train_4l128": "LM training, tokens/s (4 layers, 128-d, seq 64, batch 12)",
    "lm_train_4l128_cpu_defaults": "the same without core.jit.configure (the CPU libraries' defaults)",
    "app_startup": "app start-up to the first answer, s (tiny models)",
}


def compare_table(name: str, command: str) -> str:
    r = result(name)
    rows = []
    for row in r["rows"]:
        ratio = f"**{row['ratio']:.2f}x**" if row.get("ratio") else ""
        rows.append(
            [COMPARE_ROWS.get(row["row"], row["row"]), n(row["seqlab"], 1), n(row["peer"], 1), ratio, *target(row)]
        )
    text = md(["what", "SeqLab", "transformers (PyTorch)", "ratio", "target", ""], rows, "lrrrl")
    when = f" ({r['when']})" if r.get("when") else ""
    return text + "\n\n" + source(command, f"{RESULTS}/{name}.json", r.get("machine"))[:-1] + when + "."


def serve_table(name: str, command: str) -> str:
    r = result(name)
    off = {(x["users"], x["mixed"]): x for x in r["modes"].get("off", [])}
    rows = []
    for on in r["modes"]["on"]:
        o = off.get((on["users"], on["mixed"]), {})
        t, to = on["ttft_ms"], o.get("ttft_ms", {})
        split = [on[k]["p95"] for k in ("ttft_first_ms", "ttft_later_ms") if k in on]  # older records lack it
        users = f"{on['users']}{', mixed' if on['mixed'] else ''}"
        ttft_off = " / ".join(n(to.get(k)) for k in ("p50", "p95", "p99")) if to else ""
        ttft_on = " / ".join(n(t[k]) for k in ("p50", "p95", "p99"))
        tps = f"{n(o.get('output_tokens_per_s'))} → **{n(on['output_tokens_per_s'])}**"
        rows.append(
            [
                users,
                f"{ttft_off} → **{ttft_on}**",
                tps,
                f"{n(o.get('completed'))} → {n(on['completed'])}",
                f"{n(on['itl_ms']['p50'])} / {n(on['itl_ms']['p95'])}",
                f"{on['busy']} / {on['errors']}",
                " / ".join(n(v) for v in split),
            ]  # fmt: skip
        )
    header = ["users", "TTFT p50 / p95 / p99, ms: off → **on**", "output tokens/s: off → **on**", "chats",
              "ITL p50 / p95 ms (on)", "busy / errors (on)",
              "TTFT p95, ms (on): first chats / later"]  # fmt: skip
    return md(header, rows) + "\n\n" + source(command, f"{RESULTS}/{name}.json", r.get("machine"))


# One record, one table: (the table's function, the results file's name, the command that writes it).
RECORDED = {
    "compare": (compare_table, "compare_cpu", "python -m bench.compare --out bench/results/compare_cpu.json"),
    "compare_avx2": (
        compare_table,
        "compare_avx2",
        "python -m bench.compare --rows lm_train_4l128,lm_train_4l128_cpu_defaults,bert_l2h128,gen_4l128,gen_6l384"
        " --out bench/results/compare_avx2.json",
    ),
    "serve": (serve_table, "serve_cpu", "python -m bench.serve --out bench/results/serve_cpu.json"),
    "serve_avx2": (
        serve_table,
        "serve_avx2",
        "python -m bench.serve --users 16 --seconds 30 --modes on --mixed-users 0 --out bench/results/serve_avx2.json",
    ),
}
for _name, (_make, _record, _command) in RECORDED.items():
    table(_name)(lambda where, make=_make, record=_record, command=_command: make(record, command))


TRANSLATE_NOTE = "(`bench/results/translate.json` records no machine: its BLEU and chrF do not depend on one)"


@table("prepare_memory")
def prepare_memory(where: str) -> str:
    r = result("prepare_memory_cpu")
    base = r["start_up"]
    rows = [
        [f"{x['mb']:g} MB", f"{x['tokens']:,}", f"{x['shards']}", f"**{x['peak_rss_mb']:,.0f}**",
         f"{x['peak_rss_mb'] - base['peak_rss_mb']:,.0f}", f"{x['mb_per_s']:.2f}", f"{x['stream_mb_per_s']:.2f}"]
        for x in r["runs"]
    ]  # fmt: skip
    text = md(
        ["corpus", "tokens", "shards", "peak RSS, MiB", "above start-up, MiB", "MB/s (command)", "MB/s (stream)"],
        rows,
        "lrrrrrr",
    )
    met = "met" if r["met"] else "missed"
    text += (
        f"\n\nPeak RSS of the largest over the smallest: **{r['peak_ratio']:.2f}x** (target within 20%: {met}), "
        f"{r['above_start_up_ratio']:.2f}x above start-up; "
        f"start-up (a {base['mb']:g} MB file): {base['peak_rss_mb']:,.0f} MiB, {base['wall_s']:.1f} s."
    )
    end = (r.get("machine") or {}).get("loadavg_1m_end")
    text += f" Other jobs shared the CPU: load {end} at the end." if end and end > 2 else ""
    return text + "\n\n" + source(r["command"] + " --out " + f"{RESULTS}/prepare_memory_cpu.json",
                                  f"{RESULTS}/prepare_memory_cpu.json", r.get("machine"))  # fmt: skip


@table("nsp_negatives")
def nsp_negatives(where: str) -> str:
    r = result("nsp_negatives_cpu")
    rules, base = list(r["scores"]), r.get("all_not_next", {})

    def cell(x: dict, key: str = "nsp_accuracy", same: str = "nsp_accuracy_same_doc") -> str:
        return f"{x[key]:.3f} / {x[same]:.3f}"

    rows = [
        [f"`{name}`", n]
        + [cell(r["scores"][rule][name]) for rule in rules]
        + ([cell(base[name], "other_doc", "same_doc")] if base else [])
        for name, n in r["sets"].items()
    ]
    rows.append(["mean", ""] + [f"**{cell(r['mean'][x])}**" for x in rules] + ([""] if base else []))
    header = ["held-out set", "docs"] + [f"`--nsp-negatives {x}`" for x in rules] + (["NotNext to all"] if base else [])
    text = md(header, rows, "lr")
    s, runs = r["settings"], r["runs"]
    text += (
        "\n\nEach cell: NSP accuracy with other-document / with same-document negatives; the last column is what "
        "answering NotNext to every pair scores on the same pairs. Both runs: "
        f"`--preset {s['preset']} --seq-len {s['seq_len']} --batch-size {s['batch_size']} --steps {s['steps']} "
        f"--seed {s['seed']}` on `{r['corpus']}`, the same prepared shards; validation NSP on the mix with each "
        f"run's own negatives: "
        + ", ".join(f"{x} {runs[x]['val_nsp_accuracy']:.3f}" for x in rules)
        + "; "
        + ", ".join(f"{x} {runs[x]['wall_s'] / 60:.1f} min" for x in rules)
        + "."
    )
    end = (r.get("machine") or {}).get("loadavg_1m_end")
    text += f" Other jobs shared the CPU: load {end} at the end." if end and end > 2 else ""
    return text + "\n\n" + source(r["command"] + f" --out {RESULTS}/nsp_negatives_cpu.json",
                                  f"{RESULTS}/nsp_negatives_cpu.json", r.get("machine"))  # fmt: skip


@table("translate_bundled")
def translate_bundled(where: str) -> str:
    r = result("translate")
    rows = []
    for name, b in r["bundled"].items():
        m = load(f"translate/models/{name}/metrics.json")
        books = ", ".join(f"{k} {v['bleu']:.1f}" for k, v in b.get("books", {}).items())
        rows.append([f"`{name}`", f"{m['step']:,} steps, {m['seconds'] / 60:.1f} min", b["alpha"],
                     f"**{b['bleu']:.1f}**", f"{b['chrf']:.1f}", books])  # fmt: skip
    text = md(["model", "training", "alpha", "test BLEU", "test chrF", "BLEU by book"], rows, "llrrr")
    sig = next(iter(r["bundled"].values()))["bleu_signature"]
    return text + (
        f"\n\nBeam 4 on the {next(iter(r['bundled'].values()))['sentences']:,} test verses; sacrebleu `{sig}`. "
        f"`python bench/experiments/translate_results.py bundled` {TRANSLATE_NOTE}."
    )


@table("translate_tuned")
def translate_tuned(where: str) -> str:
    r = result("translate")["tuned"]
    alphas = [s["alpha"] for s in next(iter(r.values()))["scores"]]
    rows = [
        [f"`{name}`"] + [f"{s['bleu']:.1f} / {s['chrf']:.1f}" for s in t["scores"]] + [t["best_alpha"]]
        for name, t in r.items()
    ]
    text = md(
        ["validation BLEU / chrF at alpha"] + [str(a) for a in alphas] + ["chosen"], rows, "l" + "l" * len(alphas) + "r"
    )
    return text + f"\n\n`python -m translate.tune --model M --pair web-es --write` for each {TRANSLATE_NOTE}."


@table("translate_kjv_web")
def translate_kjv_web(where: str) -> str:
    r = result("translate")["kjv-web"]
    first = next(iter(r.values()))
    rows = [["copy baseline (the source as it is)", "", f"{first['copy_bleu']:.1f}", f"{first['copy_chrf']:.1f}"]]
    for arch, x in r.items():
        rows.append(
            [arch, f"{x['steps']:,} in {x['seconds'] / 60:.0f} min", f"**{x['bleu']:.1f}**", f"{x['chrf']:.1f}"]
        )
    text = md(["model", "steps (side by side)", "test BLEU", "test chrF"], rows, "lrrr")
    return text + f"\n\n`python bench/experiments/translate_results.py kjv` {TRANSLATE_NOTE}."


@table("translate_examples")
def translate_examples(where: str) -> str:
    r = result("translate")["examples"]
    names = [k for k in r[0] if k != "english"]
    rows = [[x["english"]] + [x[k] for k in names] for x in r]
    text = md(["English"] + [f"`{k}`" for k in names], rows)
    return text + f"\n\nBeam 4: `python bench/experiments/translate_results.py examples` {TRANSLATE_NOTE}."


@table("translate_speed")
def translate_speed(where: str) -> str:
    r = result("translate_speed_cpu")
    rows = []
    for row in r["rows"]:
        cells = [row["row"], row["metric"], n(row["seqlab"], 1), n(row["marian"], 1), f"**{row['ratio']:.2f}x**"]
        rows.append(cells + [" ".join(target(row)).strip()])
    text = md(["measurement", "unit", "SeqLab", "MarianMT", "ratio", "target"], rows, "llrrr")
    cmd = "python -m bench.translate_speed --rounds 3 --out bench/results/translate_speed_cpu.json"
    return text + "\n\n" + source(cmd, f"{RESULTS}/translate_speed_cpu.json", r.get("machine"))


@table("retrain")
def retrain(where: str) -> str:
    """The command that made each bundled model, as its metrics.json records it (resumed runs: each command)."""
    blocks = []
    for name, folder in MODEL_FOLDERS:
        m = load(f"{folder}/metrics.json")
        commands = [c for _, c in m["commands"]] if "commands" in m else [m["command"]]
        where_run = _machine_of_model(m)
        blocks.append(f"- `{name}` ({m['seconds'] / 60:.1f} min on {where_run}):\n\n")
        blocks.append("".join(f"        {c}\n" for c in commands) + "\n")
    return "".join(blocks).rstrip("\n") + "\n\nFrom each model folder's `metrics.json` (its card says the same)."


@table("translate_parts")
def translate_parts(where: str) -> str:
    r = result("translate_parts")["parts"]
    rows = [[x["lanes"], f"{x['part_sentences']} sentences ({x['part_hypotheses']} hypotheses)",
             f"{x['sentences_per_s']:.1f}", f"{x['cores_busy']:.2f}"] for x in r["rows"]]  # fmt: skip
    text = md(["lanes", "part", "sentences/s", "cores busy"], rows, "rlrr")
    return text + f"\n\n`{r['command']}` (`{RESULTS}/translate_parts.json`; {machine(r.get('machine'))})."


@table("live")
def live(where: str) -> str:
    """The Train tab's jobs (bench.live): what a job of a few seconds reaches against its counters."""
    r = result("live_cpu")
    b = r["bert"]
    rows = [["bert (MLM)", b["steps"], f"{b['steps_per_second']:.1f}", f"accuracy {b['heldout_mlm_accuracy']:.3f}",
             f"most frequent token {b['unigram_mlm_accuracy']:.3f}"],
            ["bert (NSP)", "", "", f"accuracy {b['heldout_nsp_accuracy']:.3f}",
             f"majority label {b['unigram_nsp_accuracy']:.3f}, chance {b['chance_nsp_accuracy']:.3f}"]]  # fmt: skip
    for name, m in r["lm"]["models"].items():
        at = " / ".join(f"{v:.2f}" for v in m["heldout_loss_at"].values())
        secs = " / ".join(m["heldout_loss_at"])
        against = f"unigram {m['unigram_loss']:.2f}, chance {m['chance_loss']:.2f}"
        rows.append(
            [name.rsplit("-", 1)[0], m["steps"], f"{m['steps_per_second']:.1f}", f"{at} nats/char at {secs} s", against]
        )
    text = md(["job", "steps", "steps/s", "held-out", "against"], rows, "lrrll")
    flag = "--nice-only " if r.get("job_priority") == "nice 10" else ""
    said = source(
        f"python -m bench.live {flag}--out bench/results/live_cpu.json", f"{RESULTS}/live_cpu.json", r.get("machine")
    )
    priority = f", the jobs {r['job_priority']}" if "job_priority" in r else ""
    return text + "\n\n" + said[:-1] + f" (`{r['corpus']}`, {r['seconds']:g} s a job{priority}; a shared machine)."


@table("live_latency")
def live_latency(where: str) -> str:
    """The app's latency idle and while a Train-tab job trains (bench.live --latency), and the job's speed there."""
    r = result("live_latency_cpu")
    rows = []
    for label, key in (("idle", "idle"), ("while an lm job trains", "training")):
        p = r[key]
        rows.append([label, p["chats"], f"{p['ttft_ms']['p50']:.0f} / {p['ttft_ms']['p95']:.0f}",
                     f"{p['classify_ms']['p50']:.0f} / {p['classify_ms']['p95']:.0f}"])  # fmt: skip
    text = md(["app", "chats", "chat first token p50 / p95 (ms)", "/classify p50 / p95 (ms)"], rows, "lrrr")
    ratio, shared = r["ratios"]["chat_ttft_p95_training_over_idle"], r["ratios"].get("lm_shared_live_over_cli")
    speeds = [
        f"{name.split('-')[1]} {m['steps_per_second']:.1f} steps/s"
        + (f" ({r['cli'][name.split('-')[1]]['live_ratio']:.2f} of the command line's)" if "cli" in r else "")
        for name, m in r["lm"]["models"].items()
    ]
    said = source(
        "python -m bench.live --latency --out bench/results/live_latency_cpu.json",
        f"{RESULTS}/live_latency_cpu.json",
        r.get("machine"),
    )
    return (
        text
        + f"\n\nChat's first-token p95 while the job trains is {ratio:.1f}x its idle value; the job trained at "
        + ", ".join(speeds)
        + (f" meanwhile, together {shared:.2f} of training them one after the other" if shared else " meanwhile")
        + f". {said[:-1]} (`{r['corpus']}`, a {r['seconds']:g} s job, {r.get('job_priority', 'niced')})."
    )


def _app_startup(name: str) -> str:
    """The start-up sentence of one record: the first answer, and when it says so, when the LM engines served chat."""
    r = result(name)
    engines = f", and its LM engines served chat {r['engines_s']:.1f} s after the start" if r.get("engines_s") else ""
    return (
        f"With `.venv/` installed, `bash scripts/app.sh` answers its first request {r['first_answer_s']:.0f} s"
        f" after it starts, every bundled model loaded{engines} (`{r['command']}`, `{RESULTS}/{name}.json`, "
        f"{machine(r.get('machine'))})."
    )


@table("app_startup_avx2")
def app_startup_avx2(where: str) -> str:
    return _app_startup("app_startup_avx2")


SENTIMENT_ARMS = [  # (label, the run's key in bench/results/sentiment.json; seeds 1 and 2 add -seed1 / -seed2)
    ("BiLSTM from scratch", "bilstm"),
    ("CNN from scratch", "cnn"),
    ("BERT L4/H224, random init, `bert-imdb`'s vocabulary", "bert-imdb-random-lr1e-4"),
    ("**BERT L4/H224, pretrained `bert-imdb`** (the bundled `sentiment` is seed 0)", "bert-imdb-gpu-pretrained-lr3e-4"),
    ("BERT L4/H224, the CPU-pretrained `bert-imdb` it replaced", "bert-imdb-pretrained-lr1e-4"),
]


@table("sentiment")
def sentiment(where: str) -> str:
    r = result("sentiment")
    rows = []
    for label, key in SENTIMENT_ARMS:
        runs = [r[k] for k in (key, f"{key}-seed1", f"{key}-seed2") if k in r]
        acc = " / ".join(f"{x['accuracy']:.3f}" for x in runs)
        if len(runs) > 1:
            acc += f" — mean **{sum(x['accuracy'] for x in runs) / len(runs):.3f}**"
        f1 = sum(x["f1"] for x in runs) / len(runs)
        epochs = sorted({x["epochs"] for x in runs})
        epochs = f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else epochs[0]
        lr = re.search(r"--lr (\S+)", runs[0]["command"])
        params = f"{runs[0]['parameters'] / 1e6:.2f} M"
        rows.append([label, params, lr.group(1) if lr else "", len(runs), acc, f"{f1:.3f}", epochs])
    header = ["model", "parameters", "peak lr", "seeds", "test accuracy (seeds 0 / 1 / 2)", "test F1 (mean)", "epochs"]
    text = md(header, rows, "lrrrlrr")
    return text + (
        f"\n\nOn the {runs[0]['examples']:,} test reviews; `python -m classify train ...` per arm, the commands in "
        "`bench/results/sentiment.json` (`python bench/experiments/sentiment_bert.py` runs the BERT arms), which "
        "records no machine: accuracy does not depend on one."
    )


# ---- writing and checking --------------------------------------------------------------------------------------


def documents(root: str = ROOT) -> list[str]:
    """The Markdown files that may hold tables, repository-relative."""
    paths = ["README.md"] + sorted(glob.glob("docs/**/*.md", root_dir=root, recursive=True))
    return [p for p in paths if os.path.exists(os.path.join(root, p))]


def render(text: str, where: str) -> str:
    """`text` with every marked table rewritten; an unknown table name is an error naming the file."""

    def fill(match):
        name = match.group(2)
        if name not in TABLES:
            raise ReportError(f"no table named {name!r} in bench/report.py (known: {', '.join(sorted(TABLES))})")
        return match.group(1) + TABLES[name](where).rstrip("\n") + "\n" + match.group(4)

    return MARKER.sub(fill, text)


def run(root: str = ROOT, check: bool = False, paths: list[str] | None = None, out=None) -> int:
    """Rewrite (or with `check`, compare) every marked table under `root` (or only in `paths`, repository-relative);
    returns the exit status."""
    from core import files

    out = out or sys.stdout
    global ROOT
    saved, ROOT = ROOT, root
    try:
        stale, problems = [], []
        for path in paths or documents(root):
            full = os.path.join(root, path)
            with open(full, encoding="utf-8") as f:
                text = f.read()
            try:
                new = render(text, path)
            except ReportError as e:
                problems.append(f"{path}: {e}")
                continue
            if new != text:
                stale.append(path)
                if not check:
                    files.write_text(full, new)
    finally:
        ROOT = saved
    for p in problems:
        print(f"error: {p}", file=out)
    if check and stale:
        print("tables differ from the recorded results (run `python -m bench.report`): " + ", ".join(stale), file=out)
    elif stale:
        print("rewrote " + ", ".join(stale), file=out)
    return 1 if problems or (check and stale) else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n")[0])
    p.add_argument(
        "paths", nargs="*", help="only these Markdown files, relative to --root (default: README.md and docs/)"
    )
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table differs from the results")
    p.add_argument("--root", default=ROOT, help="the repository to read and write (default: this one)")
    args = p.parse_args(argv)
    root = os.path.abspath(args.root)
    paths = [os.path.relpath(p, root) if os.path.isabs(p) else os.path.normpath(p) for p in args.paths]
    for p in paths:
        if not os.path.isfile(os.path.join(root, p)):
            print(f"error: {p}: no such file", file=sys.stderr)
            return 2
    return run(root, check=args.check, paths=paths)


if __name__ == "__main__":
    sys.exit(main())
