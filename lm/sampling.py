"""Temperature, top-k and top-p sampling as tensor arithmetic.

The settings arrive as tensors, not Python numbers, so changing them never retraces or recompiles, and the
randomness arrives as uniform noise drawn outside (Gumbel-max), so a seed gives the same text on any backend.
"""

from __future__ import annotations

from keras import ops


def sample(logits, temperature, top_k, top_p, uniform):
    """logits (B, V); temperature/top_p floats, top_k ints (0 = off), each a scalar for the whole batch or one
    value per row (B,); uniform (B, V) in (0, 1)."""
    logits = ops.cast(logits, "float32")
    batch, vocab = ops.shape(logits)[0], ops.shape(logits)[-1]

    def per_row(value):  # (B, 1): a scalar setting broadcast to every row
        return ops.broadcast_to(ops.reshape(value, (-1,)), (batch,))[:, None]

    temperature, top_k, top_p = per_row(temperature), per_row(top_k), per_row(top_p)
    scaled = logits / ops.maximum(temperature, 1e-6)
    ordered = ops.flip(ops.sort(scaled, axis=-1), axis=-1)
    k = ops.where(top_k > 0, ops.minimum(top_k, vocab), vocab)
    kth = ops.take_along_axis(ordered, k - 1, axis=-1)
    ordered = ops.where(ordered < kth, -1e9, ordered)
    # Keep the smallest prefix of the sorted tokens whose probability reaches top_p.
    cumulative = ops.cumsum(ops.softmax(ordered, axis=-1), axis=-1)
    cut = ops.minimum(ops.sum(ops.cast(cumulative < top_p, "int32"), axis=-1), vocab - 1)
    floor = ops.maximum(kth, ops.take_along_axis(ordered, cut[:, None], axis=-1))
    scaled = ops.where(scaled < floor, -1e9, scaled)
    gumbel = -ops.log(-ops.log(ops.clip(uniform, 1e-12, 1.0 - 1e-7)))
    sampled = ops.argmax(scaled + gumbel, axis=-1)
    return ops.cast(ops.where(temperature[:, 0] <= 0, ops.argmax(logits, axis=-1), sampled), "int32")
