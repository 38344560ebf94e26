"""BERT encoder with the paper's two pretraining heads, in keras.ops only (TensorFlow, JAX or torch backend).

Saved as `model.weights.h5` + `config.json` and rebuilt from the config: a functional model sharing the token
embedding between input and MLM head does not reload from .keras (see stack-facts), and a plain weights file is
also what export.py maps onto Hugging Face's BertForPreTraining. The math matches HF's BertLayer exactly
(post-LayerNorm blocks, eps 1e-12, exact erf GELU), so an exported model gives the same predictions. Every layer
has a name (keras_hub names a TransformerEncoder's sublayers): the file finds each weight by its path of names.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import NamedTuple

import keras
import keras_hub
from keras import ops

from core import checkpoint
from core.config import SavedConfig

PRESETS = {  # layers, hidden, heads (intermediate = 4 x hidden), as in the BERT paper's and Turc et al.'s models
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "base": (12, 768, 12),
}


@dataclasses.dataclass
class BertConfig(SavedConfig):
    IGNORE_UNKNOWN = True  # an export adds Hugging Face's keys beside ours
    vocab_size: int = 8000
    num_layers: int = 2
    hidden_size: int = 128
    num_heads: int = 2
    intermediate_size: int = 512
    max_positions: int = 512
    type_vocab_size: int = 2
    dropout: float = 0.1
    layer_norm_epsilon: float = 1e-12
    initializer_range: float = 0.02

    @classmethod
    def preset(cls, name: str, **overrides) -> BertConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
        layers, hidden, heads = PRESETS[name]
        values = dict(num_layers=layers, hidden_size=hidden, num_heads=heads, intermediate_size=4 * hidden)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "hidden_size" in overrides and overrides["hidden_size"] and "intermediate_size" not in overrides:
            values["intermediate_size"] = 4 * values["hidden_size"]
        return cls(**values)


def gelu(x):
    return keras.activations.gelu(x, approximate=False)  # HF's "gelu" is the exact erf form


class BertPretrainer(keras.Model):
    """Inputs: dict of token_ids, segment_ids, padding_mask [B, L] and mask_positions [B, P].

    Outputs {"mlm": logits [B, P, V] at the masked positions only, "nsp": logits [B, 2]} (float32), plus
    "sequence" [B, L, H] and "pooled" [B, H] when built with `all_outputs=True` (inference).
    """

    def __init__(self, config: BertConfig, all_outputs: bool = False, **kwargs):
        # "bert" wherever it is built: a classifier's encoder (classify.model) reads a pretrained file by path
        super().__init__(**{"name": "bert", **kwargs})
        c = self.config = config
        self.all_outputs = all_outputs
        init = lambda: keras.initializers.TruncatedNormal(stddev=c.initializer_range)  # noqa: E731
        self.token_embedding = keras.layers.Embedding(
            c.vocab_size, c.hidden_size, embeddings_initializer=init(), name="token_embedding"
        )
        self.segment_embedding = keras.layers.Embedding(
            c.type_vocab_size, c.hidden_size, embeddings_initializer=init(), name="segment_embedding"
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            c.max_positions, initializer=init(), name="position_embedding"
        )
        self.embeddings_norm = keras.layers.LayerNormalization(epsilon=c.layer_norm_epsilon, name="embeddings_norm")
        self.embeddings_dropout = keras.layers.Dropout(c.dropout, name="embeddings_dropout")
        self.blocks = [
            keras_hub.layers.TransformerEncoder(
                c.intermediate_size,
                c.num_heads,
                dropout=c.dropout,
                activation=gelu,
                layer_norm_epsilon=c.layer_norm_epsilon,
                kernel_initializer=init(),
                normalize_first=False,
                name=f"transformer_layer_{i}",
            )
            for i in range(c.num_layers)
        ]
        self.pooler = keras.layers.Dense(c.hidden_size, activation="tanh", kernel_initializer=init(), name="pooler")
        self.mlm_dense = keras.layers.Dense(c.hidden_size, activation=gelu, kernel_initializer=init(), name="mlm_dense")
        self.mlm_norm = keras.layers.LayerNormalization(epsilon=c.layer_norm_epsilon, name="mlm_norm")
        self.nsp_dense = keras.layers.Dense(2, kernel_initializer=init(), name="nsp_dense")

    def build(self, input_shape=None):
        self.mlm_bias = self.add_weight(shape=(self.config.vocab_size,), initializer="zeros", name="mlm_bias")
        self.built = True

    def embed_inputs(self, token_ids, segment_ids, training=False):
        """The first block's input [B, L, H]: token + segment + position embeddings, LayerNorm, dropout."""
        tokens = self.token_embedding(token_ids)
        x = tokens + self.segment_embedding(segment_ids) + self.position_embedding(tokens)
        return self.embeddings_dropout(self.embeddings_norm(x), training=training)

    def encode(self, token_ids, segment_ids, padding_mask, training=False):
        """Contextual vectors [B, L, H] and the pooled [CLS] vector [B, H]."""
        x = self.embed_inputs(token_ids, segment_ids, training)
        mask = ops.cast(padding_mask, "bool")  # padding is never attended to
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        return x, self.pooler(x[:, 0, :])

    def mlm_logits(self, sequence, mask_positions):
        """Logits at the masked positions only, through the tied (transposed) token embedding matrix."""
        h = ops.take_along_axis(sequence, ops.expand_dims(ops.cast(mask_positions, "int32"), -1), axis=1)
        h = self.mlm_norm(self.mlm_dense(h))
        table = ops.cast(self.token_embedding.embeddings, h.dtype)
        logits = ops.matmul(h, ops.transpose(table)) + ops.cast(self.mlm_bias, h.dtype)
        return ops.cast(logits, "float32")

    def call(self, inputs, training=False):
        seq, pooled = self.encode(inputs["token_ids"], inputs["segment_ids"], inputs["padding_mask"], training)
        out = {
            "mlm": self.mlm_logits(seq, inputs["mask_positions"]),
            "nsp": ops.cast(self.nsp_dense(pooled), "float32"),
        }
        if self.all_outputs:
            out.update(sequence=ops.cast(seq, "float32"), pooled=ops.cast(pooled, "float32"))
        return out


