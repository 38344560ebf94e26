"""SeqLab language models: character/word LSTM and Transformer LMs that stream text token by token.

import lm
model = lm.load("char-transformer")          # bundled name, model folder, or Hub repo id
for piece in model.stream("ROMEO:\\n", max_new_tokens=200, temperature=0.8, seed=1):
    print(piece, end="")
"""

from __future__ import annotations

import os

BUNDLED = ("char-transformer", "char-lstm")  # the generators the app serves
ENCODERS = ("elmo",)  # bundled bidirectional LMs (lm.bilm): they embed, they do not generate
MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def resolve(name: str) -> str:
    """The local folder for a bundled name, a folder path or a Hugging Face Hub repo id; a folder must hold a
    config.json. Raises core.resolve.ModelNotFoundError (an OSError and a ValueError) with one line otherwise."""
    from core.resolve import resolve as find

    return find(name, MODELS_DIR, kind="language model", needs=("config.json",))


def load(name: str):
    """Load a language model ready to `stream` and `generate`; a bidirectional one (ELMo, `--arch bilm`) is an
    lm.bilm.BiLanguageModel ready to `embed`."""
    from core import files

    folder = resolve(name)
    if files.read_json(os.path.join(folder, "config.json")).get("arch") == "bilm":
        from lm.bilm import BiLanguageModel

        return BiLanguageModel(folder, name=name if name in ENCODERS else None)
    from lm.generate import LanguageModel

    return LanguageModel(folder, name=name if name in BUNDLED else None)
