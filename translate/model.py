"""The two translation models (recurrent encoder-decoder with attention, and Transformer), one config dataclass.

Both models expose the same pieces:
  model((source, decoder_input))             -> logits (B, T, V) with teacher forcing (training, evaluation)
  model.encode(source)                       -> memory, run once per sentence
  model.init_state(memory, batch)            -> the decoder's state before [START]
  model.decode_step(token, state, index, memory)
      -> (logits (B, V), attention (B, S) [rnn] or (B, layers, heads, S) [transformer], new state)
      memory may hold B / g sentences for B rows: g consecutive rows (one sentence's beams) share one
Token ids: [PAD]=0 [UNK]=1 [START]=2 [END]=3; sources are padded with 0 at the end. Shapes never depend on the
index or on the sentences' lengths, so decoding compiles once (translate/decode.py).
Every layer has a name, the models too: a weights file finds each weight by its path of names (core.checkpoint).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers, ops

from core import kv
from core.config import SavedConfig, check
from core.flags import field

PAD, UNK, START, END = 0, 1, 2, 3
NEG = -1e9  # a finite "minus infinity": a fully padded row softmaxes to uniform instead of NaN


@dataclasses.dataclass
class TranslatorConfig(SavedConfig):
    arch: str = field("transformer", help="the model", choices=("transformer", "rnn"))
    cell: str = field("gru", help="rnn: the recurrent cell", choices=("gru", "lstm"))
    attention: str = field("bahdanau", help="rnn: the attention", choices=("bahdanau", "luong", "none"))
    positions: str = field("learned", help="transformer: the positions", choices=("learned", "sine"))
    src_vocab: int = field(0, cli=False)  # from the tokenizer
    tgt_vocab: int = field(0, cli=False)
    max_src_len: int = field(64, cli=False)  # source tokens (translate.train: --max-len)
    max_tgt_len: int = field(64, cli=False)  # decoder positions: [START] + target, i.e. target + [END]
    layers: int = field(3, help="encoder and decoder blocks (rnn: stacked cells, 1 = the course)")
    dim: int = field(256, help="model width (rnn: decoder units; each encoder direction has half)")
    heads: int = field(4, help="transformer: attention heads")
    ffn_dim: int = field(1024, help="transformer: the feed-forward layer's width")
    dropout: float = field(0.1, help="dropout rate")
    # one embedding matrix for both sides: needs one joint vocabulary (kjv-web); translate.train resolves it
    # from its --share-embeddings choice and the tokenizer
    share_embeddings: bool = field(False, cli=False)
    # Teacher forcing builds a (batch, target, source, attention_dim) tensor: its main cost
    attention_dim: int = field(0, help="rnn + bahdanau: the additive score's hidden size (0: --dim)")
    # Label smoothing is a property of the loss, so it lives with the training settings, not here.

    def validate(self) -> TranslatorConfig:
        checks = [
            (self.arch in ("transformer", "rnn"), f"--arch must be transformer or rnn, got {self.arch!r}"),
            (self.cell in ("gru", "lstm"), f"--cell must be gru or lstm, got {self.cell!r}"),
            (
                self.attention in ("bahdanau", "luong", "none"),
                f"--attention must be bahdanau, luong or none, got {self.attention!r}",
            ),
            (self.positions in ("learned", "sine"), f"--positions must be learned or sine, got {self.positions!r}"),
            (
                self.src_vocab > END and self.tgt_vocab > END,
                f"--src-vocab and --tgt-vocab must exceed the 4 special tokens, got {self.src_vocab} and "
                f"{self.tgt_vocab}",
            ),
            (
                self.max_src_len >= 1 and self.max_tgt_len >= 2,
                f"--max-src-len must be >= 1 and --max-tgt-len >= 2, got {self.max_src_len} and {self.max_tgt_len}",
            ),
            (
                self.layers >= 1 and self.dim >= 2 and self.ffn_dim >= 1,
                "--layers, --dim and --ffn-dim must be positive",
            ),
            (0 <= self.dropout < 1, f"--dropout must be in [0, 1), got {self.dropout}"),
            (self.attention_dim >= 0, f"--attention-dim must be >= 0, got {self.attention_dim}"),
            (
                not self.share_embeddings or self.src_vocab == self.tgt_vocab,
                f"shared embeddings need one vocabulary, got {self.src_vocab} source and {self.tgt_vocab} target "
                "subwords",
            ),
            (
                self.arch != "rnn" or self.dim % 2 == 0,
                f"--dim ({self.dim}) must be even: the bidirectional encoder gives each direction half",
            ),
            (
                self.arch != "transformer" or (self.heads >= 1 and self.dim % self.heads == 0),
                f"--dim ({self.dim}) must be a multiple of --heads ({self.heads})",
            ),
        ]
        check(checks)
        return self

    @classmethod
    def from_dict(cls, values: dict) -> TranslatorConfig:
        return cls(**values).validate()


def build(config: TranslatorConfig) -> keras.Model:
    config.validate()
    model = TransformerTranslator(config) if config.arch == "transformer" else RNNTranslator(config)
    # create the weights on two tokens: none depends on the inputs' lengths, and an eager call at the longest runs
    # the recurrent model step by step, seconds of a model's load
    model((ops.ones((1, 2), "int32"), ops.ones((1, 2), "int32")))
    return model


def masked_softmax(scores, mask):
    """Softmax over the last axis (source positions) with padding at exactly 0; mask broadcasts to scores."""
    weights = ops.softmax(ops.where(mask, scores, NEG), axis=-1)
    return ops.where(mask, weights, 0.0)


# --------------------------------------------------------------------------------------------- recurrent model


class BahdanauAttention(layers.Layer):
    """Additive attention (Bahdanau et al. 2015): score = v^T tanh(W1 h_enc + W2 h_dec).

    W1 h_enc does not depend on the decoder, so `keys` computes it once per sentence and decoding reuses it."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.W1 = layers.Dense(units, use_bias=False, name="W1")
        self.W2 = layers.Dense(units, use_bias=False, name="W2")
        self.v = layers.Dense(1, use_bias=False, name="v")

    def keys(self, values):
        with keras.name_scope(self.name, caller=self):  # encode calls this first, before the layer's own call
            return self.W1(values)

    def call(self, query, values, keys, mask):
        """query (B, T, Dq) decoder states; values (B, S, D) encoder states; keys = self.keys(values); mask (B, S)."""
        scores = self.v(ops.tanh(keys[:, None, :, :] + self.W2(query)[:, :, None, :]))[..., 0]  # (B, T, S)
        weights = masked_softmax(scores, mask[:, None, :])
        return ops.matmul(weights, values), weights


