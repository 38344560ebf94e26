"""The one write of a decoding step's keys and values into a fixed-size attention cache (lm and translate).

    from core import kv
    k_cache = kv.write(k_cache, k, index, axis=2)   # lm: cache (B, H, L, hd), k (B, H, 1, hd), index () or (B,)

The cache keeps its shape whatever the index, so a compiled decoding loop never retraces; `index` is one position
for the batch or one per row (lm.engine's rows are at different places).

A one-hot blend, which rewrites the whole cache, measured as fast as or faster than a scatter of the B x H x hd
new numbers inside both packages' compiled steps (bench/experiments/kv_cache_write.py): each step re-stacks the
layers' caches, a whole copy either way, and XLA fuses the blend into it. It is exact: a kept number is x * 1 + 0,
a new one 0 + x * 1.
"""

from __future__ import annotations

from keras import ops


def write(cache, new, index, axis: int):
    """`cache` with `new` (the cache's shape, size 1 along `axis`) written at position `index` along `axis`;
    index a scalar or one per row (B,)."""
    hit = one_hot(cache, index, axis)
    return cache * (1 - hit) + new * hit


def one_hot(cache, index, axis: int):
    """1 at each row's `index` along `axis`, else 0: (B or 1, 1.., L, 1..), in the cache's dtype."""
    length = ops.shape(cache)[axis]
    hit = ops.reshape(ops.cast(index, "int32"), (-1, 1)) == ops.arange(length, dtype="int32")  # (B or 1, L)
    shape = [-1 if d == 0 else length if d == axis else 1 for d in range(len(cache.shape))]
    return ops.cast(ops.reshape(hit, shape), cache.dtype)
