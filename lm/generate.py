"""Generation: a loaded language model that streams text token by token, and `python -m lm.generate`.

    python -m lm.generate --model char-transformer --prompt "ROMEO:" --max-new-tokens 200 --seed 1

stdout is the prompt followed by the generated text, streamed piece by piece as it is produced, and nothing
else (so it can be piped); timing goes to stderr. With --json, a newline and one JSON object follow the text:
{"model", "prompt", "text", "pieces", "seconds"}, the last line of stdout as for every SeqLab command. Errors are
one line, `error: ...` on stderr, exit 2, and come before anything is written.

`LanguageModel.stream` is a short loop over three pieces: `_tokens` (prefill, compiled chunks of CHUNK tokens,
and the refill rule `needs_refill` when the context window fills), a `Detokenizer` (the text so far), and
`StopStrings` (what of that text may be shown yet).
"""

from __future__ import annotations

import itertools
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras import ops  # noqa: E402

from core import checkpoint, cli  # noqa: E402
from core.jit import jit  # noqa: E402
from core.model import ModelFolder  # noqa: E402
from lm.model import LMConfig, build  # noqa: E402
from lm.sampling import sample  # noqa: E402
from lm.tokenizer import Tokenizer  # noqa: E402

CHUNK = 16  # tokens per compiled decoding call; each is still streamed as its own piece


def needs_refill(window: int, context_length: int) -> bool:
    """The refill rule: the next compiled chunk would write past the context window, so the stream prefills
    again from the most recent half of its tokens instead (positions stay in range, each piece compiles once)."""
    return window + CHUNK > context_length


class Detokenizer:
    """The text of the tokens generated so far. It is decoded after the prompt's last token (`lead`), so a
    word-level model puts the space between them that the prompt plus the output needs ("God" + " created",
    not "God" + "created")."""

    def __init__(self, tokenizer: Tokenizer, lead: list[int]):
        self.tokenizer, self.lead, self.tokens = tokenizer, list(lead), []
        self.skip = len(tokenizer.decode(self.lead))
        self.text = ""

    def add(self, token: int) -> str:
        """Append a token; the whole text so far."""
        self.tokens.append(token)
        self.text = self.tokenizer.decode(self.lead + self.tokens)[self.skip :]
        return self.text


class StopStrings:
    """How much of a growing text may be shown: all of it up to the first stop string, less a tail that could
    still become one (held back until the next token settles it)."""

    def __init__(self, stop: list[str] | None):
        self.stops = [s for s in stop or [] if s]
        self.hold = max((len(s) - 1 for s in self.stops), default=0)
        self.shown = 0  # characters already given out
        self.stopped = False  # a stop string appeared: nothing more is shown

    def piece(self, text: str) -> str:
        """The part of `text` not shown before that may be shown now ("" if none)."""
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        self.stopped = bool(hits)
        end = min(hits) if hits else len(text) - self.hold
        if end <= self.shown:
            return ""
        piece, self.shown = text[self.shown : end], end
        return piece

    def rest(self, text: str) -> str:
        """At the end of the stream: the held-back tail (unless a stop string ended it)."""
        return "" if self.stopped else text[self.shown :]


CUT = " …"  # what a text cut at the token limit ends with: it says the model had more to say


def _in_word(ch: str) -> bool:
    return ch.isalnum() or ch in "'-"


def word_end(text: str, whole_words: bool = False) -> int:
    """Where a text cut off by a token limit ends on a boundary: all of it if it ends in whitespace or
    punctuation (or the tokens are whole words), else just before its last, unfinished word (after the last
    character that is no part of a word; 0 if it is one unfinished word). A character model's last word may be
    half written."""
    if whole_words or not text or not _in_word(text[-1]):
        return len(text)
    return next((i + 1 for i in range(len(text) - 1, -1, -1) if not _in_word(text[i])), 0)


