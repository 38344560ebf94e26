"""`python -m classify train`: train a BiLSTM, CNN or BERT sentiment classifier with early stopping."""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time

import numpy as np


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m classify train", description=__doc__)
    p.add_argument("--arch", required=True, choices=["bilstm", "cnn", "bert"])
    p.add_argument("--data", default="sentiment", help="sentiment, a CSV/TSV of text,label, or hf:NAME")
    p.add_argument("--out", required=True)
    p.add_argument("--init", default="bert", help="bert arch: 'bert' (bundled), a folder or repo id, or 'random' "
                                                  "(the architecture of the BERT in --vocab, untrained)")
    p.add_argument("--vocab", default=None, help="WordPiece vocabulary folder (default: the --init BERT's, else "
                                                 "the bundled BERT's): every arch uses the same tokenizer")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--minutes", type=float, default=None, help="stop after this wall-clock budget")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default 1e-3, or 1e-4 for bert (its peak: bert warms up "
                                                          "over the first 10%% of the steps, then decays linearly "
                                                          "to 0 at --epochs, as BERT fine-tunes; with --minutes, "
                                                          "set --epochs to what the budget fits)")
    p.add_argument("--pool", choices=("cls", "mean"), default="cls",
                   help="bert arch: the head reads the pooled [CLS] vector (BERT's) or the mean of the tokens")
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.epochs <= 0 or args.batch_size <= 0 or args.seq_len < 4 or (args.minutes is not None and args.minutes <= 0):
        p.error("--epochs, --batch-size and --minutes must be positive and --seq-len at least 4")
    return args


