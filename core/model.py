"""Every SeqLab model is a folder, found, loaded, described and saved one way (as Hugging Face's from_pretrained
and save_pretrained, or keras-hub's presets): a bundled name, a folder or a Hub repo id in, a ModelFolder out.

    from core import model
    m = model.load("char-transformer")          # the kind from the models/ folder that holds it, or config.json
    m.kind, m.name, m.folder, m.config, m.card  # "lm", "char-transformer", ".../lm/models/char-transformer", ...
    m.save("runs/copy")                         # the folder's files, each written atomically
    model.load("runs/copy").generate("ROMEO:")  # the same model: the same outputs

KINDS is the one table of model kinds. lm.load, pretrain.load, classify.load and translate.load are `load` with
their kinds, and each model class (lm.generate.LanguageModel, lm.bilm.BiLanguageModel, pretrain.api.Pretrained,
classify.Classifier, translate.translator.Translator) is a ModelFolder, so all have the same attributes.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
from collections.abc import Callable
from typing import Any

from core import files
from core.resolve import ModelNotFoundError, check, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CARD_FILES = ("README.md", "metrics.json", "loss_curve.png")  # what every trainer writes beside the model
WEIGHTS = ("config.json", "model.weights.h5")


@dataclasses.dataclass(frozen=True)
class Kind:
    module: str  # where its class lives, imported on the first load (Keras is heavy)
    cls: str
    models: str  # its bundled models' folder, from the repository root: one sub-folder per name
    needs: tuple[str, ...]  # the files a folder of this kind must hold
    recognise: Callable[[dict], bool]  # True for the config.json of a folder of this kind
    label: str  # what messages call one
    extras: tuple[str, ...] = ()  # files it may hold besides: another tokenizer layout, decoding settings

    @property
    def models_dir(self) -> str:
        return os.path.join(ROOT, self.models)

    @property
    def files(self) -> tuple[str, ...]:
        """Every file a folder of this kind may hold: what `save` copies and a Hub download fetches."""
        return (*self.needs, *self.extras, *CARD_FILES)


KINDS = {
    "lm": Kind(
        "lm.generate",
        "LanguageModel",
        "lm/models",
        (*WEIGHTS, "vocab.json"),
        lambda c: c.get("arch") in ("lstm", "transformer") and "level" in c,
        "language model",
    ),
    "bilm": Kind(
        "lm.bilm",
        "BiLanguageModel",
        "lm/models",
        (*WEIGHTS, "vocab.json"),
        lambda c: c.get("arch") == "bilm",
        "bidirectional language model (ELMo)",
        # the scalar mix fitted by python -m inside.mix (lm.bilm.MIX_FILE); the stored Contexts vectors
        # written by python -m inside.stored
        ("mix.json", "reference.npz"),
    ),
    "bert": Kind(
        "pretrain.api",
        "Pretrained",
        "pretrain/models",
        (*WEIGHTS, "vocab.txt"),
        lambda c: "hidden_size" in c and "num_layers" in c,
        "BERT",
        ("reference.npz",),  # the stored Contexts vectors written by python -m inside.stored
    ),
    "classifier": Kind(
        "classify", "Classifier", "classify/models", (*WEIGHTS, "vocab.txt"), lambda c: "labels" in c, "classifier"
    ),
    "translator": Kind(
        "translate.translator",
        "Translator",
        "translate/models",
        WEIGHTS,
        lambda c: "src_vocab" in c,
        "translator",
        ("tokenizer.json", "tokenizer-source.json", "tokenizer-target.json", "decoding.json"),
    ),
}


def read_card(folder: str) -> str:
    """The folder's model card (README.md), or "" when it has none."""
    path = os.path.join(folder, "README.md")
    return open(path, encoding="utf-8").read() if os.path.exists(path) else ""


