"""The two sides of bench.translate_speed, each run in its own subprocess so that TensorFlow and PyTorch never
share a process or its cores:

    python -m bench.translate_sides seqlab PLAN.json     # or: marian

PLAN.json is what bench.translate_speed.run writes: the texts and targets, the model folder, the peer's shape and
the settings (beam, batch, threads, ...). Each side prints one JSON line: its decoding and training rates and,
unless told not to, where its time goes. What is timed, and why the comparison is fair, is bench.translate_speed's
docstring.
"""

from __future__ import annotations

import json
import sys
import time

from bench.common import Timer, emit, log, machine, median, set_threads

ALPHA = 0.6  # SeqLab's default length penalty, also given to Marian (which only ranks beams with it)


# ------------------------------------------------------------------------------------------------ helpers


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def _train_arrays(plan, tokenizer, config):
    """(source, decoder_input, decoder_target) int32 arrays of --train-batch pairs of the same sentences."""
    import numpy as np

    from corpus.parallel import Pair
    from translate import data

    pairs = [Pair(s, t, "", str(i)) for i, (s, t) in enumerate(zip(plan["texts"], plan["targets"]))]
    encoded = data.encode_pairs(
        pairs, tokenizer, max_src_len=config["max_src_len"], max_tgt_len=config["max_tgt_len"], too_long="truncate"
    )
    index = np.arange(plan["train_batch"]) % len(encoded)
    return encoded.source[index], encoded.decoder_input[index], encoded.decoder_target[index]


def _decode_stats(times_per_pass, chunks, tokens) -> dict:
    """Rates from the median pass; chunks = the sentence batches, tokens = output tokens of one pass."""
    totals = [sum(t) for t in times_per_pass]
    seconds = median(totals)
    per_batch = [median([t[b] for t in times_per_pass]) for b in range(len(chunks))]
    return {
        "sentences": sum(len(c) for c in chunks),
        "batches": len(chunks),
        "output_tokens": tokens,
        "seconds": round(seconds, 4),
        "sentences_per_s": round(sum(len(c) for c in chunks) / seconds, 2),
        "output_tokens_per_s": round(tokens / seconds, 1),
        "batch_ms": [round(t * 1e3, 2) for t in per_batch],
        "passes_s": [round(t, 4) for t in totals],
    }


def _per_step(full_s: float, one_step_s: float, steps: int) -> dict:
    return {
        "one_step_ms": round(one_step_s * 1e3, 2),
        "full_ms": round(full_s * 1e3, 2),
        "steps": steps,
        "per_step_ms": round((full_s - one_step_s) / max(steps - 1, 1) * 1e3, 3),
    }


def _train_report(source, dec_in, tokens: int, step_s: float, compile_s: float, loss: float) -> dict:
    """Both sides' training figures: the median step over the non-[PAD] targets of one batch."""
    return {
        "batch": len(source),
        "target_tokens": tokens,
        "step_ms": round(step_s * 1e3, 2),
        "target_tokens_per_s": round(tokens / step_s, 1),
        "compile_s": round(compile_s, 3),
        "loss_last": round(loss, 4),
        "shape": [list(source.shape), list(dec_in.shape)],
    }


# ------------------------------------------------------------------------------------------------ SeqLab side


def seqlab_side(plan) -> dict:
    set_threads(plan["threads"])
    import keras

    from translate import decode
    from translate.translator import Translator

    translator = Translator(plan["model_folder"])
    config, beam = translator.config, plan["beam"]
    decode.LANES = plan["lanes"] or decode.LANES
    chunks = _chunks(plan["texts"], plan["batch"])
    singles = [[t] for t in plan["texts"][: plan["batch1"]]]

    def one_pass(batches, **kw):
        times, outs = [], []
        for chunk in batches:
            start = time.perf_counter()
            outs.append(translator.translate(chunk, beam=beam, alpha=ALPHA, **kw))
            times.append(time.perf_counter() - start)
        return times, outs

    result = {
        "impl": "seqlab",
        "lanes": decode.LANES,  # decoding loops side by side (threads)
        "part_rows": decode.PART_ROWS,  # hypotheses per loop: a 32-sentence call at beam 4 decodes as 8 parts of 4
        "backend": keras.backend.backend(),
        "arch": config.arch,
        "params": int(translator.model.count_params()),
        "decode": {},
        "machine_at_start": machine(),
    }
    for name, batches in (("batch", chunks), ("batch_1", singles)):
        if not batches:
            continue
        log(f"[seqlab] beam-{beam} decoding, {len(batches)} batch(es) of <= {len(batches[0])}: warm-up (compiles)")
        with Timer() as warm:
            _, outs = one_pass(batches)
        lengths = [[len(o.target_tokens) + int(o.finished) for o in out] for out in outs]
        passes = []
        for r in range(plan["repeats"]):
            passes.append(one_pass(batches)[0])
            log(f"[seqlab]   pass {r + 1}: {sum(passes[-1]):.3f} s")
        stats = _decode_stats(passes, batches, sum(map(sum, lengths)))
        stats.update(
            warmup_s=round(warm.seconds, 3),
            lengths=lengths,
            longest=[max(x) for x in lengths],
            unfinished=sum(not o.finished for out in outs for o in out),
            sample=outs[0][0].text[:120],
        )
        result["decode"][name] = stats
    if not plan["no_breakdown"] and chunks:
        first = chunks[0]
        one_pass([first], max_len=1)
        one = median([one_pass([first], max_len=1)[0][0] for _ in range(plan["repeats"])])
        stats = result["decode"]["batch"]
        steps = stats["longest"][0]
        result["decode_breakdown"] = _per_step(stats["batch_ms"][0] / 1e3, one, steps)

    result["train"] = seqlab_train(plan, translator)
    return result


