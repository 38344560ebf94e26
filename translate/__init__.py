"""Translation: a seq2seq encoder-decoder with Bahdanau attention and a Transformer encoder-decoder.

    import translate
    t = translate.load("translate-transformer")           # bundled name, model folder or Hub repo id
    [out] = t.translate("Where is the train station?", beam=4)
    print(out.text)                                       # the Spanish
    out.attention_map(layer=-1)                           # (target tokens, source tokens): what each output read

Data: corpus.parallel (verse-aligned Bibles, TSV, hf:) -> translate.tokenizer (BPE) -> translate.data (batches)
-> translate.model (the two architectures) -> translate.train / translate.decode (greedy, beam) -> this API.
"""

from __future__ import annotations

import os

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
BUNDLED = ("translate-rnn", "translate-transformer")


def resolve(name: str) -> str:
    from core.resolve import resolve as find

    return find(name, MODELS_DIR, kind="translator", needs=("config.json", "model.weights.h5"))


def load(name: str):
    """A translator ready to `translate`."""
    from translate.translator import Translator

    folder = resolve(name)
    return Translator(folder, name=name if name in BUNDLED else None)
