"""One name for each compute precision, for every trainer's --precision.

    from core import precision
    with precision.policy("bf16"):      # layers built inside compute in bfloat16, keep float32 weights
        model = build(config)

bf16 is Keras's mixed_bfloat16: float32 variables, bfloat16 matmuls (on CPUs with AVX512_BF16 or AMX, and GPUs);
no loss scaling needed. fp16 (mixed_float16) is for GPUs: Keras wraps the optimizer to scale the loss.
"""

from __future__ import annotations

import contextlib

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def check(name: str) -> str:
    if name not in POLICIES:
        raise ValueError(f"--precision must be one of {', '.join(POLICIES)} (got {name!r})")
    return name


@contextlib.contextmanager
def policy(name: str):
    """Keras's global dtype policy `name` for the layers built (and the model compiled) inside, then the policy
    there was before (float32 unless someone set another), so a model built later for export or decoding computes
    as it did. The one way every trainer sets its precision: a global set with no end would leak into whatever
    the same process builds next (a test, the app)."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[check(name)])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
