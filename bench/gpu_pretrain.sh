#!/usr/bin/env bash
# Pretrain SeqLab's BERTs with pretrain.train on one GPU (JAX, no TensorFlow), three runs side by side: a
# mini-224 run is small for one GPU (on one H100 each of three made 34-41 steps/s at batch 128).
#
#   bash bench/gpu_setup.sh && bash bench/gpu_pretrain.sh pack     # here: .gpu-site/ and .gpu-carry/ (ignored)
#   bash bench/gpu_pretrain.sh run 7.5                             # there, with .gpu-site and .gpu-carry carried
#
# `pack` gzips the cleaned corpora (SEQLAB_CACHE) and, where present, the token shards earlier runs built: the GPU
# machine reaches no package index, so it must not fetch (and, given shards, need not tokenize). `run MINUTES`
# trains each run for MINUTES (pretrain.train --minutes; its calibration overlaps the other runs' compiling, so it
# plans too many steps and a run stops before its rate has decayed: give --steps for a finished schedule), then
# tars the finished folders (weights, config, vocab, metrics, card, the last checkpoint's state.json; no
# optimizer) into $OUT/gpu-pretrain.tar.* in 15 MB parts (the tool returns files under 16 MiB). Back here:
# cat gpu-pretrain.tar.* | tar x -C runs && bash bench/gpu_pretrain.sh collect DEVICE
# writes bench/results/gpu_pretrain_DEVICE.json from the runs' metrics.json and state.json.
# If the tool that ships the repository to the GPU caps its size (64 MiB here), leave the bundled *.weights.h5
# (~70 MB, not needed there) behind: `git rm -q --cached` them and list them in .git/info/exclude for the call,
# then `git reset -q HEAD -- FILES` and drop the exclude lines.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu-carry
PY=${PY:-$(test -x .venv/bin/python && echo .venv/bin/python || echo python3)}
COMMON="--preset mini --dim 224 --seq-len 128 --batch-size ${BATCH:-128} --lr 1e-3 --warmup 1000 --mask-rate 0.3
        --max-predictions 40 --checkpoint-every 1000 --jit"
# name | corpus | vocabulary (a bundled model folder) | extra flags
RUNS="imdb-d0|imdb|pretrain/models/bert-imdb|--dropout 0
imdb-d1|imdb|pretrain/models/bert-imdb|--dropout 0.1
bert-d0|kjv,shakespeare|pretrain/models/bert|--dropout 0"

