"""BERT-base MLM+NSP pretraining throughput and model-FLOPs utilisation of SeqLab's pretrain model on a GPU (JAX).

    bash bench/gpu_setup.sh                       # here, once: builds .gpu-site/ (keras, keras-hub, optree, ...)
    PYTHONPATH=.gpu-site:. KERAS_BACKEND=jax python bench/gpu_bert.py --out $OUT      # on the GPU machine

Model: pretrain.model.build(BertConfig.preset("base", vocab_size=V)) (L12 / H768 / A12, intermediate 3072),
compiled by pretrain.train.compile_model with pretrain.config.bert_optimizer (core.optim's AdamW, weight decay 0.01,
global clipnorm 1.0; MLM + NSP losses and accuracies; XLA), mixed_bfloat16 (bf16 compute, fp32 weights and optimizer
state). Batches: full-length random [CLS] A [SEP] B [SEP] pairs, 15% dynamic masking by pretrain.data.mask_tokens,
at most 20 predictions a row (bench/bert_data.py), made on the host and fed through model.train_on_batch, one call
per step.

For each batch size: 3 warm-up steps (the first compiles), then 10 timed steps; prints one JSON line per config
and rewrites OUT/gpu_bert.json after each, so a kill still leaves the configs done so far. A watchdog ends the
process (exit 124) at --time-limit seconds whatever it is doing.

FLOPs per training step (matmuls only, a multiply-add = 2 FLOPs, backward = 2 x forward, so 6 per weight per row):
  model_flops = 6*B*S*12*L*H^2            encoder weight matmuls (QKV, output, two FFN; intermediate 4H) at every token
              + 12*L*S^2*H*B              attention: QK^T and AV (2*2*S^2*H forward per layer and sequence, x3)
              + 6*B*P*(H^2 + H*V)         MLM transform + tied output projection at the P (=20) masked slots only
              + 6*B*(H^2 + 2*H)           pooler + NSP head
  i.e. "6 x parameters actually multiplied x tokens + attention" (PaLM appendix B); embedding lookups are free.
  naive_flops = 6*params*B*S + 12*L*S^2*H*B  (the usual "6N" rule: every parameter, embeddings included, at every
  token); it overstates SeqLab's sparse MLM head, so both are reported.
  mfu = model_flops / step_time / peak (naive_mfu likewise); peak defaults to 989 TFLOP/s (H100 SXM dense bf16).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RESULTS: list[dict] = []
OUT_PATH: list[str] = []


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="base", help="pretrain.model preset: tiny, mini, small, base")
    p.add_argument("--vocab", type=int, default=30522)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batches", default="64,128,256", help="comma list of batch sizes")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (the first compiles)")
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--precision", default="bf16", choices=("bf16", "fp32", "fp16"))
    p.add_argument("--peak-tflops", type=float, default=989.0, help="H100 SXM dense bf16")
    p.add_argument("--time-limit", type=float, default=540.0, help="hard stop (seconds) for the whole run")
    p.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for gpu_bert.json")
    p.add_argument("--name", default="gpu_bert", help="output file name (without .json)")
    # profiling switches (the defaults are what SeqLab's pretrain.train does)
    p.add_argument(
        "--loop",
        default="train_on_batch",
        choices=("train_on_batch", "fit"),
        help="fit: one model.fit over all timed steps (state stays on the device, async dispatch)",
    )
    p.add_argument("--dropout", type=float, default=None, help="override the preset's dropout (0.1)")
    p.add_argument("--matmul-check", action="store_true", help="first time a bf16 8192^3 matmul (the reachable peak)")
    return p.parse_args(argv)


def save() -> None:
    if not OUT_PATH:
        return
    from core import files  # the repository is on sys.path by then (main puts it there)

    files.write_json(OUT_PATH[0], RESULTS, indent=1)


def emit(record: dict) -> None:
    RESULTS.append(record)
    print(json.dumps(record), flush=True)
    save()


def watchdog(seconds: float):
    def fire():
        emit({"error": f"time limit of {seconds:.0f} s reached; stopped", "elapsed_s": round(seconds, 1)})
        sys.stdout.flush()
        os._exit(124)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def flops(config, batch: int, seq: int, predictions: int, params: int) -> dict:
    L, H, V, F = config.num_layers, config.hidden_size, config.vocab_size, config.intermediate_size
    encoder = L * (4 * H * H + 2 * H * F)  # weight matmuls per token (12 L H^2 when F = 4H)
    attention_fwd = 4 * L * seq * seq * H  # per sequence: QK^T + AV
    heads = predictions * (H * H + H * V) + H * H + 2 * H  # per sequence
    model = 3 * batch * (2 * (seq * encoder + heads) + attention_fwd)
    naive = 6 * params * batch * seq + 3 * batch * attention_fwd
    return {"model_flops_per_step": model, "naive_flops_per_step": naive}


def batch_loop(model, data, warmup, steps):
    """What pretrain.train's step costs one call at a time: train_on_batch, synced every step."""
    t0 = time.perf_counter()
    model.train_on_batch(data[0][0], data[0][1], sample_weight=data[0][2])
    compile_s = time.perf_counter() - t0
    for i in range(1, warmup):
        x, y, w = data[i % 2]
        model.train_on_batch(x, y, sample_weight=w)
    times, logs = [], {}
    start = time.perf_counter()
    for i in range(steps):
        x, y, w = data[i % 2]
        t = time.perf_counter()
        logs = model.train_on_batch(x, y, sample_weight=w, return_dict=True)  # returns numpy: synced
        times.append(time.perf_counter() - t)
    return compile_s, times, time.perf_counter() - start, logs


