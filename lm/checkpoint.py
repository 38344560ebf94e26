"""Atomic checkpoints: every file is written under a temporary name and renamed, so a crash or kill -9
leaves either the previous checkpoint or the new one, never half of one."""
from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np

POINTER = "checkpoint.json"


def check_space(folder: str, model, factor: float) -> None:
    """h5py can crash the process (SIGSEGV) when the disk fills mid-write, so refuse before writing."""
    need = int(sum(int(np.prod(v.shape)) * 4 for v in model.weights) * factor) + (1 << 20)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(f"not enough disk space in {folder}: {free / 1e6:.1f} MB free, a checkpoint needs about "
                      f"{need / 1e6:.1f} MB")


def differences(saved: dict, wanted: dict, label=str) -> list[str]:
    """`NAME SAVED (not WANTED)` for each setting a resume would change: what a refusal to resume names."""
    return [f"{label(k)} {saved.get(k)} (not {v})" for k, v in wanted.items() if saved.get(k) != v]


def save_weights(model, path: str) -> None:
    check_space(os.path.dirname(path) or ".", model, 1.2)
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-" + os.path.basename(path))
    model.save_weights(tmp)
    os.replace(tmp, path)


def load_weights(model, path: str) -> None:
    if not os.path.exists(path):
        raise OSError(f"weights file {path} is missing")
    try:
        with warnings.catch_warnings():
            # weights files hold no optimizer (checkpoints keep it in optimizer.npz, restored after): Keras's
            # "Skipping variable loading for optimizer" would read as if that state were lost
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(path)
    except Exception as e:  # h5py and Keras raise many kinds; the user needs the file's name
        raise OSError(f"weights file {path} is truncated or corrupted ({type(e).__name__}: {e})") from None


def write_json(path: str, obj) -> None:
    tmp = path + f".tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(folder: str, model, optimizer, state: dict, keep: int = 1) -> None:
    """Write checkpoint-<step>/ (weights, optimizer, state), then point checkpoint.json at it."""
    name = f"checkpoint-{state['step']}"
    final, tmp = os.path.join(folder, name), os.path.join(folder, f".tmp-{name}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        check_space(folder, model, 4.0)  # weights, two Adam moments, slack
        os.makedirs(tmp)
        model.save_weights(os.path.join(tmp, "model.weights.h5"))
        np.savez(os.path.join(tmp, "optimizer.npz"), *[np.asarray(v) for v in optimizer.variables])
        write_json(os.path.join(tmp, "state.json"), state)
    except Exception as e:  # disk full, read-only, quota: h5py and numpy raise different types
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(f"could not write checkpoint {final} ({type(e).__name__}: {e}); the previous checkpoint "
                      "is kept") from None
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    write_json(os.path.join(folder, POINTER), {"latest": name})
    for old in sorted(os.listdir(folder)):
        if old.startswith("checkpoint-") and old != name:
            shutil.rmtree(os.path.join(folder, old), ignore_errors=True)


def latest(folder: str) -> str | None:
    pointer = os.path.join(folder, POINTER)
    if not os.path.exists(pointer):
        return None
    with open(pointer) as f:
        path = os.path.join(folder, json.load(f)["latest"])
    return path if os.path.isdir(path) else None


def restore(path: str, model, optimizer) -> dict:
    """Load weights and optimizer variables from checkpoint folder `path`; returns its training state."""
    load_weights(model, os.path.join(path, "model.weights.h5"))
    optimizer.build(model.trainable_variables)
    with np.load(os.path.join(path, "optimizer.npz")) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    if len(values) != len(optimizer.variables):
        raise OSError(f"{path}: optimizer state does not match this model ({len(values)} vs "
                      f"{len(optimizer.variables)} variables)")
    for var, value in zip(optimizer.variables, values):
        var.assign(value)
    return read_state(path)


def read_state(path: str) -> dict:
    with open(os.path.join(path, "state.json")) as f:
        return json.load(f)