case "${1:-}" in
pack)
    rm -rf "$CARRY" && mkdir -p "$CARRY/corpora"
    # load each corpus once here (fetching and cleaning it if need be), then carry the cache file it reads
    for f in $(PYTHONPATH=. "$PY" -c 'import corpus; from corpus.named import cached_path
for name in ("imdb", "kjv", "shakespeare"): corpus.load(name); print(cached_path(name))'); do
        gzip -c "$f" > "$CARRY/corpora/$(basename "$f").gz"
    done
    # shards of an earlier run of the bundled model's command (same corpus, vocabulary and seed: prepare_data's
    # key matches and reuses them); without, the GPU machine tokenizes the corpus itself
    for pair in imdb:pretrain/models/bert-imdb/work bert:pretrain/models/bert/work; do
        if [ -d "${pair#*:}/data" ]; then tar czf "$CARRY/${pair%%:*}-data.tgz" -C "${pair#*:}" data; fi
    done
    du -sh "$CARRY" .gpu-site
    ;;
run)
    MINUTES=${2:?minutes per run}
    OUT=${OUT:-runs/gpu-out}
    mkdir -p "$OUT"
    export SEQLAB_CACHE=/tmp/seqlab PYTHONPATH=.gpu-site:.${PYTHONPATH:+:$PYTHONPATH} KERAS_BACKEND=jax PYTHONUNBUFFERED=1
    export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several processes share the GPU
    mkdir -p "$SEQLAB_CACHE/corpora"
    [ -d "$CARRY/corpora" ] || { echo "no $CARRY/corpora: run 'bash bench/gpu_pretrain.sh pack' here first" >&2; exit 2; }
    for f in "$CARRY"/corpora/*.gz; do gunzip -c "$f" > "$SEQLAB_CACHE/corpora/$(basename "$f" .gz)"; done
    python3 -c 'import jax; print("jax", jax.__version__, jax.devices())'
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    while IFS='|' read -r name corpus vocab extra; do
        mkdir -p "runs/gpu/$name/work"
        shards="$CARRY/$([ "$corpus" = imdb ] && echo imdb || echo bert)-data.tgz"
        [ ! -f "$shards" ] || tar xzf "$shards" -C "runs/gpu/$name/work"
        # a hard stop past --minutes (imports, tokenizing without shards, the last validation): a killed run
        # still leaves its last checkpoint, packed below
        timeout "$(python3 -c "print(int($MINUTES * 60 + 120))")" python3 -m pretrain.train --corpus "$corpus" \
            --vocab "$vocab" --out "runs/gpu/$name" $COMMON $extra --minutes "$MINUTES" \
            > "$OUT/$name.log" 2>&1 &
        pids="${pids:-} $!:$name"
    done <<< "$RUNS"
    for p in $pids; do wait "${p%%:*}" || echo "run ${p#*:} failed (exit $?): see $OUT/${p#*:}.log" >&2; done
    nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
    for d in runs/gpu/*/; do
        tail -c 2000 "$OUT/$(basename "$d").log" 2>/dev/null | tr '\r' '\n' | tail -4 || true
        # the last checkpoint's state.json (core.trainer's run state: history, total_steps), packed with the run
        python3 - "$d" <<'PY' || true
import os, sys
sys.path.insert(0, ".")
from core import checkpoint, files
run = sys.argv[1]
path = checkpoint.latest(run)
if path:
    files.write_json(os.path.join(run, "state.json"), checkpoint.read_state(path))
PY
    done
    tar cf - --exclude=work --exclude='checkpoint-*' -C runs gpu | split -b 15m - "$OUT/gpu-pretrain.tar."
    ls -la "$OUT"
    ;;
collect)
    DEVICE=${2:?device name, e.g. h100}
    "$PY" - "$DEVICE" <<'PY'
import glob, json, os, sys
sys.path.insert(0, ".")
from core import files
runs = {}
for folder in sorted(glob.glob("runs/gpu/*/")):
    if not os.path.exists(os.path.join(folder, "metrics.json")):  # stopped before it finished: nothing to report
        print("skipped (no metrics.json):", folder)
        continue
    m, s = (json.load(open(os.path.join(folder, f))) for f in ("metrics.json", "state.json"))
    runs[os.path.basename(folder.rstrip("/"))] = {
        "command": m["command"], "steps": m["steps"], "seconds": m["seconds"],
        "steps_per_s": round(m["steps"] / m["seconds"], 1),
        "planned_steps": s["total_steps"],  # what --minutes' calibration chose; below it the rate had not decayed to 0
        **{k: m[k] for k in ("mlm_accuracy", "mlm_loss", "nsp_accuracy", "nsp_loss")},
        # the trainer's history: validation figures (val_*) in the rows of the steps they were measured at
        "validation_every_1000": [
            {k: v for k, v in row.items() if k == "step" or k.startswith("val_")}
            for row in s["history"] if row["step"] % 1000 == 0 and any(k.startswith("val_") for k in row)
        ],
    }
path = f"bench/results/gpu_pretrain_{sys.argv[1]}.json"
files.write_json(path, {"device": sys.argv[1], "runs_side_by_side": len(runs), "runs": runs}, indent=1)  # atomic
print("wrote", path)
PY
    ;;
*)
    echo "usage: bash bench/gpu_pretrain.sh pack | run MINUTES | collect DEVICE" >&2
    exit 2
    ;;
esac
