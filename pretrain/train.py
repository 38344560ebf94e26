"""Pretrain BERT (MLM + NSP) from scratch: `python -m pretrain.train --corpus kjv,shakespeare --vocab DIR --out DIR`.

Running the same command again on the same --out resumes from the last checkpoint (the data stream is a pure
function of the step, so resuming needs only weights, optimizer variables, the step and the dropout RNG).
A larger --steps on a finished --out extends it: the rate jumps back to where a run of that length would be at
that step, then decays to 0 at the new end. The model card lists every command and the step each one started at.
Work files (token shards, checkpoints, TensorBoard logs) live in OUT/work/; the finished model is OUT/config.json,
model.weights.h5, vocab.txt, metrics.json and a model card README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shlex
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

VAL_FRACTION = 0.1
VAL_BATCHES = 32  # fixed validation set: up to 32 batches of held-out pairs with fixed masks
LOG_EVERY = 10


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m pretrain.train", description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True, help="kjv, shakespeare, kjv,shakespeare, a path or hf:NAME[:CONFIG]")
    p.add_argument("--vocab", required=True, help="folder with vocab.txt (python -m pretrain.vocab)")
    p.add_argument("--out", required=True, help="output folder; the same command on it resumes")
    p.add_argument("--preset", default="tiny", help="tiny (L2/H128), mini (L4/H256), small (L4/H512), base (L12/H768)")
    p.add_argument("--layers", type=int, help="override the preset's number of layers")
    p.add_argument("--hidden", type=int, help="override the preset's hidden size (intermediate = 4x)")
    p.add_argument("--heads", type=int, help="override the preset's attention heads")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    run = p.add_mutually_exclusive_group(required=True)
    run.add_argument("--steps", type=int, help="total training steps")
    run.add_argument("--minutes", type=float, help="train for this much wall time (steps estimated after warm-up)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    p.add_argument("--warmup", type=int, help="warm-up steps (default 10%% of --steps, at most 1000; 200 with --minutes)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip-norm", type=float, default=1.0, help="global gradient-norm clipping")
    p.add_argument("--mask-rate", type=float, default=0.15)
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (and validations)")
    p.add_argument("--push-to-hub", metavar="REPO", help="upload the finished model to this Hugging Face repo")
    p.add_argument("--attention-init", choices=("local", "random"), default="local",
                   help="local: the first half of the layers start with heads on fixed neighbours (i-2, i-1, i+1, "
                        "i+2), which skips the unigram plateau; random: BERT's own N(0, 0.02)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def check_args(a) -> None:
    """Cheap checks before any heavy import, so bad input fails in a second with one line."""
    for name in ("steps", "minutes", "seq_len", "batch_size", "max_predictions", "checkpoint_every", "lr"):
        value = getattr(a, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive (got {value})")
    if a.warmup is not None and a.warmup < 0:
        raise UsageError(f"--warmup must be >= 0 (got {a.warmup})")
    if not 0 < a.mask_rate < 1:
        raise UsageError(f"--mask-rate must be between 0 and 1 (got {a.mask_rate})")
    if a.seq_len < 8:
        raise UsageError(f"--seq-len {a.seq_len} is too short for [CLS] A [SEP] B [SEP]")
    try:
        os.makedirs(a.out, exist_ok=True)
        probe = os.path.join(a.out, f".probe{os.getpid()}")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        raise UsageError(f"cannot write to --out {a.out}: {e.strerror or e}") from None


# ---------------------------------------------------------------------------------------------------- data
def prepare_data(a, tokens: list[str], work: str, resuming: bool = False):
    """Token shards for the train and held-out splits, built once per (corpus, vocab, seed) and reused."""
    import corpus
    from pretrain import data, vocab

    docs = corpus.load(a.corpus)  # cheap once cached; its fingerprint notices a corpus that changed under a name
    fingerprint = hashlib.sha256("".join(f"{d.group}\t{len(d.text)}\n" for d in docs).encode()).hexdigest()[:16]
    key = {"corpus": a.corpus, "documents": fingerprint,
           "vocab": hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16],
           "seed": a.seed, "val_fraction": VAL_FRACTION}
    folder = os.path.join(work, "data")
    meta = os.path.join(folder, "key.json")
    if os.path.exists(meta):
        old = json.load(open(meta))
        if old == key:
            return folder
        if resuming and old.get("documents") != fingerprint:
            raise UsageError(f"the documents of corpus {a.corpus!r} changed since this run's checkpoints in {work}: "
                             "resuming would mix two data sets; use another --out")
    train_docs, val_docs = corpus.split(docs, VAL_FRACTION)  # not --seed: the same held-out text for every model
    tok = vocab.make_tokenizer(tokens)
    os.makedirs(folder, exist_ok=True)
    for name, part in (("train", train_docs), ("val", val_docs)):
        data.write_shards([data.sentences(d.text) for d in part], tok, os.path.join(folder, name), seed=a.seed)
    tmp = meta + ".tmp"
    json.dump(key, open(tmp, "w"))
    os.replace(tmp, meta)
    return folder


# ------------------------------------------------------------------------------------------------- training
def make_schedule(peak: float, warmup: int, total: int):
    import keras
    from keras import ops

    class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
        """Linear warm-up to `peak`, then linear decay to 0 at `total` (BERT's schedule)."""

        def __init__(self):
            self.total = total  # read when the train step is traced; set before (re)compiling

        def __call__(self, step):
            step = ops.cast(step, "float32")
            warm = peak * step / max(1, warmup)
            decay = peak * ops.maximum(0.0, (self.total - step) / max(1, self.total - warmup))
            return ops.where(step < warmup, warm, decay)

        def get_config(self):
            return {"peak": peak, "warmup": warmup, "total": self.total}

    return WarmupLinearDecay()


def distribution_scope(batch_size: int):
    """Data parallel over all visible GPUs when there are several; a no-op on one device.

    On JAX the devices are the default platform's: every GPU, or on a CPU the host devices that
    XLA_FLAGS=--xla_force_host_platform_device_count=N makes (how the tests run this path without GPUs).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        # several logical CPUs exist only when a CPU was split on purpose (how the tests run this path)
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    elif backend == "jax":
        import jax
        devices = jax.devices()
    else:
        devices = []
    if len(devices) < 2:
        return contextlib.nullcontext()
    if batch_size % len(devices):
        raise UsageError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices")
    print(f"data parallel over {len(devices)} devices, {batch_size // len(devices)} sequences each",
          file=sys.stderr)
    if backend == "tensorflow":
        return tf.distribute.MirroredStrategy([d.name for d in devices]).scope()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return contextlib.nullcontext()


def compile_model(model, a, schedule):
    import keras

    opt = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=a.weight_decay, beta_1=0.9, beta_2=0.999,
                                 epsilon=1e-6, global_clipnorm=a.clip_norm)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias", "_norm"])
    ce = keras.losses.SparseCategoricalCrossentropy
    model.compile(
        optimizer=opt,
        # MLM: mean over the real predictions only (unused slots have weight 0), as in BERT
        loss={"mlm": ce(from_logits=True, reduction="mean_with_sample_weight"), "nsp": ce(from_logits=True)},
        weighted_metrics={"mlm": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
                          "nsp": [keras.metrics.SparseCategoricalAccuracy("accuracy")]},
        jit_compile=bool(a.jit),
    )
    model.optimizer.build(model.trainable_variables)
    return model


# -------------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(model, work: str, state: dict) -> None:
    """work/checkpoints/step-N written under a temporary name then renamed, then `latest` replaced (atomic)."""
    from lm.checkpoint import check_space
    from pretrain.model import save

    root = os.path.join(work, "checkpoints")
    os.makedirs(root, exist_ok=True)
    check_space(root, model, 4.0)  # weights, two Adam moments, slack: refused before anything is half-written
    name = f"step-{state['step']:08d}"
    tmp = os.path.join(root, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save(model, tmp)
    opt = model.optimizer
    np.savez(os.path.join(tmp, "optimizer.npz"), **{f"{i:04d}": np.asarray(v) for i, v in enumerate(opt.variables)})
    np.savez(os.path.join(tmp, "rng.npz"), **{f"{i:04d}": np.asarray(v) for i, v in
                                              enumerate(model.non_trainable_variables)})
    with open(os.path.join(tmp, "state.json"), "w") as f:
        json.dump(state, f)
    final = os.path.join(root, name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    with open(os.path.join(root, ".latest.tmp"), "w") as f:
        f.write(name)
    os.replace(os.path.join(root, ".latest.tmp"), os.path.join(root, "latest"))
    for old in os.listdir(root):  # keep only the newest
        if old.startswith(("step-", ".tmp-")) and old != name:
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)


def latest_checkpoint(work: str):
    pointer = os.path.join(work, "checkpoints", "latest")
    if not os.path.exists(pointer):
        return None
    folder = os.path.join(work, "checkpoints", open(pointer).read().strip())
    with open(os.path.join(folder, "state.json")) as f:
        return folder, json.load(f)


def restore_checkpoint(model, folder: str) -> None:
    from lm.checkpoint import load_weights  # names the file when it is truncated or corrupted

    load_weights(model, os.path.join(folder, "model.weights.h5"))
    for store, variables in (("optimizer.npz", model.optimizer.variables), ("rng.npz", model.non_trainable_variables)):
        saved = np.load(os.path.join(folder, store))
        if len(saved.files) != len(variables):
            raise UsageError(f"checkpoint {folder} does not match this model ({store}): use another --out")
        for i, v in enumerate(variables):
            v.assign(saved[f"{i:04d}"])


# ---------------------------------------------------------------------------------------------------- monitor
def make_monitor(a, schedule, work, state, total_ref, budget_s, validate):
    import keras
    from tqdm import tqdm

    try:
        import tensorflow as tf
        writer = tf.summary.create_file_writer(os.path.join(work, "logs"))
    except ImportError:  # JAX without TensorFlow: no TensorBoard
        writer = None

    class Monitor(keras.callbacks.Callback):
        """Progress bar, NaN guard, periodic checkpoint + validation, TensorBoard, time budget."""

        def __init__(self):
            super().__init__()
            self.bar = tqdm(total=total_ref[0], initial=state["step"], desc="pretrain", unit="step",
                            mininterval=1.0, dynamic_ncols=True, file=sys.stderr)
            self.nan = False

        def on_train_begin(self, logs=None):
            self.start_step, self.prev, self.reset_n = state["step"], None, 0
            self.t0 = time.time()
            self.durations = []  # seconds per step (the first includes compiling)

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            if not math.isfinite(float(logs.get("loss", 0.0))):
                self.nan, self.model.stop_training = True, True
                return
            state["step"] += 1
            now = time.time()
            state["seconds"] += now - self.t0
            self.durations.append(now - self.t0)
            self.t0 = now
            self.bar.update(1)
            # keras' logs are means since the start of this fit call or the last validation (evaluate resets
            # the compiled metrics): recover the means over each logging window
            n = batch + 1 - self.reset_n
            cum = {k: float(logs.get(k, 0.0)) for k in ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")}
            if state["step"] % LOG_EVERY == 0 or state["step"] == total_ref[0]:
                prev_n, prev = self.prev or (0, dict.fromkeys(cum, 0.0))
                win = {k: (cum[k] * n - prev[k] * prev_n) / max(1, n - prev_n) for k in cum}
                self.prev = (n, cum)
                state["history"].append([state["step"]] + [round(win[k], 5) for k in cum])
                self.bar.set_postfix_str(f"mlm {win['mlm_loss']:.3f}/{win['mlm_accuracy']:.3f} "
                                         f"nsp {win['nsp_loss']:.3f}/{win['nsp_accuracy']:.3f}")
                if writer is not None:
                    with writer.as_default(step=state["step"]):
                        for k, v in win.items():
                            tf.summary.scalar(f"train/{k}", v)
                        # from the schedule on the host: the optimizer's step counter is on the device (and
                        # on JAX not in the model between steps)
                        tf.summary.scalar("train/learning_rate", float(np.asarray(schedule(state["step"]))))
            done = state["step"] >= total_ref[0] or state["seconds"] >= budget_s
            if state["step"] % a.checkpoint_every == 0 or done:
                # on JAX, fit holds the weights outside the model between steps; reading Callback.model puts
                # them back, without which evaluate and the checkpoint would see none
                synced = self.model
                val = validate(synced)
                synced.reset_metrics()  # evaluate leaves its batches in the metrics that training's logs go on
                state["validation"].append([state["step"]] + [round(val[k], 5) for k in sorted(val)])
                if writer is not None:
                    with writer.as_default(step=state["step"]):
                        for k, v in val.items():
                            tf.summary.scalar(f"validation/{k}", v)
                    writer.flush()
                save_checkpoint(synced, work, state)
                self.reset_n, self.prev = batch + 1, None
            if done:
                self.model.stop_training = True

        def close(self):
            self.bar.close()

    return Monitor()


# ------------------------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse_args(argv)
    try:
        return run(a, argv)
    except (UsageError, ValueError, OSError) as e:  # CorpusError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(a, argv) -> int:
    check_args(a)
    from pretrain import vocab
    tokens = vocab.read_vocab(a.vocab)

    import keras
    from pretrain import data, model as bert

    config = bert.BertConfig.preset(a.preset, vocab_size=len(tokens), num_layers=a.layers, hidden_size=a.hidden,
                                    num_heads=a.heads, dropout=a.dropout)
    if a.seq_len > config.max_positions:
        raise UsageError(f"--seq-len {a.seq_len} is beyond the model's {config.max_positions} positions")
    if config.hidden_size % config.num_heads:
        raise UsageError(f"hidden size {config.hidden_size} is not divisible by {config.num_heads} heads")
    work = os.path.join(a.out, "work")
    import dataclasses
    signature = {"corpus": a.corpus, "config": dataclasses.asdict(config),  # what a resume must not change
                 "seq_len": a.seq_len, "batch_size": a.batch_size, "seed": a.seed, "mask_rate": a.mask_rate,
                 "max_predictions": a.max_predictions}
    found = latest_checkpoint(work)
    if found and found[1]["signature"] != signature:
        from lm.checkpoint import differences

        old = found[1]["signature"]
        differ = differences(old, {k: v for k, v in signature.items() if k != "config"}) + \
            differences(old.get("config", {}), signature["config"], label=lambda k: f"model {k}")
        raise UsageError(f"{a.out} holds a run made with {', '.join(differ)}: resume with the same command or use "
                         "another --out")
    state = found[1] if found else {"step": 0, "seconds": 0.0, "total": a.steps, "history": [], "validation": [],
                                    "signature": signature}
    if a.steps and a.steps < state["step"]:
        raise UsageError(f"--steps {a.steps} is below the step this run has reached ({state['step']}): give at least "
                         "that many (more trains it further) or use another --out")
    if a.steps:
        state["total"] = a.steps
    # the model card must say how the weights came to be when one run was resumed with other flags
    start_step, command = state["step"], "python -m pretrain.train " + shlex.join(argv)
    commands = state.setdefault("commands", [[0, None]] if found else [])  # None: made before commands were kept
    added = not commands or commands[-1][1] != command
    if added:
        commands.append([start_step, command])
    budget_s = a.minutes * 60 if a.minutes else math.inf

    folder = prepare_data(a, tokens, work, resuming=bool(found))
    specials = {s: tokens.index(s) for s in vocab.SPECIALS}
    stream = data.Batches(os.path.join(folder, "train"), a.seq_len, a.batch_size, len(tokens), a.mask_rate,
                          a.max_predictions, a.seed, specials)
    # validation masks as BERT and pretrain.evaluate do, whatever --mask-rate training uses, so runs compare
    val_batches = data.Batches(os.path.join(folder, "val"), a.seq_len, a.batch_size, len(tokens),
                               data.BERT_MASK_RATE, data.bert_max_predictions(a.seq_len), a.seed, specials).fixed(VAL_BATCHES)

    if a.precision != "fp32":
        keras.mixed_precision.set_global_policy({"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[a.precision])
    keras.utils.set_random_seed(a.seed)
    warmup = a.warmup if a.warmup is not None else (min(1000, a.steps // 10) if a.steps else 200)
    calibrate = state["total"] is None  # --minutes: steps unknown until the step time is measured
    schedule = make_schedule(a.lr, warmup, state["total"] or 10**9)
    with distribution_scope(a.batch_size):
        model = bert.build(config)
        if a.attention_init == "local" and not found:
            bert.local_attention_init(model, offsets=(-2, -1, 1, 2), layers=range((config.num_layers + 1) // 2),
                                      seed=a.seed)
        compile_model(model, a, schedule)
    if found:
        restore_checkpoint(model, found[0])
        print(f"resuming {a.out} at step {state['step']}", file=sys.stderr)

    def validate(model):
        logs = model.evaluate(x=(b for b in val_batches), steps=len(val_batches), verbose=0, return_dict=True)
        return {k: float(logs[k]) for k in ("mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy")}

    total_ref = [state["total"] or 10**9]
    monitor = make_monitor(a, schedule, work, state, total_ref, budget_s, validate)
    try:
        if calibrate and state["step"] < total_ref[0]:
            n = min(60, max(20, warmup))
            total_ref[0] = state["step"] + n
            model.fit(stream(state["step"]), steps_per_epoch=n, epochs=1, verbose=0, shuffle=False,
                      callbacks=[monitor])
            if not monitor.nan:
                # median of the later steps: the first ones include compiling and warming the input pipeline
                per_step = float(np.median(monitor.durations[len(monitor.durations) // 2:])) * 1.03
                state["total"] = state["step"] + max(0, int((budget_s - state["seconds"]) / per_step))
                total_ref[0] = schedule.total = state["total"]
                monitor.bar.total = state["total"]
                model.make_train_function(force=True)  # retrace with the real decay length
        if not monitor.nan and state["step"] < total_ref[0] and state["seconds"] < budget_s:
            model.fit(stream(state["step"]), steps_per_epoch=total_ref[0] - state["step"], epochs=1, verbose=0,
                      shuffle=False, callbacks=[monitor])
    finally:
        monitor.close()
    if monitor.nan:
        kept = latest_checkpoint(work)
        where = f"the last good checkpoint (step {kept[1]['step']}) is kept in {kept[0]}" if kept else \
            "no checkpoint had been written yet"
        print(f"error: loss became NaN at step {state['step'] + 1}; stopped ({where}). "
              "Try a lower --lr, a longer --warmup or --precision fp32.", file=sys.stderr)
        return 3
    if added and state["step"] == start_step and len(commands) > 1:  # it trained nothing: not part of the history
        commands.pop()
        print(f"nothing to train: {a.out} is at step {state['step']} of {state['total']} "
              "(a larger --steps trains it further)", file=sys.stderr)
    if not state["validation"] or state["validation"][-1][0] != state["step"]:
        val = validate(model)
        state["validation"].append([state["step"]] + [round(val[k], 5) for k in sorted(val)])
    finish(a, argv, model, tokens, state)
    return 0


def finish(a, argv, model, tokens, state) -> None:
    """The deliverable folder: weights, config, vocab, metrics.json, loss curve and model card."""
    from pretrain import card, model as bert, vocab

    bert.save(model, a.out)
    vocab.write_vocab(tokens, a.out)
    names = ["mlm_accuracy", "mlm_loss", "nsp_accuracy", "nsp_loss"]
    last = dict(zip(names, state["validation"][-1][1:]))
    metrics = {**last, "steps": state["step"], "seconds": round(state["seconds"], 1),
               "command": state["commands"][-1][1] or "python -m pretrain.train " + shlex.join(argv),
               "corpus": a.corpus,
               **({"commands": state["commands"]} if len(state.get("commands", [])) > 1 else {}),
               "preset": a.preset, "seq_len": a.seq_len, "batch_size": a.batch_size,
               "attention_init": a.attention_init, "mask_rate": a.mask_rate,
               "parameters": int(model.count_params())}
    tmp = os.path.join(a.out, ".metrics.json.tmp")
    with open(tmp, "w") as f:
        json.dump(metrics, f, indent=2)
    os.replace(tmp, os.path.join(a.out, "metrics.json"))
    card.write(a.out, metrics, state, model.config)
    print(json.dumps(metrics))
    if a.push_to_hub:
        from huggingface_hub import HfApi
        api = HfApi()
        try:
            api.create_repo(a.push_to_hub, exist_ok=True)
            api.upload_folder(folder_path=a.out, repo_id=a.push_to_hub, ignore_patterns=["work/*", ".*"])
        except Exception as e:  # offline, no token, no rights: the trained model is safe on disk either way
            raise OSError(f"the model is saved in {a.out}, but pushing it to {a.push_to_hub} failed: "
                          f"{type(e).__name__}: {e}") from None
        print(f"pushed to https://huggingface.co/{a.push_to_hub}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
