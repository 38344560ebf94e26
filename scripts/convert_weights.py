"""Rewrite model folders' model.weights.h5 from Keras's object-graph layout into SeqLab's, one dataset per weight
named by its variable path (core.checkpoint), which is the only layout SeqLab reads.

    python scripts/convert_weights.py                 # every bundled model (lm, pretrain, classify, translate)
    python scripts/convert_weights.py runs/my-model   # or the model folders named

Each folder's model is built from its config.json and loaded with Keras's own reader (the one place the old
layout is read), written by path beside the old file, read back by path into a second build of the same model and
compared weight by weight (bit for bit); only then does it replace the old file. A folder already in the new
layout is left as it is.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from core import checkpoint, files  # noqa: E402
from core.model import KINDS, kind_of  # noqa: E402

BUILDS = {  # kind -> (module, config class): each module's build(config) makes the model, weights created
    "lm": ("lm.model", "LMConfig"),
    "bilm": ("lm.model", "LMConfig"),
    "bert": ("pretrain.model", "BertConfig"),
    "classifier": ("classify.model", "ClassifierConfig"),
    "translator": ("translate.model", "TranslatorConfig"),
}


def build(folder: str):
    module, config = BUILDS[kind_of(folder)]
    module = importlib.import_module(module)
    return module.build(getattr(module, config).load(folder))


def convert(folder: str) -> str:
    """Convert one folder's weights file; returns what was done, for the log line."""
    path = os.path.join(folder, "model.weights.h5")
    if not os.path.isfile(path):
        return "no model.weights.h5: skipped"
    if not checkpoint.keras_layout(path):
        return "already by variable path: left as it is"
    model = build(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns, not fails, on some mismatches: any warning stops here
        model.load_weights(path)
    tmp = files.temp_name(path)
    try:
        checkpoint.save_weights(model, tmp)
        again = build(folder)
        checkpoint.load_weights(again, tmp)
        for old, new in zip(model.weights, again.weights, strict=True):
            if old.path != new.path or not np.array_equal(np.asarray(old), np.asarray(new)):
                raise RuntimeError(f"{folder}: {old.path} differs after the rewrite; the old file is kept")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return f"{len(model.weights)} weights rewritten by variable path ({os.path.getsize(path) / 1e6:.1f} MB)"


def bundled() -> list[str]:
    dirs = dict.fromkeys(kind.models_dir for kind in KINDS.values())
    return [
        os.path.join(d, name) for d in dirs for name in sorted(os.listdir(d)) if os.path.isdir(os.path.join(d, name))
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/convert_weights.py", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="*", help="model folders (default: every bundled model)")
    args = p.parse_args(argv)
    for folder in args.folders or bundled():
        print(f"{os.path.relpath(folder, ROOT)}: {convert(folder)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
