"""What the experiment scripts share: run one pretraining command, and add a result to a JSON file atomically."""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)  # the scripts run as files: make the project importable


def pretrain(args: list[str], out: str) -> dict:
    """`python -m pretrain.train ARGS --out OUT` (resuming if OUT holds the same run); its last checkpoint's
    core.trainer state, plus `validation`: the validation rows of its history, named as metrics.json names
    them ({"step", "mlm_loss", "mlm_accuracy", "nsp_loss", "nsp_accuracy"})."""
    from core import checkpoint

    subprocess.run([sys.executable, "-m", "pretrain.train", *args, "--out", out], cwd=ROOT, check=True)
    state = checkpoint.read_state(checkpoint.latest(out))
    state["validation"] = [
        {"step": row["step"], **{k.removeprefix("val_"): v for k, v in row.items() if k.startswith("val_")}}
        for row in state["history"]
        if "val_mlm_loss" in row
    ]
    return state


def update(path: str, *keys: str, value) -> None:
    """Set results[keys[0]]...[keys[-1]] = value in the JSON file at path, read anew so that what other scripts
    wrote meanwhile is kept (no lock: run the experiments one after another, as they share the CPU anyway)."""
    results = json.load(open(path)) if os.path.exists(path) else {}
    node = results
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    from core import files

    files.write_json(path, results, indent=1)


def no_arguments(doc: str) -> None:
    """`--help` prints the script's docstring instead of starting a long experiment; other arguments are refused."""
    argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
