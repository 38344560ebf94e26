"""Compile a function once with the backend's own compiler (XLA on TensorFlow and on JAX)."""

from __future__ import annotations

import keras


def jit(fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True, reduce_retracing=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn
