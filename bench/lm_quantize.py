"""Quantized weights for decoding: Keras' own int8 (`model.quantize("int8")`) and bfloat16 against fp32.

    python -m bench.lm_quantize                    # the bundled LMs (speed and held-out loss) and both bench shapes

For each bundled LM: single-stream decoding tokens/s (LanguageModel's compiled 16-token chunks, batch 1) and the
mean held-out loss (nats/token on the first --windows validation windows of its corpus, the split lm.train
holds out) in fp32, int8 (Dense/EinsumDense/Embedding weights, per-channel scales, Keras 3) and bfloat16 (the
whole model in the "bfloat16" dtype policy). For the two bench shapes of the README's Performance table (random
weights, 4 layers/128-d and 6 layers/384-d, vocab 65) tokens/s only. A quantization is worth using when it is
faster and the loss moves by at most 0.01 nats.

Last line of stdout: one JSON object {"machine", "models": {name: {variant: {"tokens_per_s", "loss"}}}}.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from bench.common import emit, log, machine

VARIANTS = ("fp32", "int8", "bfloat16")
SHAPES = {"4 layers, 128-d": (4, 4, 128), "6 layers, 384-d": (6, 6, 384)}


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.lm_quantize", description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["char-transformer", "char-lstm"])
    p.add_argument("--windows", type=int, default=64, help="held-out windows for the loss")
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--no-shapes", action="store_true", help="skip the random-weight bench shapes")
    return p.parse_args(argv)


def _load(spec: str, variant: str):
    import keras

    import lm

    keras.config.set_dtype_policy("bfloat16" if variant == "bfloat16" else "float32")
    try:
        m = lm.load(spec)  # a bundled name or a folder
    finally:
        keras.config.set_dtype_policy("float32")
    if variant == "int8":
        m.model.quantize("int8")
    return m


def _held_out(m, windows: int):
    import corpus
    from core.files import read_json
    from lm import data

    name = read_json(os.path.join(m.folder, "metrics.json"))["corpus"]  # the corpus it was trained on
    _, val_docs = corpus.split(corpus.load(name))
    ids = data.encode(m.tokenizer, corpus.text_of(val_docs))
    return data.windows(ids[: m.context_length * windows + 1], m.context_length)


def main(argv=None) -> dict:
    from bench.lm_step import single_stream
    from lm.evaluate import mean_loss

    args = parse(argv)
    result = {"machine": machine(), "models": {}}
    for name in args.models:
        row, held_out = {}, None
        for variant in VARIANTS:
            try:
                m = _load(name, variant)
            except Exception as e:  # noqa: BLE001 - e.g. TF has no bfloat16 QR for the LSTM's orthogonal init
                row[variant] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
                log(f"{name} {variant}: cannot be built: {row[variant]['error']}")
                continue
            held_out = held_out or _held_out(m, args.windows)
            row[variant] = {
                "tokens_per_s": round(single_stream(m, args.calls)),
                "loss": round(mean_loss(m.model, *held_out), 5),
            }
            log(f"{name} {variant}: {row[variant]}")
        for variant in [v for v in VARIANTS[1:] if "error" not in row[v]]:
            row[variant]["loss_change"] = round(row[variant]["loss"] - row["fp32"]["loss"], 5)
            row[variant]["speed_ratio"] = round(row[variant]["tokens_per_s"] / row["fp32"]["tokens_per_s"], 3)
        result["models"][name] = row
    if not args.no_shapes:
        import keras

        from bench.lm_generate import random_model_folder

        for label, (layers, heads, dim) in SHAPES.items():
            shape = argparse.Namespace(
                arch="transformer", vocab=65, seq=256, layers=layers, dim=dim, heads=heads, seed=0
            )
            with tempfile.TemporaryDirectory() as folder:
                row = {}
                for v in VARIANTS:
                    # The random weights are saved and loaded by layer path, and unnamed layers take their names
                    # from Keras' global counters: reset them before building each side. (It also upsets any
                    # later load in this process, which is why the test runs --no-shapes.)
                    keras.backend.clear_session()
                    random_model_folder(shape, folder)
                    keras.backend.clear_session()
                    row[v] = {"tokens_per_s": round(single_stream(_load(folder, v), args.calls))}
            for variant in VARIANTS[1:]:
                row[variant]["speed_ratio"] = round(row[variant]["tokens_per_s"] / row["fp32"]["tokens_per_s"], 3)
            log(f"{label}: {row}")
            result["models"][label] = row
    return emit(result)


if __name__ == "__main__":
    main()
