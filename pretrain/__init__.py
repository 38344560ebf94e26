"""SeqLab BERT pretraining: vocab, data, model, train, evaluate, export, and `load` for inference.

import pretrain
bert = pretrain.load("bert")          # bundled model, a folder, or a Hugging Face repo id
bert.fill_mask("the lord is my [MASK]")
"""


def load(name: str = "bert"):
    """A pretrained SeqLab BERT by name (pretrain/models/NAME), folder or hub repo id; see pretrain.api."""
    from pretrain.api import load as _load  # keras is heavy: import it only when a model is loaded

    return _load(name)


__all__ = ["load"]