class WordBoundary:
    """A streamed text shown up to its last word boundary (the word being written is held back), so a stream
    that ends at the token limit drops its unfinished word without taking back anything shown: each `shown`
    text is a prefix of the next and of the `end`.

        b = WordBoundary()
        b.shown("If not did been cr")   # 'If not did been'
        b.end("If not did been crab t", cut=True)   # 'If not did been crab …'
    """

    def __init__(self, whole_words: bool = False):
        self.whole_words = whole_words

    def shown(self, text: str) -> str:
        """What of the text so far may be shown while it grows (trailing whitespace waits for what follows)."""
        return text[: word_end(text, self.whole_words)].rstrip()

    def end(self, text: str, cut: bool) -> str:
        """The final text: all of it when the model ended it, else up to its last boundary and CUT."""
        return self.shown(text) + CUT if cut else text


class LanguageModel(ModelFolder):
    """A trained model folder: config, weights, tokenizer and card. Generates one prompt at a time (batch 1)."""

    KIND = "lm"

    def __init__(self, folder: str, name: str | None = None):
        super().__init__(folder, name)
        self.config = LMConfig.load(folder)
        self.tokenizer = Tokenizer.load(folder)
        self.model = build(self.config)
        checkpoint.load_weights(self.model, os.path.join(folder, "model.weights.h5"))
        self.context_length = self.config.seq_len
        # Prompt lengths are padded up to one of these (each compiles once): a short chat prompt costs a
        # 32-token prefill instead of a whole-context one (5.7 -> 1.5 ms for char-transformer, bench/lm_step.py).
        self.buckets = sorted({min(2**p, self.context_length) for p in range(5, 16)})
        model = self.model

        def prefill(tokens, length, temperature, top_k, top_p, uniform):
            logits, state = model.prefill(tokens, length)
            return sample(logits, temperature, top_k, top_p, uniform), logits, state

        def decode(token, state, index, temperature, top_k, top_p, uniform):
            """CHUNK tokens in one compiled call (a loop, so it compiles like one step); uniform is (CHUNK, 1, V).
            One call per token would cost more in dispatch than a small model's arithmetic."""
            slots = ops.arange(CHUNK)

            def body(i, carry):
                token, state, out = carry
                logits, state = model.step(token, state, index + i)
                token = sample(logits, temperature, top_k, top_p, ops.take(uniform, i, axis=0))
                return token, state, out + ops.cast(slots == i, "int32") * token[0]

            _, state, out = ops.fori_loop(0, CHUNK, body, (token, state, ops.zeros((CHUNK,), "int32")))
            return out, state

        self._prefill, self._decode = jit(prefill), jit(decode)

    def warm_up(self, buckets=None) -> LanguageModel:
        """Compile the decoding call and the prefill of every prompt bucket (or of `buckets`) now, so the first
        real request is as fast as the hundredth. After two buckets the prefill is traced for any length
        (`reduce_retracing`): a later bucket only compiles (XLA, no Python tracing)."""
        for _ in self.stream("a", max_new_tokens=2, temperature=0):
            pass
        for bucket in self.buckets if buckets is None else buckets:
            self._begin([0] * bucket, self._settings(0.0, 0, 1.0), np.random.default_rng(0))
        return self

    def _encode_prompt(self, prompt: str) -> list[int]:
        ids = self.tokenizer.encode(prompt)
        if not ids:
            ids = self.tokenizer.encode("\n") or [0]
        return ids[-(self.context_length - 1) :]  # a long prompt keeps its end

    def _settings(self, temperature, top_k, top_p):
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if int(top_k) < 0:
            raise ValueError(f"top_k must be >= 0 (0 turns it off), got {top_k}")
        if not np.isfinite(top_p) or not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        return np.float32(temperature), np.int32(top_k), np.float32(top_p)

    def _begin(self, ids, settings, rng):
        """Prefill `ids` padded to the smallest bucket that holds them; the first sampled token, its logits and
        the state (always the whole context's shape)."""
        padded = np.zeros((1, next(b for b in self.buckets if b >= len(ids))), "int32")
        padded[0, : len(ids)] = ids
        token, logits, state = self._prefill(padded, np.int32(len(ids)), *settings, self._noise(rng))
        return int(np.asarray(token)[0]), logits, state

    def _noise(self, rng):
        return rng.random((1, self.config.vocab_size), dtype=np.float32)

    def _chunk_noise(self, rng):
        return rng.random((CHUNK, 1, self.config.vocab_size), dtype=np.float32)

    def prepare(self, prompt, max_new_tokens, temperature, top_k, top_p, stop):
        """What a stream starts from (lm.engine's too): the prompt's ids, the checked sampling settings, the
        Detokenizer and the StopStrings. Raises ValueError naming a bad setting."""
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        settings = self._settings(temperature, top_k, top_p)
        ids = self._encode_prompt(prompt)
        text = Detokenizer(self.tokenizer, lead=ids[-1:] if prompt.strip() else [])
        return ids, settings, text, StopStrings(stop)

    def stream(
        self,
        prompt: str,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ):
        """Yield the new text piece by piece as tokens are produced. Ends before any `stop` string."""
        ids, settings, text, release = self.prepare(prompt, max_new_tokens, temperature, top_k, top_p, stop)
        rng = np.random.default_rng(seed)
        for token in itertools.islice(self._tokens(ids, settings, rng), max_new_tokens):
            piece = release.piece(text.add(token))
            if piece:
                yield piece
            if release.stopped:
                return
        if rest := release.rest(text.text):
            yield rest

    def _tokens(self, ids: list[int], settings, rng):
        """Sampled tokens, one at a time, for as long as they are asked for: the prompt is prefilled, then each
        compiled call decodes CHUNK tokens. Nothing is computed ahead of the token asked for but the rest of its
        chunk, so a stream that stops early draws no more noise than it used."""
        tokens = list(ids)
        token, _, state = self._begin(tokens, settings, rng)
        window = len(tokens)  # the position the next token is written to
        while True:
            yield token
            tokens.append(token)
            if needs_refill(window, self.context_length):
                # The window is full: start again from the most recent half, so positions stay in range.
                keep = tokens[-(self.context_length // 2) :]
                token, _, state = self._begin(keep, settings, rng)
                window = len(keep)
                continue
            chunk, state = self._decode(
                np.array([token], "int32"), state, np.int32(window), *settings, self._chunk_noise(rng)
            )
            window += CHUNK
            *ready, token = np.asarray(chunk).tolist()
            for t in ready:
                yield t
                tokens.append(t)

    def generate(self, prompt: str, **kwargs) -> str:
        return "".join(self.stream(prompt, **kwargs))

    def next_tokens(self, prompt: str, k: int = 10) -> list[tuple[str, float]]:
        """The k most likely next tokens after `prompt` with their probabilities."""
        ids = self._encode_prompt(prompt)
        _, logits, _ = self._begin(ids, self._settings(0.0, 0, 1.0), np.random.default_rng(0))
        logits = np.asarray(logits, dtype=np.float64)[0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top = np.argsort(-probs)[:k]
        return [(self.tokenizer.vocab[i], float(probs[i])) for i in top]


def main(argv=None) -> int:
    p = cli.parser("python -m lm.generate", __doc__)
    p.add_argument("--model", default="char-transformer", help="bundled name, model folder or Hub repo id")
    p.add_argument("--prompt", default="ROMEO:\n")
    p.add_argument("--max-new-tokens", type=int, default=300)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--json",
        action="store_true",
        help="after the text, end stdout with one JSON line (the text, its pieces and seconds)",
    )
    return cli.run(p, argv, _generate)


def _generate(args) -> dict | None:
    import lm

    model = lm.load(args.model)
    start = time.perf_counter()
    pieces = model.stream(args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.top_p, args.seed)
    first = next(pieces, "")  # the settings are checked here: a bad one is an error before anything is written
    sys.stdout.write(args.prompt)
    text = []
    for piece in itertools.chain([first] if first else [], pieces):
        sys.stdout.write(piece)
        sys.stdout.flush()
        text.append(piece)
    seconds = time.perf_counter() - start
    print(f"\n[{len(text)} pieces in {seconds:.2f} s]", file=sys.stderr)
    if not args.json:
        return None
    sys.stdout.write("\n")
    return {
        "model": args.model,
        "prompt": args.prompt,
        "text": "".join(text),
        "pieces": len(text),
        "seconds": round(seconds, 3),
    }


if __name__ == "__main__":
    sys.exit(main())
