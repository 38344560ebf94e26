"""Train a BiLSTM, CNN or BERT text classifier with early stopping: `python -m classify train` (classify/cli.py).

    from classify.train import TrainConfig, train
    metrics = train(TrainConfig(arch="cnn", out="runs/sentiment-cnn", vocab="pretrain/models/bert"))

The loop is core.trainer's (resume, checkpoints, NaN stop, history, TensorBoard, progress); this file gives it
what is the classifier's own. The budget is --epochs: once the data is read it is epochs x steps an epoch, the
run's steps (and the end of BERT's schedule); --minutes also stops it at a wall-clock limit. Batch n is the n-th
of the training rows shuffled each epoch by (seed, epoch), so a run killed and resumed with the same command ends
as the uninterrupted one. Settings that would change the model or its data are refused on a resume; --epochs may
grow (a finished run trains on), and --minutes and --patience may change.

Every epoch ends with the validation split's loss and accuracy and a checkpoint. The epoch with the best
validation accuracy is the model (Keras's EarlyStopping(restore_best_weights=True) rule): its weights are written
to --out/model.weights.h5 when it is reached, the run stops after --patience epochs without a better one, and the
test split is scored with those weights. An early-stopped run is finished: a resume trains no more.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
from typing import ClassVar

import numpy as np

from core import checkpoint, flags
from core.budget import Budget
from core.card import Card
from core.cli import UsageError
from core.trainer import RunConfig, Trainer

ARCHS = ("bilstm", "cnn", "bert")
POOLS = ("cls", "mean")


@dataclasses.dataclass(kw_only=True)
class TrainConfig(RunConfig):
    task_sets_steps: ClassVar[bool] = True  # the budget is --epochs, in steps once the data is read

    arch: str = flags.field(help="the classifier", choices=ARCHS)
    data: str = flags.field("sentiment", help="sentiment, a CSV/TSV of text,label, or hf:NAME[:CONFIG]")
    init: str = flags.field(
        "bert",
        help="bert arch: 'bert' (bundled), a folder or repo id, or 'random' (the architecture of the BERT in "
        "--vocab, untrained)",
    )
    vocab: str | None = flags.field(
        None,
        help="WordPiece vocabulary folder (default: the --init BERT's, else the bundled BERT's): every arch uses "
        "the same tokenizer",
    )
    seq_len: int = flags.field(64, help="tokens a text, [CLS] and [SEP] included")
    dim: int = flags.field(128, help="bilstm / cnn width")
    dropout: float = flags.field(0.3, help="before the head")
    epochs: int = flags.field(10, help="at most this many epochs (a larger value extends a run)")
    minutes: float | None = flags.field(
        None,
        help="also stop at this wall-clock budget (evaluated and exported there; the schedule still ends at "
        "--epochs, so set --epochs to what the budget fits)",
    )
    batch_size: int = flags.field(32, help="texts a step")
    lr: float | None = flags.field(
        None,
        help="default 1e-3, or 1e-4 for bert (its peak: bert warms up over the first 10%% of the steps, then "
        "decays linearly to 0 at --epochs, as BERT fine-tunes)",
    )
    pool: str = flags.field(
        "cls",
        help="bert arch: the head reads the pooled [CLS] vector (BERT's) or the mean of the tokens",
        choices=POOLS,
    )
    patience: int = flags.field(2, help="stop after this many epochs without a better validation accuracy")
    seed: int = flags.field(0, help="weights, dropout, shuffling and the 80/10/10 split")
    budget: Budget = flags.field(factory=Budget, cli=False)  # --minutes' cap, set by validate
    eval_every: int = flags.field(100, cli=False)  # an epoch, set once the data is read
    checkpoint_every: int = flags.field(100, cli=False)  # an epoch, too

    def validate(self) -> TrainConfig:
        if self.arch not in ARCHS:
            raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.pool not in POOLS:
            raise ValueError(f"--pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if (
            self.epochs <= 0
            or self.batch_size <= 0
            or self.dim <= 0
            or (self.minutes is not None and not self.minutes > 0)
        ):
            raise ValueError("--epochs, --batch-size, --dim and --minutes must be positive")
        if self.seq_len < 4:
            raise ValueError(f"--seq-len must be at least 4 ([CLS], [SEP] and some text), got {self.seq_len}")
        if not 0 <= self.dropout < 1 or self.patience < 0 or (self.lr is not None and not self.lr > 0):
            raise ValueError("--dropout must be in [0, 1), --patience >= 0 and --lr positive")
        if not self.out:
            raise ValueError("--out is required")
        if self.budget not in (Budget(), Budget(minutes=self.minutes)):
            raise ValueError("a classifier's budget is epochs= (and minutes=), not budget=")
        self.budget = Budget(minutes=self.minutes)
        super().validate()
        return self

    @property
    def peak_lr(self) -> float:
        return self.lr or (1e-4 if self.arch == "bert" else 1e-3)


def make_optimizer(config: TrainConfig, total_steps: int):
    """bilstm / cnn: Adam at a constant rate. bert: BERT's fine-tuning recipe (core.optim: AdamW, warm-up over the
    first 10% of the steps, then linear decay to 0 at the last step, global-norm clipping at 1, no weight decay
    on LayerNorm and biases). A constant rate keeps kicking the pretrained weights long after the head has
    settled, and the decay is what lets early stopping pick a calm epoch."""
    import keras

    from core import optim

    if config.arch != "bert":
        return keras.optimizers.Adam(config.peak_lr)
    return optim.make_optimizer(
        optim.OptimizerConfig(
            lr=config.peak_lr,
            warmup=max(1, total_steps // 10),
            decay="linear",
            weight_decay=0.01,
            clip_norm=1.0,
            epsilon=1e-6,
        ),
        total_steps,
    )


class ClassifyTask:
    """What classify gives core.trainer: its settings, labelled data, model, early stopping and model folder."""

    name = "classify.train"
    curve = [("train_loss", "train"), ("val_loss", "validation")]
    curve_label = "loss"

    def __init__(self, config: TrainConfig):
        self.config = config

    def settings(self) -> dict:
        """What makes the model and its data: a resume must not change it."""
        c = self.config
        keep = ("arch", "data", "init", "vocab", "seq_len", "dim", "dropout", "batch_size", "pool", "seed")
        return {k: getattr(c, k) for k in keep} | {"lr": c.peak_lr}

    def prepare(self, run) -> None:
        """The data, tokenized with the vocabulary of the BERT (or --vocab), split 80/10/10 by --seed."""
        import pretrain.api
        import pretrain.vocab
        from classify import data, encode

        c = self.config
        texts, labels, names = data.load(c.data)
        bert = pretrain.api.resolve(c.init) if c.arch == "bert" and c.init != "random" else None
        vocab = c.vocab or bert or pretrain.api.resolve("bert")
        tokens = pretrain.vocab.read_vocab(vocab)
        if bert and tokens != pretrain.vocab.read_vocab(bert):
            raise ValueError(
                f"--vocab {c.vocab} is not the vocabulary {c.init} was pretrained with: its embeddings would read "
                "other words; leave --vocab out with --init"
            )
        self.bert = bert
        self.model_config = model_config(c, tokens, names, bert or vocab)
        if not run.resumed:
            self.model_config.save(run.out)
            shutil.copyfile(os.path.join(vocab, "vocab.txt"), os.path.join(run.out, "vocab.txt"))
        ids = encode(pretrain.vocab.make_tokenizer(tokens), texts, c.seq_len, tokens)
        parts = data.split(len(texts), c.seed)
        if min(len(rows) for rows in parts.values()) == 0:
            raise ValueError(f"{c.data} has {len(texts)} examples: too few for an 80/10/10 split (give at least 10)")
        self.split = {name: (ids[rows], labels[rows]) for name, rows in parts.items()}
        self.steps_per_epoch = -(-len(parts["train"]) // c.batch_size)
        total = c.epochs * self.steps_per_epoch
        if total < run.step:
            raise UsageError(
                f"--epochs {c.epochs} is below the epochs this run has trained ({self.epoch(run.step)}): give at "
                "least that many (more trains it further) or use another --out"
            )
        run.total_steps = total
        c.eval_every = c.checkpoint_every = self.steps_per_epoch
        run.say(
            f"{len(parts['train'])} training texts ({self.steps_per_epoch} steps an epoch), "
            f"{len(parts['validation'])} validation, {len(parts['test'])} test; labels {', '.join(names)}"
        )
        if run.resumed and "best" in run.extra:
            x = run.extra
            run.say(
                f"resuming after epoch {self.epoch(run.step)} (best so far: epoch {x['best_epoch']}, validation "
                f"accuracy {x['best']:.4f})"
            )

    def build(self, total_steps: int):
        import keras

        from classify.model import build

        model = build(self.model_config)
        if self.bert:
            checkpoint.load_weights(model.bert, os.path.join(self.bert, "model.weights.h5"))
        model.compile(
            optimizer=make_optimizer(self.config, total_steps),
            metrics=["accuracy"],
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.optimizer.build(model.trainable_variables)  # before the first step: TF traces its creation twice
        return model

    def batch(self, step: int):
        """Batch `step`: the training rows in the order that (seed, epoch) shuffles them, a function of step alone."""
        x, y = self.split["train"]
        epoch, i = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng((self.config.seed, epoch)).permutation(len(y))
        rows = order[i * self.config.batch_size : (i + 1) * self.config.batch_size]
        return x[rows], y[rows]

    def evaluate(self, model, run) -> dict:
        """Validation loss and accuracy; the best accuracy's weights are exported; "stop" when patience is out
        (Keras's rule: `wait` counts the evaluations since the best one; --patience 0 acts as 1)."""
        loss, accuracy = self.score(model, "validation")
        c, x, epoch = self.config, run.extra, self.epoch(run.step)
        best = x.get("best") is None or accuracy > x["best"]
        if best:
            x.update(best=accuracy, best_epoch=epoch, wait=0)
            checkpoint.save_weights(model, os.path.join(run.out, "model.weights.h5"))
        else:
            x["wait"] += 1
        stop = x["wait"] >= max(1, c.patience)
        run.say(
            f"epoch {epoch}/{c.epochs}: validation loss {loss:.4f}, accuracy {accuracy:.4f}"
            + (" (best)" if best else f" (best: epoch {x['best_epoch']})")
            + (f"; {x['wait']} epochs without a better one: stopping" if stop else "")
        )
        return {"epoch": epoch, "val_loss": loss, "val_accuracy": accuracy, "stop": stop}

    def finish(self, model, run) -> dict:
        from classify.evaluate import scores

        checkpoint.load_weights(model, os.path.join(run.out, "model.weights.h5"))  # the best epoch's
        x, y = self.split["test"]
        logits = np.asarray(model.predict(x, batch_size=256, verbose=0))
        c, m, best = self.config, self.model_config, run.extra
        metrics = {
            **scores(logits.argmax(-1), y),
            "validation_accuracy": best["best"],
            "best_epoch": best["best_epoch"],
            "epochs": self.epoch(run.step),
            "data": c.data,
            "arch": c.arch,
            "init": m.init,
            **({"schedule": "warmup 10%, linear decay", "pool": m.pool} if c.arch == "bert" else {}),
            "parameters": int(model.count_params()),
        }
        run.say(f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}")
        return metrics

    def card(self, metrics: dict, run) -> Card:
        return model_card(run.out, self.model_config, metrics, run.state["commands"])

    def score(self, model, split: str) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of `model` on `split`."""
        from keras import losses, ops

        x, y = self.split[split]
        logits = model.predict(x, batch_size=256, verbose=0)
        loss = float(ops.mean(losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))
        return loss, float(np.mean(np.asarray(logits).argmax(-1) == y))

    def epoch(self, step: int) -> int | float:
        """Epochs in `step` steps: a whole number, or to two decimals where a run stopped mid-epoch."""
        whole, rest = divmod(step, self.steps_per_epoch)
        return whole if rest == 0 else round(step / self.steps_per_epoch, 2)


def train(config: TrainConfig, command: str | None = None, listeners=None) -> dict:
    """Train (or resume) the run in config.out; returns the test metrics, also written to metrics.json.

    `command` is what the model card and metrics.json record (default: the flags that give `config`)."""
    config.validate()
    command = command or "python -m classify train " + shlex.join(flags.argv(config))
    return Trainer(ClassifyTask(config), config, listeners).run(command)


def model_config(config: TrainConfig, tokens: list[str], labels: tuple, bert_folder: str):
    from classify.model import ClassifierConfig

    bert = None
    if config.arch == "bert":
        from pretrain.model import BertConfig

        # --init random keeps the architecture of the BERT whose vocabulary it uses: a true twin
        bert = dataclasses.asdict(BertConfig.load(bert_folder))
        bert["dropout"] = 0.1  # BERT's fine-tuning dropout, whatever the encoder was pretrained with
        if bert["vocab_size"] != len(tokens):
            raise ValueError(f"the vocabulary has {len(tokens)} tokens but the BERT expects {bert['vocab_size']}")
    return ClassifierConfig(
        arch=config.arch,
        vocab_size=len(tokens),
        labels=labels,
        seq_len=config.seq_len,
        dim=config.dim,
        dropout=config.dropout,
        bert=bert,
        pool=config.pool,
        init=config.init if config.arch == "bert" else "random",
    )


def model_card(out: str, model_config, m: dict, commands: list) -> Card:
    what = {
        "bilstm": "bidirectional LSTM",
        "cnn": "1-D convolution with global max pooling",
        "bert": f"BERT (encoder from {model_config.init}) with a classification head on "
        + ("[CLS]" if model_config.pool == "cls" else "the mean of its token vectors"),
    }[model_config.arch]
    sentiment = tuple(model_config.labels) == ("negative", "positive")
    return Card(
        title=f"{'Sentiment' if sentiment else 'Text'} classifier: {model_config.arch}",
        summary=f"A {what}, trained by SeqLab's `classify train` on `{m['data']}` "
        f"(labels: {', '.join(model_config.labels)}).",
        tags=["text-classification", *(["sentiment"] if sentiment else [])],
        facts=[
            ("test accuracy", f"{m['accuracy']:.4f}"),
            ("test F1", f"{m['f1']:.4f} ({m['examples']} examples)"),
            ("validation accuracy", f"{m['validation_accuracy']:.4f} (epoch {m['best_epoch']}, the model)"),
            ("epochs", f"{m['epochs']} ({m['seconds'] / 60:.1f} min)"),
            ("parameters", f"{m['parameters']:,}"),
        ],
        commands=[(step, cmd) for step, cmd in commands],
        usage=f"import classify\nclf = classify.load({out!r})\nprint(clf.predict('A gorgeous, moving film.'))",
    )
