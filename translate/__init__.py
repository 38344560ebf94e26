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

from core.model import KINDS

MODELS_DIR = KINDS["translator"].models_dir
BUNDLED = ("translate-rnn", "translate-transformer")  # the translators the app serves


def resolve(name: str) -> str:
    """The folder of a bundled translator name, a translator folder or a Hugging Face Hub repo id (owner/name);
    core.resolve.ModelNotFoundError (an OSError and a ValueError) when there is none."""
    from core import model

    return model.locate(name, "translator")[0]


def load(name: str):
    """A translator (translate.translator.Translator) ready to `translate`, through core.model.load."""
    from core import model

    return model.load(name, "translator")
