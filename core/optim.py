"""One optimizer for every trainer: AdamW with a warm-up schedule, global-norm clipping, and no weight decay on
LayerNorm scales and biases (BERT's and GPT-2's rule: decaying them only pulls normalisation towards zero).

    from core.optim import OptimizerConfig, make_optimizer
    opt = make_optimizer(OptimizerConfig(lr=1e-3, warmup=100, decay="cosine"), total_steps=3000)

The schedules are module-level, registered Keras objects whose get_config round-trips, so a compiled model saves
and loads with them. Their end (`total`) is a variable the compiled train step reads, so `set_total` moves it
without retracing the step (on TensorFlow; JAX's compiled step takes only the state it is given, so there the step
is retraced with `with_total(n)`, a new schedule).
"""

from __future__ import annotations

import dataclasses
import math

import keras
from keras import ops

from core.flags import field

NO_DECAY = ["gamma", "beta", "bias", "_norm"]  # LayerNorm scale/offset, biases, any *_norm layer


@keras.saving.register_keras_serializable(package="seqlab")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup` steps, then cosine decay to `floor` x peak at `total` (nanoGPT's)."""

    def __init__(self, peak: float, warmup: int, total: int, floor: float = 0.1):
        self.peak, self.warmup, self.floor = float(peak), int(warmup), float(floor)
        self.total = int(total)
        # the end, read by the traced step: a --minutes budget sets it once it has timed some steps (set_total)
        self.end = keras.Variable(self.total, trainable=False, dtype="float32", name="schedule_end")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak * (step + 1) / max(1, self.warmup)
        progress = ops.clip((step - self.warmup) / self._span(), 0.0, 1.0)
        decay = self.peak * (self.floor + (1 - self.floor) * 0.5 * (1 + ops.cos(math.pi * progress)))
        return ops.where(step < self.warmup, warm, decay)

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total, "floor": self.floor}

    def with_total(self, total: int):
        return type(self)(**{**self.get_config(), "total": int(total)})

    def end_at(self, total: int) -> None:
        """Move the end in place: a step traced with this schedule reads it (TensorFlow)."""
        self.total = int(total)
        self.end.assign(self.total)

    def _span(self):
        return ops.maximum(1.0, self.end - self.warmup)


@keras.saving.register_keras_serializable(package="seqlab")
class WarmupLinear(WarmupCosine):
    """Linear warm-up to `peak`, then linear decay to `floor` x peak (0: BERT's schedule) at `total`."""

    def __init__(self, peak: float, warmup: int, total: int, floor: float = 0.0):
        super().__init__(peak, warmup, total, floor)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak * step / max(1, self.warmup)
        left = ops.maximum(0.0, (self.end - step) / self._span())
        return ops.where(step < self.warmup, warm, self.peak * (self.floor + (1 - self.floor) * left))


SCHEDULES = {"cosine": WarmupCosine, "linear": WarmupLinear}


@dataclasses.dataclass
class OptimizerConfig:
    lr: float = field(1e-3, help="peak learning rate (AdamW)")
    warmup: int = field(100, help="warm-up steps")
    decay: str = field(
        "cosine", help="after warm-up: cosine (to 0.1 x peak) or linear (to 0)", choices=("cosine", "linear")
    )
    weight_decay: float = field(0.01, help="AdamW's, not applied to norms and biases")
    clip_norm: float = field(1.0, help="global gradient-norm clipping (0: off)")
    beta_1: float = field(0.9, cli=False)
    beta_2: float = field(0.999, cli=False)
    epsilon: float = field(1e-7, cli=False)
    # > 0: also keep an exponential moving average of the weights at this momentum (Keras's own use_ema; Marian's
    # --exponential-smoothing): the average is what the trainer exports (`finalize_weights`)
    ema: float = field(0.0, help="export a moving average of the weights at this momentum, e.g. 0.999 (0: off)")

    def validate(self) -> OptimizerConfig:
        if not self.lr > 0:
            raise ValueError(f"--lr must be positive (got {self.lr})")
        if self.warmup < 0:
            raise ValueError(f"--warmup must be >= 0 (got {self.warmup})")
        if self.decay not in SCHEDULES:
            raise ValueError(f"decay must be one of {', '.join(SCHEDULES)} (got {self.decay!r})")
        if self.weight_decay < 0 or self.clip_norm < 0:
            raise ValueError("--weight-decay and --clip-norm must be >= 0")
        if not 0 <= self.ema < 1:
            raise ValueError(f"--ema must be 0 (off) or a momentum below 1 such as 0.999 (got {self.ema})")
        return self


def make_schedule(config: OptimizerConfig, total_steps: int):
    return SCHEDULES[config.decay](config.lr, config.warmup, total_steps)


def make_optimizer(config: OptimizerConfig, total_steps: int) -> keras.optimizers.AdamW:
    config.validate()
    opt = keras.optimizers.AdamW(
        learning_rate=make_schedule(config, total_steps),
        weight_decay=config.weight_decay,
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        epsilon=config.epsilon,
        global_clipnorm=config.clip_norm or None,
        use_ema=config.ema > 0,
        ema_momentum=config.ema or 0.99,
        ema_overwrite_frequency=None,  # the model trains on its own weights; the average replaces them at the end
    )
    opt.exclude_from_weight_decay(var_names=NO_DECAY)
    return opt


def finalize_weights(model) -> bool:
    """Put the optimizer's moving average of the weights (OptimizerConfig.ema) into the model, for export; True
    if there was one. Call it after the last checkpoint is saved: the checkpoint keeps the trained weights (and
    the average, in the optimizer's variables), so a resumed run goes on from where training was."""
    opt = model.optimizer
    if not getattr(opt, "use_ema", False):
        return False
    opt.finalize_variable_values(model.trainable_variables)
    return True


def set_total(model, total_steps: int) -> None:
    """Give the compiled model's schedule a new end (a --minutes budget measured, a run extended). On TensorFlow
    the traced train step reads the schedule's end variable, so nothing is retraced (a retrace mid-run costs as
    much as the first step's compile); JAX's compiled step holds the values it was traced with, so there it is
    traced again with a new schedule."""
    opt = model.optimizer
    schedule = opt._learning_rate  # the schedule object, not its current value
    if keras.backend.backend() == "tensorflow":
        schedule.end_at(total_steps)
        return
    opt.learning_rate = schedule.with_total(total_steps)
    model.make_train_function(force=True)


def current_lr(schedule, step: int) -> float:
    """The learning rate at `step`, computed on the host: the optimizer's own counter lives on the device."""
    return float(ops.convert_to_numpy(schedule(step)))
