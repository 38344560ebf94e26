#!/usr/bin/env bash
# Pretrain SeqLab's BERTs with pretrain.train on one GPU (JAX, no TensorFlow), several runs side by side: at
# H224 a run is bound by Python and dispatch, not by the GPU, so three at once cost about what one does.
#
#   bash bench/gpu_setup.sh && bash bench/gpu_pretrain.sh pack     # here: .gpu-site/ and .gpu-carry/ (ignored)
#   bash bench/gpu_pretrain.sh run 6.5                             # there, with .gpu-site and .gpu-carry carried
#
# `pack` gzips the cleaned corpora (SEQLAB_CACHE) and the token shards the bundled runs already built, so the GPU
# machine, which reaches no package index, neither fetches nor tokenizes. `run MINUTES` trains each run for
# MINUTES (pretrain.train --minutes), then tars the finished folders (weights, config, vocab, metrics, card, the
# last checkpoint's state.json; no optimizer) into $OUT/gpu-pretrain.tar.* in 15 MB parts (the tool returns files
# under 16 MiB). Back here: cat gpu-pretrain.tar.* | tar x -C runs/gpu.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu-carry
CACHE=${SEQLAB_CACHE:-$HOME/.cache/seqlab}/corpora
COMMON="--preset mini --hidden 224 --seq-len 128 --batch-size ${BATCH:-128} --lr 1e-3 --warmup 1000 --mask-rate 0.3
        --max-predictions 40 --checkpoint-every 1000 --jit"
# name | corpus | vocabulary (a bundled model folder) | extra flags
RUNS="imdb-d0|imdb|pretrain/models/bert-imdb|--dropout 0
imdb-d1|imdb|pretrain/models/bert-imdb|--dropout 0.1
bert-d0|kjv,shakespeare|pretrain/models/bert|--dropout 0"

case "${1:-}" in
pack)
    rm -rf "$CARRY" && mkdir -p "$CARRY/corpora"
    for f in imdb kjv shakespeare; do gzip -c "$CACHE/$f.v3.jsonl" > "$CARRY/corpora/$f.v3.jsonl.gz"; done
    # same corpus, vocabulary and seed as the bundled model, so prepare_data's key matches and reuses them
    tar czf "$CARRY/imdb-data.tgz" -C pretrain/models/bert-imdb/work data
    tar czf "$CARRY/bert-data.tgz" -C pretrain/models/bert/work data
    du -sh "$CARRY" .gpu-site
    ;;
run)
    MINUTES=${2:?minutes per run}
    OUT=${OUT:-runs/gpu-out}
    mkdir -p "$OUT"
    export SEQLAB_CACHE=/tmp/seqlab PYTHONPATH=.gpu-site:.${PYTHONPATH:+:$PYTHONPATH} KERAS_BACKEND=jax PYTHONUNBUFFERED=1
    export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several processes share the GPU
    mkdir -p "$SEQLAB_CACHE/corpora"
    for f in "$CARRY"/corpora/*.gz; do gunzip -c "$f" > "$SEQLAB_CACHE/corpora/$(basename "$f" .gz)"; done
    python3 -c 'import jax; print("jax", jax.__version__, jax.devices())'
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    while IFS='|' read -r name corpus vocab extra; do
        mkdir -p "runs/gpu/$name/work"
        case $corpus in imdb) tar xzf "$CARRY/imdb-data.tgz" -C "runs/gpu/$name/work";;
                        *) tar xzf "$CARRY/bert-data.tgz" -C "runs/gpu/$name/work";; esac
        # a hard stop well past --minutes: a killed run still leaves its last checkpoint
        timeout "$(python3 -c "print(int($MINUTES * 60 + 60))")" python3 -m pretrain.train --corpus "$corpus" \
            --vocab "$vocab" --out "runs/gpu/$name" $COMMON $extra --minutes "$MINUTES" \
            > "$OUT/$name.log" 2>&1 &
    done <<< "$RUNS"
    wait || true
    nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
    for d in runs/gpu/*/; do
        tail -c 2000 "$OUT/$(basename "$d").log" | tr '\r' '\n' | tail -4
        ck=$(cat "$d/work/checkpoints/latest" 2>/dev/null || true)
        [ -n "$ck" ] && cp "$d/work/checkpoints/$ck/state.json" "$d/state.json"
        [ -f "$d/model.weights.h5" ] || cp "$d/work/checkpoints/$ck/"{model.weights.h5,config.json} "$d/" || true
    done
    tar cf - --exclude=work -C runs gpu | split -b 15m - "$OUT/gpu-pretrain.tar."
    ls -la "$OUT"
    ;;
*)
    echo "usage: bash bench/gpu_pretrain.sh pack | run MINUTES" >&2
    exit 2
    ;;
esac
