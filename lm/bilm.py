"""ELMo at lab size: a bidirectional LSTM language model whose layers are contextual word vectors.

    import lm
    elmo = lm.load("elmo")
    e = elmo.embed("She sat on the bank of the river.")
    e.tokens           # ['She', 'sat', 'on', 'the', 'bank', 'of', 'the', 'river', '.']
    e.layers.shape     # (3, 9, 2 * proj): layer 0 context-free, layers 1 and 2 the biLSTM's (forward; backward)
    e.mix()            # (9, 2 * proj): ELMo's scalar mix, softmax weights fitted for sense matching (mix.json)
    elmo.embed_many(["a text", "another"])  # the same, batched: one compiled call per batch of BATCH texts

Peters et al. (2018), "Deep contextualized word representations", at a size two CPU cores train in an hour:
- **Words in, any word**: each word is spelled, not looked up, so there are no out-of-vocabulary inputs. `char-cnn`
  (ELMo's): its UTF-8 bytes, embedded, convolved at widths 1-5, max-pooled, two highway layers, a projection.
  `subword`: the mean of hashed character 3-5-gram embeddings (fastText's subword vectors): cheaper, and the
  tokens stay whole words, which a BPE split would not keep (ELMo's layers are per word).
- **Two LSTM layers in each direction**, each with a projection, and a residual connection around the second.
  The forward stack reads left to right and predicts the next word; the backward stack reads right to left and
  predicts the previous word. The two share the word encoder and the softmax, as in ELMo.
- Layer 0 is the word encoder's output, written twice ([x; x]) so every layer has the forward;backward width.

Training windows hold seq_len words plus one on each side, so every position has both targets; the model's
output is [batch, time, 2, vocab]: direction 0 forward (predicts word t+1), 1 backward (predicts word t-1).
"""

from __future__ import annotations

import dataclasses
import os
import zlib

import keras
import numpy as np
from keras import layers, ops

from core.model import ModelFolder

CHARS = 16  # bytes of a word the CNN reads (ELMo: 50); longer words keep their first 15 and the end mark
PAD, BOW, EOW = 0, 1, 2  # character ids; a byte b is 3 + b
FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 128))  # (width, filters) of the character CNN
NGRAMS, BUCKETS = 24, 32768  # hashed n-grams per word (the word itself first), and their table size
MIX_FILE = "mix.json"  # the folder's fitted scalar mix: {"weights": [n_layers + 1], "gamma", "fitted_on", ...}
BATCH, LENGTHS = 32, (16, 32, 64, 128)  # embed_many's batch rows and padded word lengths (each compiles once)


# ---------------------------------------------------------------------------------------------- spelling
def spell(words: list[str], inputs: str) -> np.ndarray:
    """[len(words), width] int32: each word as the model's input encoder reads it (0 = padding)."""
    if inputs == "char-cnn":
        out = np.zeros((len(words), CHARS), np.int32)
        for i, w in enumerate(words):
            ids = [BOW] + [3 + b for b in w.encode("utf-8")][: CHARS - 2] + [EOW]
            out[i, : len(ids)] = ids
        return out
    out = np.zeros((len(words), NGRAMS), np.int32)
    for i, w in enumerate(words):
        marked = f"<{w}>"
        grams = [marked] + [marked[j : j + n] for n in (3, 4, 5) for j in range(len(marked) - n + 1)]
        # crc32, not hash(): Python salts str hashes per process, and the ids must be the same every run
        ids = list(dict.fromkeys(1 + zlib.crc32(g.encode("utf-8")) % (BUCKETS - 1) for g in grams))[:NGRAMS]
        out[i, : len(ids)] = ids
    return out


