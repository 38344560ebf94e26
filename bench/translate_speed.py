"""Translation speed, SeqLab against Hugging Face MarianMT of the same sizes, in one run (issue 15).

    python -m bench.translate_speed                                   # the bundled translate-transformer
    python -m bench.translate_speed --model runs/tr --out bench/results/translate_speed_cpu.json
    python -m bench.translate_speed --model translate-rnn             # SeqLab's own numbers; the peer keeps the
                                                                      # transformer's shape (there is no RNN twin)

Sentences: the first --sentences (64) test verses of corpus.parallel's web-es (or of a --tsv file, in file
order) whose source fits the model's max_src_len. Both sides get the same texts, tokenized with the SeqLab
model's own tokenizer, and return texts.

Peer: transformers.MarianMTModel with random weights, PyTorch on the CPU, MarianConfig with the model's vocab
sizes (encoder and decoder embeddings apart, the output projection tied to the decoder's, as SeqLab's),
d_model, layers, heads, ffn dim, max positions, dropout and ids ([PAD]=0 is pad, [END]=3 eos, [START]=2 the
decoder start). Differences by design: Marian is post-LN with sine positions, SeqLab pre-LN with learned ones.

1. Beam-4 decoding, batches of --batch (32), and batch 1 for the first --batch1 (4) sentences: SeqLab through
   `Translator.translate(texts, beam=4)` (its real outputs); MarianMT's `generate(num_beams=4, use_cache=True)`
   with `min_new_tokens = max_new_tokens =` the longest SeqLab output of the batch, [END] counted: with random
   weights Marian never ends a hypothesis, so this makes it run as many decoder steps as SeqLab's longest
   hypothesis (SeqLab's parts each stop at their own longest, by design). Text in, text out on both sides.
   One untimed pass first (SeqLab compiles there), then the median of --repeats timed passes.
   The target compares sentences/s (the same sentences, so the time ratio); each side's output tokens/s counts
   its own output tokens (SeqLab: the real lengths with [END]; Marian: batch x steps).
   SeqLab's translate_ids decodes a call in parts of 16 hypotheses, two at a time in threads (--lanes 1: one).
   --rounds N runs both sides N times, alternating, and reports the round with the median decoding ratio.
2. Training: one step (teacher forcing, label-smoothed cross-entropy 0.1 averaged over non-[PAD] targets,
   AdamW, global-norm clipping 1.0) at --train-batch (64) pairs of the same sentences, --train-warmup (3) untimed
   steps, then the median of --train-steps (10). SeqLab: translate.model.build + core.optim.make_optimizer +
   translate.train.smoothed_loss, `train_on_batch` compiled as translate.train compiles it (with XLA or without:
   translate.train's default unless --jit / --no-jit); Marian: torch.optim.AdamW, cross_entropy(label_smoothing)
   on labels with -100 on [PAD]. target tokens/s = non-[PAD] decoder targets / step time.
3. Where the time goes (measured and printed unless --no-breakdown): the first batch decoded for 1 step
   (max_len=1 / max_new_tokens=1) against the full one gives each side's fixed cost (encoder, setup, host copies)
   and its wall time per decoder step of the batch (SeqLab's: its parts, two lanes at a time); training splits
   into forward+loss and backward+update.

Padding (--peer-padding): SeqLab always pads to its fixed widths (max_src_len, max_tgt_len: it compiles once);
Marian is fed as Hugging Face's tokenizers and collators feed it, padded to the batch's longest ("longest", the
default), or to SeqLab's widths ("fixed").

Each side runs in its own subprocess (bench/translate_sides.py: TensorFlow and PyTorch never share a process or
its cores), SeqLab first.
Threads: --threads (0: the machine's cores) for both: torch.set_num_threads and TensorFlow's intra/inter-op pools.
On a machine whose cores are busy, PyTorch's threads wait on each other (bench/README.md): measure on an idle one,
or compare with --threads 1 too.
Progress and a markdown table go to stderr; the last line of stdout is the JSON; --out also writes it (atomically).
Exit 0 when every target is met, 1 when one is missed, 2 on bad arguments or a failed side, 3 without torch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import QUIET_ENV, emit, last_json, log, machine
from bench.translate_sides import ALPHA
from core.files import read_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DECODE_TARGET, TRAIN_TARGET = 2.0, 1.0
FAIRNESS = (
    "MarianMT has random weights and never emits [END], so it runs as many decoder steps as SeqLab's longest "
    "output of the batch: generate(num_beams=beam, use_cache=True, min_new_tokens = max_new_tokens = that "
    "length, [END] counted); SeqLab decodes the batch in parts (PART_ROWS hypotheses), each stopping at its own "
    "longest output. Same texts, same tokenizer, text in and text out on both sides."
)


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.translate_speed", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="translate-transformer", help="bundled name, model folder or Hub repo id")
    p.add_argument("--tsv", help="source<TAB>target file instead of web-es's test verses (pairs in file order)")
    p.add_argument("--sentences", type=int, default=64, help="source sentences decoded per pass")
    p.add_argument("--batch", type=int, default=32, help="sentences per translate call (1-32)")
    p.add_argument("--batch1", type=int, default=4, help="sentences also translated one at a time (0: none)")
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3, help="timed passes (the median is reported)")
    p.add_argument("--train-batch", type=int, default=64)
    p.add_argument("--train-steps", type=int, default=10, help="timed training steps (median)")
    p.add_argument("--train-warmup", type=int, default=3, help="untimed steps after the first (compiling) one")
    p.add_argument("--label-smoothing", type=float, default=0.1, help="translate.train's default")
    p.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="XLA-compile SeqLab's train step (default: as translate.train does)",
    )
    p.add_argument("--threads", type=int, default=0, help="both frameworks' threads (0: the machine's cores)")
    p.add_argument(
        "--peer-shape",
        help="take Marian's sizes and tokenizer from this translator instead (default: "
        "the model; for an rnn model translate-transformer, else the rnn's sizes)",
    )
    p.add_argument("--peer-padding", default="longest", choices=["longest", "fixed"])
    p.add_argument("--no-peer", action="store_true", help="SeqLab only")
    p.add_argument("--lanes", type=int, default=0, help="SeqLab's decoding lanes (0: translate.decode.LANES)")
    p.add_argument(
        "--rounds", type=int, default=1, help="run both sides this many times, alternating; report the median round"
    )
    p.add_argument("--no-breakdown", action="store_true", help="skip the where-the-time-goes measurements")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per side")
    p.add_argument("--out", help="also write the JSON here, e.g. bench/results/translate_speed_cpu.json")
    args = p.parse_args(argv)
    if not 1 <= args.batch <= 32:
        p.error("--batch must be 1-32 (Translator.translate decodes at most 32 sentences a call)")
    if (
        min(args.sentences, args.beam, args.repeats, args.train_batch, args.train_steps, args.rounds) < 1
        or min(args.batch1, args.train_warmup, args.threads, args.lanes) < 0
    ):
        p.error(
            "--sentences, --beam, --repeats, --train-batch, --train-steps, --rounds must be >= 1; --batch1, "
            "--train-warmup, --threads, --lanes >= 0"
        )
    if args.beam > 16:
        p.error("--beam must be at most 16 (Translator.translate's limit)")
    return args


# ------------------------------------------------------------------------------------------------ the run


def _sentences(args, tokenizers, limits):
    """The texts (and targets) both sides get: sources that fit every model's max_src_len."""
    from corpus import parallel

    if args.tsv:
        pairs, where = parallel.load_pairs(args.tsv), f"{args.tsv} (file order)"
    else:
        pairs, where = parallel.split_pairs(parallel.load_pairs("web-es"))["test"], "web-es test verses"
    chosen, skipped = [], 0
    for pair in pairs:
        if len(chosen) == args.sentences:
            break
        fits = all(0 < len(t.source.encode(pair.source)) <= n for t, n in zip(tokenizers, limits))
        if fits:
            chosen.append(pair)
        else:
            skipped += 1
    if not chosen:
        raise ValueError(f"no sentence of {where} fits the model's max_src_len {min(limits)}")
    return chosen, {
        "from": where,
        "count": len(chosen),
        "skipped_too_long": skipped,
        "source_tokens_mean": round(sum(len(tokenizers[0].source.encode(p.source)) for p in chosen) / len(chosen), 1),
    }