def fit_loop(model, data, warmup, steps):
    """model.fit over in-memory arrays, for comparison (pretrain.train calls train_on_batch): no per-step sync."""
    import numpy as np

    def stack(n):
        parts = [data[i % 2] for i in range(n)]
        cat = lambda key, k: np.concatenate([p[k][key] for p in parts])  # noqa: E731
        return (
            {key: cat(key, 0) for key in parts[0][0]},
            {key: cat(key, 1) for key in parts[0][1]},
            {key: cat(key, 2) for key in parts[0][2]},
        )

    batch = len(data[0][1]["nsp"])
    x, y, w = stack(max(1, warmup))
    t0 = time.perf_counter()
    model.fit(x, y, sample_weight=w, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    compile_s = time.perf_counter() - t0
    x, y, w = stack(steps)
    start = time.perf_counter()
    history = model.fit(x, y, sample_weight=w, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    elapsed = time.perf_counter() - start
    logs = {k: v[-1] for k, v in history.history.items()}
    return compile_s, [elapsed / steps], elapsed, logs


def matmul_tflops(n: int = 8192, reps: int = 10) -> float:
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.bfloat16)
    f = jax.jit(lambda a, b: a @ b)
    f(a, a).block_until_ready()
    t = time.perf_counter()
    for _ in range(reps):
        out = f(a, a)
    out.block_until_ready()
    return round(2 * n**3 * reps / (time.perf_counter() - t) / 1e12, 1)


def device_info() -> dict:
    import jax

    devices = jax.devices()
    return {
        "jax": jax.__version__,
        "platform": devices[0].platform,
        "device": devices[0].device_kind,
        "devices": len(devices),
    }


def main(argv=None) -> int:
    args = parse(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")  # here, not at import: importing this module changes nothing
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if REPO not in sys.path:
        sys.path.insert(0, REPO)  # the repo, for `python bench/gpu_bert.py`
    os.makedirs(args.out, exist_ok=True)
    OUT_PATH.append(os.path.join(args.out, args.name + ".json"))
    started = time.perf_counter()
    timer = watchdog(args.time_limit)
    try:
        import keras
        import numpy as np

        from bench.bert_data import mlm_batch
        from core import precision
        from pretrain import model as bert
        from pretrain.config import bert_optimizer
        from pretrain.train import compile_model
    except ImportError as e:
        emit({"error": f"import failed: {e}. Run bash bench/gpu_setup.sh here and put .gpu-site on PYTHONPATH"})
        return 2
    env = {
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        **device_info(),
        "import_s": round(time.perf_counter() - started, 1),
        "loop": args.loop,
    }
    print(json.dumps({"env": env}), flush=True)
    if args.matmul_check:
        emit({"matmul_check_tflops": matmul_tflops(8192 if env["platform"] == "gpu" else 512)})
    keras.utils.set_random_seed(0)
    config = bert.BertConfig.preset(
        args.preset, vocab_size=args.vocab, max_positions=max(512, args.seq), dropout=args.dropout
    )
    model = None
    rng = np.random.default_rng(0)
    for batch in [int(b) for b in args.batches.split(",") if b.strip()]:
        record = {
            "preset": args.preset,
            "layers": config.num_layers,
            "hidden": config.hidden_size,
            "heads": config.num_heads,
            "vocab": args.vocab,
            "seq": args.seq,
            "batch": batch,
            "precision": args.precision,
            "max_predictions": args.max_predictions,
            "dropout": config.dropout,
            **env,
        }
        try:
            if model is None:
                with precision.policy(args.precision):  # built and compiled in it, as pretrain.train does
                    model = bert.build(config)
                    compile_model(model, bert_optimizer(lr=1e-4, warmup=10_000), total_steps=1_000_000, jit=True)
            data = [mlm_batch(rng, batch, args.seq, args.vocab, 0.15, args.max_predictions) for _ in range(2)]
            if args.loop == "fit":
                compile_s, times, elapsed, logs = fit_loop(model, data, args.warmup, args.steps)
            else:
                compile_s, times, elapsed, logs = batch_loop(model, data, args.warmup, args.steps)
            step = elapsed / args.steps
            params = int(model.count_params())
            f = flops(config, batch, args.seq, args.max_predictions, params)
            record.update(
                {
                    "params": params,
                    "seqs_per_s": round(batch / step, 1),
                    "tokens_per_s": round(batch * args.seq / step),
                    "step_ms": round(step * 1e3, 2),
                    "step_ms_min": round(min(times) * 1e3, 2),
                    "compile_s": round(compile_s, 2),
                    "loss": round(float(logs["loss"]), 4),
                    "model_tflops_per_s": round(f["model_flops_per_step"] / step / 1e12, 2),
                    "mfu": round(f["model_flops_per_step"] / step / (args.peak_tflops * 1e12), 4),
                    "naive_mfu": round(f["naive_flops_per_step"] / step / (args.peak_tflops * 1e12), 4),
                    "peak_tflops": args.peak_tflops,
                    **f,
                }
            )
        except Exception as e:  # out of memory at the biggest batch must not lose the others
            record["error"] = f"{type(e).__name__}: {str(e)[:400]}"
            traceback.print_exc(file=sys.stderr)
            model = None  # rebuild after a failure
        emit(record)
    timer.cancel()
    done = [r for r in RESULTS if "seqs_per_s" in r]
    summary = {"summary": True, "configs": len(done), "elapsed_s": round(time.perf_counter() - started, 1)}
    if done:
        best = max(done, key=lambda r: r["seqs_per_s"])
        summary.update(best_batch=best["batch"], best_seqs_per_s=best["seqs_per_s"], best_mfu=best["mfu"])
    emit(summary)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
