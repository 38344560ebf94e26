"""What a loaded model is, and the sizes the Inside views and endpoints check a request against.

    import lm
    from inside import kinds
    gpt = lm.load("char-transformer")
    kinds.kind(gpt), kinds.layers(gpt), kinds.heads(gpt)   # ('transformer', 4, 4)
    kinds.tokens(gpt, "ROMEO:")                            # ['R', 'O', 'M', 'E', 'O', ':'] (no model pass)

Kinds: ELMO (lm.bilm.BiLanguageModel: vectors at layers 0, 1, 2 and the mix), BERT (pretrain.api.Pretrained:
vectors at layers 0..L, attention), TRANSFORMER and LSTM (lm.generate.LanguageModel: attention, gates).
"""

from __future__ import annotations

ELMO, BERT, TRANSFORMER, LSTM = "elmo", "bert", "transformer", "lstm"
DESCRIPTION = {
    ELMO: "an ELMo (a bidirectional LSTM language model)",
    BERT: "a BERT",
    TRANSFORMER: "a Transformer language model",
    LSTM: "an LSTM language model",
}


def kind(model) -> str:
    """ELMO, BERT, TRANSFORMER or LSTM; ValueError for anything else."""
    if hasattr(model, "hidden_states") and hasattr(model, "attention"):
        return BERT
    arch = getattr(getattr(model, "config", None), "arch", None)
    if arch == "bilm":
        return ELMO
    if arch in (TRANSFORMER, LSTM):
        return arch
    raise ValueError(f"{name(model)} is not a model the Inside views know (arch {arch!r})")


def name(model) -> str:
    return repr(getattr(model, "name", "this model"))


def layers(model) -> int:
    """The deepest layer: ELMo's and the LMs' `config.layers`, BERT's `config.num_layers` (its blocks; layer 0 of
    the vectors is the embedding before them)."""
    config = model.config
    return int(config.num_layers if kind(model) == BERT else config.layers)


def heads(model) -> int:
    """Attention heads per layer (BERT, Transformer LM); 0 for a model without attention."""
    k = kind(model)
    if k == BERT:
        return int(model.config.num_heads)
    return int(model.config.heads) if k == TRANSFORMER else 0


def width(model) -> int:
    """Numbers in one vector `inside.vectors.embed` returns: ELMo's forward;backward width, BERT's hidden size."""
    k = kind(model)
    if k == ELMO:
        return 2 * int(model.config.proj)
    if k == BERT:
        return int(model.config.hidden_size)
    return int(model.config.dim)


def tokens(model, text: str) -> list[str]:
    """The tokens a model reads `text` as (BERT's with [CLS] and [SEP], before any cut to its length), without
    running it: a request's size is checked on these first."""
    if kind(model) == BERT:
        return ["[CLS]", *model.tokenizer.encode(text, add_special_tokens=False).tokens, "[SEP]"]
    return list(model.tokenizer.pieces(text))
