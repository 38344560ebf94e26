"""One checkpoint format for every trainer.

    ROOT/checkpoint-<step>/model.weights.h5   the model's weights (the model folders' file: see save_weights)
                          optimizer.npz       the optimizer's variables (moments, step counter), keys 0000, 0001, ...
                          rng.npz             the non-trainable variables: dropout's seed-generator states (and any
                                              other non-trained state), so a resumed run draws the same masks
                          state.json          the trainer's own state (step, seconds, history rows, settings)
    ROOT/checkpoint.json                      {"latest": "checkpoint-<step>"}: the pointer, replaced last

Each checkpoint is written under a temporary folder name and renamed, then the pointer is replaced, so a kill -9
at any moment leaves the previous checkpoint or the new one. This is the one layout read.

    from core import checkpoint
    checkpoint.save("runs/x", model, model.optimizer, {"step": 100})
    path = checkpoint.latest("runs/x")            # None when the run has not checkpointed yet
    state = checkpoint.restore(path, model, model.optimizer)

A weights file (`model.weights.h5`, a checkpoint's or a model folder's) holds one HDF5 dataset per weight, named by
the weight's `variable.path` (`transformer_lm/block_0/qkv/kernel`): the names of the layers it sits in, which every
SeqLab model gives explicitly, so a weight is found by name whatever else the process built and in whatever order.
Keras's own `model.save_weights` locates weights by their place in the object graph instead (attribute names,
per-class counters within lists), which a refactor of a model's attributes silently breaks; that layout is not
read here (`keras_layout` tells it), and scripts/convert_weights.py rewrites a model folder's file from it.
"""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np

from core import files

POINTER = "checkpoint.json"


def _names(values) -> dict:
    return {f"{i:04d}": np.asarray(v) for i, v in enumerate(values)}


def _read_npz(path: str) -> list:
    """Arrays in variable order (keys 0000, 0001, ...)."""
    with np.load(path) as saved:
        return [saved[k] for k in sorted(saved.files, key=int)]


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
        _write(model, os.path.join(tmp, "model.weights.h5"))
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
    if not os.path.exists(pointer):
        return None
    path = os.path.join(root, files.read_json(pointer)["latest"])
    return path if os.path.isdir(path) else None


def read_state(path: str) -> dict:
    return files.read_json(os.path.join(path, "state.json"))


def _by_path(model) -> dict:
    """The model's weights by `variable.path`; ValueError naming a path that two weights share (layers left to
    Keras's automatic names, or a sublayer first called outside its parent, whose path then lacks the parent)."""
    found = {}
    for v in model.weights:
        if v.path in found:
            raise ValueError(f"two weights of model {model.name} have the path {v.path}: give their layers names")
        found[v.path] = v
    return found


def _write(model, path: str) -> None:
    weights = _by_path(model)
    with h5py.File(path, "w") as f:
        for name, v in weights.items():
            f.create_dataset(name, data=np.asarray(v))


def _read(path: str) -> dict[str, np.ndarray]:
    """Every dataset of the file by its full name, read into memory; OSError naming a missing or broken file."""
    if not os.path.exists(path):
        raise OSError(f"weights file {path} is missing")
    found = {}
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, item: found.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    except Exception as e:  # h5py raises OSError, KeyError, RuntimeError...: the user needs the file's name
        raise OSError(f"weights file {path} is truncated or corrupted ({type(e).__name__}: {e})") from None
    return found


def keras_layout(path: str) -> bool:
    """Whether the weights file at `path` is in Keras's own layout, its weights in `.../vars/<n>` datasets."""
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    return any("vars" in name.split("/")[:-1] for name in names)


def _listed(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_weights(model, path: str) -> None:
    """Assign every weight of `model` from the file's dataset of its `variable.path`. OSError naming the file
    when it is missing, truncated or corrupted; ValueError naming the weights the file lacks, the datasets the model
    has no weight for and the weights of another shape, when it is another model's."""
    saved, weights = _read(path), _by_path(model)
    missing = [name for name in weights if name not in saved]
    extra = [name for name in saved if name not in weights]
    shapes = [
        f"{name} {saved[name].shape} (the model's is {tuple(v.shape)})"
        for name, v in weights.items()
        if name in saved and saved[name].shape != tuple(v.shape)
    ]
    if missing or extra or shapes:
        problems = [
            f"it lacks {len(missing)} of the model's weights: {_listed(missing)}" if missing else "",
            f"it has {len(extra)} datasets the model has no weight for: {_listed(extra)}" if extra else "",
            f"{len(shapes)} have another shape: {_listed(shapes)}" if shapes else "",
        ]
        hint = ""
        if keras_layout(path):
            hint = (
                "; it is in Keras's object-graph layout, which SeqLab does not read: "
                "scripts/convert_weights.py rewrites a model folder's weights by variable path"
            )
        raise ValueError(
            f"weights file {path} does not match model {model.name}: " + "; ".join(p for p in problems if p) + hint
        )
    for name, v in weights.items():
        v.assign(saved[name])


def restore(path: str, model, optimizer) -> dict:
    """Weights, optimizer variables and RNG state from checkpoint folder `path`; returns its trainer state."""
    try:
        load_weights(model, os.path.join(path, "model.weights.h5"))
    except ValueError as e:
        raise OSError(f"checkpoint {path} does not match this model ({e}): use another --out") from None
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    for store, variables in (("optimizer.npz", optimizer.variables), ("rng.npz", model.non_trainable_variables)):
        values = _read_npz(os.path.join(path, store))
        if len(values) != len(variables):
            raise OSError(
                f"checkpoint {path} does not match this model ({store} holds {len(values)} variables, "
                f"the model has {len(variables)}): use another --out"
            )
        for var, value in zip(variables, values):
            var.assign(value)
    return read_state(path)


def save_weights(model, path: str) -> None:
    """Write `model`'s weights to `path` by variable path (see the module's docstring), atomically: the optimizer's
    state is not part of them (a checkpoint keeps it in optimizer.npz)."""
    files.check_space(os.path.dirname(path) or ".", int(files.weights_bytes(model) * 1.2), "the weights file")
    with files.atomic(path) as tmp:
        _write(model, tmp)


def differences(saved: dict, wanted: dict, label=str) -> list[str]:
    """`NAME SAVED (not WANTED)` for each setting a resume would change: what a refusal to resume names."""
    return [f"{label(k)} {saved.get(k)} (not {v})" for k, v in wanted.items() if saved.get(k) != v]
