"""SeqLab language models: character/word LSTM and Transformer LMs that stream text token by token.

import lm
model = lm.load("char-transformer")          # bundled name, model folder, or Hub repo id
for piece in model.stream("ROMEO:\\n", max_new_tokens=200, temperature=0.8, seed=1):
    print(piece, end="")
"""

from __future__ import annotations

from core.model import KINDS

BUNDLED = ("char-transformer", "char-lstm")  # the generators the app serves
ENCODERS = ("elmo",)  # bundled bidirectional LMs (lm.bilm): they embed, they do not generate
MODELS_DIR = KINDS["lm"].models_dir


def load(name: str):
    """Load a language model ready to `stream` and `generate` (an lm.generate.LanguageModel); a bidirectional one
    (ELMo, `--arch bilm`) is an lm.bilm.BiLanguageModel ready to `embed`. Through core.model.load."""
    from core import model

    return model.load(name, kind=("lm", "bilm"))
