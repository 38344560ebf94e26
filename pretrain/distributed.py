"""Data parallel over every device of every process (JAX): `python -m pretrain.train ... --distribute data`.

Every process runs the same command. `keras.distribution.initialize()` joins them (it wraps
`jax.distributed.initialize`): the coordinator's address, the number of processes and this process's id come
from KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID, or
from what JAX detects (Slurm's srun, Open MPI's mpirun). The model is then replicated on all devices
(keras.distribution.DataParallel over jax.devices(), every process's), and each process builds only its own rows
of each global batch (pretrain.data.Batches' `part`), so a step is still a pure function of the step number and a
resume needs nothing else. On a CPU, JAX's collectives between processes run over Gloo (its default
`jax_cpu_collectives_implementation`).

Process 0 alone writes into --out (checkpoints, metrics, TensorBoard, the model folder); the others read its
checkpoint to resume (--out on a file system they all see) and write nothing (core.trainer's `writes=False`).

A process that dies breaks the next collective in the others (Gloo: the connection to it closes); they stop with
`Lost` at once and leave without JAX's shutdown barrier, which would wait for the dead process's heartbeat
(100 s) and then abort. Running the same command on every process again resumes from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from core.cli import Failed, UsageError

ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")
CHOICES = ("data",)


@dataclasses.dataclass(frozen=True)
class World:
    """Where this process stands: its index, the number of processes, and every device the model is on."""

    process: int = 0
    processes: int = 1
    devices: tuple = ()  # empty: one device, no distribution

    @property
    def writes(self) -> bool:
        return self.process == 0

    @property
    def part(self) -> tuple[int, int]:
        """This process's share of each global batch, for pretrain.data.Batches."""
        return self.process, self.processes

    def figures(self, batch_size: int) -> dict:
        return {"processes": self.processes, "devices": max(1, len(self.devices)), "global_batch": batch_size}


def check_environment(env=None) -> None:
    """Keras's variables, when set, are numbers and the id is in range: checked before JAX is started."""
    env = os.environ if env is None else env
    values = {}
    for name in ENV[1:]:
        if env.get(name, "").strip():
            try:
                values[name] = int(env[name])
            except ValueError:
                raise UsageError(f"{name} must be a whole number (got {env[name]!r})") from None
    n, i = values.get(ENV[1]), values.get(ENV[2])
    if n is not None and n < 1:
        raise UsageError(f"{ENV[1]} must be at least 1 (got {n})")
    if i is not None and (i < 0 or (n is not None and i >= n)):
        top = f"0..{n - 1}" if n is not None else "0 or more"
        raise UsageError(f"{ENV[2]} {i} is out of range: with {ENV[1]}={n} it must be {top}")


def check_backend(distribute: str | None) -> None:
    if distribute is None:
        return
    import keras

    if keras.backend.backend() != "jax":
        raise UsageError(
            f"--distribute {distribute} runs on JAX (KERAS_BACKEND=jax); this process runs "
            f"{keras.backend.backend()}, whose train_on_batch does not split a batch over devices"
        )


def start(distribute: str | None, batch_size: int, say=None) -> World:
    """Join the processes (--distribute data) or look at the local devices, and check that the global batch
    splits evenly over all devices: before any corpus is read."""
    say = say or (lambda m: print(m, file=sys.stderr, flush=True))
    import keras

    if keras.backend.backend() == "tensorflow":
        # model.train_on_batch under a MirroredStrategy hands the whole batch to every replica
        # (keras/src/backend/tensorflow/trainer.py: train_on_batch feeds a plain generator, so strategy.run gets
        # undistributed tensors; only fit and evaluate distribute the dataset), which repeats the work on each
        # device instead of splitting it: a TensorFlow process trains on one device whatever it sees
        check_backend(distribute)
        import tensorflow as tf

        seen = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        if len(seen) > 1:
            say(f"TensorFlow trains on one of the {len(seen)} devices it sees; KERAS_BACKEND=jax trains on all")
        return World()
    if keras.backend.backend() != "jax":
        check_backend(distribute)
        return World()
    import jax

    if distribute == "data":
        check_environment()
        keras.distribution.initialize()
    devices = jax.devices()
    if len(devices) < 2:
        return World()
    if batch_size % len(devices):
        where = f" of {jax.process_count()} processes" if jax.process_count() > 1 else ""
        raise UsageError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices{where}")
    world = World(jax.process_index(), jax.process_count(), tuple(devices))
    if world.processes > 1:
        say(
            f"process {world.process} of {world.processes}: data parallel over {len(devices)} devices, "
            f"{batch_size // len(devices)} sequences each, {batch_size // world.processes} built here"
        )
    else:
        say(f"data parallel over {len(devices)} devices, {batch_size // len(devices)} sequences each")
    return world


def use(world: World) -> None:
    """keras.distribution.DataParallel over the world's devices, set for the process (none: one device)."""
    if world.devices:
        import keras

        # auto_shard_dataset off: each process already feeds only its own rows (Keras would otherwise want a
        # tf.data.Dataset to shard for evaluate)
        parallel = keras.distribution.DataParallel(devices=list(world.devices), auto_shard_dataset=False)
        keras.distribution.set_distribution(parallel)


def barrier(world: World, name: str) -> None:
    """Wait until every process gets here (process 0 has written what the others then read)."""
    if world.processes > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


class Lost(Failed):
    """A collective failed: another process died or its connection dropped."""

    def __init__(self, world: World, error: Exception):
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        super().__init__(
            f"process {world.process} of {world.processes} lost the others ({first}): a process died or was "
            "killed; run the same command on every process again to resume from the last checkpoint"
        )


def is_collective_failure(error: Exception) -> bool:
    """JAX's error for a collective whose peer went away (Gloo's 'Connection closed by peer', a timeout)."""
    text = f"{type(error).__name__} {error}"
    return any(s in text for s in ("Gloo", "Connection closed", "DEADLINE_EXCEEDED", "UNAVAILABLE"))


def leave(code: int) -> None:
    """End a process whose peers are gone without JAX's shutdown barrier (see the module docstring)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
