"""Compile a function once with the backend's own compiler (XLA on TensorFlow and on JAX), and set a process up for
the CPU it runs on.

    from core import jit
    jit.configure()              # once, before the first model runs: says what it set (one line for the log)
    step = jit.jit(step_fn)      # XLA on TensorFlow and on JAX

`cpu()` names the CPU and its widest vector ISA (avx2, avx512, avx512_bf16, amx) from /proc/cpuinfo: XLA:CPU,
oneDNN and PyTorch each pick their kernels by it, so a speed is a speed on one kind of CPU (bench records it too).
Keras is imported only inside the functions that need it: bench's PyTorch peers read cpu() from here too.
"""

from __future__ import annotations

import ctypes
import platform

# The vector-ISA flags of /proc/cpuinfo that decide which kernels XLA:CPU, oneDNN and PyTorch pick, widest last.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_KEEP = 1 << 30

_configured: str | None = None


def jit(fn):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True, reduce_retracing=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def cpu(cpuinfo: str | None = None) -> dict:
    """The CPU model and its vector ISA, from /proc/cpuinfo's first processor (or the text `cpuinfo`): `cpu` the
    model name, `isa` the widest kind ("amx", "avx512_bf16", "avx512", "avx2" or "baseline"), `isa_flags` which of
    ISA_FLAGS it has. Two CPUs of one model name can differ here (an AMD EPYC is AVX2-only or has AVX-512)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    model, flags = platform.processor() or platform.machine(), set()
    for line in cpuinfo.split("\n\n")[0].splitlines():  # every processor of one machine reports the same
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    if "amx_tile" in flags:
        isa = "amx"
    elif "avx512_bf16" in flags:
        isa = "avx512_bf16"
    elif "avx512f" in flags:
        isa = "avx512"
    elif "avx2" in flags:
        isa = "avx2"
    else:
        isa = "baseline"
    return {"cpu": model, "isa": isa, "isa_flags": [f for f in ISA_FLAGS if f in flags]}


def configure() -> str:
    """Set this process up for CPU work, once (later calls only return the same line): the line says the CPU,
    its ISA and what was set. Measured with `python -m bench.lm_train` (bench/results/*_avx2.json):

    - glibc keeps freed memory for the next step instead of unmapping it: an XLA step's temporary buffer (54 MB
      for the 4-layer / 128-d LM) is above glibc's largest mmap threshold (32 MB), so without this every step
      maps fresh pages and the kernel zeroes them (a quarter of a training step's time on a 2-core EPYC);
    - Keras's dropout on TensorFlow names its random algorithm (Philox, which TensorFlow picks on a CPU anyway:
      the masks are the same bits): left to "auto_select", XLA:CPU builds the bits with its generic random-bit
      generator, outside the fused kernels, at 20-50x the cost of the same Philox emitted inline.
    """
    global _configured
    if _configured is not None:
        return _configured
    import keras

    done = []
    if _keep_freed_memory():
        done.append("freed memory kept for reuse")
    if keras.backend.backend() == "tensorflow":
        _tf_dropout_philox()
        done.append("dropout on inline Philox")
    info = cpu()
    _configured = f"CPU: {info['cpu']} ({info['isa']}); " + ("; ".join(done) or "nothing to set")
    return _configured


def _keep_freed_memory() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # Both above any one step's buffers: allocations stay on the heap, and the heap is not trimmed after them.
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _HEAP_KEEP) and libc.mallopt(_M_TRIM_THRESHOLD, _HEAP_KEEP))


def _tf_dropout_philox() -> None:
    """Keras's TensorFlow dropout (keras.random.dropout, every Dropout layer, keras-hub's too) with the same
    arguments and rng_alg="philox" added: that backend function is the one place all of them draw their masks."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import random as tf_random

    if getattr(tf_random.dropout, "seqlab_philox", False):
        return

    def dropout(inputs, rate, noise_shape=None, seed=None):
        if rate == 1.0:
            return tf.zeros_like(inputs)
        if rate == 0.0:
            return inputs
        seed = tf_random._cast_seed(tf_random.draw_seed(seed))
        noise_shape = tf_random._get_concrete_noise_shape(inputs, noise_shape)
        return tf.nn.experimental.stateless_dropout(
            inputs, rate=rate, noise_shape=noise_shape, seed=seed, rng_alg="philox"
        )

    dropout.seqlab_philox = True
    tf_random.dropout = dropout
