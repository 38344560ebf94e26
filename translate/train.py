"""`python -m translate.train`: train a translator (bi-GRU/LSTM + attention, or a Transformer), resumable.

    python -m translate.train --pair web-es --arch transformer --out runs/tr --minutes 60

Running the same command again on the same --out resumes from the last checkpoint: step count, optimizer state,
dropout RNG and data position (batch n is a pure function of the seed and n) all continue; a larger --steps
trains further. Other settings on that folder are refused, each named. The folder ends up holding config.json,
model.weights.h5, the tokenizer, metrics.json, loss_curve.png and a model card README.md.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import cli, precision  # noqa: E402
from core.budget import Budget  # noqa: E402
from core.optim import OptimizerConfig  # noqa: E402
from translate.evaluate import add_languages, languages  # noqa: E402
from translate.model import TranslatorConfig  # noqa: E402

CALIBRATE = 30  # --minutes: steps timed (during warm-up, where the schedule does not depend on its end)
VAL_PAIRS = 512  # validation loss on a fixed slice: comparable across steps and runs
BLEU_PAIRS = 200  # a quick validation BLEU (greedy) for the card; translate.evaluate scores whole splits


@dataclasses.dataclass
class TrainConfig:
    pair: str  # web-es | kjv-web | a TSV file | hf:NAME[:CONFIG]
    out: str
    model: TranslatorConfig  # src_vocab / tgt_vocab are filled from the tokenizer
    budget: Budget
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    vocab_size: int = 8000
    batch_size: int = 64
    share_embeddings: str = "auto"  # auto (when the vocabulary is joint) | on | off
    length_window: int = 32  # batches of similar lengths, sorted `length_window` batches at a time (0: random)
    split_sentences: bool = False  # also train on the sentence pairs cut from verses (corpus.parallel.sentence_pairs)
    precision: str = "fp32"  # fp32 | bf16 (core.precision; bf16 computes in bfloat16, keeps float32 weights)
    label_smoothing: float = 0.1
    eval_every: int = 200
    checkpoint_every: int = 200
    seed: int = 0
    jit: bool = False
    source_lang: str | None = None  # an hf: set's source key or column (with target_lang; None: from the set)
    target_lang: str | None = None

    @property
    def languages(self) -> tuple[str, str] | None:
        return languages(self.source_lang, self.target_lang)

    def validate(self) -> TrainConfig:
        """Everything that can be checked before a corpus is read or a tokenizer trained."""
        self.budget.validate()
        self.optimizer.validate()
        probe = dataclasses.replace(self.model, src_vocab=self.vocab_size, tgt_vocab=self.vocab_size)
        probe.validate()
        if self.vocab_size < 100 or self.batch_size < 1 or self.eval_every < 1 or self.checkpoint_every < 1:
            raise ValueError("--vocab-size must be >= 100; --batch-size, --eval-every, --checkpoint-every >= 1")
        if self.share_embeddings not in ("auto", "on", "off"):
            raise ValueError(f"--share-embeddings must be auto, on or off, got {self.share_embeddings!r}")
        if self.length_window < 0:
            raise ValueError(f"--length-window must be >= 0 (0: random batches), got {self.length_window}")
        if precision.check(self.precision) == "fp16":  # bf16 has float32's range; float16 has not
            raise ValueError(
                "--precision fp16 is not for translate.train: its masks add -1e9, which float16 cannot hold"
            )
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        languages(self.source_lang, self.target_lang)  # one without the other is refused
        return self

    def run_settings(self) -> dict:
        """What decides the data stream besides the model: a resume must not change it."""
        return {
            "pair": self.pair,
            "source_lang": self.source_lang,
            "target_lang": self.target_lang,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "vocab_size": self.vocab_size,
            "length_window": self.length_window,
            "ema": self.optimizer.ema,  # the optimizer's variables hold the average: their count depends on it
            "split_sentences": self.split_sentences,
            "precision": self.precision,
        }


def smoothed_loss(label_smoothing: float):
    """Per-token cross-entropy with label smoothing (Szegedy et al.): (1-e)·NLL + e·mean over the vocabulary of
    -log p. Written out because Keras's sparse loss has no smoothing and a one-hot (B, T, V) target would be
    100 MB a batch; the [PAD] mask comes as sample weights, averaged over real tokens."""
    import keras
    from keras import ops

    class SmoothedCrossEntropy(keras.losses.Loss):
        def call(self, y_true, logits):
            logp = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
            nll = -ops.take_along_axis(logp, ops.expand_dims(ops.cast(y_true, "int32"), -1), axis=-1)[..., 0]
            return (1 - label_smoothing) * nll - label_smoothing * ops.mean(logp, axis=-1)

    return SmoothedCrossEntropy(reduction="mean_with_sample_weight", name="smoothed_ce")


def shared(choice: str, tokenizer) -> bool:
    """--share-embeddings resolved against the tokenizer: auto shares exactly when the vocabulary is joint."""
    if choice == "on" and not tokenizer.joint:
        raise ValueError(
            "--share-embeddings on needs one joint vocabulary, but this pair's sides got one each "
            "(their words differ): use auto or off"
        )
    return tokenizer.joint if choice == "auto" else choice == "on"


def validation_loss(model, data, batch_size: int) -> float:
    """Mean NLL (nats per target token, no smoothing) over the pairs of `data`."""
    import numpy as np
    from keras import ops

    from translate import data as batches

    total, count = 0.0, 0.0
    for source, dec_in, dec_out in batches.batches(data, batch_size):
        logits = ops.convert_to_numpy(model((source, dec_in), training=False)).astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = np.take_along_axis(logp, dec_out[..., None], -1)[..., 0]
        mask = dec_out != 0
        total -= float(picked[mask].sum())
        count += float(mask.sum())
    return total / max(count, 1.0)


def train(config: TrainConfig, command: str) -> dict:
    import keras
    from tqdm import tqdm

    from core import checkpoint, files
    from core.logs import TensorBoard
    from core.optim import current_lr, finalize_weights, make_optimizer, set_total
    from corpus import parallel
    from translate import card, data
    from translate.model import build
    from translate.tokenizer import PairTokenizer

    config.validate()
    out = config.out
    files.writable_folder(out)
    resume = checkpoint.latest(out)
    splits = parallel.split_pairs(parallel.load_pairs(config.pair, config.languages))
    if resume:
        tokenizer, model_config = PairTokenizer.load(out), TranslatorConfig.load(out)
        saved = checkpoint.read_state(resume)
        saved["run"].setdefault("length_window", 0)  # runs from before length grouping dealt random batches
        saved["run"].setdefault("ema", 0.0)  # and kept no average of the weights
        saved["run"].setdefault("split_sentences", False)  # and trained on whole verses
        saved["run"].setdefault("precision", "fp32")
        saved["run"].setdefault("source_lang", None)  # and read each hf: set in its own direction
        saved["run"].setdefault("target_lang", None)
        wanted = dataclasses.replace(
            config.model,
            src_vocab=model_config.src_vocab,
            tgt_vocab=model_config.tgt_vocab,
            share_embeddings=shared(config.share_embeddings, tokenizer),
        )
        differ = checkpoint.differences(
            dataclasses.asdict(model_config), dataclasses.asdict(wanted), label=lambda k: "--" + k.replace("_", "-")
        ) + checkpoint.differences(saved["run"], config.run_settings(), label=lambda k: "--" + k.replace("_", "-"))
        if differ:
            raise ValueError(
                f"{out} holds a run made with {', '.join(differ)}: resume with its own settings or use another --out"
            )
    else:
        tokenizer = PairTokenizer.train(splits["train"], config.vocab_size)
        model_config = dataclasses.replace(
            config.model,
            src_vocab=len(tokenizer.source),
            tgt_vocab=len(tokenizer.target),
            share_embeddings=shared(config.share_embeddings, tokenizer),
        ).validate()
    lengths = dict(max_src_len=model_config.max_src_len, max_tgt_len=model_config.max_tgt_len)
    # the vocabulary is learnt from the verses alone: the sentence pairs repeat their words
    extra = []
    if config.split_sentences:
        held_out = {p.source for p in splits["validation"] + splits["test"]}  # a TSV line can be another's sentence
        extra = [p for p in parallel.sentence_pairs(splits["train"]) if p.source not in held_out]
    train_data = data.encode_pairs(splits["train"] + extra, tokenizer, **lengths)
    sentence_pairs = int((train_data.kept >= len(splits["train"])).sum())  # those within the length limits
    val_data = data.encode_pairs(splits["validation"][:VAL_PAIRS], tokenizer, **lengths)
    print(
        f"{len(train_data):,} training pairs ({train_data.dropped:,} over the length limits left out), "
        f"{len(val_data)} validation pairs for the loss",
        file=sys.stderr,
    )

    keras.utils.set_random_seed(config.seed)
    with precision.policy(config.precision):  # the layers built here compute in it; export and decoding in float32
        model = build(model_config)
    state = (
        checkpoint.read_state(resume)
        if resume
        else {
            "step": 0,
            "seconds": 0.0,
            "total_steps": config.budget.steps,
            "history": [],
            "commands": [],
            "run": config.run_settings(),
        }
    )
    total = config.budget.steps or state["total_steps"] or 10**9  # --minutes: measured below, then fixed
    model.compile(
        optimizer=make_optimizer(config.optimizer, total),
        loss=smoothed_loss(config.label_smoothing),
        jit_compile=config.jit,
    )
    if resume:
        checkpoint.restore(resume, model, model.optimizer)
        print(f"resumed from {resume} at step {state['step']}", file=sys.stderr)
    else:
        model_config.save(out)
        tokenizer.save(out)
    if config.budget.steps is not None:
        if config.budget.steps < state["step"]:
            raise ValueError(
                f"--steps {config.budget.steps} is below the step this run has reached "
                f"({state['step']}): give more to train further, or use another --out"
            )
        state["total_steps"] = config.budget.steps
    if not state["commands"] or state["commands"][-1][1] != command:
        state["commands"].append([state["step"], command])

    logs = TensorBoard(os.path.join(out, "logs"))
    bar = tqdm(
        total=total if total < 10**9 else None,
        initial=state["step"],
        desc="train",
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
        mininterval=1.0,
    )
    started, seconds0, running, calibrated_at, final_val = time.perf_counter(), state["seconds"], None, None, None
    while state["step"] < total and state["seconds"] < config.budget.seconds:
        source, dec_in, dec_out = data.batch(
            train_data, state["step"], config.batch_size, config.seed, config.length_window
        )
        loss = float(model.train_on_batch((source, dec_in), dec_out, sample_weight=(dec_out != 0)))
        if not math.isfinite(loss):
            bar.close()
            raise cli.Failed(
                f"the loss became {loss} at step {state['step'] + 1}; training stopped. The last good "
                f"checkpoint is kept in {out}: lower --lr and run again."
            )
        state["step"] += 1
        state["seconds"] = seconds0 + time.perf_counter() - started
        running = loss if running is None else 0.95 * running + 0.05 * loss
        bar.update(1)
        if state["total_steps"] is None:  # a --minutes budget: time steps 11-30 (after compiling), then fix the end
            if state["step"] == 10:
                calibrated_at = (state["step"], time.perf_counter())
            elif state["step"] == CALIBRATE:
                per_step = (time.perf_counter() - calibrated_at[1]) / (state["step"] - calibrated_at[0]) * 1.05
                total = state["total_steps"] = config.budget.steps_for(per_step, state["seconds"], state["step"])
                set_total(model, total)
                bar.total = total
                print(
                    f"\n{per_step:.3f} s/step: --minutes {config.budget.minutes} is about {total} steps",
                    file=sys.stderr,
                )
        last = state["step"] >= total or state["seconds"] >= config.budget.seconds
        if state["step"] % config.eval_every == 0 or last:
            final_val = validation_loss(model, val_data, config.batch_size)  # the last one is the card's too
            row = {"step": state["step"], "train_loss": round(running, 4), "val_loss": round(final_val, 4)}
            state["history"].append(row)
            bar.set_postfix(loss=f"{running:.3f}", val=f"{row['val_loss']:.3f}")
            logs.scalars(
                state["step"],
                {
                    "loss/train": row["train_loss"],
                    "loss/validation": row["val_loss"],
                    "learning_rate": current_lr(model.optimizer._learning_rate, state["step"]),
                },
            )
        if state["step"] % config.checkpoint_every == 0 or last:
            checkpoint.save(out, model, model.optimizer, state)
    bar.close()

    from translate.evaluate import score
    from translate.translator import Decoding, Translator

    raw_val, averaged = final_val, finalize_weights(model)
    if averaged:  # --ema: the moving average is the model shipped (the checkpoint keeps both)
        final_val = validation_loss(model, val_data, config.batch_size)
        print(f"exporting the weights' moving average (--ema {config.optimizer.ema})", file=sys.stderr)
    checkpoint.export_weights(model, build(model_config), os.path.join(out, "model.weights.h5"))
    stale = os.path.join(out, Decoding.FILE)
    if os.path.exists(stale):  # an alpha tuned for the old weights: tune again for these
        os.remove(stale)
        print(f"removed {stale} (tuned for the weights before): run python -m translate.tune again", file=sys.stderr)
    translator = Translator(out)
    quick = score(translator, splits["validation"][:BLEU_PAIRS], beam=1)
    metrics = {
        # measured at the loop's last step; a finished run resumed (no step trained) measures it here
        "val_loss": final_val if final_val is not None else validation_loss(model, val_data, config.batch_size),
        **({"ema": config.optimizer.ema, "val_loss_trained_weights": raw_val} if averaged else {}),
        "val_bleu_greedy": quick["bleu"],
        "val_chrf_greedy": quick["chrf"],
        "bleu_pairs": quick["sentences"],
        "step": state["step"],
        "seconds": round(state["seconds"], 1),
        "pair": config.pair,
        **({"languages": list(config.languages)} if config.languages else {}),
        "train_pairs": len(train_data),
        "dropped_pairs": train_data.dropped,
        "batch_size": config.batch_size,
        "length_window": config.length_window,
        **({"sentence_pairs": sentence_pairs} if config.split_sentences else {}),
        **({"precision": config.precision} if config.precision != "fp32" else {}),
        "parameters": int(model.count_params()),
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
        "commands": state["commands"],
        "command": command,
    }
    files.write_json(os.path.join(out, "metrics.json"), metrics)
    card.write(out, model_config, metrics, state["history"])
    print(
        f"validation loss {metrics['val_loss']:.4f}, greedy BLEU {quick['bleu']:.1f} on {quick['sentences']} "
        f"validation verses after {state['step']} steps; model in {out}",
        file=sys.stderr,
    )
    return {k: v for k, v in metrics.items() if k != "commands"}


def parser():
    p = cli.parser("python -m translate.train", __doc__)
    p.add_argument("--pair", required=True, help="web-es, kjv-web, a source<TAB>target .tsv file, or hf:NAME[:CONFIG]")
    add_languages(p)
    p.add_argument("--out", required=True, help="model folder (resumed if it holds a checkpoint)")
    p.add_argument("--arch", default="transformer", choices=["transformer", "rnn"])
    p.add_argument("--cell", default="gru", choices=["gru", "lstm"], help="rnn: the recurrent cell")
    p.add_argument("--attention", default="bahdanau", choices=["bahdanau", "luong", "none"], help="rnn only")
    p.add_argument("--attention-dim", type=int, default=0, help="rnn + bahdanau: the score's hidden size (0: --dim)")
    p.add_argument("--positions", default="learned", choices=["learned", "sine"], help="transformer only")
    p.add_argument("--layers", type=int, default=3, help="encoder and decoder blocks (rnn: stacked cells)")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn-dim", type=int, default=1024)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max-len", type=int, default=64, help="source and target subwords per verse (longer: left out)")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--share-embeddings",
        default="auto",
        choices=["auto", "on", "off"],
        help="one embedding matrix for source and target (auto: when the pair gets one joint vocabulary)",
    )
    p.add_argument(
        "--length-window",
        type=int,
        default=32,
        help="group pairs of similar lengths, sorting this many batches at a time, and cut each batch to its "
        "longest row (0: random batches padded to --max-len)",
    )
    p.add_argument(
        "--split-sentences",
        action="store_true",
        help="also train on the sentence pairs cut from verses with as many sentences on each side",
    )
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="bf16: bfloat16 matmuls, float32 weights (faster on CPUs with AVX512_BF16 or AMX)",
    )
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=400)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="export an exponential moving average of the weights at this momentum, e.g. 0.999 (0: the last weights)",
    )
    Budget.add_arguments(p)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    # off by default: XLA made these train steps 2-5x slower on the 2-core CPU (measured, see the README)
    cli.add_jit(p, default=False)
    return p


def config_of(args) -> TrainConfig:
    model = TranslatorConfig(
        arch=args.arch,
        cell=args.cell,
        attention=args.attention,
        attention_dim=args.attention_dim,
        positions=args.positions,
        max_src_len=args.max_len,
        max_tgt_len=args.max_len + 1,
        layers=args.layers,
        dim=args.dim,
        heads=args.heads,
        ffn_dim=args.ffn_dim,
        dropout=args.dropout,
    )
    return TrainConfig(
        pair=args.pair,
        out=args.out,
        model=model,
        budget=Budget(args.steps, args.minutes),
        optimizer=OptimizerConfig(lr=args.lr, warmup=args.warmup, weight_decay=args.weight_decay, ema=args.ema),
        vocab_size=args.vocab_size,
        batch_size=args.batch_size,
        share_embeddings=args.share_embeddings,
        length_window=args.length_window,
        split_sentences=args.split_sentences,
        precision=args.precision,
        label_smoothing=args.label_smoothing,
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        jit=args.jit,
        source_lang=args.source_lang,
        target_lang=args.target_lang,
    ).validate()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "python -m translate.train " + shlex.join(argv)
    return cli.run(parser(), argv, lambda args: train(config_of(args), command))


if __name__ == "__main__":
    sys.exit(main())