class LuongAttention(layers.Layer):
    """Multiplicative ("general") attention (Luong et al. 2015): score = h_dec^T W h_enc; W h_enc computed once."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.W = layers.Dense(units, use_bias=False, name="W")

    def keys(self, values):
        with keras.name_scope(self.name, caller=self):  # encode calls this first, before the layer's own call
            return self.W(values)

    def call(self, query, values, keys, mask):
        scores = ops.matmul(query, ops.transpose(keys, (0, 2, 1)))  # (B, T, S)
        weights = masked_softmax(scores, mask[:, None, :])
        return ops.matmul(weights, values), weights


_CELLS = {"gru": layers.GRU, "lstm": layers.LSTM}


class RNNTranslator(keras.Model):
    """Embedding + bidirectional GRU/LSTM encoder; a GRU/LSTM decoder started from the encoder's last states;
    attention with the decoder's output as the query, and [context; output] -> the output projection.

    The decoder's input is only the previous token (no input feeding), so teacher forcing runs each decoder layer
    over the whole target in one call and decoding runs the same layer's cell once per token: same logits."""

    def __init__(self, config: TranslatorConfig, **kwargs):
        super().__init__(**{"name": "rnn_translator", **kwargs})
        self.config = config
        rnn, half = _CELLS[config.cell], config.dim // 2
        self.src_embed = layers.Embedding(config.src_vocab, config.dim, name="src_embed")
        # Each direction has dim // 2 units, so [forward; backward] is dim wide: it is the decoder's first state
        # as it is (no projection), and the attention's values.
        self.encoders = [
            # the wrapper names its copies forward_<cell> and backward_<cell> after the layer it is given
            layers.Bidirectional(
                rnn(half, return_sequences=True, return_state=True, name=config.cell), name=f"encoder_{i}"
            )
            for i in range(config.layers)
        ]
        # With one vocabulary a word is one vector on both sides (Press & Wolf 2017), so copying it is easy.
        self.tgt_embed = (
            self.src_embed
            if config.share_embeddings
            else layers.Embedding(config.tgt_vocab, config.dim, name="tgt_embed")
        )
        self.decoders = [rnn(config.dim, return_sequences=True, name=f"decoder_{i}") for i in range(config.layers)]
        attention = {"bahdanau": BahdanauAttention, "luong": LuongAttention}.get(config.attention)
        units = config.attention_dim or config.dim if config.attention == "bahdanau" else config.dim
        self.attention = attention(units, name="attention") if attention else None
        self.drop = layers.Dropout(config.dropout, name="drop")
        self.head = layers.Dense(config.tgt_vocab, name="head")

    def encode(self, source, training=False):
        mask = ops.not_equal(source, PAD)
        x = self.drop(self.src_embed(source), training=training)
        states = []
        for encoder in self.encoders:
            # With the mask, the forward pass stops at the last real token and the backward pass starts there.
            x, *last = encoder(x, mask=mask, training=training)
            half = len(last) // 2  # [h] or [h, c] forward, then the same backward
            states.append(tuple(ops.concatenate([f, b], axis=-1) for f, b in zip(last[:half], last[half:])))
        memory = {"values": x, "mask": mask, "state": tuple(states)}
        if self.attention is not None:
            memory["keys"] = self.attention.keys(x)
        return memory

    def init_state(self, memory, batch=None):
        return memory["state"]

    def _output(self, x, memory, training=False):
        """x (B, T, dim) top decoder outputs -> logits (B, T, V), attention (B, T, S). memory may hold B / g
        sentences, each shared by g consecutive rows (beam search's hypotheses): their queries fold into T."""
        b, t, s = ops.shape(x)[0], ops.shape(x)[1], ops.shape(memory["mask"])[1]
        if self.attention is None:
            weights = ops.zeros((b, t, s))
        else:
            n = ops.shape(memory["mask"])[0]
            query = ops.reshape(x, (n, (b // n) * t, ops.shape(x)[2]))
            context, weights = self.attention(query, memory["values"], memory["keys"], memory["mask"])
            context, weights = ops.reshape(context, (b, t, -1)), ops.reshape(weights, (b, t, s))
            x = ops.concatenate([context, x], axis=-1)
        return self.head(self.drop(x, training=training)), weights

    def call(self, inputs, training=False, return_attention=False):
        source, decoder_input = inputs
        memory = self.encode(source, training=training)
        x = self.drop(self.tgt_embed(decoder_input), training=training)
        for decoder, state in zip(self.decoders, memory["state"]):
            x = decoder(x, initial_state=list(state), training=training)
        logits, weights = self._output(x, memory, training)
        return (logits, weights) if return_attention else logits

    def decode_step(self, token, state, index, memory):
        """index is unused: the recurrent state already knows where it is."""
        x = self.tgt_embed(token)
        new_state = []
        for decoder, layer_state in zip(self.decoders, state):
            x, s = decoder.cell(x, list(layer_state))  # the very weights the layer used for teacher forcing
            new_state.append(tuple(s))
        logits, weights = self._output(x[:, None, :], memory)
        return logits[:, 0], weights[:, 0], tuple(new_state)


# ------------------------------------------------------------------------------------------- Transformer model


class DecoderBlock(layers.Layer):
    """Pre-LayerNorm decoder block: causal self-attention, cross-attention to the source, feed-forward.

    Written out instead of keras_hub.layers.TransformerDecoder for two reasons: the app draws the cross-attention
    weights of every layer and head, which TransformerDecoder does not return; and its cached self-attention
    writes at the index with a slice update that makes XLA recompile for every index (stack-facts.md), so here the
    cache is fixed-size, written with a one-hot mask and read with an arange(max_len) <= index mask."""

    def __init__(self, config: TranslatorConfig, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_dim = config.heads, config.dim // config.heads
        self.ln1 = layers.LayerNormalization(epsilon=1e-5, name="ln1")
        self.qkv = layers.Dense(3 * config.dim, name="qkv")
        self.proj = layers.Dense(config.dim, name="proj")
        self.ln2 = layers.LayerNormalization(epsilon=1e-5, name="ln2")
        self.cross_q = layers.Dense(config.dim, name="cross_q")
        self.cross_kv = layers.Dense(2 * config.dim, name="cross_kv")
        self.cross_proj = layers.Dense(config.dim, name="cross_proj")
        self.ln3 = layers.LayerNormalization(epsilon=1e-5, name="ln3")
        self.fc = layers.Dense(config.ffn_dim, activation="gelu", name="fc")
        self.out = layers.Dense(config.dim, name="out")
        self.drop = layers.Dropout(config.dropout, name="drop")

    def _heads(self, x):
        return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.heads, self.head_dim))

    def memory_kv(self, memory):
        """The encoder output's keys and values for this block, (B, S, heads, head_dim) each: once per sentence."""
        # The encoder calls this before the block's own call, which is where a layer's name scope opens: opened
        # here, cross_kv's weights get this block's path (every block's would have the same path otherwise)
        with keras.name_scope(self.name, caller=self):
            k, v = ops.split(self.cross_kv(memory), 2, axis=-1)
        return self._heads(k), self._heads(v)

    def _rest(self, x, attended, cross_k, cross_v, source_mask, training):
        """Everything after self-attention; returns the block's output and the cross-attention (B, heads, T, S).

        cross_k, cross_v and source_mask may hold B / g sentences, each shared by g consecutive rows of x (beam
        search's hypotheses of one sentence): their queries fold into the target axis, so a step reads each
        sentence's keys and values once, not once per hypothesis."""
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        n, s = ops.shape(cross_k)[0], ops.shape(cross_k)[1]
        x = x + self.drop(self.proj(ops.reshape(attended, (b, t, -1))), training=training)
        q = ops.reshape(self.cross_q(self.ln2(x)), (n, (b // n) * t, self.heads, self.head_dim))
        scores = ops.einsum("bthd,bshd->bhts", q, cross_k) / (self.head_dim**0.5)
        weights = masked_softmax(scores, source_mask[:, None, None, :])  # explicit: we return the weights
        context = ops.einsum("bhts,bshd->bthd", weights, cross_v)
        x = x + self.drop(self.cross_proj(ops.reshape(context, (b, t, -1))), training=training)
        if not (isinstance(b, int) and b == n):  # (sentences, heads, g * T, S) -> one row per hypothesis
            weights = ops.reshape(weights, (n, self.heads, b // n, t, s))
            weights = ops.reshape(ops.transpose(weights, (0, 2, 1, 3, 4)), (b, self.heads, t, s))
        x = x + self.drop(self.out(self.fc(self.ln3(x))), training=training)
        return x, weights

    def call(self, x, cross_k, cross_v, source_mask, training=False):
        q, k, v = [self._heads(z) for z in ops.split(self.qkv(self.ln1(x)), 3, axis=-1)]
        return self._rest(
            x, ops.dot_product_attention(q, k, v, is_causal=True), cross_k, cross_v, source_mask, training
        )

    def step(self, x, k_cache, v_cache, index, cross_k, cross_v, source_mask):
        """x (B, 1, D); caches (B, max_tgt_len, heads, head_dim). Attends to cache positions <= index."""
        q, k, v = [self._heads(z) for z in ops.split(self.qkv(self.ln1(x)), 3, axis=-1)]
        positions = ops.arange(ops.shape(k_cache)[1])
        k_cache, v_cache = kv.write(k_cache, k, index, axis=1), kv.write(v_cache, v, index, axis=1)
        visible = ops.broadcast_to(
            (positions <= index)[None, None, None, :], (ops.shape(x)[0], self.heads, 1, ops.shape(k_cache)[1])
        )
        attended = ops.dot_product_attention(q, k_cache, v_cache, mask=visible)
        x, weights = self._rest(x, attended, cross_k, cross_v, source_mask, False)
        return x, weights, k_cache, v_cache


class TransformerTranslator(keras.Model):
    """keras-hub TransformerEncoder blocks (pre-LN) over the source with its padding mask; our DecoderBlocks;
    target embeddings tied to the output projection (ReversibleEmbedding, as lm/model.py)."""

    def __init__(self, config: TranslatorConfig, **kwargs):
        super().__init__(**{"name": "transformer_translator", **kwargs})
        import keras_hub  # imported here: its import alone takes seconds

        self.config = config
        self.tgt_embed = layers.ReversibleEmbedding(config.tgt_vocab, config.dim, tie_weights=True, name="tgt_embed")
        # With one vocabulary (kjv-web) the source reads the same matrix: one vector per word on both sides and at
        # the output (Press & Wolf 2017, as Vaswani et al. did with a joint BPE), so copying a word is easy.
        self.src_embed = (
            self.tgt_embed
            if config.share_embeddings
            else layers.Embedding(config.src_vocab, config.dim, name="src_embed")
        )
        if config.positions == "learned":
            self.src_pos = keras_hub.layers.PositionEmbedding(config.max_src_len, name="src_pos")
            self.tgt_pos = keras_hub.layers.PositionEmbedding(config.max_tgt_len, name="tgt_pos")
        else:
            self.src_pos = self.tgt_pos = keras_hub.layers.SinePositionEncoding(name="positions")
        self.drop = layers.Dropout(config.dropout, name="drop")
        self.encoders = [
            keras_hub.layers.TransformerEncoder(
                config.ffn_dim,
                config.heads,
                dropout=config.dropout,
                activation="gelu",
                normalize_first=True,
                name=f"encoder_{i}",
            )
            for i in range(config.layers)
        ]
        self.enc_norm = layers.LayerNormalization(epsilon=1e-5, name="enc_norm")
        self.decoders = [DecoderBlock(config, name=f"decoder_{i}") for i in range(config.layers)]
        self.dec_norm = layers.LayerNormalization(epsilon=1e-5, name="dec_norm")

    def _embed(self, embed, pos, tokens, start_index=0, training=False):
        x = embed(tokens)
        # positions as a gather, not a slice, so a step's index is data and never a compile-time constant
        # (SinePositionEncoding wants them as floats, PositionEmbedding as ints)
        dtype = "float32" if self.config.positions == "sine" else "int32"
        positions = ops.cast(ops.arange(ops.shape(tokens)[1]) + start_index, dtype)
        return self.drop(x + pos(x, positions=positions), training=training)

    def encode(self, source, training=False):
        mask = ops.not_equal(source, PAD)
        x = self._embed(self.src_embed, self.src_pos, source, training=training)
        for encoder in self.encoders:
            x = encoder(x, padding_mask=mask, training=training)
        x = self.enc_norm(x)
        ks, vs = zip(*[block.memory_kv(x) for block in self.decoders])
        return {"mask": mask, "cross_k": ops.stack(ks, axis=1), "cross_v": ops.stack(vs, axis=1)}  # (B, L, S, H, hd)

    def init_state(self, memory, batch):
        c = self.config
        shape = (batch, c.layers, c.max_tgt_len, c.heads, c.dim // c.heads)
        return ops.zeros(shape), ops.zeros(shape)  # self-attention keys and values, written one index at a time

    def call(self, inputs, training=False, return_attention=False):
        source, decoder_input = inputs
        memory = self.encode(source, training=training)
        x = self._embed(self.tgt_embed, self.tgt_pos, decoder_input, training=training)
        weights = []
        for i, block in enumerate(self.decoders):
            x, w = block(x, memory["cross_k"][:, i], memory["cross_v"][:, i], memory["mask"], training=training)
            weights.append(w)
        logits = self.tgt_embed(self.dec_norm(x), reverse=True)
        # attention (B, T, layers, heads, S): the target position first, as decode_step's history has it
        return (logits, ops.transpose(ops.stack(weights, axis=1), (0, 3, 1, 2, 4))) if return_attention else logits

    def decode_step(self, token, state, index, memory):
        k_cache, v_cache = state
        x = self._embed(self.tgt_embed, self.tgt_pos, token[:, None], start_index=index)
        ks, vs, weights = [], [], []
        for i, block in enumerate(self.decoders):
            x, w, k, v = block.step(
                x, k_cache[:, i], v_cache[:, i], index, memory["cross_k"][:, i], memory["cross_v"][:, i], memory["mask"]
            )
            ks.append(k)
            vs.append(v)
            weights.append(w[:, :, 0])
        logits = self.tgt_embed(self.dec_norm(x)[:, 0], reverse=True)
        return logits, ops.stack(weights, axis=1), (ops.stack(ks, axis=1), ops.stack(vs, axis=1))