def dummy_inputs(batch=1, length=8, predictions=2):
    import numpy as np

    z = np.zeros((batch, length), "int32")
    return {
        "token_ids": z,
        "segment_ids": z,
        "padding_mask": z + 1,
        "mask_positions": np.zeros((batch, predictions), "int32"),
    }


def build(config: BertConfig, all_outputs: bool = False) -> BertPretrainer:
    model = BertPretrainer(config, all_outputs=all_outputs)
    model(dummy_inputs())  # create every variable so weights can be loaded
    return model


def save(model: BertPretrainer, folder: str) -> None:
    """config.json + model.weights.h5, each replaced atomically."""
    os.makedirs(folder, exist_ok=True)
    model.config.save(folder)
    checkpoint.save_weights(model, os.path.join(folder, "model.weights.h5"))  # the weights only, compiled or not


def load(folder: str, all_outputs: bool = False) -> BertPretrainer:
    model = build(BertConfig.load(folder), all_outputs=all_outputs)
    checkpoint.load_weights(model, os.path.join(folder, "model.weights.h5"))  # names a missing or broken file
    return model


class EncoderParts(NamedTuple):
    """The sublayers of one keras_hub TransformerEncoder, in Hugging Face BertLayer's order."""

    attention: keras.layers.MultiHeadAttention  # its query_dense, key_dense, value_dense, output_dense are public
    attention_norm: keras.layers.LayerNormalization
    intermediate: keras.layers.Dense
    output: keras.layers.Dense
    output_norm: keras.layers.LayerNormalization


def encoder_parts(block: keras_hub.layers.TransformerEncoder) -> EncoderParts:
    """The one place SeqLab reads keras_hub's private attributes: TransformerEncoder offers no public accessor
    for its sublayers (keras_hub 0.32), and export (Keras -> BertForPreTraining names) and local_attention_init
    need each weight by role. These names have been stable since keras-nlp 0.4; if keras_hub renames them, only
    this function changes."""
    return EncoderParts(
        block._self_attention_layer,
        block._self_attention_layer_norm,
        block._feedforward_intermediate_dense,
        block._feedforward_output_dense,
        block._feedforward_layer_norm,
    )


def attention_probs(block: keras_hub.layers.TransformerEncoder, x, padding_mask):
    """Softmax attention [B, heads, T, T] (query rows, key columns) of one encoder block on its input x [B, T, H].

    keras_hub's TransformerEncoder does not hand its attention out, so it is recomputed here from the block's
    own query and key weights, as keras.layers.MultiHeadAttention does it: scores q.k / sqrt(head size), padded
    keys (padding_mask [B, T] False) pushed to -1e9 before the softmax and then set to exactly 0.
    `recompute_block` rebuilds the block's output from these maps (tests/test_inside_bert.py checks it equals
    the block's own), so they are the maps the model uses, not a look-alike.
    """
    att = encoder_parts(block).attention
    q, k = att.query_dense(x), att.key_dense(x)  # [B, T, heads, head size]
    scores = ops.einsum("bthd,bshd->bhts", q, k) / math.sqrt(q.shape[-1])
    keep = ops.cast(padding_mask, "bool")[:, None, None, :]
    scores = ops.where(keep, ops.cast(scores, "float32"), -1e9)  # float32: probabilities, whatever the policy
    return ops.where(keep, ops.softmax(scores, axis=-1), 0.0)