class Stream:
    """A text as words: the model's spelled inputs and its word-vocabulary targets, with the training batches and
    evaluation windows of lm.data (batch n depends only on (seed, n))."""

    def __init__(self, tokenizer, text: str, inputs: str):
        words = tokenizer.pieces(text)
        distinct, self.index = np.unique(np.array(words, dtype=object), return_inverse=True)
        self.index = self.index.astype(np.int32)
        self.table = spell(list(distinct), inputs)
        self.targets = np.asarray(tokenizer.encode(text), np.int32)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, step: int, batch_size: int, seq_len: int, seed: int):
        """Random windows: spelled words (B, T, width) and targets (B, T, 2): the next and the previous word."""
        if len(self) < seq_len + 3:
            raise ValueError(f"the training text has {len(self)} words, fewer than --seq-len + 3 ({seq_len + 3})")
        starts = np.random.default_rng([seed, step]).integers(0, len(self) - seq_len - 1, batch_size)
        at = starts[:, None] + np.arange(seq_len + 2)
        x = self.table[self.index[at[:, 1:-1]]]
        y = np.stack([self.targets[at[:, 2:]], self.targets[at[:, :-2]]], axis=-1)
        return x, y

    def windows(self, seq_len: int, limit: int | None = None):
        """Consecutive windows over every word (the first `limit` windows): inputs, targets, weights; a target
        outside the text has weight 0 (the first word has no previous one, the last no next one)."""
        n = max(1, -(-len(self) // seq_len))
        if limit:
            n = min(n, limit)
        pos = np.arange(n * seq_len).reshape(n, seq_len)
        real = pos < len(self)
        clip = np.minimum(pos, len(self) - 1)
        x = np.where(real[..., None], self.table[self.index[clip]], PAD)
        nxt, prev = np.minimum(pos + 1, len(self) - 1), np.clip(pos - 1, 0, len(self) - 1)
        y = np.stack([self.targets[nxt], self.targets[prev]], axis=-1)
        w = np.stack([real & (pos + 1 < len(self)), real & (pos > 0)], axis=-1).astype(np.float32)
        return x, y, w


def direction_losses(model, inputs, targets, weights, batch: int = 16) -> dict:
    """Each direction's mean loss over `windows`, and both together (val_loss), in one pass over the text."""
    total, count = np.zeros(2), np.zeros(2)
    for i in range(0, len(inputs), batch):
        logits = ops.convert_to_numpy(model(inputs[i : i + batch], training=False)).astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = np.take_along_axis(log_probs, targets[i : i + batch][..., None], -1)[..., 0]  # [B, T, 2]
        w = weights[i : i + batch]
        total -= (picked * w).sum((0, 1))
        count += w.sum((0, 1))
    mean = total / np.maximum(count, 1.0)
    return {
        "val_loss": float(total.sum() / max(count.sum(), 1.0)),
        "val_loss_forward": float(mean[0]),
        "val_loss_backward": float(mean[1]),
    }


# ---------------------------------------------------------------------------------------------- the model
class CharCNN(layers.Layer):
    """ELMo's word encoder: byte embeddings, convolutions of widths 1-5 max-pooled over the word, 2 highway layers,
    a projection. Any string gets a vector."""

    def __init__(self, proj: int, **kwargs):
        super().__init__(**kwargs)
        self.embed = layers.Embedding(3 + 256, 16, name="char_embedding")
        self.convs = [layers.Conv1D(f, w, activation="relu", name=f"conv_{w}") for w, f in FILTERS]
        width = sum(f for _, f in FILTERS)
        self.highways = [layers.Dense(2 * width, name=f"highway_{i}") for i in range(2)]
        self.proj = layers.Dense(proj, name="projection")

    def call(self, chars):
        b, t = ops.shape(chars)[0], ops.shape(chars)[1]
        x = self.embed(ops.reshape(chars, (-1, CHARS)))
        x = ops.concatenate([ops.max(conv(x), axis=1) for conv in self.convs], axis=-1)
        for highway in self.highways:  # y = g * relu(W x) + (1 - g) * x
            h, gate = ops.split(highway(x), 2, axis=-1)
            gate = ops.sigmoid(gate)
            x = gate * ops.relu(h) + (1 - gate) * x
        return ops.reshape(self.proj(x), (b, t, -1))


class SubwordEmbedding(layers.Layer):
    """The mean of a word's hashed character n-gram vectors (fastText), then a projection."""

    def __init__(self, proj: int, **kwargs):
        super().__init__(**kwargs)
        self.embed = layers.Embedding(BUCKETS, proj, name="ngram_embedding")
        self.proj = layers.Dense(proj, name="projection")

    def call(self, grams):
        present = ops.cast(grams != PAD, self.compute_dtype)[..., None]
        mean = ops.sum(self.embed(grams) * present, axis=-2) / ops.maximum(ops.sum(present, axis=-2), 1.0)
        return self.proj(mean)


class BiLM(keras.Model):
    """Spelled words [B, T, width] -> logits [B, T, 2, vocab] (forward, backward). `representations` gives the
    layers ELMo mixes: [B, 3, T, 2 * proj]."""

    def __init__(self, config, **kwargs):
        super().__init__(**{"name": "bilm", **kwargs})  # named, as every layer here: weights are read by path
        self.config = config
        self.encoder = (CharCNN if config.inputs == "char-cnn" else SubwordEmbedding)(config.proj, name="words")
        self.drop = layers.Dropout(config.dropout, name="dropout")
        n, lstm, proj = range(config.layers), layers.LSTM, layers.Dense
        self.forward_lstms = [lstm(config.dim, return_sequences=True, name=f"forward_lstm_{i}") for i in n]
        self.forward_projs = [proj(config.proj, name=f"forward_proj_{i}") for i in n]
        self.backward_lstms = [lstm(config.dim, return_sequences=True, name=f"backward_lstm_{i}") for i in n]
        self.backward_projs = [proj(config.proj, name=f"backward_proj_{i}") for i in n]
        self.softmax = layers.Dense(config.vocab_size, name="softmax")  # shared by both directions

    def _stack(self, side, x, mask, training):
        """Every layer's output of one direction; the backward one runs on the reversed words."""
        if side == "backward":
            x, mask = ops.flip(x, axis=1), ops.flip(mask, axis=1)
        outs = []
        pairs = zip(getattr(self, f"{side}_lstms"), getattr(self, f"{side}_projs"))
        for i, (lstm, proj) in enumerate(pairs):
            h = proj(self.drop(lstm(x, mask=mask, training=training), training=training))
            x = h + x if i > 0 else h  # ELMo's residual connection around the layers above the first
            outs.append(x)
        return [ops.flip(o, axis=1) for o in outs] if side == "backward" else outs

    def layer_outputs(self, words, training=False):
        mask = ops.any(words != PAD, axis=-1)
        x = self.drop(self.encoder(words), training=training)
        return x, self._stack("forward", x, mask, training), self._stack("backward", x, mask, training)

    def call(self, words, training=False):
        _, fwd, bwd = self.layer_outputs(words, training)
        return ops.stack([self.softmax(fwd[-1]), self.softmax(bwd[-1])], axis=2)

    def representations(self, words):
        x, fwd, bwd = self.layer_outputs(words)
        return ops.stack([ops.concatenate([x, x], -1)] + [ops.concatenate(p, -1) for p in zip(fwd, bwd)], axis=1)


def build(config) -> BiLM:
    model = BiLM(config)
    width = CHARS if config.inputs == "char-cnn" else NGRAMS
    model(ops.ones((1, 4, width), "int32"))  # create the weights
    return model


class ScalarMix(layers.Layer):
    """ELMo's task-specific mix, learnable: gamma * sum_j softmax(w)_j * layer_j over [B, n_layers, T, D] (the
    layers `representations` gives). It starts at equal weights and a scale of 1, what Embedding.mix does without
    a fitted mix."""

    def __init__(self, n_layers: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.n_layers = n_layers

    def build(self, input_shape):
        self.w = self.add_weight(shape=(self.n_layers,), initializer="zeros", name="weights")
        self.gamma = self.add_weight(shape=(), initializer="ones", name="gamma")

    def call(self, layers_):
        weights = ops.softmax(self.w)
        return self.gamma * ops.einsum("l,bltd->btd", weights, layers_)

    def get_config(self):
        return {**super().get_config(), "n_layers": self.n_layers}


# ---------------------------------------------------------------------------------------------- inference
def read_mix(folder: str) -> dict | None:
    """The folder's fitted scalar mix ({"weights": softmax logits, one per layer, "gamma": scale, ...}) or None."""
    path = os.path.join(folder, MIX_FILE)
    if not os.path.exists(path):
        return None
    from core import files

    mix = files.read_json(path)
    if not isinstance(mix, dict) or not isinstance(mix.get("weights"), list):
        raise ValueError(f"{path} is not a scalar mix: it needs a list of weights, one per layer")
    return mix


def write_mix(folder: str, weights, gamma: float = 1.0, **about) -> dict:
    """Store a fitted scalar mix in a model folder (atomically); what `read_mix` gives back."""
    from core import files

    mix = {"weights": [float(w) for w in np.asarray(weights, np.float64)], "gamma": float(gamma), **about}
    files.write_json(os.path.join(folder, MIX_FILE), mix)
    return mix


@dataclasses.dataclass
class Embedding:
    """ELMo's vectors for one text: `layers` [n_layers + 1, T, 2 * proj], layer 0 context-free. `weights` and
    `scale` are the model's own scalar mix (its folder's mix.json; equal weights and 1 without one)."""

    tokens: list[str]
    layers: np.ndarray
    weights: tuple[float, ...] | None = None
    scale: float = 1.0

    def mix(self, weights=None, scale: float | None = None) -> np.ndarray:
        """ELMo's scalar mix: scale * sum_j softmax(weights)_j * layer_j (the model's own mix by default;
        `weights=[0, 0, 0]` gives the equal-weight one)."""
        weights = self.weights if weights is None else weights
        scale = self.scale if scale is None else scale
        w = np.zeros(len(self.layers)) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (len(self.layers),):
            raise ValueError(f"the mix takes {len(self.layers)} weights, one per layer; got {w.shape}")
        w = np.exp(w - w.max())
        return (scale * np.tensordot(w / w.sum(), self.layers, axes=1)).astype(np.float32)

    def vectors(self, layer: int) -> np.ndarray:
        """[T, D]: layer 0, 1, ... or -1 for the mix."""
        if layer == -1:
            return self.mix()
        if not 0 <= layer < len(self.layers):
            raise ValueError(f"layer must be -1 (the mix) or 0 to {len(self.layers) - 1}, got {layer}")
        return self.layers[layer]


class BiLanguageModel(ModelFolder):
    """A trained bilm folder: `embed(text)` for vectors, `logits(text)` for both directions' predictions."""

    KIND = "bilm"

    def __init__(self, folder: str, name: str | None = None):
        from core import checkpoint
        from lm.model import LMConfig
        from lm.tokenizer import Tokenizer

        super().__init__(folder, name)
        self.config = LMConfig.load(folder)
        self.tokenizer = Tokenizer.load(folder)
        self.model = build(self.config)
        checkpoint.load_weights(self.model, os.path.join(folder, "model.weights.h5"))
        self.context_length = self.config.seq_len
        mix = read_mix(folder)
        self.mix_weights = tuple(mix["weights"]) if mix else None  # None: the equal-weight mix
        self.mix_scale = float(mix.get("gamma", 1.0)) if mix else 1.0
        if self.mix_weights is not None and len(self.mix_weights) != self.config.layers + 1:
            raise ValueError(
                f"{os.path.join(folder, MIX_FILE)} has {len(self.mix_weights)} weights; the model has "
                f"{self.config.layers + 1} layers"
            )
        self._represent = None  # the compiled representations, made on the first embed_many

    def _words(self, text: str) -> tuple[list[str], np.ndarray]:
        words = self.tokenizer.pieces(text)
        if not words:
            raise ValueError("the text has no words to embed")
        return words, spell(words, self.config.inputs)[None]

    def _embedding(self, words: list[str], layers_: np.ndarray) -> Embedding:
        return Embedding(words, layers_, self.mix_weights, self.mix_scale)

    def embed(self, text: str) -> Embedding:
        words, spelled = self._words(text)
        layers_ = ops.convert_to_numpy(self.model.representations(spelled))[0]
        return self._embedding(words, layers_)

    def embed_many(self, texts: list[str]) -> list[Embedding]:
        """`embed` of each text, batched: BATCH texts a call, padded to the next of LENGTHS words (a padded word
        is masked, so each text's vectors are its own `embed`'s within float rounding), through one compiled
        function per length. A text longer than LENGTHS' last is embedded alone."""
        from core.jit import jit

        if self._represent is None:
            self._represent = jit(self.model.representations)
        spelled = [self._words(t) for t in texts]
        out: list[Embedding | None] = [None] * len(texts)
        by_length: dict[int, list[int]] = {}
        for i, (words, _) in enumerate(spelled):
            length = next((n for n in LENGTHS if n >= len(words)), None)
            if length is None:
                out[i] = self.embed(texts[i])
            else:
                by_length.setdefault(length, []).append(i)
        for length, rows in by_length.items():
            for start in range(0, len(rows), BATCH):
                chunk = rows[start : start + BATCH]
                x = np.zeros((BATCH, length, spelled[0][1].shape[-1]), np.int32)
                for j, i in enumerate(chunk):
                    x[j, : len(spelled[i][0])] = spelled[i][1][0]
                layers_ = ops.convert_to_numpy(self._represent(x))
                for j, i in enumerate(chunk):
                    out[i] = self._embedding(spelled[i][0], layers_[j, :, : len(spelled[i][0])])
        return out

    def logits(self, text: str) -> np.ndarray:
        """[T, 2, vocab]: at word t, the forward LM's scores for word t+1 and the backward LM's for word t-1."""
        _, spelled = self._words(text)
        return ops.convert_to_numpy(self.model(spelled))[0]