def _peer_shape(args, folder, config):
    """Marian's sizes and the folder whose tokenizer feeds it, with a note on where they come from."""
    import translate
    from core.resolve import resolve
    from translate.tokenizer import PairTokenizer

    def shape_folder(name):  # Marian has random weights: it needs the sizes and the tokenizer, not the weights
        other = resolve(name, translate.MODELS_DIR, kind="translator", needs=("config.json",))
        PairTokenizer.load(other)
        return other

    if args.peer_shape:
        other = shape_folder(args.peer_shape)
        return read_json(os.path.join(other, "config.json")), other, f"--peer-shape {args.peer_shape}"
    if config["arch"] == "transformer":
        return config, folder, "the model itself"
    try:
        other = shape_folder("translate-transformer")
        note = "translate-transformer's sizes (an rnn has no Marian twin)"
        return read_json(os.path.join(other, "config.json")), other, note
    except (OSError, ValueError):
        heads = max(h for h in range(1, config["heads"] + 1) if config["dim"] % h == 0)
        return (
            {**config, "heads": heads},
            folder,
            (
                "the rnn's own dim, layers, ffn_dim and heads (an rnn has no Marian twin and translate-transformer is "
                "not there)"
            ),
        )


def _side(name: str, plan_path: str, timeout: float) -> dict:
    env = dict(os.environ, **QUIET_ENV, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "bench.translate_sides", name, plan_path]
    start = time.perf_counter()
    try:  # stderr (progress) goes straight through; stdout's last line is the side's JSON
        proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{name} timed out after {timeout:.0f} s"}
    try:
        result = last_json(proc.stdout)
    except ValueError:
        return {"error": f"{name} side exited {proc.returncode} without a result (its error is above)"}
    result["process_wall_s"] = round(time.perf_counter() - start, 1)
    return result