def recompute_block(block: keras_hub.layers.TransformerEncoder, x, padding_mask):
    """(output [B, T, H], attention [B, heads, T, T]) of one post-LayerNorm encoder block rebuilt from its parts
    and `attention_probs`, at inference (no dropout): the proof that the attention maps are the block's own."""
    p = encoder_parts(block)
    probs = attention_probs(block, x, padding_mask)
    v = p.attention.value_dense(x)
    context = ops.einsum("bhts,bshd->bthd", ops.cast(probs, v.dtype), v)
    x = p.attention_norm(x + p.attention.output_dense(context))
    return p.output_norm(x + p.output(p.intermediate(x))), probs


def inside(model: BertPretrainer, token_ids, segment_ids, padding_mask):
    """Every layer of a forward pass at inference: (states [B, L + 1, T, H], attention [B, L, heads, T, T]).

    states[:, 0] is the context-free layer, the wordpiece embedding alone (no position or segment embedding, no
    LayerNorm), so a wordpiece has the same vector in every sentence; states[:, i] is block i's output, and the
    last is `encode`'s sequence output. attention[:, i] is block i's softmax attention (`attention_probs`).
    """
    mask = ops.cast(padding_mask, "bool")
    x = model.embed_inputs(token_ids, segment_ids)
    states, maps = [model.token_embedding(token_ids)], []
    for block in model.blocks:
        maps.append(attention_probs(block, x, mask))
        x = block(x, padding_mask=mask)  # the block itself, not the recomputation: states are the model's own
        states.append(x)
    return ops.stack(states, axis=1), ops.stack(maps, axis=1)


class Inside(keras.Model):
    """`inside` as a model of its own, so `predict_on_batch` compiles it once per input shape (pretrain.api's
    buckets). It makes no layer or weight: it reads the BertPretrainer it is given."""

    def __init__(self, bert: BertPretrainer, **kwargs):
        super().__init__(**kwargs)
        self.bert = bert

    def call(self, inputs):
        states, maps = inside(self.bert, inputs["token_ids"], inputs["segment_ids"], inputs["padding_mask"])
        return {"states": ops.cast(states, "float32"), "attention": ops.cast(maps, "float32")}


def local_attention_init(
    model: BertPretrainer, offsets=(-2, -1, 1, 2), scale: float = 2.5, loudness: float = 2.0, layers=None, seed: int = 0
) -> None:
    """Start the attention heads of `layers` (default all) each looking at a fixed neighbour i + offset.

    From the usual random init a small BERT sits for thousands of steps on the unigram plateau: attention is
    uniform, so no value path learns what a neighbour says about a masked word, so no head has a reason to focus.
    Here the position table starts as sinusoids (frequencies from 2.5 down to a period of ~100 positions) and
    head h's query is its key rotated by `offsets[h % len(offsets)]` positions, so q_i . k_j peaks at
    j = i + offset (`scale` sets how sharply; `loudness` how strong positions are against token embeddings).
    A None offset leaves that head free. Only initial weights change: the model is still BERT, and exports to
    Hugging Face unchanged. On kjv+shakespeare it lifts MLM accuracy after 1,500 tiny steps from 0.142 to 0.256.
    """
    import numpy as np

    c = model.config
    H, heads = c.hidden_size, c.num_heads
    dim = H // heads
    freqs = 2.5 * (0.025 ** (np.arange(H // 2) / max(1, H // 2 - 1)))
    pos = np.arange(c.max_positions)[:, None] * freqs[None, :]
    table = np.zeros((c.max_positions, H), "float32")
    table[:, 0::2], table[:, 1::2] = np.sin(pos), np.cos(pos)
    token_rms = float(np.sqrt(np.mean(np.square(np.asarray(model.token_embedding.embeddings)))))
    model.position_embedding.position_embeddings.assign(table * token_rms * np.sqrt(2) * loudness)
    rng = np.random.default_rng(seed)
    for i, block in enumerate(model.blocks):
        if layers is not None and i not in layers:
            continue
        att = encoder_parts(block).attention
        wq = rng.normal(0, c.initializer_range, (H, heads, dim)).astype("float32")
        wk = rng.normal(0, c.initializer_range, (H, heads, dim)).astype("float32")
        for h in range(heads):
            delta = offsets[h % len(offsets)]
            if delta is None:  # a head left free (uniform at first): NSP wants some view of the whole input
                continue
            for m, k in enumerate(range(h, H // 2, heads)[: dim // 2]):  # head h reads every heads-th frequency
                a = freqs[k] * delta  # (sin, cos)(w i) -> (sin, cos)(w (i + delta))
                wk[2 * k, h, 2 * m] += 1.0
                wk[2 * k + 1, h, 2 * m + 1] += 1.0
                wq[2 * k, h, 2 * m] += scale * np.cos(a)
                wq[2 * k + 1, h, 2 * m] += scale * np.sin(a)
                wq[2 * k, h, 2 * m + 1] -= scale * np.sin(a)
                wq[2 * k + 1, h, 2 * m + 1] += scale * np.cos(a)
        att.query_dense.kernel.assign(wq)
        att.key_dense.kernel.assign(wk)
