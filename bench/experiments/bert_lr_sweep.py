"""Does tiny BERT escape the MLM unigram plateau? The bundled run's data and model at several learning rates.

    PYTHONPATH=.gpu-site:. KERAS_BACKEND=jax python bench/experiments/bert_lr_sweep.py OUTDIR [TIME_LIMIT_S]

Ran once on an H100 (bench/results/gpu_bert_tiny_lr_sweep.json): 6,000 steps each at 1e-3, 3e-4 and 1e-4.
"""
import json, os, sys, threading, time, types
if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0 if sys.argv[1:] else 2)
os.environ.setdefault("KERAS_BACKEND", "jax")
threading.Timer(float(sys.argv[2]) if len(sys.argv) > 2 else 280, lambda: os._exit(124)).start()
import numpy as np, keras
from pretrain import data, model as bert
from pretrain.train import compile_model, make_schedule
OUT = sys.argv[1]
D = os.environ.get("SEQLAB_SHARDS", "pretrain/models/bert/work/data")  # the shards pretrain.train wrote
res = []
def emit(r):
    res.append(r); print(json.dumps(r), flush=True)
    json.dump(res, open(os.path.join(OUT, "lr_sweep.json"), "w"))
STEPS = int(os.environ.get("STEPS", 6000))
for lr, warm, drop in [(1e-3, 500, 0.0), (3e-4, 500, 0.0), (1e-4, 500, 0.0)]:
    t0 = time.time()
    keras.utils.set_random_seed(0)
    m = bert.build(bert.BertConfig.preset("tiny", vocab_size=8000, dropout=drop))
    sched = make_schedule(lr, warm, STEPS)
    compile_model(m, types.SimpleNamespace(weight_decay=0.01, clip_norm=1.0, jit=True), sched)
    tr = data.Batches(os.path.join(D, "train"), 128, 32, 8000, 0.15, 20, seed=0)
    val = data.Batches(os.path.join(D, "val"), 128, 32, 8000, 0.15, 20, seed=0).fixed(16)
    gen = tr(0)
    for k in range(STEPS // 1000):
        m.fit(gen, steps_per_epoch=1000, epochs=1, verbose=0)
        logs = m.evaluate(x=(b for b in val), steps=len(val), verbose=0, return_dict=True)
        emit({"lr": lr, "step": (k + 1) * 1000, "s": round(time.time() - t0, 1),
              **{k2: round(float(v), 4) for k2, v in logs.items() if "accuracy" in k2 or k2 == "mlm_loss"}})