def seqlab_train(plan, translator) -> dict:
    import dataclasses

    import keras
    import numpy as np

    from core.jit import jit
    from core.optim import OptimizerConfig, make_optimizer
    from translate.model import build
    from translate.train import TrainConfig, smoothed_loss

    config = translator.config
    source, dec_in, dec_out = _train_arrays(plan, translator.tokenizer, dataclasses.asdict(config))
    weights = dec_out != 0
    keras.utils.set_random_seed(0)
    model = build(config)
    total = plan["train_warmup"] + plan["train_steps"] + 1
    loss = smoothed_loss(plan["label_smoothing"])
    use_jit = TrainConfig.__dataclass_fields__["jit"].default if plan["jit"] is None else plan["jit"]
    model.compile(optimizer=make_optimizer(OptimizerConfig(), total), loss=loss, jit_compile=use_jit)
    log(
        f"[seqlab] training at batch {len(source)}, {'with' if use_jit else 'without'} XLA as translate.train: "
        "first step (traces)"
    )
    with Timer() as first:
        model.train_on_batch((source, dec_in), dec_out, sample_weight=weights)
    for _ in range(plan["train_warmup"]):
        model.train_on_batch((source, dec_in), dec_out, sample_weight=weights)
    times, last = [], float("nan")
    for _ in range(plan["train_steps"]):
        start = time.perf_counter()
        last = float(model.train_on_batch((source, dec_in), dec_out, sample_weight=weights))  # numpy: synced
        times.append(time.perf_counter() - start)
    step = median(times)
    out = {
        **_train_report(source, dec_in, int(weights.sum()), step, first.seconds, last),
        "jit": bool(use_jit),
        "params": int(model.count_params()),
    }
    if not plan["no_breakdown"]:

        def fn(s, d, y, w):
            return loss(y, model((s, d), training=True), sample_weight=w)

        if keras.backend.backend() == "tensorflow":  # compiled as the train step is: a graph, XLA or not
            import tensorflow as tf

            forward = tf.function(fn, jit_compile=bool(use_jit))
        else:
            forward = jit(fn) if use_jit else fn
        w = weights.astype(np.float32)
        float(forward(source, dec_in, dec_out, w))
        fwd = median([_timed(lambda: float(forward(source, dec_in, dec_out, w))) for _ in range(5)])
        out["breakdown_ms"] = {"forward_loss": round(fwd * 1e3, 2), "backward_and_update": round((step - fwd) * 1e3, 2)}
    return out


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------------ Marian side


def marian_config(shape: dict):
    from transformers import MarianConfig

    return MarianConfig(
        vocab_size=shape["src_vocab"],
        decoder_vocab_size=shape["tgt_vocab"],
        share_encoder_decoder_embeddings=False,
        tie_word_embeddings=True,
        d_model=shape["dim"],
        encoder_layers=shape["layers"],
        decoder_layers=shape["layers"],
        encoder_attention_heads=shape["heads"],
        decoder_attention_heads=shape["heads"],
        encoder_ffn_dim=shape["ffn_dim"],
        decoder_ffn_dim=shape["ffn_dim"],
        max_position_embeddings=max(shape["max_src_len"], shape["max_tgt_len"]),
        activation_function="gelu",
        dropout=shape["dropout"],
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=0,
        eos_token_id=3,
        decoder_start_token_id=2,
        bos_token_id=None,
        forced_eos_token_id=None,
    )


