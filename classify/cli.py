"""python -m classify train ... | python -m classify evaluate ...: train a text classifier, or score one.

Both follow core.cli's convention: argument errors exit 2 before any data is read, a library error is one line
`error: ...` (exit 2), progress goes to stderr and the last stdout line is one JSON object (the test metrics).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from classify.train import TrainConfig, train
from core import cli, flags


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="sentiment", help="a bundled classifier name, a folder or a Hub repo id")
    p.add_argument("--data", default="sentiment", help="sentiment, a CSV/TSV of text,label, or hf:NAME[:CONFIG]")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--seed", type=int, default=0, help="the split's seed (as in training)")


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m classify", __doc__)
    commands = p.add_subparsers(dest="command", required=True, metavar="{train,evaluate}")
    flags.add(
        commands.add_parser(
            "train",
            help="train a BiLSTM, CNN or BERT classifier (resumes a run in --out)",
            description="Train a BiLSTM, CNN or BERT classifier with early stopping; the same command on the same "
            "--out resumes it. Last stdout line: the test metrics as JSON.",
        ),
        TrainConfig,
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
    return train(flags.build(TrainConfig, args), command="python -m classify " + shlex.join(argv))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli.run(parser(), argv, lambda args: _work(args, argv))
