"""The two language models, one config dataclass, and the single-token step each uses to generate.

Both models expose the same three pieces:
  model(tokens)                      -> logits for every position (training, evaluation)
  model.prefill(tokens, length)      -> (logits at position length-1, state) for a prompt padded to any length
                                        up to the context (one compile per padded length: lm.generate buckets);
                                        length a scalar, or one per row (B,) for prompts of different lengths
  model.step(token, state, index)    -> (logits for the next token, state) costing the same at every index;
                                        index is one position for the batch or one per row (lm.engine)
Shapes never depend on the index or the prompt length, so each piece compiles once.

Every layer has a name, the models too: a weights file finds each weight by its path of names (core.checkpoint).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers, ops

from core import kv
from core.config import SavedConfig, check
from core.flags import field


@dataclasses.dataclass
class LMConfig(SavedConfig):
    arch: str = field("transformer", help="bilm: ELMo (lm.bilm)", choices=("transformer", "lstm", "bilm"))
    level: str = field("char", help="char or word tokens", choices=("char", "word"))
    vocab_size: int = field(0, cli=False)  # from the tokenizer
    seq_len: int = field(256, help="context window (training length)")
    layers: int = field(4, help="blocks (transformer) or stacked cells (lstm)")
    dim: int = field(256, help="model width")
    heads: int = field(4, help="attention heads (transformer)")
    dropout: float = field(0.1, help="dropout rate")
    cell: str = field("lstm", help="recurrent cell for --arch lstm", choices=("lstm", "gru", "rnn"))
    positions: str = field("learned", help="transformer positions", choices=("learned", "sine"))
    inputs: str = field("char-cnn", help="bilm's word encoder", choices=("char-cnn", "subword"))
    proj: int = field(256, help="bilm: the projection after each LSTM layer, and the word encoder's width")

    def validate(self) -> LMConfig:
        checks = [
            (
                self.arch in ("transformer", "lstm", "bilm"),
                f"--arch must be transformer, lstm or bilm, got {self.arch!r}",
            ),
            (self.arch != "bilm" or self.level == "word", "--arch bilm reads words: use --level word"),
            (self.inputs in ("char-cnn", "subword"), f"--inputs must be char-cnn or subword, got {self.inputs!r}"),
            (self.proj >= 1, f"--proj must be positive, got {self.proj}"),
            (self.level in ("char", "word"), f"--level must be char or word, got {self.level!r}"),
            (self.cell in ("lstm", "gru", "rnn"), f"--cell must be lstm, gru or rnn, got {self.cell!r}"),
            (self.positions in ("learned", "sine"), f"--positions must be learned or sine, got {self.positions!r}"),
            (
                self.layers >= 1 and self.dim >= 1 and self.seq_len >= 2,
                "--layers and --dim must be positive, --seq-len at least 2",
            ),
            (0 <= self.dropout < 1, f"--dropout must be in [0, 1), got {self.dropout}"),
            (
                self.arch != "transformer" or (self.heads >= 1 and self.dim % self.heads == 0),
                f"--dim ({self.dim}) must be a multiple of --heads ({self.heads})",
            ),
        ]
        check(checks)
        return self


def build(config: LMConfig) -> keras.Model:
    config.validate()
    if config.arch == "bilm":
        from lm import bilm

        return bilm.build(config)
    model = TransformerLM(config) if config.arch == "transformer" else RecurrentLM(config)
    # create the weights on two tokens: none depends on the input's length, and an eager call on the whole context
    # runs the recurrent cell step by step, seconds of a model's load
    model(ops.zeros((1, 2), "int32"))
    return model


class Block(layers.Layer):
    """Pre-LayerNorm decoder block (GPT-2 / nanoGPT) whose attention also runs against a fixed-size cache."""

    def __init__(self, config: LMConfig, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_dim = config.heads, config.dim // config.heads
        self.ln1 = layers.LayerNormalization(epsilon=1e-5, name="ln1")
        self.qkv = layers.Dense(3 * config.dim, name="qkv")
        self.proj = layers.Dense(config.dim, name="proj")
        self.ln2 = layers.LayerNormalization(epsilon=1e-5, name="ln2")
        self.fc = layers.Dense(4 * config.dim, activation="gelu", name="fc")
        self.out = layers.Dense(config.dim, name="out")
        self.drop = layers.Dropout(config.dropout, name="drop")

    def _qkv(self, x):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = ops.split(self.qkv(self.ln1(x)), 3, axis=-1)
        return [ops.reshape(z, (b, t, self.heads, self.head_dim)) for z in (q, k, v)]

    def _finish(self, x, attended, training=False):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        x = x + self.drop(self.proj(ops.reshape(attended, (b, t, -1))), training=training)
        return x + self.drop(self.out(self.fc(self.ln2(x))), training=training)

    def call(self, x, training=False, return_kv=False):
        q, k, v = self._qkv(x)
        y = self._finish(x, ops.dot_product_attention(q, k, v, is_causal=True), training)
        # The cache is kept as (B, H, L, hd): the layout the step's einsums read without a transpose.
        return (y, ops.transpose(k, (0, 2, 1, 3)), ops.transpose(v, (0, 2, 1, 3))) if return_kv else y

    def step(self, x, k_cache, v_cache, index):
        """x: (B, 1, D); caches (B, H, L, hd); index a scalar or one position per row (B,): each row writes its
        token there and attends to its cache positions <= index (rows of a batch may be at different places)."""
        q, k, v = self._qkv(x)  # each (B, 1, H, hd)
        b, length = ops.shape(x)[0], ops.shape(k_cache)[2]
        index = ops.broadcast_to(ops.reshape(index, (-1,)), (b,))
        one = (b, self.heads, 1, self.head_dim)  # (B, 1, H, hd) as the cache's layout: the same numbers in order
        k_cache = kv.write(k_cache, ops.reshape(k, one), index, axis=2)
        v_cache = kv.write(v_cache, ops.reshape(v, one), index, axis=2)
        # Attention written out with einsums over the (B, H, L, hd) cache: reading the cache is this step's cost
        # at 16 rows, and keras' dot_product_attention transposes all of it first (16-row step 5.3 -> 4.2 ms).
        scores = ops.einsum("bqhd,bhld->bhql", q, k_cache) / ops.sqrt(ops.cast(self.head_dim, q.dtype))
        visible = (ops.arange(length)[None, :] <= index[:, None])[:, None, None, :]
        weights = ops.softmax(ops.where(visible, scores, -1e9), axis=-1)
        return self._finish(x, ops.einsum("bhql,bhld->bqhd", weights, v_cache)), k_cache, v_cache


class TransformerLM(keras.Model):
    def __init__(self, config: LMConfig, **kwargs):
        super().__init__(**{"name": "transformer_lm", **kwargs})
        import keras_hub  # imported here: its import alone takes seconds

        self.config = config
        self.embed = layers.ReversibleEmbedding(config.vocab_size, config.dim, tie_weights=True, name="embed")
        if config.positions == "learned":
            self.pos = keras_hub.layers.PositionEmbedding(config.seq_len, name="pos")
        else:
            self.pos = keras_hub.layers.SinePositionEncoding(name="pos")
        self.drop = layers.Dropout(config.dropout, name="drop")
        self.blocks = [Block(config, name=f"block_{i}") for i in range(config.layers)]
        self.ln_f = layers.LayerNormalization(epsilon=1e-5, name="ln_f")

    def _embed(self, tokens, start_index=0, training=False):
        """start_index: a scalar, or one start per row (B,) when the rows of a batch are at different places."""
        x = self.embed(tokens)
        positions = ops.arange(ops.shape(tokens)[1])  # a gather, not a slice: no recompiles
        if len(getattr(start_index, "shape", ())) == 1:
            positions = positions[None, :] + start_index[:, None]
        else:
            positions = positions + start_index
        return self.drop(x + self.pos(x, positions=positions), training=training)

    def call(self, tokens, training=False):
        x = self._embed(tokens, training=training)
        for block in self.blocks:
            x = block(x, training=training)
        return self.embed(self.ln_f(x), reverse=True)

    def prefill(self, tokens, length):
        """tokens: (B, T <= seq_len) prompts padded at the end; the causal mask keeps padding out of the real
        positions (and a row's padded positions are rewritten as it decodes there)."""
        x = self._embed(tokens)
        ks, vs = [], []
        for block in self.blocks:
            x, k, v = block(x, return_kv=True)
            ks.append(k)
            vs.append(v)
        last = _at(self.ln_f(x), length)
        # A prompt padded to a shorter bucket than the context still gets a whole-context cache (zeros beyond
        # it), so the step's shapes never depend on the bucket.
        room = self.config.seq_len - ops.shape(tokens)[1]
        pad = [[0, 0], [0, 0], [0, 0], [0, room], [0, 0]]
        return self.embed(last, reverse=True), (ops.pad(ops.stack(ks), pad), ops.pad(ops.stack(vs), pad))

    def step(self, token, state, index):
        ks, vs = state
        x = self._embed(token[:, None], start_index=index)
        new_k, new_v = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block.step(x, ks[i], vs[i], index)
            new_k.append(k)
            new_v.append(v)
        return self.embed(self.ln_f(x)[:, 0], reverse=True), (ops.stack(new_k), ops.stack(new_v))


def _lengths(batch, length):
    """The prompt length of each of `batch` rows (B,), from one length for all rows or one per row."""
    return ops.broadcast_to(ops.reshape(ops.cast(length, "int32"), (-1,)), (batch,))


def _at(x, length):
    """x (B, T, D) at each row's last prompt position: (B, D). A gather, so each row's numbers are its own."""
    b, t = ops.shape(x)[0], ops.shape(x)[1]
    flat = ops.reshape(x, (b * t, ops.shape(x)[2]))
    return ops.take(flat, ops.arange(b) * t + _lengths(b, length) - 1, axis=0)


_CELLS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}


