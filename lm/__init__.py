"""SeqLab language models: character/word LSTM and Transformer LMs that stream text token by token.

    import lm
    model = lm.load("char-transformer")          # bundled name, model folder, or Hub repo id
    for piece in model.stream("ROMEO:\\n", max_new_tokens=200, temperature=0.8, seed=1):
        print(piece, end="")
"""
from __future__ import annotations

import os

BUNDLED = ("char-transformer", "char-lstm")
MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def resolve(name: str) -> str:
    """A local folder for a bundled name, a folder path or a Hugging Face Hub repo id."""
    if name in BUNDLED:
        return os.path.join(MODELS_DIR, name)
    if os.path.isdir(name):
        return name
    if name.count("/") == 1 and not name.startswith((".", "/")):
        from huggingface_hub import snapshot_download

        try:
            return snapshot_download(repo_id=name)
        except Exception as e:  # offline, missing repo, bad id: all need the same clear message
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            raise OSError(f"model {name!r} not found: no such folder, and as a Hugging Face Hub repo id it could "
                          f"not be fetched ({reason})") from None
    raise OSError(f"model {name!r} not found: not a bundled model ({', '.join(BUNDLED)}), a folder or a Hub repo id")


def load(name: str):
    """Load a language model ready to `stream` and `generate`."""
    from lm.generate import LanguageModel

    folder = resolve(name)
    if not os.path.exists(os.path.join(folder, "config.json")):
        raise OSError(f"{folder} is not a SeqLab language model folder (it has no config.json)")
    return LanguageModel(folder, name=name if name in BUNDLED else None)
