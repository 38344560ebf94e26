"""Every benchmark record names the CPU it ran on and that CPU's vector ISA, read from /proc/cpuinfo."""

from __future__ import annotations

import json
import os

import pytest

from bench import common
from core import jit

EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni

processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni
"""

XEON_AMX = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu sse2 fma avx avx2 avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""

XEON_AVX512 = """processor\t: 0
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
flags\t\t: fpu sse2 fma avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl
"""


@pytest.mark.parametrize(
    "text, model, isa, flags",
    [
        (EPYC_AVX2, "AMD EPYC 7B13", "avx2", ["avx2", "fma"]),
        (XEON_AVX512, "Intel(R) Xeon(R) CPU @ 2.20GHz", "avx512", ["avx2", "fma", "avx512f"]),
        (
            XEON_AMX,
            "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
            "amx",
            ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"],
        ),
    ],
)
def test_cpu_names_model_and_widest_isa(text, model, isa, flags):
    assert jit.cpu(text) == {"cpu": model, "isa": isa, "isa_flags": flags}


def test_cpu_without_cpuinfo_is_baseline():
    info = jit.cpu("")
    assert info["isa"] == "baseline" and info["isa_flags"] == []
    assert isinstance(info["cpu"], str)


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="needs Linux's /proc/cpuinfo")
def test_this_machine_record_matches_proc_cpuinfo():
    with open("/proc/cpuinfo") as f:
        text = f.read()
    flags = set(next(line for line in text.splitlines() if line.startswith("flags")).split(":", 1)[1].split())
    record = common.machine()
    assert record["cpus"] == os.cpu_count()
    assert set(record["isa_flags"]) == flags & set(jit.ISA_FLAGS)
    assert (record["isa"] == "avx2") == ("avx2" in flags and "avx512f" not in flags)


def test_emit_adds_the_machine_to_a_result_and_its_file(tmp_path, capsys):
    out = tmp_path / "r" / "x_avx2.json"
    common.emit({"bench": "x", "tokens_per_s": 1.0}, str(out))
    printed = common.last_json(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    assert written["machine"]["isa"] == jit.cpu()["isa"]
    assert written["machine"]["cpu"] == jit.cpu()["cpu"]
    assert "loadavg_1m_end" in written["machine"] or not hasattr(os, "getloadavg")


def test_emit_keeps_a_result_own_machine_record(capsys):
    common.emit({"bench": "x", "machine": {"cpu": "given"}})
    assert common.last_json(capsys.readouterr().out)["machine"]["cpu"] == "given"


def test_configure_names_the_cpu_and_keeps_dropout_as_keras_draws_it():
    """core.jit.configure says the CPU and its ISA once; after it a Dropout layer still drops `rate` of its inputs
    and scales the rest, the same seed gives the same mask, and eager (graph) masks are the bits Keras drew before
    (TensorFlow's CPU default is Philox), so runs before and after draw the same dropout."""
    import keras
    import numpy as np
    import tensorflow as tf

    x = np.ones((64, 512), "float32")
    before = np.asarray(keras.layers.Dropout(0.25, seed=3)(x, training=True))
    line = jit.configure()
    assert line == jit.configure()
    info = jit.cpu()
    assert line.startswith(f"CPU: {info['cpu']} ({info['isa']})")
    after = np.asarray(keras.layers.Dropout(0.25, seed=3)(x, training=True))
    np.testing.assert_array_equal(after == 0, before == 0)
    assert abs((after == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(after[after != 0], 1 / 0.75, rtol=1e-6)

    layer = keras.layers.Dropout(0.25, seed=5)
    compiled = tf.function(lambda: layer(x, training=True), jit_compile=True)
    first, second = np.asarray(compiled()), np.asarray(compiled())
    assert abs((first == 0).mean() - 0.25) < 0.01 and abs((second == 0).mean() - 0.25) < 0.01
    assert not np.array_equal(first == 0, second == 0)  # the seed generator moves on between steps
    again = keras.layers.Dropout(0.25, seed=5)
    rerun = tf.function(lambda: again(x, training=True), jit_compile=True)
    np.testing.assert_array_equal(np.asarray(rerun()) == 0, first == 0)