def _row(name, metric, mine, theirs, target):
    ratio = round(mine / theirs, 2) if mine and theirs else None
    return {
        "row": name,
        "metric": metric,
        "seqlab": mine,
        "marian": theirs,
        "ratio": ratio,
        "target": target,
        "pass": None if target is None or ratio is None else ratio >= target,
    }


def table(rows) -> str:
    out = ["| measurement | metric | SeqLab | MarianMT | ratio | target | pass |", "|---|---|---:|---:|---:|---:|:-:|"]
    for r in rows:
        verdict = "" if r["pass"] is None else ("yes" if r["pass"] else "NO")
        target = f">= {r['target']}x" if r["target"] else ""
        out.append(
            f"| {r['row']} | {r['metric']} | {r['seqlab']} | {r['marian'] if r['marian'] is not None else '-'}"
            f" | {r['ratio'] if r['ratio'] is not None else '-'} | {target} | {verdict} |"
        )
    return "\n".join(out)


def breakdown_table(seqlab, marian) -> str:
    out = ["| where the time goes | SeqLab | MarianMT |", "|---|---:|---:|"]
    a, b = seqlab.get("decode_breakdown") or {}, (marian or {}).get("decode_breakdown") or {}
    for key, label in (
        ("one_step_ms", "decode batch, 1 step (encoder + setup + host), ms"),
        ("steps", "decoder steps in the batch"),
        ("per_step_ms", "cost per decoder step, ms"),
        ("full_ms", "whole batch, ms"),
    ):
        out.append(f"| {label} | {a.get(key, '-')} | {b.get(key, '-')} |")
    ta, tb = (
        (seqlab.get("train") or {}).get("breakdown_ms") or {},
        ((marian or {}).get("train") or {}).get("breakdown_ms") or {},
    )
    out.append(f"| training step: forward + loss, ms | {ta.get('forward_loss', '-')} | {tb.get('forward_loss', '-')} |")
    rest = round(tb["backward"] + tb["clip_and_update"], 2) if tb else "-"
    out.append(f"| training step: backward + update, ms | {ta.get('backward_and_update', '-')} | {rest} |")
    return "\n".join(out)


