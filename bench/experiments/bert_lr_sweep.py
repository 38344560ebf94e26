"""Does tiny BERT escape the MLM unigram plateau? The bundled run's data and model at several learning rates.

    PYTHONPATH=.gpu-site:. KERAS_BACKEND=jax python bench/experiments/bert_lr_sweep.py OUTDIR [TIME_LIMIT_S]

Ran once on an H100 (bench/results/gpu_bert_tiny_lr_sweep.json): 6,000 steps each at 1e-3, 3e-4 and 1e-4.
"""

import json
import os
import sys
import threading
import time

if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0 if sys.argv[1:] else 2)
os.environ.setdefault("KERAS_BACKEND", "jax")
threading.Timer(float(sys.argv[2]) if len(sys.argv) > 2 else 280, lambda: os._exit(124)).start()
import keras

from core import files
from pretrain import data
from pretrain import model as bert
from pretrain.config import bert_optimizer
from pretrain.train import compile_model

OUT = sys.argv[1]
D = os.environ.get("SEQLAB_SHARDS", "pretrain/models/bert/work/data")  # the shards pretrain.train wrote
STEPS = int(os.environ.get("STEPS", 6000))
results = []


def emit(row):
    results.append(row)
    print(json.dumps(row), flush=True)
    files.write_json(os.path.join(OUT, "lr_sweep.json"), results, indent=None)


for lr, warmup, dropout in [(1e-3, 500, 0.0), (3e-4, 500, 0.0), (1e-4, 500, 0.0)]:
    t0 = time.time()
    keras.utils.set_random_seed(0)
    m = bert.build(bert.BertConfig.preset("tiny", vocab_size=8000, dropout=dropout))
    compile_model(m, bert_optimizer(lr=lr, warmup=warmup), total_steps=STEPS, jit=True)
    train = data.Batches(os.path.join(D, "train"), 128, 32, 8000, 0.15, 20, seed=0)
    val = data.Batches(os.path.join(D, "val"), 128, 32, 8000, 0.15, 20, seed=0).fixed(16)
    stream = train(0)
    for k in range(STEPS // 1000):
        m.fit(stream, steps_per_epoch=1000, epochs=1, verbose=0)
        logs = m.evaluate(x=(b for b in val), steps=len(val), verbose=0, return_dict=True)
        emit(
            {
                "lr": lr,
                "step": (k + 1) * 1000,
                "s": round(time.time() - t0, 1),
                **{name: round(float(v), 4) for name, v in logs.items() if "accuracy" in name or name == "mlm_loss"},
            }
        )
