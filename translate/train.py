"""`python -m translate.train`: train a translator (bi-GRU/LSTM + attention, or a Transformer), resumable.

    python -m translate.train --pair web-es --arch transformer --out runs/tr --minutes 60

The loop is core.trainer's (budget, resume, checkpoints, NaN stop, logs, progress, events); this file gives it
what is the translator's own: the pairs and their tokenizer (batch n is a pure function of the seed and n), the
model and its label-smoothed loss, the validation loss, and the model folder (config.json, model.weights.h5, the
tokenizer, metrics.json, loss_curve.png and a model card README.md). Running the same command again on the same
--out resumes; a larger --steps trains further; other settings on that folder are refused, each named.

From Python, the same run without argparse:

    from core.budget import Budget
    from translate.train import TrainConfig, train
    metrics = train(TrainConfig(pair="web-es", out="runs/tr", budget=Budget(steps=4000)), "my notebook")
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import checkpoint, cli, flags, precision  # noqa: E402
from core.optim import OptimizerConfig, make_optimizer  # noqa: E402
from core.trainer import RunConfig, Trainer  # noqa: E402
from translate import card  # noqa: E402
from translate.evaluate import languages  # noqa: E402
from translate.model import TranslatorConfig  # noqa: E402

VAL_PAIRS = 512  # validation loss on a fixed slice: comparable across steps and runs
BLEU_PAIRS = 200  # a quick validation BLEU (greedy) for the card; translate.evaluate scores whole splits
# TranslatorConfig's fields that the run fills in (lengths from --max-len, vocabularies and sharing from the
# tokenizer): not flags, and not settings of their own
DERIVED = tuple(f.name for f in dataclasses.fields(TranslatorConfig) if not f.metadata.get("cli", True))


@dataclasses.dataclass(kw_only=True)
class TrainConfig(RunConfig):
    """A translate.train run. `model`'s lengths, vocabularies and embedding sharing are filled in by the run
    (from max_len, the tokenizer and share_embeddings): what is given there is not used."""

    pair: str = flags.field(help="web-es, kjv-web, a source<TAB>target .tsv file, or hf:NAME[:CONFIG]")
    source_lang: str | None = flags.field(
        None, help="hf: sets: the source's key in the `translation` column, or its column"
    )
    target_lang: str | None = flags.field(None, help="hf: sets: the target's key or column (give both or neither)")
    model: TranslatorConfig = flags.field(factory=TranslatorConfig)
    optimizer: OptimizerConfig = flags.field(factory=lambda: OptimizerConfig(warmup=400))
    max_len: int = flags.field(64, help="source and target subwords per verse (longer: left out)")
    vocab_size: int = flags.field(8000, help="BPE subwords per side (or in all, when the vocabulary is joint)")
    batch_size: int = flags.field(64, help="pairs a step")
    share_embeddings: str = flags.field(
        "auto",
        help="one embedding matrix for source and target (auto: when the pair gets one joint vocabulary)",
        choices=("auto", "on", "off"),
    )
    length_window: int = flags.field(
        32,
        help="group pairs of similar lengths, sorting this many batches at a time, and cut each batch to its "
        "longest row (0: random batches padded to --max-len)",
    )
    split_sentences: bool = flags.field(
        False, help="also train on the sentence pairs cut from verses with as many sentences on each side"
    )
    # fp16 is not offered: the masks add -1e9, which float16 cannot hold (bf16 has float32's range)
    precision: str = flags.field(
        "fp32",
        help="bf16: bfloat16 matmuls, float32 weights (faster on CPUs with AVX512_BF16 or AMX)",
        choices=("fp32", "bf16"),
    )
    label_smoothing: float = flags.field(0.1, help="the loss's label smoothing (Szegedy et al.)")
    # off: XLA made these train steps slower on a CPU (see the README)
    jit: bool = flags.field(False, help="XLA-compile the train step")
    eval_every: int = flags.field(200, help="steps between held-out evaluations")
    checkpoint_every: int = flags.field(200, help="steps between checkpoints")

    @property
    def languages(self) -> tuple[str, str] | None:
        return languages(self.source_lang, self.target_lang)

    def validate(self) -> TrainConfig:
        """Everything that can be checked before a corpus is read or a tokenizer trained."""
        super().validate()
        self.optimizer.validate()
        if self.max_len < 1:
            raise ValueError(f"--max-len must be >= 1, got {self.max_len}")
        if self.vocab_size < 100 or self.batch_size < 1:
            raise ValueError("--vocab-size must be >= 100 and --batch-size >= 1")
        self.resolved(self.vocab_size, self.vocab_size, False).validate()
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

    def resolved(self, src_vocab: int, tgt_vocab: int, share: bool) -> TranslatorConfig:
        """The model this run trains, once its vocabularies are known."""
        return dataclasses.replace(
            self.model,
            src_vocab=src_vocab,
            tgt_vocab=tgt_vocab,
            share_embeddings=share,
            max_src_len=self.max_len,
            max_tgt_len=self.max_len + 1,  # [START] + target, i.e. target + [END]
        )


class TranslateTask:
    """What translate gives core.trainer: its settings, data, model, loss, evaluation and model folder."""

    name = "translate.train"
    curve = card.CURVE
    curve_label = card.CURVE_LABEL

    def __init__(self, config: TrainConfig):
        self.config = config

    def settings(self) -> dict:
        """What decides the model and its data stream: a resume must not change it."""
        c = self.config
        model = {k: v for k, v in dataclasses.asdict(c.model).items() if k not in DERIVED}
        return {
            **model,
            "max_len": c.max_len,
            "pair": c.pair,
            "source_lang": c.source_lang,
            "target_lang": c.target_lang,
            "vocab_size": c.vocab_size,
            "share_embeddings": c.share_embeddings,
            "batch_size": c.batch_size,
            "seed": c.seed,
            "length_window": c.length_window,
            "ema": c.optimizer.ema,  # the optimizer's variables hold the average: their count depends on it
            "split_sentences": c.split_sentences,
            "precision": c.precision,
        }

    def prepare(self, run) -> None:
        """Pairs split by book (validation and test never share one with training), the tokenizer, encoded pairs."""
        from corpus import parallel
        from translate import data
        from translate.tokenizer import PairTokenizer

        c, out = self.config, run.out
        self.splits = splits = parallel.split_pairs(parallel.load_pairs(c.pair, c.languages))
        if run.resumed:
            self.tokenizer, self.model_config = PairTokenizer.load(out), TranslatorConfig.load(out)
        else:
            self.tokenizer = PairTokenizer.train(splits["train"], c.vocab_size)
            share = shared(c.share_embeddings, self.tokenizer)
            self.model_config = c.resolved(len(self.tokenizer.source), len(self.tokenizer.target), share).validate()
            self.model_config.save(out)
            self.tokenizer.save(out)
        lengths = dict(max_src_len=self.model_config.max_src_len, max_tgt_len=self.model_config.max_tgt_len)
        # the vocabulary is learnt from the verses alone: the sentence pairs repeat their words
        extra = []
        if c.split_sentences:
            held_out = {p.source for p in splits["validation"] + splits["test"]}  # a TSV line can be another's
            extra = [p for p in parallel.sentence_pairs(splits["train"]) if p.source not in held_out]
        self.train_data = data.encode_pairs(splits["train"] + extra, self.tokenizer, **lengths)
        self.sentence_pairs = int((self.train_data.kept >= len(splits["train"])).sum())  # within the limits
        self.val_data = data.encode_pairs(splits["validation"][:VAL_PAIRS], self.tokenizer, **lengths)
        run.say(
            f"{len(self.train_data):,} training pairs ({self.train_data.dropped:,} over the length limits left "
            f"out), {len(self.val_data)} validation pairs for the loss"
        )

    def build(self, total_steps: int):
        from translate.model import build

        c = self.config
        with precision.policy(c.precision):  # the layers built here compute in it; export and decoding in float32
            model = build(self.model_config)
            return compile_model(model, c.optimizer, total_steps, c.label_smoothing, c.jit)

    def batch(self, step: int):
        from translate import data

        c = self.config
        source, dec_in, dec_out = data.batch(self.train_data, step, c.batch_size, c.seed, c.length_window)
        return (source, dec_in), dec_out, dec_out != 0

    def evaluate(self, model, run) -> dict:
        return {"val_loss": validation_loss(model, self.val_data, self.config.batch_size)}

    def finish(self, model, run) -> dict:
        from translate.evaluate import score
        from translate.translator import Decoding, Translator

        c, out = self.config, run.out
        # the trainer evaluated the trained weights at the last step; --ema has since put their average in
        trained = [row["val_loss"] for row in run.state["history"] if "val_loss" in row][-1]
        averaged = bool(run.state.get("averaged"))
        val_loss = validation_loss(model, self.val_data, c.batch_size) if averaged else trained
        checkpoint.save_weights(model, os.path.join(out, "model.weights.h5"))
        stale = os.path.join(out, Decoding.FILE)
        if os.path.exists(stale):  # an alpha tuned for the old weights: tune again for these
            os.remove(stale)
            run.say(f"removed {stale} (tuned for the weights before): run python -m translate.tune again")
        quick = score(Translator(out), self.splits["validation"][:BLEU_PAIRS], beam=1)
        run.say(
            f"validation loss {val_loss:.4f}, greedy BLEU {quick['bleu']:.1f} on {quick['sentences']} validation "
            f"verses after {run.step} steps; model in {out}"
        )
        return {
            "val_loss": val_loss,
            **({"ema": c.optimizer.ema, "val_loss_trained_weights": trained} if averaged else {}),
            "val_bleu_greedy": quick["bleu"],
            "val_chrf_greedy": quick["chrf"],
            "bleu_pairs": quick["sentences"],
            "pair": c.pair,
            **({"languages": list(c.languages)} if c.languages else {}),
            "train_pairs": len(self.train_data),
            "dropped_pairs": self.train_data.dropped,
            "batch_size": c.batch_size,
            "length_window": c.length_window,
            **({"sentence_pairs": self.sentence_pairs} if c.split_sentences else {}),
            **({"precision": c.precision} if c.precision != "fp32" else {}),
            "parameters": int(model.count_params()),
            "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
        }

    def card(self, metrics: dict, run):
        return card.model_card(run.out, self.model_config, metrics, run.state["commands"])


def train(config: TrainConfig, command: str, listeners=None) -> dict:
    """Train the run `config` describes, or resume it from OUT's last checkpoint; ship the model folder and return
    its metrics. `command` goes in the card as the way to reproduce the run."""
    return Trainer(TranslateTask(config.validate()), config, listeners).run(command)


def compile_model(model, optimizer: OptimizerConfig, total_steps: int, label_smoothing: float, jit: bool):
    """The one way translate trains a model: core's AdamW with warm-up and cosine decay over `total_steps`, the
    label-smoothed loss with [PAD] weighted out. The optimizer is built here, before the first step: TensorFlow
    traces a first call that creates variables twice."""
    model.compile(
        optimizer=make_optimizer(optimizer, total_steps), loss=smoothed_loss(label_smoothing), jit_compile=jit
    )
    model.optimizer.build(model.trainable_variables)
    return model


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


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "python -m translate.train " + shlex.join(argv)
    p = flags.add(cli.parser("python -m translate.train", __doc__), TrainConfig)
    return cli.run(p, argv, lambda args: train(flags.build(TrainConfig, args), command))


if __name__ == "__main__":
    sys.exit(main())
