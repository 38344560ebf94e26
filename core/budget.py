"""One training budget for every trainer: `--steps N` or `--minutes M`, exactly one.

from core.budget import Budget
b = Budget(minutes=30).validate()
total = b.steps_for(seconds_per_step=0.4)     # a --minutes budget becomes steps once it is measured
"""

from __future__ import annotations

import argparse
import dataclasses
import math


@dataclasses.dataclass
class Budget:
    steps: int | None = None
    minutes: float | None = None

    def validate(self) -> Budget:
        if (self.steps is None) == (self.minutes is None):
            raise ValueError("give exactly one budget: --steps N or --minutes M")
        if (self.steps is not None and self.steps <= 0) or (self.minutes is not None and not self.minutes > 0):
            raise ValueError("the budget must be positive (--steps N > 0 or --minutes M > 0)")
        return self

    @property
    def seconds(self) -> float:
        """Wall-clock limit; infinite for a --steps budget."""
        return self.minutes * 60 if self.minutes else math.inf

    def steps_for(self, seconds_per_step: float, seconds_spent: float = 0.0, steps_done: int = 0) -> int:
        """Total steps: the given --steps, or what the rest of --minutes fits at the measured pace."""
        if self.steps is not None:
            return self.steps
        return steps_done + max(1, int((self.seconds - seconds_spent) / seconds_per_step))

    def over(self, step: int, total: int, seconds: float) -> bool:
        return step >= total or seconds >= self.seconds

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--steps", type=int, help="training budget in steps (a larger value extends a run)")
        group.add_argument("--minutes", type=float, help="training budget in wall-clock minutes")

    @classmethod
    def from_args(cls, args) -> Budget:
        return cls(steps=args.steps, minutes=args.minutes).validate()
