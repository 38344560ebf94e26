"""Train a BiLSTM, CNN or BERT text classifier with early stopping: `python -m classify train` (classify/cli.py).

    from classify.train import TrainConfig, train
    metrics = train(TrainConfig(arch="cnn", out="runs/sentiment-cnn", vocab="pretrain/models/bert"))

Resumable: after each epoch the run is checkpointed in --out (core.checkpoint: weights, optimizer, dropout RNG
and this trainer's state: history, early stopping, commands), and the same command on the same --out goes on
from the last finished epoch, so a killed run ends where the uninterrupted run would have. Settings that would
change the model or its data are refused on a resume; --epochs, --minutes and --patience may grow.

The epoch with the best validation accuracy is the model: its weights are written to --out/model.weights.h5 when
it is reached (Keras's EarlyStopping(restore_best_weights=True) rule), and the test split is scored with them.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import sys
import time

import numpy as np

from core import checkpoint, files
from core.card import Card, loss_curve
from core.cli import UsageError

ARCHS = ("bilstm", "cnn", "bert")
POOLS = ("cls", "mean")
BUDGET = ("epochs", "minutes", "patience")  # the settings a resume may change


@dataclasses.dataclass
class TrainConfig:
    arch: str  # bilstm | cnn | bert
    out: str  # the model folder (resumed when it holds a checkpoint)
    data: str = "sentiment"  # sentiment, a CSV/TSV of text,label, or hf:NAME[:CONFIG]
    init: str = "bert"  # bert: a BERT name, folder or Hub id, or "random" (its untrained twin)
    vocab: str | None = None  # WordPiece folder (default: the --init BERT's, else the bundled one)
    seq_len: int = 64
    dim: int = 128  # bilstm / cnn width
    dropout: float = 0.3  # before the head
    epochs: int = 10
    minutes: float | None = None  # stop after the epoch that ends past this wall-clock budget
    batch_size: int = 32
    lr: float | None = None  # default 1e-3, or 1e-4 for bert (its peak)
    pool: str = "cls"  # bert: the head reads the pooled [CLS] or the mean of the tokens
    patience: int = 2  # epochs without a better validation accuracy before stopping
    seed: int = 0  # weights, dropout, shuffling and the data split

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
        return self

    @property
    def peak_lr(self) -> float:
        return self.lr or (1e-4 if self.arch == "bert" else 1e-3)

    def settings(self) -> dict:
        """What makes the model and its data: a resume must not change it."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in BUDGET and k != "out"} | {
            "lr": self.peak_lr
        }

    def command(self) -> str:
        """The `python -m classify train` command line that gives this config."""
        defaults = TrainConfig(arch=self.arch, out=self.out)
        args = ["--arch", self.arch] + [
            f"--{f.name.replace('_', '-')}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name not in ("arch", "out") and getattr(self, f.name) != getattr(defaults, f.name)
        ]
        return "python -m classify train " + shlex.join([*args, "--out", self.out])


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


def finished(state: dict, config: TrainConfig) -> bool:
    """Out of epochs, of patience (Keras's EarlyStopping rule: `wait` counts the epochs since the best one; 0
    acts as 1) or of --minutes (checked after each epoch, as every epoch ends with a checkpoint)."""
    return (
        state["epoch"] >= config.epochs
        or state["wait"] >= max(1, config.patience)
        or (config.minutes is not None and state["seconds"] > config.minutes * 60)
    )


