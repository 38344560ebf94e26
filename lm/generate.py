"""Generation: a loaded language model that streams text token by token, and `python -m lm.generate`."""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras import ops  # noqa: E402

from lm.model import LMConfig, build  # noqa: E402
from lm.sampling import jit, sample  # noqa: E402
from lm.tokenizer import Tokenizer  # noqa: E402


CHUNK = 16  # tokens per compiled decoding call; each is still streamed as its own piece


class LanguageModel:
    """A trained model folder: config, weights, tokenizer and card. Generates one prompt at a time (batch 1)."""

    def __init__(self, folder: str, name: str | None = None):
        from lm.checkpoint import load_weights

        self.folder = self.card_dir = folder
        self.name = name or os.path.basename(os.path.normpath(folder))
        self.config = LMConfig.load(folder)
        self.tokenizer = Tokenizer.load(folder)
        self.model = build(self.config)
        load_weights(self.model, os.path.join(folder, "model.weights.h5"))
        card = os.path.join(folder, "README.md")
        self.card = open(card, encoding="utf-8").read() if os.path.exists(card) else f"# {self.name}\n"
        self.context_length = self.config.seq_len
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

    def warm_up(self) -> "LanguageModel":
        """Compile both functions now so the first real request is as fast as the hundredth."""
        for _ in self.stream("a", max_new_tokens=2, temperature=0):
            pass
        return self

    def _encode_prompt(self, prompt: str) -> list[int]:
        ids = self.tokenizer.encode(prompt)
        if not ids:
            ids = self.tokenizer.encode("\n") or [0]
        return ids[-(self.context_length - 1):]  # a long prompt keeps its end

    def _settings(self, temperature, top_k, top_p):
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if int(top_k) < 0:
            raise ValueError(f"top_k must be >= 0 (0 turns it off), got {top_k}")
        if not np.isfinite(top_p) or not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        return np.float32(temperature), np.int32(top_k), np.float32(top_p)

    def _begin(self, ids, settings, rng):
        padded = np.zeros((1, self.context_length), "int32")
        padded[0, :len(ids)] = ids
        token, logits, state = self._prefill(padded, np.int32(len(ids)), *settings, self._noise(rng))
        return int(np.asarray(token)[0]), logits, state

    def _noise(self, rng):
        return rng.random((1, self.config.vocab_size), dtype=np.float32)

    def stream(self, prompt: str, max_new_tokens: int = 200, temperature: float = 0.8, top_k: int = 0,
               top_p: float = 1.0, seed: int | None = None, stop: list[str] | None = None):
        """Yield the new text piece by piece as tokens are produced. Ends before any `stop` string."""
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        settings = self._settings(temperature, top_k, top_p)
        rng = np.random.default_rng(seed)
        ids = self._encode_prompt(prompt)
        if max_new_tokens == 0:
            return
        token, _, state = self._begin(ids, settings, rng)
        generated, shown, pending = [], "", []
        window = len(ids)
        # decoded after the prompt's last token, so a word-level model puts the space between them that the
        # prompt plus the output needs ("God" + " created", not "God" + "created")
        lead = ids[-1:] if prompt.strip() else []
        skip = len(self.tokenizer.decode(lead))
        for n in range(max_new_tokens):
            generated.append(token)
            text = self.tokenizer.decode(lead + generated)[skip:]
            if stop:
                hits = [text.find(s) for s in stop if s and text.find(s) >= 0]
                if hits:
                    if min(hits) > len(shown):
                        yield text[len(shown):min(hits)]
                    return
                # hold back a tail that could still become a stop string
                hold = max((len(s) - 1 for s in stop), default=0)
                ready = text[:max(len(shown), len(text) - hold)]
            else:
                ready = text
            if len(ready) > len(shown):
                yield ready[len(shown):]
                shown = ready
            if n == max_new_tokens - 1:
                break
            if not pending:
                if window + CHUNK > self.context_length:
                    # The window is full: start again from the most recent half, so positions stay in range.
                    keep = (ids + generated)[-(self.context_length // 2):]
                    token, _, state = self._begin(keep, settings, rng)
                    window = len(keep)
                    continue
                noise = rng.random((CHUNK, 1, self.config.vocab_size), dtype=np.float32)
                chunk, state = self._decode(np.array([token], "int32"), state, np.int32(window), *settings, noise)
                pending = np.asarray(chunk).tolist()
                window += CHUNK
            token = pending.pop(0)
        if stop and len(text) > len(shown):
            yield text[len(shown):]

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
    p = argparse.ArgumentParser(prog="python -m lm.generate", description="Stream text from a language model.")
    p.add_argument("--model", default="char-transformer", help="bundled name, model folder or Hub repo id")
    p.add_argument("--prompt", default="ROMEO:\n")
    p.add_argument("--max-new-tokens", type=int, default=300)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    import lm

    try:
        model = lm.load(args.model)
        sys.stdout.write(args.prompt)
        start, count = time.perf_counter(), 0
        for piece in model.stream(args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.top_p,
                                  args.seed):
            sys.stdout.write(piece)
            sys.stdout.flush()
            count += 1
    except (ValueError, OSError) as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    print(f"\n[{count} pieces in {time.perf_counter() - start:.2f} s]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