def main(argv) -> int:
    args = parse(argv)
    try:
        return train(args, argv)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def train(args, argv) -> int:
    import keras

    import pretrain.api
    import pretrain.vocab
    from classify import data, encode
    from classify.model import ClassifierConfig, build
    from lm.card import loss_curve

    texts, labels, names = data.load(args.data)
    bert_folder = None
    if args.arch == "bert" and args.init != "random":
        bert_folder = pretrain.api.resolve(args.init)
    vocab_folder = args.vocab or bert_folder or pretrain.api.resolve("bert")
    tokens = pretrain.vocab.read_vocab(vocab_folder)
    if bert_folder and tokens != pretrain.vocab.read_vocab(bert_folder):
        raise ValueError(f"--vocab {args.vocab} is not the vocabulary {args.init} was pretrained with: its "
                         "embeddings would read other words; leave --vocab out with --init")
    ids = encode(pretrain.vocab.make_tokenizer(tokens), texts, args.seq_len, tokens)
    parts = data.split(len(texts), args.seed)
    bert_config = None
    if args.arch == "bert":
        from pretrain.model import BertConfig

        # --init random keeps the architecture of the BERT whose vocabulary it uses: a true twin
        bert_config = BertConfig.load(bert_folder or vocab_folder).__dict__
        bert_config["dropout"] = 0.1  # BERT's fine-tuning dropout, whatever the encoder was pretrained with
        if bert_config["vocab_size"] != len(tokens):
            raise ValueError(f"the vocabulary has {len(tokens)} tokens but the BERT expects {bert_config['vocab_size']}")
    config = ClassifierConfig(arch=args.arch, vocab_size=len(tokens), labels=names, seq_len=args.seq_len,
                              dim=args.dim, dropout=args.dropout, bert=bert_config, pool=args.pool,
                              init=(args.init if args.arch == "bert" else "random"))
    keras.utils.set_random_seed(args.seed)
    model = build(config)
    if bert_folder:
        from lm.checkpoint import load_weights

        load_weights(model.bert, os.path.join(bert_folder, "model.weights.h5"))
    tr, va, te = parts["train"], parts["validation"], parts["test"]
    model.compile(optimizer=_optimizer(args, steps=args.epochs * -(-len(tr) // args.batch_size)), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callbacks = [keras.callbacks.EarlyStopping("val_accuracy", patience=args.patience, restore_best_weights=True)]
    if args.minutes:
        callbacks.append(_Deadline(args.minutes * 60))
    start = time.perf_counter()
    history = model.fit(ids[tr], labels[tr], validation_data=(ids[va], labels[va]), epochs=args.epochs,
                        batch_size=args.batch_size, callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - start

    from classify.evaluate import scores

    os.makedirs(args.out, exist_ok=True)
    config.save(args.out)
    tmp = os.path.join(args.out, ".tmp-model.weights.h5")
    twin = build(config)  # uncompiled: a compiled model's weights file carries the optimizer too (3x the size)
    twin.set_weights(model.get_weights())
    twin.save_weights(tmp)
    os.replace(tmp, os.path.join(args.out, "model.weights.h5"))
    shutil.copyfile(os.path.join(vocab_folder, "vocab.txt"), os.path.join(args.out, "vocab.txt"))
    logits = np.asarray(model.predict(ids[te], batch_size=256, verbose=0))
    metrics = {**scores(logits.argmax(-1), labels[te]), "validation_accuracy": max(history.history["val_accuracy"]),
               "epochs": len(history.history["loss"]), "seconds": round(seconds, 1), "data": args.data,
               "arch": args.arch, "init": config.init,
               **({"schedule": "warmup 10%, linear decay", "pool": config.pool} if args.arch == "bert" else {}),
               "parameters": int(model.count_params()),
               "command": "python -m classify train " + " ".join(shlex.quote(a) for a in argv)}
    from lm.checkpoint import write_json

    write_json(os.path.join(args.out, "metrics.json"), metrics)
    curve = [{"step": i + 1, "train_loss": l, "val_loss": v}
             for i, (l, v) in enumerate(zip(history.history["loss"], history.history["val_loss"]))]
    loss_curve(curve, os.path.join(args.out, "loss_curve.png"))
    _card(args.out, config, metrics)
    print(f"test accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}; model in {args.out}", file=sys.stderr)
    return 0


def _optimizer(args, steps: int):
    import keras

    if args.arch != "bert":
        return keras.optimizers.Adam(args.lr or 1e-3)
    from pretrain.train import make_schedule

    # BERT's fine-tuning recipe: AdamW, warm-up, linear decay. A constant rate keeps kicking the pretrained
    # weights long after the head has settled, and the decay is what lets early stopping pick a calm epoch.
    opt = keras.optimizers.AdamW(make_schedule(args.lr or 1e-4, max(1, steps // 10), steps), weight_decay=0.01,
                                 epsilon=1e-6, global_clipnorm=1.0)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias", "_norm"])
    return opt


class _Deadline:
    """Keras callback: stop fitting after a wall-clock budget (checked at the end of each epoch)."""

    def __new__(cls, seconds):
        import keras

        class Deadline(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                if time.perf_counter() - self.start > seconds:
                    self.model.stop_training = True

        return Deadline()


def _card(folder, config, m):
    what = {"bilstm": "bidirectional LSTM", "cnn": "1-D convolution with global max pooling",
            "bert": f"BERT (encoder from {config.init}) with a classification head on "
                    + ("[CLS]" if config.pool == "cls" else "the mean of its token vectors")}[config.arch]
    text = f"""---
library_name: keras
tags: [seqlab, text-classification, sentiment]
---
# Sentiment classifier: {config.arch}

A {what}, trained by SeqLab's `classify train` on `{m['data']}` (labels: {', '.join(config.labels)}).

| | |
|---|---|
| test accuracy | {m['accuracy']:.4f} |
| test F1 | {m['f1']:.4f} ({m['examples']} examples) |
| epochs | {m['epochs']} ({m['seconds'] / 60:.1f} min) |
| parameters | {m['parameters']:,} |

Reproduce:

```
{m['command']}
```
{m.get('note', '')}

![loss curve](loss_curve.png)
"""
    with open(os.path.join(folder, ".tmp-README.md"), "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(os.path.join(folder, ".tmp-README.md"), os.path.join(folder, "README.md"))