def _round_summary(seqlab: dict, marian: dict | None) -> dict:
    """One round's batch decoding and training figures and their ratios (None where a side is missing)."""

    def get(side, *keys):
        for key in keys:
            side = (side or {}).get(key)
        return side

    out = {}
    for name, keys in (("decode", ("decode", "batch", "sentences_per_s")), ("train", ("train", "target_tokens_per_s"))):
        mine, theirs = get(seqlab, *keys), get(marian, *keys)
        out[f"{name}_seqlab"], out[f"{name}_marian"] = mine, theirs
        out[f"{name}_ratio"] = round(mine / theirs, 2) if mine and theirs else None
    return out


def run(args) -> tuple[dict, int]:
    import translate
    from translate.tokenizer import PairTokenizer

    folder = translate.resolve(args.model)
    config = read_json(os.path.join(folder, "config.json"))
    shape, shape_folder, shape_note = _peer_shape(args, folder, config)
    tokenizers = [PairTokenizer.load(folder)] + ([] if shape_folder == folder else [PairTokenizer.load(shape_folder)])
    limits = [config["max_src_len"], shape["max_src_len"]][: len(tokenizers)]
    pairs, sentences = _sentences(args, tokenizers, limits)
    threads = args.threads or os.cpu_count()
    plan = {
        "model_folder": folder,
        "peer_tokenizer": shape_folder,
        "peer_shape": shape,
        "texts": [p.source for p in pairs],
        "targets": [p.target for p in pairs],
        "beam": args.beam,
        "batch": args.batch,
        "batch1": args.batch1,
        "repeats": args.repeats,
        "train_batch": args.train_batch,
        "train_steps": args.train_steps,
        "train_warmup": args.train_warmup,
        "label_smoothing": args.label_smoothing,
        "jit": args.jit,
        "threads": threads,
        "peer_padding": args.peer_padding,
        "no_breakdown": args.no_breakdown,
        "lanes": args.lanes,
    }
    log(
        f"translate_speed: {args.model} ({config['arch']}, {config['layers']} layers, {config['dim']}-d), "
        f"{sentences['count']} sentences from {sentences['from']}, {threads} threads"
    )
    with tempfile.TemporaryDirectory(prefix="translate-speed-") as tmp:
        path = os.path.join(tmp, "plan.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(plan, f)
        rounds = []
        for r in range(args.rounds):  # sides alternate, so a machine that speeds up or slows down hits both
            if args.rounds > 1:
                log(f"translate_speed: round {r + 1} of {args.rounds}")
            seqlab = _side("seqlab", path, args.timeout)
            marian = None
            if "error" not in seqlab and not args.no_peer:
                plan["steps"] = {k: v["longest"] for k, v in seqlab["decode"].items()}
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(plan, f)
                marian = _side("marian", path, args.timeout)
            rounds.append((seqlab, marian))
            if "error" in seqlab or (marian and "error" in marian):
                break
    # The round with the median batch decoding ratio (SeqLab's sentences/s without a peer) is the one reported;
    # every round's figures are kept, and an error in any round is reported.
    summary = [_round_summary(a, b) for a, b in rounds]
    rank = "decode_seqlab" if args.no_peer else "decode_ratio"
    ranked = sorted(range(len(rounds)), key=lambda i: summary[i][rank] or 0)
    seqlab, marian = rounds[ranked[len(ranked) // 2]]
    errors = [
        f"round {i + 1}, {who}: {r['error']}"
        for i, (a, b) in enumerate(rounds)
        for who, r in (("seqlab", a), ("marian", b or {}))
        if "error" in r
    ]
    peer = marian if marian and "error" not in marian else {}
    twin = config["arch"] == "transformer" and shape_folder == folder
    rows = []
    for key, label in (("batch", f"beam-{args.beam}, batch {args.batch}"), ("batch_1", f"beam-{args.beam}, batch 1")):
        mine, theirs = (seqlab.get("decode") or {}).get(key), (peer.get("decode") or {}).get(key)
        if not mine:
            continue
        n = f" ({mine['sentences']} sentences)"
        rows.append(
            _row(
                label + n,
                "sentences/s",
                mine["sentences_per_s"],
                (theirs or {}).get("sentences_per_s"),
                DECODE_TARGET if key == "batch" else None,
            )
        )
        rows.append(
            _row(
                label + n,
                "output tokens/s",
                mine["output_tokens_per_s"],
                (theirs or {}).get("output_tokens_per_s"),
                None,
            )
        )
    if seqlab.get("train"):
        rows.append(
            _row(
                f"training, batch {args.train_batch}",
                "target tokens/s",
                seqlab["train"]["target_tokens_per_s"],
                (peer.get("train") or {}).get("target_tokens_per_s"),
                TRAIN_TARGET,
            )
        )
    judged = [r["pass"] for r in rows if r["pass"] is not None]
    report = {
        "bench": "translate_speed",
        "model": args.model,
        "folder": folder,
        "arch": config["arch"],
        "config": config,
        "sentences": sentences,
        "settings": {
            "beam": args.beam,
            "alpha": ALPHA,
            "batch": args.batch,
            "batch1": args.batch1,
            "repeats": args.repeats,
            "train_batch": args.train_batch,
            "train_steps": args.train_steps,
            "train_warmup": args.train_warmup,
            "label_smoothing": args.label_smoothing,
            "threads": threads,
            "peer_padding": args.peer_padding,
            "rounds": args.rounds,
        },
        "peer": {
            "impl": "transformers MarianMTModel, random weights, PyTorch CPU",
            "shape_from": shape_note,
            "same_architecture": twin,
            "use_cache": True,
            "num_beams": args.beam,
            "min_new_tokens_equals_max_new_tokens": True,
            "fairness": FAIRNESS,
        },
        "rows": rows,
        "beam_sentences_per_s_ratio": next((r["ratio"] for r in rows if r["target"] == DECODE_TARGET), None),
        "train_tokens_per_s_ratio": next((r["ratio"] for r in rows if r["target"] == TRAIN_TARGET), None),
        "targets": {"decode": DECODE_TARGET, "train": TRAIN_TARGET},
        "targets_met": bool(judged) and all(judged) and not errors,
        "results": {"seqlab": seqlab, "marian": marian},
        "rounds": summary,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if errors:
        report["errors"] = errors
    log("\n" + table(rows) + "\n")
    if not args.no_breakdown:
        missed = [r["row"] + " " + r["metric"] for r in rows if r["pass"] is False]
        log(
            (f"missed: {'; '.join(missed)}. " if missed else "")
            + "Where the time goes:\n\n"
            + breakdown_table(seqlab, marian)
            + "\n"
        )
    code = 2 if errors else (0 if report["targets_met"] or args.no_peer else 1)
    return report, code


def main(argv=None) -> int:
    args = parse(argv)
    if not args.no_peer:
        import importlib.util

        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            log(f"error: the MarianMT peer needs {' and '.join(missing)} (or pass --no-peer)")
            return 3
    try:
        report, code = run(args)
    except (OSError, ValueError) as e:
        log(f"error: {e}")
        return 2
    try:
        emit(report, args.out)
    except OSError as e:  # the --out file cannot be written: the figures are on stdout above
        log(f"error: {e}")
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
