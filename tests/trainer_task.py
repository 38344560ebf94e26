"""A tiny task for core.trainer's tests: a dense net with dropout learning a fixed linear map, batch n a pure
function of the seed and n. `python -m tests.trainer_task --out DIR --steps N [--lr X] [--sleep S]` runs it
through the same CLI mechanism every SeqLab trainer uses (core.flags, core.cli)."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
import time

import numpy as np

from core import cli, flags
from core.card import Card
from core.optim import OptimizerConfig, make_optimizer
from core.trainer import RunConfig, Trainer


@dataclasses.dataclass(kw_only=True)
class TinyConfig(RunConfig):
    eval_every: int = flags.field(5, help="steps between evaluations")
    checkpoint_every: int = flags.field(5, help="steps between checkpoints")
    log_every: int = flags.field(5, help="steps between curve rows")
    width: int = flags.field(16, help="hidden units")
    optimizer: OptimizerConfig = flags.field(factory=lambda: OptimizerConfig(lr=1e-2, warmup=2))
    sleep: float = flags.field(0.0, help="seconds each batch takes to make (a slow step, for kill tests)")
    nan_at: int = flags.field(0, help="the step whose targets are NaN (0: none), for the NaN stop")


class TinyTask:
    name = "tiny"
    curve = [("train_loss", "train"), ("val_loss", "validation")]
    curve_label = "mse"

    def __init__(self, config: TinyConfig):
        self.config = config
        self.w = np.random.default_rng(99).normal(size=(4, 1)).astype("float32")
        self.prepared = self.built = 0

    def settings(self) -> dict:
        return {"width": self.config.width, "seed": self.config.seed}

    def prepare(self, run) -> None:
        self.prepared += 1
        x = np.random.default_rng(1).normal(size=(64, 4)).astype("float32")
        self.val = (x, x @ self.w)

    def build(self, total_steps: int):
        import keras

        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(self.config.width, activation="relu", name="hidden")(inputs)
        h = keras.layers.Dropout(0.3, name="dropout")(hidden)
        model = keras.Model(inputs, keras.layers.Dense(1, name="out")(h))  # named: weights load by their names
        model.compile(optimizer=make_optimizer(self.config.optimizer, total_steps), loss="mse", jit_compile=False)
        model.optimizer.build(model.trainable_variables)
        self.built += 1
        return model

    def batch(self, step: int):
        if self.config.sleep:
            time.sleep(self.config.sleep)
        x = np.random.default_rng([self.config.seed, step]).normal(size=(16, 4)).astype("float32")
        y = x @ self.w
        return x, y * np.nan if self.config.nan_at and step + 1 == self.config.nan_at else y

    def evaluate(self, model, run) -> dict:
        x, y = self.val
        return {"val_loss": float(np.mean((np.asarray(model(x, training=False)) - y) ** 2))}

    def finish(self, model, run) -> dict:
        model.save_weights(os.path.join(run.out, "model.weights.h5"))
        return {"val_loss": self.evaluate(model, run)["val_loss"]}

    def card(self, metrics: dict, run) -> Card:
        return Card(title="tiny", summary="A test task.", commands=[tuple(c) for c in run.state["commands"]])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = flags.add(cli.parser("python -m tests.trainer_task", __doc__), TinyConfig)

    def work(args):
        config = flags.build(TinyConfig, args).validate()
        return Trainer(TinyTask(config), config).run("python -m tests.trainer_task " + shlex.join(argv))

    return cli.run(p, argv, work)


if __name__ == "__main__":
    sys.exit(main())