def marian_side(plan) -> dict:
    import numpy as np
    import torch
    import transformers
    from transformers import GenerationConfig, MarianMTModel

    from translate.tokenizer import PairTokenizer

    torch.set_num_threads(plan["threads"])
    torch.manual_seed(0)
    shape = plan["peer_shape"]
    tokenizer = PairTokenizer.load(plan["peer_tokenizer"])
    model = MarianMTModel(marian_config(shape)).eval()
    beam, fixed = plan["beam"], plan["peer_padding"] == "fixed"

    def pad(rows, width):
        width = width if fixed else max(len(r) for r in rows)
        out = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r[:width]
        return torch.from_numpy(out)

    def translate(chunk, steps):
        ids = pad(tokenizer.source.encode_batch(chunk), shape["max_src_len"])
        gen = GenerationConfig(
            num_beams=beam,
            use_cache=True,
            do_sample=False,
            max_new_tokens=steps,
            min_new_tokens=steps,
            length_penalty=ALPHA,
            early_stopping=False,
            decoder_start_token_id=2,
            pad_token_id=0,
            eos_token_id=3,
            bos_token_id=None,
            forced_eos_token_id=None,
        )
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=ids != 0, generation_config=gen)
        assert tuple(out.shape) == (len(chunk), steps + 1), (tuple(out.shape), steps)
        return [tokenizer.target.decode(row[1:].tolist()) for row in out]

    def one_pass(batches, steps):
        times = []
        for chunk, n in zip(batches, steps):
            start = time.perf_counter()
            translate(chunk, n)
            times.append(time.perf_counter() - start)
        return times

    result = {
        "impl": "transformers-marian",
        "backend": "torch",
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "padding": plan["peer_padding"],
        "decode": {},
        "machine_at_start": machine(),
    }
    batch1 = [[t] for t in plan["texts"][: plan["batch1"]]]
    for name, batches in (("batch", _chunks(plan["texts"], plan["batch"])), ("batch_1", batch1)):
        if not batches:
            continue
        steps = plan["steps"][name]
        log(
            f"[marian] beam-{beam} generate, {len(batches)} batch(es) of <= {len(batches[0])}, "
            f"{min(steps)}-{max(steps)} steps: warm-up"
        )
        with Timer() as warm:
            one_pass(batches, steps)
        passes = []
        for r in range(plan["repeats"]):
            passes.append(one_pass(batches, steps))
            log(f"[marian]   pass {r + 1}: {sum(passes[-1]):.3f} s")
        stats = _decode_stats(passes, batches, sum(len(c) * n for c, n in zip(batches, steps)))
        stats.update(warmup_s=round(warm.seconds, 3), steps=steps)
        result["decode"][name] = stats
        if name == "batch" and not plan["no_breakdown"]:
            one = median([one_pass(batches[:1], [1])[0] for _ in range(plan["repeats"])])
            result["decode_breakdown"] = _per_step(stats["batch_ms"][0] / 1e3, one, steps[0])

    result["train"] = marian_train(plan, model, tokenizer, shape, torch)
    return result


def marian_train(plan, model, tokenizer, shape, torch) -> dict:
    import torch.nn.functional as F

    source, dec_in, dec_out = _train_arrays(plan, tokenizer, shape)
    if plan["peer_padding"] == "longest":
        source = source[:, : int((source != 0).sum(1).max())]
        width = int((dec_out != 0).sum(1).max())
        dec_in, dec_out = dec_in[:, :width], dec_out[:, :width]
    src = torch.from_numpy(source.astype("int64"))
    mask = src != 0
    din = torch.from_numpy(dec_in.astype("int64"))
    labels = torch.from_numpy(dec_out.astype("int64")).masked_fill(torch.from_numpy(dec_out == 0), -100)
    vocab = shape["tgt_vocab"]
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, betas=(0.9, 0.999), eps=1e-7)
    split = {"forward_loss": [], "backward": [], "clip_and_update": []}

    def step():
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = model(input_ids=src, attention_mask=mask, decoder_input_ids=din).logits
        loss = F.cross_entropy(
            logits.float().reshape(-1, vocab),
            labels.reshape(-1),
            ignore_index=-100,
            label_smoothing=plan["label_smoothing"],
        )
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        t3 = time.perf_counter()
        return float(loss.detach()), (t1 - t0, t2 - t1, t3 - t2)

    log(f"[marian] training at batch {len(source)}")
    with Timer() as first:
        step()
    for _ in range(plan["train_warmup"]):
        step()
    times, last = [], float("nan")
    for _ in range(plan["train_steps"]):
        start = time.perf_counter()
        last, parts = step()
        times.append(time.perf_counter() - start)
        for key, t in zip(split, parts):
            split[key].append(t)
    return {
        **_train_report(source, dec_in, int((dec_out != 0).sum()), median(times), first.seconds, last),
        "breakdown_ms": {k: round(median(v) * 1e3, 2) for k, v in split.items()},
    }


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("seqlab", "marian"):
        print("usage: python -m bench.translate_sides seqlab|marian PLAN.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    emit((seqlab_side if argv[0] == "seqlab" else marian_side)(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
