"""python -m classify train ... | python -m classify evaluate ...: train a text classifier, or score one.

Both follow core.cli's convention: argument errors exit 2 before any data is read, a library error is one line
`error: ...` (exit 2), progress goes to stderr and the last stdout line is one JSON object (the test metrics).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from core import cli


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", required=True, choices=["bilstm", "cnn", "bert"])
    p.add_argument("--data", default="sentiment", help="sentiment, a CSV/TSV of text,label, or hf:NAME[:CONFIG]")
    p.add_argument("--out", required=True, help="model folder (resumed when it holds a checkpoint)")
    p.add_argument(
        "--init",
        default="bert",
        help="bert arch: 'bert' (bundled), a folder or repo id, or 'random' "
        "(the architecture of the BERT in --vocab, untrained)",
    )
    p.add_argument(
        "--vocab",
        default=None,
        help="WordPiece vocabulary folder (default: the --init BERT's, else "
        "the bundled BERT's): every arch uses the same tokenizer",
    )
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--dim", type=int, default=128, help="bilstm / cnn width")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--epochs", type=int, default=10, help="at most this many epochs (a larger value extends a run)")
    p.add_argument(
        "--minutes", type=float, default=None, help="stop after the first epoch that ends past this wall-clock budget"
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="default 1e-3, or 1e-4 for bert (its peak: bert warms up "
        "over the first 10%% of the steps, then decays linearly "
        "to 0 at --epochs, as BERT fine-tunes; with --minutes, "
        "set --epochs to what the budget fits)",
    )
    p.add_argument(
        "--pool",
        choices=("cls", "mean"),
        default="cls",
        help="bert arch: the head reads the pooled [CLS] vector (BERT's) or the mean of the tokens",
    )
    p.add_argument(
        "--patience", type=int, default=2, help="stop after this many epochs without a better validation accuracy"
    )
    p.add_argument("--seed", type=int, default=0, help="weights, dropout, shuffling and the 80/10/10 split")


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="sentiment", help="a bundled classifier name, a folder or a Hub repo id")
    p.add_argument("--data", default="sentiment", help="sentiment, a CSV/TSV of text,label, or hf:NAME[:CONFIG]")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--seed", type=int, default=0, help="the split's seed (as in training)")


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m classify", __doc__)
    commands = p.add_subparsers(dest="command", required=True, metavar="{train,evaluate}")
    _train_arguments(
        commands.add_parser(
            "train",
            help="train a BiLSTM, CNN or BERT classifier (resumes a run in --out)",
            description="Train a BiLSTM, CNN or BERT classifier with early stopping; the same command on the same "
            "--out resumes it. Last stdout line: the test metrics as JSON.",
        )
    )
    _evaluate_arguments(
        commands.add_parser(
            "evaluate",
            help="accuracy and F1 of a classifier on a data set's split",
            description="Accuracy and F1 of a classifier on a data set's split. Last stdout line: JSON.",
        )
    )
    return p


def _work(args: argparse.Namespace, argv: list[str]) -> dict:
    if args.command == "evaluate":
        from classify.evaluate import evaluate

        return evaluate(args.model, data=args.data, split=args.split, seed=args.seed)
    from classify.train import TrainConfig, train

    config = TrainConfig(
        arch=args.arch,
        out=args.out,
        data=args.data,
        init=args.init,
        vocab=args.vocab,
        seq_len=args.seq_len,
        dim=args.dim,
        dropout=args.dropout,
        epochs=args.epochs,
        minutes=args.minutes,
        batch_size=args.batch_size,
        lr=args.lr,
        pool=args.pool,
        patience=args.patience,
        seed=args.seed,
    )
    return train(config.validate(), command="python -m classify " + shlex.join(argv))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("--") and argv[0] != "--help":
        # before subcommands `python -m classify --arch ...` trained: kept for one release
        print(
            "note: `python -m classify --arch ...` is now `python -m classify train --arch ...`; the old form "
            "goes in the next release",
            file=sys.stderr,
        )
        argv = ["train", *argv]
    return cli.run(parser(), argv, lambda args: _work(args, argv))