def train(config: TrainConfig, command: str | None = None) -> dict:
    """Train (or resume) the run in config.out; returns the test metrics, also written to metrics.json.

    `command` is what the model card and metrics.json record (default: config.command())."""
    config.validate()
    command = command or config.command()
    resume = checkpoint.latest(config.out)
    if resume:  # before any data is read: a refusal costs nothing
        _check_same_run(config, checkpoint.read_state(resume))

    import pretrain.api
    import pretrain.vocab
    from classify import data, encode

    texts, labels, names = data.load(config.data)
    bert_folder = pretrain.api.resolve(config.init) if config.arch == "bert" and config.init != "random" else None
    vocab_folder = config.vocab or bert_folder or pretrain.api.resolve("bert")
    tokens = pretrain.vocab.read_vocab(vocab_folder)
    if bert_folder and tokens != pretrain.vocab.read_vocab(bert_folder):
        raise ValueError(
            f"--vocab {config.vocab} is not the vocabulary {config.init} was pretrained with: its "
            "embeddings would read other words; leave --vocab out with --init"
        )
    model_config = _model_config(config, tokens, names, bert_folder or vocab_folder)
    ids = encode(pretrain.vocab.make_tokenizer(tokens), texts, config.seq_len, tokens)
    parts = data.split(len(texts), config.seed)
    tr, va, te = parts["train"], parts["validation"], parts["test"]

    import keras

    from classify.model import build

    keras.utils.set_random_seed(config.seed)
    model = build(model_config)
    if bert_folder:
        checkpoint.load_weights(model.bert, os.path.join(bert_folder, "model.weights.h5"))
    steps_per_epoch = -(-len(tr) // config.batch_size)
    model.compile(
        optimizer=make_optimizer(config, config.epochs * steps_per_epoch),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    twin = build(model_config)  # uncompiled: its weights file holds no optimizer (3x the size)
    weights = os.path.join(config.out, "model.weights.h5")
    if resume:
        state = checkpoint.restore(resume, model, model.optimizer)
        _log(f"resumed from {resume} after epoch {state['epoch']}")
        if state["best_epoch"] == state["epoch"]:  # killed before it was exported: the checkpoint holds it
            checkpoint.export_weights(model, twin, weights)
    else:
        os.makedirs(config.out, exist_ok=True)
        model_config.save(config.out)
        shutil.copyfile(os.path.join(vocab_folder, "vocab.txt"), os.path.join(config.out, "vocab.txt"))
        state = {
            "epoch": 0,
            "step": 0,
            "seconds": 0.0,
            "history": [],
            "best": None,
            "best_epoch": 0,
            "wait": 0,
            "settings": config.settings(),
            "commands": [],
        }
    if not finished(state, config) or not state["commands"]:
        state["commands"].append([state["step"], command])

    started, seconds_before = time.perf_counter(), state["seconds"]
    while not finished(state, config):
        epoch = state["epoch"]
        logs = model.fit(
            ids[tr],
            labels[tr],
            validation_data=(ids[va], labels[va]),
            batch_size=config.batch_size,
            initial_epoch=epoch,
            epochs=epoch + 1,
            verbose=0,
        ).history
        row = {
            "epoch": epoch + 1,
            "step": (epoch + 1) * steps_per_epoch,
            "train_loss": logs["loss"][-1],
            "train_accuracy": logs["accuracy"][-1],
            "val_loss": logs["val_loss"][-1],
            "val_accuracy": logs["val_accuracy"][-1],
        }
        state.update(epoch=row["epoch"], step=row["step"], seconds=seconds_before + time.perf_counter() - started)
        state["history"].append(row)
        best = state["best"] is None or row["val_accuracy"] > state["best"]
        if best:
            state.update(best=row["val_accuracy"], best_epoch=row["epoch"], wait=0)
        else:
            state["wait"] += 1
        checkpoint.save(config.out, model, model.optimizer, state)
        if best:  # after the checkpoint, so model.weights.h5 is always the best epoch of the latest checkpoint
            checkpoint.export_weights(model, twin, weights)
        _log(
            f"epoch {row['epoch']}/{config.epochs}: loss {row['train_loss']:.4f}, accuracy "
            f"{row['train_accuracy']:.4f}, validation loss {row['val_loss']:.4f}, accuracy "
            f"{row['val_accuracy']:.4f}{' (best)' if state['wait'] == 0 else ''}; {state['seconds']:.0f} s"
        )

    from classify.evaluate import scores

    checkpoint.load_weights(model, weights)  # the best epoch
    logits = np.asarray(model.predict(ids[te], batch_size=256, verbose=0))
    metrics = {
        **scores(logits.argmax(-1), labels[te]),
        "validation_accuracy": state["best"],
        "epochs": state["epoch"],
        "seconds": round(state["seconds"], 1),
        "data": config.data,
        "arch": config.arch,
        "init": model_config.init,
        **({"schedule": "warmup 10%, linear decay", "pool": model_config.pool} if config.arch == "bert" else {}),
        "parameters": int(model.count_params()),
        "command": command,
    }
    files.write_json(os.path.join(config.out, "metrics.json"), metrics)
    loss_curve(
        state["history"],
        os.path.join(config.out, "loss_curve.png"),
        [("train_loss", "train"), ("val_loss", "validation")],
    )
    _card(config, model_config, metrics, state).write(config.out)
    _log(f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}; model in {config.out}")
    return metrics


def _model_config(config: TrainConfig, tokens: list[str], labels: tuple, bert_folder: str):
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


def _check_same_run(config: TrainConfig, state: dict) -> None:
    """The same command resumes; other settings would train on into a model its card does not describe."""
    differ = checkpoint.differences(state["settings"], config.settings(), label=lambda k: "--" + k.replace("_", "-"))
    if differ:
        raise UsageError(
            f"{config.out} holds a run made with {', '.join(differ)}: resume with its own settings or use another --out"
        )


def _card(config: TrainConfig, model_config, m: dict, state: dict) -> Card:
    what = {
        "bilstm": "bidirectional LSTM",
        "cnn": "1-D convolution with global max pooling",
        "bert": f"BERT (encoder from {model_config.init}) with a classification head on "
        + ("[CLS]" if model_config.pool == "cls" else "the mean of its token vectors"),
    }[config.arch]
    sentiment = tuple(model_config.labels) == ("negative", "positive")
    return Card(
        title=f"{'Sentiment' if sentiment else 'Text'} classifier: {config.arch}",
        summary=f"A {what}, trained by SeqLab's `classify train` on `{m['data']}` "
        f"(labels: {', '.join(model_config.labels)}).",
        tags=["text-classification", *(["sentiment"] if sentiment else [])],
        facts=[
            ("test accuracy", f"{m['accuracy']:.4f}"),
            ("test F1", f"{m['f1']:.4f} ({m['examples']} examples)"),
            ("validation accuracy", f"{m['validation_accuracy']:.4f} (epoch {state['best_epoch']}, the model)"),
            ("epochs", f"{m['epochs']} ({m['seconds'] / 60:.1f} min)"),
            ("parameters", f"{m['parameters']:,}"),
        ],
        commands=[(step, cmd) for step, cmd in state["commands"]],
        usage=f"import classify\nclf = classify.load({config.out!r})\nprint(clf.predict('A gorgeous, moving film.'))",
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
