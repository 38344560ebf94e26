"""One checkpoint format for every trainer.

    ROOT/checkpoint-<step>/model.weights.h5   the model's weights
                          optimizer.npz       the optimizer's variables (moments, step counter), keys 0000, 0001, ...
                          rng.npz             the non-trainable variables: dropout's seed-generator states (and any
                                              other non-trained state), so a resumed run draws the same masks
                          state.json          the trainer's own state (step, seconds, history rows, settings)
    ROOT/checkpoint.json                      {"latest": "checkpoint-<step>"}: the pointer, replaced last

Each checkpoint is written under a temporary folder name and renamed, then the pointer is replaced, so a kill -9
at any moment leaves the previous checkpoint or the new one. Older SeqLab checkpoints are read too: lm's
(`arr_i` keys, no rng.npz) and pretrain's (`step-%08d/` with a plain-text `latest` pointer).

    from core import checkpoint
    checkpoint.save("runs/x", model, model.optimizer, {"step": 100})
    path = checkpoint.latest("runs/x")            # None when the run has not checkpointed yet
    state = checkpoint.restore(path, model, model.optimizer)
"""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np

from core import files

POINTER = "checkpoint.json"
LEGACY_POINTER = "latest"  # pretrain's plain-text pointer before the core


def _names(values) -> dict:
    return {f"{i:04d}": np.asarray(v) for i, v in enumerate(values)}


def _read_npz(path: str) -> list:
    """Arrays in variable order, whichever key style wrote them (`0000` now, `arr_0` before)."""
    with np.load(path) as saved:
        keys = sorted(saved.files, key=lambda k: int(k.removeprefix("arr_")))
        return [saved[k] for k in keys]


def save(root: str, model, optimizer, state: dict) -> str:
    """Write ROOT/checkpoint-<state['step']>/ and point ROOT/checkpoint.json at it; older checkpoints go."""
    os.makedirs(root, exist_ok=True)
    name = f"checkpoint-{state['step']}"
    final, tmp = os.path.join(root, name), files.temp_name(os.path.join(root, name))
    shutil.rmtree(tmp, ignore_errors=True)
    # weights, two Adam moments and slack: refused before anything is half-written
    files.check_space(root, files.weights_bytes(model) * 4, "a checkpoint")
    try:
        os.makedirs(tmp)
        model.save_weights(os.path.join(tmp, "model.weights.h5"))
        np.savez(os.path.join(tmp, "optimizer.npz"), **_names(optimizer.variables))
        np.savez(os.path.join(tmp, "rng.npz"), **_names(model.non_trainable_variables))
        files.write_json(os.path.join(tmp, "state.json"), state)
    except Exception as e:  # disk full, read-only, quota: h5py and numpy raise different types
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(
            f"could not write checkpoint {final} ({type(e).__name__}: {e}); the previous checkpoint is kept"
        ) from None
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    files.write_json(os.path.join(root, POINTER), {"latest": name})
    for old in os.listdir(root):  # the newest only, and whatever a killed run left half-made
        if old != name and old.startswith(("checkpoint-", ".tmp-")):
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    return final


def latest(root: str) -> str | None:
    """The newest complete checkpoint folder under ROOT, or None."""
    pointer = os.path.join(root, POINTER)
    if os.path.exists(pointer):
        path = os.path.join(root, files.read_json(pointer)["latest"])
    elif os.path.isfile(os.path.join(root, LEGACY_POINTER)):
        with open(os.path.join(root, LEGACY_POINTER)) as f:
            path = os.path.join(root, f.read().strip())
    else:
        return None
    return path if os.path.isdir(path) else None


def read_state(path: str) -> dict:
    return files.read_json(os.path.join(path, "state.json"))


def load_weights(model, path: str) -> None:
    """Load a weights file, naming it when it is missing, truncated or corrupted."""
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


def restore(path: str, model, optimizer) -> dict:
    """Weights, optimizer variables and RNG state from checkpoint folder `path`; returns its trainer state."""
    load_weights(model, os.path.join(path, "model.weights.h5"))
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    stores = [("optimizer.npz", optimizer.variables)]
    if os.path.exists(os.path.join(path, "rng.npz")):  # lm's checkpoints before the core kept no RNG
        stores.append(("rng.npz", model.non_trainable_variables))
    for store, variables in stores:
        values = _read_npz(os.path.join(path, store))
        if len(values) != len(variables):
            raise OSError(
                f"checkpoint {path} does not match this model ({store} holds {len(values)} variables, "
                f"the model has {len(variables)}): use another --out"
            )
        for var, value in zip(variables, values):
            var.assign(value)
    return read_state(path)


def export_weights(model, fresh, path: str) -> None:
    """Save `model`'s weights through `fresh`, an uncompiled twin of it: a compiled model's weights file also holds
    the optimizer (3x the size), which a shipped model does not need."""
    fresh.set_weights(model.get_weights())
    save_weights(fresh, path)


def save_weights(model, path: str) -> None:
    files.check_space(os.path.dirname(path) or ".", int(files.weights_bytes(model) * 1.2), "the weights file")
    with files.atomic(path) as tmp:
        model.save_weights(tmp)


def differences(saved: dict, wanted: dict, label=str) -> list[str]:
    """`NAME SAVED (not WANTED)` for each setting a resume would change: what a refusal to resume names."""
    return [f"{label(k)} {saved.get(k)} (not {v})" for k, v in wanted.items() if saved.get(k) != v]
