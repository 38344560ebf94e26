"""One command-line convention for every train and evaluate command.

- Arguments are checked before any corpus is read or model built: argparse errors exit 2 at once.
- TensorFlow's harmless start-up notes are left out of stderr (core.quiet).
- A library error (ValueError, OSError: a missing corpus, a bad model name, a full disk) is one line,
  `error: ...`, on stderr, exit 2; progress goes to stderr too.
- The last line on stdout is one JSON object: the command's result (metrics, scores).
- The same names for the same things: --out, --corpus, --data (what evaluate reads), --model, --steps | --minutes,
  --dim, --jit/--no-jit, --seed (core.flags makes a trainer's flags from its config's fields).

    from core import cli
    def main(argv=None):
        p = cli.parser("python -m lm.evaluate", __doc__)
        p.add_argument("--model", required=True)
        return cli.run(p, argv, lambda args: {"loss": 1.0})
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class UsageError(ValueError):
    """Bad input found after parsing (a setting that contradicts a saved run, say): `error: ...`, exit 2."""


class Failed(Exception):
    """A run that started but could not finish (a loss that became NaN): its message, exit `code`."""

    def __init__(self, message: str, code: int = 3):
        super().__init__(message)
        self.code = code


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=(doc or "").strip().splitlines()[0] if doc else None)


def add_jit(p: argparse.ArgumentParser, default: bool) -> None:
    p.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=default,
        help=f"XLA-compile the train step (default {'on' if default else 'off'})",
    )


def emit(result: dict) -> None:
    """The command's last stdout line."""
    print(json.dumps(result), flush=True)


def run(p: argparse.ArgumentParser, argv, work, tensorflow: bool = True) -> int:
    """Parse argv (exit 2 on bad arguments), run work(args) and print its dict as the JSON last line.
    `tensorflow` False: a command that uses no Keras skips the TensorFlow import (seconds and hundreds of MB)."""
    args = p.parse_args(argv)
    if tensorflow:
        from core import quiet

        quiet.import_tensorflow()  # TensorFlow's start-up notes left out of stderr (see core.quiet)
    try:
        result = work(args)
    except Failed as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code
    except (ValueError, OSError) as e:  # CorpusError and ModelNotFoundError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result is not None:
        emit(result)
    return 0
