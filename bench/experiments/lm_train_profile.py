"""Where an LM training step's time goes under XLA:CPU: TensorFlow's profiler over timed steps, its XLA operations
summed by name (thread time: two threads can run at once), with and without core.jit.configure.

    python bench/experiments/lm_train_profile.py --out bench/results/lm_train_profile_avx2.json

Each setting runs in its own process (core.jit.configure changes the process). The step is bench.lm_train's
(lm.train.compile_model, 4 layers / 128-d, seq 64, batch 12, vocab 65). `random_bits_ms` is the time in the
called random-bit generators XLA builds for dropout when Keras leaves TensorFlow's algorithm to "auto_select".
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

# the executor's containers: their time is their children's
CONTAINERS = re.compile(
    r"^(ThunkExecutor|CpuExecutable|BlockUntilReady|EagerExecute|EagerKernel|EagerLocal|TFE_|one_step|__inference"
    r"|KernelAndDeviceFunc)"
)


def side(cpu_defaults: bool, steps: int) -> dict:
    from bench.common import machine
    from core import jit

    if cpu_defaults:
        jit._configured = "CPU defaults"
    import keras
    import numpy as np
    import tensorflow as tf

    from core.optim import OptimizerConfig
    from lm.model import LMConfig, build
    from lm.train import compile_model

    keras.utils.set_random_seed(0)
    config = LMConfig(arch="transformer", vocab_size=65, seq_len=64, layers=4, dim=128, heads=4).validate()
    model = compile_model(build(config), OptimizerConfig(lr=1e-3, warmup=10), 1000, jit=True)
    tokens = np.random.default_rng(0).integers(0, 65, (12, 65)).astype("int32")
    x, y = tokens[:, :-1], tokens[:, 1:]
    for _ in range(5):
        model.train_on_batch(x, y)
    logdir = tempfile.mkdtemp(prefix="lm_train_profile_")
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(sorted(glob.glob(os.path.join(logdir, "plugins/profile/*/*.xplane.pb")))[-1], "rb") as f:
        space.ParseFromString(f.read())
    total, random_bits = collections.Counter(), 0.0
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "?")
                ms = event.duration_ps / 1e9 / steps
                if re.match(r"^call(\.\d+)?$", name):  # XLA's called computations: the random-bit generators
                    random_bits += ms
                    continue
                if not CONTAINERS.match(name):
                    total[re.sub(r"\.\d+$", "", name)] += ms
    return {
        "cpu_setup": jit.configure(),
        "step_ms_wall": round(wall / steps * 1e3, 2),
        "random_bits_ms": round(random_bits, 2),
        "ops_ms_per_step": {k: round(v, 2) for k, v in total.most_common(15)},
        "machine": machine(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out")
    p.add_argument("--side", choices=["defaults", "configured"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.side:
        print(json.dumps(side(a.side == "defaults", a.steps)))
        return 0
    from bench.common import QUIET_ENV, emit, last_json, machine

    env = dict(os.environ, **QUIET_ENV, PYTHONPATH=ROOT)
    result = {"bench": "lm_train_profile", "steps": a.steps, "machine": machine()}
    for name in ("defaults", "configured"):
        proc = subprocess.run(
            [sys.executable, __file__, "--side", name, "--steps", str(a.steps)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result[name] = last_json(proc.stdout)
    emit(result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
