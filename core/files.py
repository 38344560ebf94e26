"""Atomic writes: a file is written under a temporary name beside its final one, flushed to disk, then renamed,
so a crash or kill -9 leaves the old file or the new one, never half of one.

    from core import files
    files.write_json("runs/x/metrics.json", {"loss": 1.2})
    with files.atomic("runs/x/model.weights.h5") as tmp:   # for writers that want a path (h5py, matplotlib)
        model.save_weights(tmp)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil


def temp_name(path: str) -> str:
    """The one temporary naming: `.tmp-<pid>-<name>` beside the final path (hidden, and unique per process)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".tmp-{os.getpid()}-{name}")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic(path: str):
    """Yield a temporary path to write; on success it is fsynced and renamed to `path`, on error removed.

    The temporary name keeps the final extension (`.tmp-1-model.weights.h5`): Keras and matplotlib pick the format
    from it."""
    tmp = temp_name(path)
    try:
        yield tmp
        if os.path.isfile(tmp):
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_bytes(path: str, data: bytes) -> None:
    with atomic(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str, obj, indent: int | None = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent) + "\n")


def read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def weights_bytes(model) -> int:
    """Bytes of the model's weights at float32: the unit of the disk-space check."""
    import numpy as np

    return sum(int(np.prod(v.shape)) * 4 for v in model.weights)


def check_space(folder: str, need: int, what: str = "this write") -> None:
    """Refuse up front when the disk cannot hold `need` bytes: h5py can crash the process (SIGSEGV) when the disk
    fills mid-write, so a late error is not an option."""
    free = shutil.disk_usage(folder).free
    need += 1 << 20
    if free < need:
        raise OSError(
            f"not enough disk space in {folder}: {free / 1e6:.1f} MB free, {what} needs about {need / 1e6:.1f} MB"
        )


def writable_folder(path: str, flag: str = "--out") -> str:
    """Create `path` if needed and prove it writable (a file written and removed), before any work goes into it."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = temp_name(os.path.join(path, "probe"))
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        raise OSError(f"cannot write to {flag} {path}: {e.strerror or e}") from None
    return path