class RecurrentLM(keras.Model):
    def __init__(self, config: LMConfig, **kwargs):
        super().__init__(**{"name": "recurrent_lm", **kwargs})
        self.config = config
        self.embed = layers.Embedding(config.vocab_size, config.dim, name="embed")
        cell = _CELLS[config.cell]
        self.rnns = [
            cell(config.dim, return_sequences=True, return_state=True, name=f"{config.cell}_{i}")
            for i in range(config.layers)
        ]
        self.drop = layers.Dropout(config.dropout, name="drop")
        self.head = layers.Dense(config.vocab_size, name="head")

    def _run(self, x, states=None, mask=None, training=False):
        new_states = []
        for i, rnn in enumerate(self.rnns):
            initial = None if states is None else list(states[i])
            out = rnn(x, initial_state=initial, mask=mask, training=training)
            x, state = self.drop(out[0], training=training), out[1:]
            new_states.append(tuple(state))
        return x, tuple(new_states)

    def call(self, tokens, training=False):
        x, _ = self._run(self.embed(tokens), training=training)
        return self.head(x)

    def prefill(self, tokens, length):
        """Masked steps carry the state unchanged, so end padding leaves the state of the last real token."""
        mask = ops.arange(ops.shape(tokens)[1])[None, :] < _lengths(ops.shape(tokens)[0], length)[:, None]
        x, states = self._run(self.embed(tokens), mask=mask)
        return self.head(_at(x, length)), states

    def step(self, token, state, index):
        x, states = self._run(self.embed(token[:, None]), states=state)
        return self.head(x[:, 0]), states
