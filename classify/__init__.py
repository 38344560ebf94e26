"""Text classification: BiLSTM and CNN from scratch against BERT pretrained by SeqLab (or from random init).

    import classify
    clf = classify.load("sentiment")            # bundled classifier, a folder or a Hugging Face Hub repo id
    clf.predict("A gorgeous, moving film.")      # {"negative": 0.001, "positive": 0.999}

Training and evaluation: `python -m classify train ...` / `python -m classify evaluate ...` (classify.train,
classify.evaluate: library functions that take a TrainConfig / plain arguments).
"""

from __future__ import annotations

import os

import numpy as np

from core.model import KINDS, ModelFolder

MODELS = KINDS["classifier"].models_dir


def encode(tokenizer, texts: list[str], seq_len: int, tokens: list[str]) -> np.ndarray:
    """[CLS] text [SEP] ids padded with 0 ([PAD]) to seq_len: the same rule for every architecture."""
    cls, sep = tokens.index("[CLS]"), tokens.index("[SEP]")
    out = np.zeros((len(texts), seq_len), np.int32)
    for row, enc in enumerate(tokenizer.encode_batch(list(texts), add_special_tokens=False)):
        ids = [cls] + enc.ids[: seq_len - 2] + [sep]
        out[row, : len(ids)] = ids
    return out


class Classifier(ModelFolder):
    KIND = "classifier"

    def __init__(self, folder: str, name: str | None = None):
        from classify.model import ClassifierConfig, build
        from core.checkpoint import load_weights
        from pretrain.vocab import make_tokenizer, read_vocab

        super().__init__(folder, name)
        self.config = ClassifierConfig.load(folder)
        self.labels = self.config.labels
        self.tokens = read_vocab(folder)
        self.tokenizer = make_tokenizer(self.tokens)
        self.model = build(self.config)
        load_weights(self.model, os.path.join(folder, "model.weights.h5"))
        self.predict("warm up")  # compile now: requests all have the same shape

    def probabilities(self, texts: list[str]) -> np.ndarray:
        logits = np.asarray(
            self.model.predict_on_batch(encode(self.tokenizer, texts, self.config.seq_len, self.tokens)), np.float64
        )
        p = np.exp(logits - logits.max(-1, keepdims=True))
        return p / p.sum(-1, keepdims=True)

    def predict(self, text: str) -> dict[str, float]:
        """{label: probability} for one text."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text is empty: give a sentence to classify")
        return {label: float(p) for label, p in zip(self.labels, self.probabilities([text])[0])}


def resolve(name: str) -> str:
    """The folder of a bundled classifier name, a classifier folder or a Hugging Face Hub repo id (owner/name);
    core.resolve.ModelNotFoundError (an OSError and a ValueError) when there is none."""
    from core import model

    return model.locate(name, "classifier")[0]


def load(name: str = "sentiment") -> Classifier:
    """A classifier by bundled name ("sentiment"), folder or Hugging Face Hub repo id, loaded and warmed."""
    from core import model

    return model.load(name, "classifier")
