"""`python -m lm.train`: train a character- or word-level LSTM or Transformer LM, resumable.

    python -m lm.train --corpus shakespeare --out runs/char --steps 3000
    python -m lm.train --corpus shakespeare --out runs/lstm --arch lstm --minutes 30 --no-jit

The loop is core.trainer's (budget, resume, checkpoints, NaN stop, logs, progress, events); this file gives it
what is the LM's own: the tokenizer and token stream (batch n is a function of the seed and n), the model and its
next-token loss, the validation loss, and the model folder (weights, config, tokenizer, metrics, card, loss
curve). Running the same command again on the same --out resumes; a larger --steps extends a finished run.

From Python, the same run without argparse:

    from core.budget import Budget
    from lm.train import TrainConfig, train
    metrics = train(TrainConfig(corpus="shakespeare", out="runs/char", budget=Budget(steps=3000)), "my notebook")
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core import checkpoint, cli, flags
from core.card import Card
from core.jit import configure as configure_cpu
from core.jit import cpu
from core.optim import OptimizerConfig, make_optimizer
from core.trainer import RunConfig, Trainer
from lm.model import LMConfig, build

VAL_WINDOWS = 64  # validation during training: a fixed slice of this many windows, so points are comparable


@dataclasses.dataclass(kw_only=True)
class TrainConfig(RunConfig):
    corpus: str = flags.field(help="shakespeare, kjv, a text file or folder, or hf:NAME[:CONFIG]")
    model: LMConfig = flags.field(factory=LMConfig)  # vocab_size comes from the tokenizer
    optimizer: OptimizerConfig = flags.field(factory=lambda: OptimizerConfig(decay="cosine"))
    vocab_size: int = flags.field(8000, help="word level: the most frequent words kept (char level: every one)")
    batch_size: int = flags.field(32, help="windows a step")
    jit: bool = flags.field(True, help="XLA-compile the train step")

    def validate(self) -> TrainConfig:
        super().validate()
        self.model.validate()
        self.optimizer.validate()
        if self.batch_size <= 0:
            raise ValueError("--batch-size must be positive")
        if self.vocab_size < 2:
            raise ValueError(f"--vocab-size must be at least 2 (got {self.vocab_size})")
        return self


class LMTask:
    """What lm gives core.trainer: its settings, data, model, loss, evaluation and model folder."""

    name = "lm.train"
    curve = [("train_loss", "train"), ("val_loss", "validation")]
    curve_label = "loss (nats/token)"

    def __init__(self, config: TrainConfig):
        self.config = config

    def settings(self) -> dict:
        """What decides the model and its data stream: a resume must not change it."""
        c, m = self.config, dataclasses.asdict(self.config.model)
        m.pop("vocab_size")
        return {**m, "corpus": c.corpus, "vocab_size": c.vocab_size, "batch_size": c.batch_size, "seed": c.seed}

    def prepare(self, run) -> None:
        """Documents split by group (validation never shares a play or book with training), then tokens."""
        import corpus
        from lm.tokenizer import Tokenizer

        c, out = self.config, run.out
        train_docs, val_docs = corpus.split(corpus.load(c.corpus))
        train_text, val_text = corpus.text_of(train_docs), corpus.text_of(val_docs)
        if run.resumed:
            self.model_config, self.tokenizer = LMConfig.load(out), Tokenizer.load(out)
        else:
            self.tokenizer = Tokenizer.train(train_text, c.model.level, c.vocab_size)
            self.model_config = dataclasses.replace(c.model, vocab_size=len(self.tokenizer))
            self.model_config.save(out)
            self.tokenizer.save(out)
        self.train_data = stream(self.model_config, self.tokenizer, train_text)
        self.val_data = stream(self.model_config, self.tokenizer, val_text)
        self.val = self.val_data.windows(self.model_config.seq_len, VAL_WINDOWS)
        run.say(
            f"{len(self.train_data):,} training tokens; validation: {len(self.val[0])} fixed windows of "
            f"{self.model_config.seq_len} from held-out documents during training, all of them at the end"
        )

    def build(self, total_steps: int):
        return compile_model(build(self.model_config), self.config.optimizer, total_steps, self.config.jit)

    def batch(self, step: int):
        c = self.config
        return self.train_data.batch(step, c.batch_size, self.model_config.seq_len, c.seed)

    def evaluate(self, model, run) -> dict:
        from lm.evaluate import mean_loss

        return {"val_loss": mean_loss(model, *self.val)}

    def finish(self, model, run) -> dict:
        from lm.bilm import direction_losses
        from lm.evaluate import mean_loss

        windows = self.val_data.windows(self.model_config.seq_len)
        run.say(f"final validation loss on all {len(windows[0]):,} held-out windows ({len(self.val_data):,} tokens)")
        two_way = self.model_config.arch == "bilm"  # one pass gives each direction's loss and both together
        metrics = direction_losses(model, *windows) if two_way else {"val_loss": mean_loss(model, *windows)}
        export(model, run.out)
        c = self.config
        return {
            **metrics,
            "corpus": c.corpus,
            "val_tokens": int(len(self.val_data)),
            "batch_size": c.batch_size,
            "parameters": int(model.count_params()),
            "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}, {cpu()['cpu']}, {cpu()['isa']})",
        }

    def card(self, metrics: dict, run) -> Card:
        return model_card(run.out, self.model_config, {**metrics, "step": run.step}, run.state["commands"])


def train(config: TrainConfig, command: str, listeners=None) -> dict:
    """Train the run `config` describes, or resume it from OUT's last checkpoint; ship the model folder and return
    its metrics. `command` goes in the card as the way to reproduce the run."""
    return Trainer(LMTask(config.validate()), config, listeners).run(command)


def stream(model_config: LMConfig, tokenizer, text: str):
    """The text as the model reads it: token ids, or for --arch bilm spelled words with two targets each."""
    if model_config.arch == "bilm":
        from lm import bilm

        return bilm.Stream(tokenizer, text, model_config.inputs)
    from lm import data

    return data.Stream(tokenizer, text)


def compile_model(model, optimizer: OptimizerConfig, total_steps: int, jit: bool):
    """The one way lm trains a model (bench.lm_train times exactly this): core's AdamW with warm-up and cosine
    decay over `total_steps`, next-token cross-entropy on logits. The optimizer is built here, before the first
    step: TensorFlow traces a first call that creates variables twice. The process is set up for its CPU first
    (core.jit.configure), as for every training run."""
    import keras

    configure_cpu()
    model.compile(
        optimizer=make_optimizer(optimizer, total_steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    model.optimizer.build(model.trainable_variables)
    return model


def export(model, out: str) -> None:
    """OUT/model.weights.h5: the weights alone, by name (core.checkpoint; the optimizer's state is not in it)."""
    checkpoint.save_weights(model, os.path.join(out, "model.weights.h5"))


def model_card(out: str, c: LMConfig, metrics: dict, commands: list) -> Card:
    size = {
        "transformer": f"{c.layers} layers, {c.dim}-d, {c.heads} heads, {c.positions} positions",
        "lstm": f"{c.layers} x {c.cell.upper()} {c.dim}",
        "bilm": f"ELMo-style: {c.inputs} word encoder, {c.layers} x LSTM {c.dim} with projection {c.proj} in each "
        "direction, residual, shared softmax",
    }[c.arch]
    bpc = f" ({metrics['val_loss'] / math.log(2):.3f} bits/char)" if c.level == "char" else ""
    return Card(
        title=os.path.basename(os.path.normpath(out)),
        summary=f"A {c.level}-level {c.arch} language model trained by SeqLab's `lm.train`: {size}, context "
        f"{c.seq_len} tokens, vocabulary {c.vocab_size}, {metrics['parameters']:,} parameters.",
        tags=["text-generation", c.arch, f"{c.level}-level"],
        facts=[
            ("corpus", f"`{metrics['corpus']}` (validation: held-out documents, {metrics['val_tokens']:,} tokens)"),
            ("steps", f"{metrics['step']:,} at batch {metrics['batch_size']}"),
            ("training time", f"{metrics['seconds'] / 60:.1f} min on {metrics['machine']}"),
            ("validation loss", f"{metrics['val_loss']:.4f} nats/token{bpc}"),
            *(
                [("forward / backward", f"{metrics['val_loss_forward']:.4f} / {metrics['val_loss_backward']:.4f}")]
                if c.arch == "bilm"
                else []
            ),
        ],
        commands=[(step, command) for step, command in commands],
        note=metrics.get("note"),  # what the commands do not say (why these corpora, shared cores)
        usage=f"import lm\n\nmodel = lm.load({out!r})  # or the Hub repo id it was pushed to\n"
        + (
            'e = model.embed("She sat on the bank of the river.")\ne.tokens, e.layers.shape, e.mix().shape'
            if c.arch == "bilm"
            else 'print(model.generate("ROMEO:\\n", max_new_tokens=200, temperature=0.8, seed=1))'
        ),
    )


def parser():
    p = cli.parser("python -m lm.train", __doc__)
    return flags.add(p, TrainConfig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "python -m lm.train " + shlex.join(argv)
    return cli.run(parser(), argv, lambda args: train(flags.build(TrainConfig, args), command))


if __name__ == "__main__":
    sys.exit(main())