class ModelFolder:
    """A trained model and the folder it came from. A subclass sets KIND (its KINDS key), calls
    `super().__init__(folder, name)` first and sets `config` (its config dataclass)."""

    KIND = ""  # the base class loads any kind
    config: Any

    def __init__(self, folder: str, name: str | None = None):
        self.folder = folder
        self.name = name or os.path.basename(os.path.abspath(folder))
        self.card = read_card(folder)

    @property
    def kind(self) -> str:
        return self.KIND

    @classmethod
    def load(cls, name: str):
        """The model that a bundled name, a folder or a Hub repo id names, of this class's kind."""
        return load(name, cls.KIND or None)

    def save(self, folder: str) -> str:
        """Copy the model's files (KINDS[kind].files that it has) into `folder`, made if needed, each written
        atomically; returns `folder`. A model trained in memory is written by its package's trainer, which
        makes the same folder."""
        if os.path.abspath(folder) == os.path.abspath(self.folder):
            return folder
        names = [f for f in KINDS[self.kind].files if os.path.exists(os.path.join(self.folder, f))]
        files.writable_folder(folder, "the model folder")
        size = sum(os.path.getsize(os.path.join(self.folder, f)) for f in names)
        files.check_space(folder, size, f"a copy of {self.name}")
        for f in names:
            with files.atomic(os.path.join(folder, f)) as tmp:
                shutil.copyfile(os.path.join(self.folder, f), tmp)
        return folder


def _wanted(kind: str | tuple[str, ...] | None) -> tuple[str, ...]:
    wanted = tuple(KINDS) if kind is None else (kind,) if isinstance(kind, str) else tuple(kind)
    unknown = [k for k in wanted if k not in KINDS]
    if unknown or not wanted:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return wanted


def kind_of(folder: str) -> str:
    """The KINDS key of a model folder, read from its config.json; ModelNotFoundError when it is none of them."""
    path = os.path.join(folder, "config.json")
    try:
        config = files.read_json(path)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{path} cannot be read as a model's config ({type(e).__name__}: {e})") from None
    found = next((k for k, kind in KINDS.items() if isinstance(config, dict) and kind.recognise(config)), None)
    if found is None:
        raise ModelNotFoundError(
            f"{folder} is not a SeqLab model folder: its config.json is not that of a "
            + ", ".join(kind.label for kind in KINDS.values())
        )
    return found


def locate(name: str, kind: str | tuple[str, ...] | None = None) -> tuple[str, str]:
    """(folder, kind) of the model `name` names, one of `kind` (a KINDS key, a tuple of them, None for any):
    a bundled name (looked up in those kinds' models folders), a folder or a Hub repo id (only the kinds' files
    are fetched). ModelNotFoundError, one line, when there is none or it is of another kind."""
    wanted = _wanted(kind)
    label = KINDS[wanted[0]].label if kind is not None else "model"
    dirs = list(dict.fromkeys(KINDS[k].models_dir for k in wanted))
    common = [f for f in KINDS[wanted[0]].needs if all(f in KINDS[k].needs for k in wanted)]
    patterns = sorted({f for k in wanted for f in KINDS[k].files})
    folder = resolve(name, dirs, kind=label, needs=("config.json",), allow_patterns=patterns)
    try:
        found = kind_of(folder)
    except ModelNotFoundError:
        check(folder, common, label)  # a half-written folder: its missing files say more than its config
        raise
    if found not in wanted:
        raise ModelNotFoundError(f"{folder} holds a SeqLab {KINDS[found].label}, not a {label}")
    return check(folder, KINDS[found].needs, KINDS[found].label), found


def load(name: str, kind: str | tuple[str, ...] | None = None) -> ModelFolder:
    """The model `name` names (see `locate`), loaded by its kind's class. Its `name` is what it was asked for by
    (a bundled name, a Hub repo id), or a folder's last part."""
    folder, found = locate(name, kind)
    cls = getattr(importlib.import_module(KINDS[found].module), KINDS[found].cls)
    return cls(folder, name=name if os.path.normpath(folder) != os.path.normpath(name) else None)


def present(name: str, kind: str) -> bool:
    """Whether bundled model `name` of `kind` is here with all its files (one still training has its config only)."""
    folder = os.path.join(KINDS[kind].models_dir, name)
    return all(os.path.exists(os.path.join(folder, f)) for f in KINDS[kind].needs)
