"""Three text classifiers over the same WordPiece ids: a BiLSTM, a 1-D CNN, and BERT with a head on [CLS] (or on
the mean of its tokens).

Id 0 is [PAD] everywhere, and each model ignores it (masking, zeroed embeddings, attention mask), so padding
never changes a prediction. Every layer has a name, the models too: a weights file finds each weight by its path of
names (core.checkpoint).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers, ops

from core.config import SavedConfig


@dataclasses.dataclass
class ClassifierConfig(SavedConfig):
    arch: str = "bilstm"  # bilstm | cnn | bert
    vocab_size: int = 8000
    labels: tuple = ("negative", "positive")
    seq_len: int = 64
    dim: int = 128
    dropout: float = 0.3
    init: str = "random"  # bert only: where the encoder's weights came from
    bert: dict | None = None  # bert only: the encoder's BertConfig
    pool: str = "cls"  # bert only: head on the pooled [CLS] (BERT's) or on the token mean

    @classmethod
    def from_dict(cls, values: dict) -> ClassifierConfig:
        return cls(**{**values, "labels": tuple(values["labels"])})


class BiLSTMClassifier(keras.Model):
    def __init__(self, c: ClassifierConfig, **kwargs):
        super().__init__(**{"name": "bilstm_classifier", **kwargs})
        self.embed = layers.Embedding(c.vocab_size, c.dim, mask_zero=True, name="embed")
        # the wrapper names its copies forward_lstm and backward_lstm after the layer it is given
        self.rnn = layers.Bidirectional(layers.LSTM(c.dim // 2, name="lstm"), name="rnn")
        self.drop = layers.Dropout(c.dropout, name="drop")
        self.head = layers.Dense(len(c.labels), name="head")

    def call(self, ids, training=False):
        return self.head(self.drop(self.rnn(self.embed(ids)), training=training))


class CNNClassifier(keras.Model):
    def __init__(self, c: ClassifierConfig, **kwargs):
        super().__init__(**{"name": "cnn_classifier", **kwargs})
        self.embed = layers.Embedding(c.vocab_size, c.dim, name="embed")
        self.conv = layers.Conv1D(c.dim, 5, padding="same", activation="relu", name="conv")
        self.drop = layers.Dropout(c.dropout, name="drop")
        self.head = layers.Dense(len(c.labels), name="head")

    def call(self, ids, training=False):
        real = ops.cast(ids != 0, "float32")[..., None]
        # Zeroed padding looks exactly like the convolution's own zero padding; then max over real positions only.
        h = self.conv(self.embed(ids) * real)
        h = ops.max(h * real - 1e9 * (1 - real), axis=1)
        return self.head(self.drop(h, training=training))


class BertClassifier(keras.Model):
    def __init__(self, c: ClassifierConfig, **kwargs):
        super().__init__(**{"name": "bert_classifier", **kwargs})
        from pretrain.model import BertConfig, BertPretrainer

        self.bert = BertPretrainer(BertConfig(**c.bert))
        self.pool = c.pool
        self.drop = layers.Dropout(c.dropout, name="drop")
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.head = layers.Dense(len(c.labels), kernel_initializer=init, name="head")

    def call(self, ids, training=False):
        real = ops.cast(ids != 0, "int32")
        tokens, pooled = self.bert.encode(ids, ops.zeros_like(ids), real, training=training)
        if self.pool == "mean":  # over the real tokens only, so padding cannot move it
            w = ops.cast(real, tokens.dtype)[..., None]
            pooled = ops.sum(tokens * w, axis=1) / ops.maximum(ops.sum(w, axis=1), 1.0)
        return self.head(self.drop(pooled, training=training))


def build(config: ClassifierConfig) -> keras.Model:
    archs = {"bilstm": BiLSTMClassifier, "cnn": CNNClassifier, "bert": BertClassifier}
    if config.arch not in archs:
        raise ValueError(f"--arch must be one of {', '.join(archs)}, got {config.arch!r}")
    model = archs[config.arch](config)
    if config.arch == "bert":
        from pretrain.model import dummy_inputs

        # built on its own, before the classifier: every pretraining weight exists, at the paths a pretrained BERT's
        # file has (bert/...), so that file loads into it
        model.bert(dummy_inputs())
        # the MLM and NSP heads (and the [CLS] pooler under mean pooling) get no gradient here: frozen, they are
        # neither updated nor warned about
        unused = [model.bert.mlm_dense, model.bert.mlm_norm, model.bert.nsp_dense]
        for layer in unused + ([model.bert.pooler] if config.pool == "mean" else []):
            layer.trainable = False
        model.bert.mlm_bias.trainable = False
    model(ops.ones((1, config.seq_len), "int32"))
    return model
