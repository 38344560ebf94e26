"""The handlers behind the app: input validation, then calls into `lm`, `pretrain`, `classify`, `translate` and
`inside` (no tensor code here).

`Handlers(registry)` holds the models it serves (space.models.Registry, passed in: no module-global state). Its
methods `chat`, `generate`, `fill_mask`, `next_sentence`, `classify`, `translate`, `embed` and `attention` are
the public API endpoints; their
argument names are the API's parameter names. Every bad input raises gr.Error with a message naming the
problem; the server keeps serving afterwards. Validation is plain functions here; the chat framing
(`chat_prompt`, `end_of_speech`) is space/chat.py.
"""

import contextlib
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator

import gradio as gr

from inside import attention as inside_attention
from inside import cells as inside_cells
from inside import contexts as inside_contexts
from inside import kinds
from inside import reference as inside_reference
from inside import vectors as inside_vectors
from lm.engine import EngineError
from lm.generate import WordBoundary
from space.chat import chat_prompt, count_tokens, end_of_speech
from space.models import Registry

log = logging.getLogger("seqlab.space")

# Documented limits (README "Limits").
MAX_TEXT_CHARS = 2000  # message / prompt / fill-mask text / each sentence / text to classify
MAX_MASKS = 5  # [MASK] tokens per fill-mask request
MAX_NEW_TOKENS = 500  # max_new_tokens in 1..500
MAX_TEMPERATURE = 2.0  # temperature in 0..2 (0 = greedy)
MAX_FILL_TOP_K = 20  # fill-mask top_k in 1..20
MAX_SEED = 2**32 - 1  # seed in 0..2**32-1, or None for random
MAX_BEAM = 8  # translate beam in 1..8 (each power-of-two width compiles once)
MASK = "[MASK]"
# The Inside tab and its endpoints. Tokens count as the model reads the text (BERT's [CLS] and [SEP] included).
MAX_EMBED_TOKENS = 128  # /embed: tokens of the text
MAX_ATTENTION_TOKENS = 64  # /attention and the Attention view: tokens of the text (characters for a char LM)
# Numbers in one /embed or /attention answer, about 1 MB of JSON: a model with wider vectors or more attention maps
# than the bundled ones takes fewer tokens (the error says how many)
MAX_ANSWER_NUMBERS = 2**17
MAX_WORD_CHARS = 40  # Contexts: the word
MAX_SENTENCE_CHARS = 300  # Contexts: each sentence (2 to 6 of them: inside.contexts)
MAX_GATES_CHARS = 1000  # LSTM gates: the text
GATES_SHOWN = 60  # LSTM gates: characters in the gates heatmap (the coloured strip shows the whole text)
REFERENCE_PER_SENSE = None  # Contexts' reference set: every sentence of inside/data/senses.json (270)
NEAREST = 3  # Contexts: nearest reference words per occurrence


# ---------------------------------------------------------------- validation


def _error(message: str) -> gr.Error:
    """A refusal shown to the user: a message naming the problem, logged as one line (no traceback), so a
    traceback in the server log always means a bug."""
    log.info("refused: %s", message[:300])
    return gr.Error(message, print_exception=False)


def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise _error(f"{name} must be text (a string), got {type(value).__name__}")
    if not value.strip():
        raise _error(f"{name} is empty: type some text")
    if len(value) > MAX_TEXT_CHARS:
        raise _error(f"{name} is too long: {len(value):,} characters, the limit is {MAX_TEXT_CHARS:,}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate (JSON "\ud800"): no tokenizer can take it
        raise _error(
            f"{name} is not valid Unicode: a lone surrogate {value[e.start]!r} at character {e.start}"
        ) from None
    return value


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(f"{name} must be a number, got {type(value).__name__} {value!r}"[:200])
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(f"{name} must be a finite number, got {value}")
    return value  # a Python int is always finite (JSON may carry one far beyond a float's range)


def _shown(value) -> str:
    """A number for an error message; huge JSON integers (which `:g` cannot format) shortened."""
    if isinstance(value, int) and abs(value) >= 10**15:
        return (
            f"an integer of about 2^{value.bit_length()}"
            if value > 0
            else f"a negative integer of about 2^{value.bit_length()}"
        )
    return f"{value:g}"


def _int(value, name: str, low: int, high: int) -> int:
    value = _number(value, name)
    if isinstance(value, float) and value != int(value):
        raise _error(f"{name} must be a whole number, got {value}")
    if not low <= value <= high:
        raise _error(f"{name} must be between {low} and {high}, got {_shown(value)}")
    return int(value)


def _float(value, name: str, low: float, high: float, low_open: bool = False) -> float:
    value = _number(value, name)
    if isinstance(value, int) and abs(value) > 10**300:
        raise _error(f"{name} must be in {'(' if low_open else '['}{low:g}, {high:g}], got {_shown(value)}")
    value = float(value)
    if value > high or value < low or (low_open and value == low):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise _error(f"{name} must be in {interval}, got {value:g}")
    return value


def _seed(value) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _int(value, "seed", 0, MAX_SEED)


def _ui_seed(value) -> int | None:
    """A seed typed in the UI (a textbox: empty = random) or given as a number."""
    if isinstance(value, str) and value.strip():
        if not re.fullmatch(r"\s*\d+\s*", value):
            raise _error(f"seed must be a whole number from 0 to {MAX_SEED} (or empty for random), got {value[:40]!r}")
        value = int(value)
    return _seed(value)


def _sampling(m, max_new_tokens, temperature, top_k, top_p) -> dict:
    vocab = int(m.config.vocab_size)
    return dict(
        max_new_tokens=_int(max_new_tokens, "max_new_tokens", 1, MAX_NEW_TOKENS),
        temperature=_float(temperature, "temperature", 0.0, MAX_TEMPERATURE),
        top_k=_int(top_k, "top_k", 0, vocab),
        top_p=_float(top_p, "top_p", 0.0, 1.0, low_open=True),
    )


@contextlib.contextmanager
def _stopped_log(what: str, counter: list):
    """Log when a client stops a generation (Stop button, job.cancel()): the generator is closed mid-way."""
    try:
        yield
    except GeneratorExit:
        log.info("%s stopped by the client after %d tokens", what, counter[0])
        raise


@contextlib.contextmanager
def _model_errors():
    """The models raise ValueError with a clear message for arguments they refuse, and the LM engines
    EngineError (busy, a failed step): show it to the user."""
    try:
        yield
    except (ValueError, EngineError) as e:
        raise _error(str(e)) from None


SILENCE = "…"  # the reply when the model ends its speech before saying anything


def _boundary(m) -> WordBoundary:
    """How a model's streamed text is held back to its last word (a word-level model's tokens are words)."""
    return WordBoundary(whole_words=getattr(getattr(m, "tokenizer", None), "level", "char") == "word")


def _stream_reply(m, streamer, prompt: str, seed, **sampling) -> Iterator[str]:
    """The reply so far, up to its last whole word while it grows; at the end of the speech all of it, or, when
    the token limit came first, up to its last word boundary and lm.generate.CUT (the limit is still honoured:
    the rest is never generated)."""
    reply, count, boundary = "", [0], _boundary(m)
    with (
        _stopped_log("chat", count),
        _model_errors(),
        contextlib.closing(streamer.stream(prompt, seed=seed, **sampling)) as pieces,
    ):
        for piece in pieces:
            reply += piece
            count[0] += 1
            text, ended = end_of_speech(reply.lstrip())
            if ended:
                yield text.rstrip() or SILENCE
                return
            yield boundary.shown(text)
    # out of tokens: a speaker line just begun at the very end is not part of the speech
    text, ended = end_of_speech(reply.lstrip() + "\n")
    if ended or not text.strip():
        yield text.rstrip() or SILENCE
    else:
        yield boundary.end(text, cut=True)


TOKEN_NAMES = {"\n": "newline", "\r\n": "newline", " ": "space", "\t": "tab", "\n\n": "blank line", "": "nothing"}


def show_token(token: str) -> str:
    """A token made readable in a label: a whitespace token by its plain name ("newline"; a lone ⏎ is a
    riddle as a chart's heading), whitespace inside a longer one as symbols."""
    if token in TOKEN_NAMES:
        return TOKEN_NAMES[token]
    return token.replace("\n", "⏎").replace("\t", "⇥").replace(" ", "␣")


_reference: list = []  # the process's one reference set (fixed data; its vectors are cached per model)
_reference_lock = threading.Lock()


def reference():
    """The Contexts view's reference sentences (inside.reference.Reference, every sentence of the sense set), read
    once per process; None without the data set."""
    with _reference_lock:
        if not _reference and os.path.exists(inside_reference.SENSES):
            _reference.append(inside_reference.Reference.senses(per_sense=REFERENCE_PER_SENSE))
        return _reference[0] if _reference else None


def warm_reference(registry: Registry, stored: bool = True) -> None:
    """Make the Contexts view ready for every ELMo and BERT of `registry`: read now the reference set's vectors
    stored in their folders (inside.stored: a fraction of a second, with the shipped examples' vectors, so a
    Compare of an example runs no model), and first of the deferred warm-ups (Registry.warm_first, so before
    registry.start_background), compile each model's batched path on two short sentences and embed the set for a
    model without stored vectors (batched: seconds). `stored=False` reads none (bench.sense_match's peer run)."""
    ref = reference()
    models = [*registry.encoders.values(), *registry.berts.values()]
    if ref is None or not models:
        return
    read = ref.load(models) if stored else []
    rest = [m for m in models if all(m is not r for r in read)]
    if rest:
        log.info("no stored reference vectors for %s: embedded after start-up", ", ".join(m.name for m in rest))

    def warm():
        reps = inside_contexts.representations(registry.encoders, registry.berts)
        inside_contexts.compare("bank", ["The bank lent us money.", "We sat on the bank."], reps)
        ref.warm(rest)

    registry.warm_first("Contexts", warm)


class Handlers:
    """Every request handler of the app, over the models of one Registry (given, never looked up).

    The public API endpoints are `chat`, `generate`, `fill_mask`, `next_sentence`, `classify`, `translate`,
    `embed` and `attention` (space.ui.API); `chat_turn`, `next_token_candidates`, `compare`, `translation`,
    `attention_maps`, `contexts`, `nearest` and `gates` serve the UI's own (private) events.
    """

    def __init__(self, registry: Registry, live=None):
        self.registry = registry
        self.live = live  # a live.store.Store: models the Train tab made, taken by their live names

    # ------------------------------------------------------------ the models a request names

    def _lm(self, model):
        registry = self.registry
        if model is None or (isinstance(model, str) and not model.strip()):
            model = registry.default_lm
        if not isinstance(model, str):
            raise _error(f"model must be a model name (a string), got {type(model).__name__}")
        if self.live is not None and self.live.has(model):
            return self._live(model, "lm", "a language model")
        name = registry.find_lm(model)
        if name is None:
            raise _error(f"model {model[:100]!r} is not loaded; choose one of: {', '.join(registry.lms)}")
        return registry.lms[name]

    @contextlib.contextmanager
    def _running(self):
        """Around a model call that may compile a path of its own (a BERT, a translator, an Inside view): it waits
        for the warm-up running now, not for all of them, and the next one waits for it (Registry.compiling);
        the models' refusals become the user's error."""
        with self.registry.compiling(), _model_errors():
            yield

    def _bert(self, model):
        registry = self.registry
        if self.live is not None and self.live.has(model):
            return self._live(model, "bert", "a BERT")
        if not registry.berts:
            raise _error("no BERT model is loaded on this server (see the About tab)")
        if model is None or (isinstance(model, str) and not model.strip()):
            return registry.bert
        if not isinstance(model, str):
            raise _error(f"model must be a model name (a string), got {type(model).__name__}")
        if model not in registry.berts:
            raise _error(f"model {model[:100]!r} is not loaded; choose one of: {', '.join(registry.berts)}")
        return registry.berts[model]

    def _live(self, name: str, kind: str | None = None, what: str = ""):
        """A live model (live.store), of `kind` unless None; an expired name, or one of another kind, is refused
        by name."""
        from live import Expired

        try:
            if kind is not None and self.live.kind(name) != kind:
                raise _error(f"model {name!r} is a live {self.live.kind(name)} model, not {what}")
            return self.live.load(name)
        except Expired as e:
            raise _error(str(e)) from None

    def _translator(self, model):
        registry = self.registry
        if not registry.translators:
            raise _error("no translator is loaded on this server (see the About tab)")
        if model is None or (isinstance(model, str) and not model.strip()):
            model = registry.default_translator
        if not isinstance(model, str):
            raise _error(f"model must be a translator name (a string), got {type(model).__name__}")
        if model not in registry.translators:
            raise _error(
                f"model {model[:100]!r} is not a loaded translator; choose one of: {', '.join(registry.translators)}"
            )
        return registry.translators[model]

    def _classifier(self):
        if self.registry.classifier is None:
            raise _error("no classifier is loaded on this server (see the About tab)")
        return self.registry.classifier

    # ------------------------------------------------------------ chat

    def chat(
        self,
        message: str,
        model: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
    ) -> Iterator[str]:
        """Reply to one message as the next speaker in a play; streams the cumulative reply text.

        The message is framed as ROMEO's speech and the model answers as JULIET, ending at the end of the speech
        (a blank line or the next `NAME:` line) or after max_new_tokens tokens. `model` defaults to the first loaded LM.
        """
        yield from self.chat_turn(message, [], model, max_new_tokens, temperature, top_k, top_p, None)

    def chat_turn(
        self,
        message: str,
        history: list,
        model: str | None,
        max_new_tokens: int,
        temperature: float,
        top_k: int,
        top_p: float,
        seed: int | str | None = None,
    ) -> Iterator[str]:
        """The Chat tab's function (gr.ChatInterface): like `chat`, with the conversation so far and a seed."""
        message = _text(message, "message")
        m = self._lm(model)
        sampling = _sampling(m, max_new_tokens, temperature, top_k, top_p)
        seed = _ui_seed(seed)
        prompt = chat_prompt(m, message, history, sampling["max_new_tokens"])
        yield ""  # the reply bubble appears at once
        yield from _stream_reply(m, self.registry.streamer(m), prompt, seed, **sampling)

    # ------------------------------------------------------------ generate

    def generate(
        self,
        prompt: str,
        model: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Continue `prompt` with a language model; streams the new text so far (not the prompt) up to its last
        whole word. The last text ends at a word or line boundary and with " …": max_new_tokens cut it there.

        temperature 0 is greedy; top_k 0 and top_p 1 turn those filters off; the same seed gives the same text.
        `predict()` returns the whole continuation; `submit()` shows it grow token by token and can be cancelled.
        """
        prompt = _text(prompt, "prompt")
        m = self._lm(model)
        sampling = _sampling(m, max_new_tokens, temperature, top_k, top_p)
        seed = _seed(seed)
        text, count, boundary = "", [0], _boundary(m)
        with (
            _stopped_log("generate", count),
            _model_errors(),
            contextlib.closing(self.registry.streamer(m).stream(prompt, seed=seed, **sampling)) as pieces,
        ):
            for piece in pieces:
                text += piece
                count[0] += 1
                yield boundary.shown(text)
        # with no stop string a generation always runs to max_new_tokens: it ends at its last word, marked cut
        yield boundary.end(text, cut=True) if text else text

    def next_token_candidates(self, prompt: str, model: str | None, k: int = 10) -> dict[str, float]:
        """The k most likely next tokens after `prompt`, as {token: probability} (whitespace made visible)."""
        prompt = _text(prompt, "prompt")
        m = self._lm(model)
        k = _int(k, "k", 1, 50)
        with _model_errors():
            return {show_token(t): float(p) for t, p in m.next_tokens(prompt, k=k)}

    def compare(
        self,
        prompt: str,
        model_a: str,
        model_b: str,
        max_new_tokens: int,
        temperature: float,
        top_k: int,
        top_p: float,
        seed: int | str | None,
    ) -> Iterator[tuple[str, str, str, str]]:
        """Generate from two models on the same prompt and seed, interleaved token by token.

        Yields (text_a, speed_a, text_b, speed_b); speed counts only the time spent inside each model.
        """
        prompt = _text(prompt, "prompt")
        seed = _ui_seed(seed)
        runs = []
        for name in (model_a, model_b):
            m = self._lm(name)
            sampling = _sampling(m, max_new_tokens, temperature, top_k, top_p)
            runs.append(
                {
                    "stream": self.registry.streamer(m).stream(prompt, seed=seed, **sampling),
                    "model": m,
                    "boundary": _boundary(m),
                    "text": "",
                    "shown": "",
                    "tokens": 0,
                    "seconds": 0.0,
                    "done": False,
                }
            )

        def speed(run) -> str:
            if not run["tokens"]:
                return "…"
            rate = run["tokens"] / run["seconds"] if run["seconds"] else 0.0
            return f"{run['tokens']} tokens in {run['seconds']:.2f} s: **{rate:,.0f} tokens/s**"

        count = [0]
        with _stopped_log("compare", count), _model_errors(), contextlib.ExitStack() as stack:
            for run in runs:
                stack.enter_context(contextlib.closing(run["stream"]))
            while not all(run["done"] for run in runs):
                for run in runs:
                    if run["done"]:
                        continue
                    start = time.perf_counter()
                    try:
                        piece = next(run["stream"])
                    except StopIteration:
                        run["done"] = True
                        run["shown"] = run["boundary"].end(run["text"], cut=True) if run["text"] else ""
                        continue
                    finally:
                        run["seconds"] += time.perf_counter() - start
                    run["text"] += piece
                    run["shown"] = run["boundary"].shown(run["text"])
                    # a piece is one token from a model, up to a few from an engine: count the text's own tokens
                    run["tokens"] = count_tokens(run["model"], run["text"])
                    count[0] += 1
                yield runs[0]["shown"], speed(runs[0]), runs[1]["shown"], speed(runs[1])

    # ------------------------------------------------------------ BERT

    def fill_mask(
        self, text: str, top_k: int = 5, model: str | None = None
    ) -> dict[str, float] | list[dict[str, float]]:
        """Fill each [MASK] in `text` (1 to 5 of them) with BERT's top_k (1 to 20) guesses; `model` is a loaded
        BERT's name (default: the first, the modern-English one).

        Returns {token: probability} for one mask; for several, a list of such mappings, one per mask in order.
        """
        text = _text(text, "text")
        count = text.count(MASK)
        if count == 0:
            raise _error(f"text has no {MASK} token: put {MASK} where a word should be guessed")
        if count > MAX_MASKS:
            raise _error(f"text has {count} {MASK} tokens; at most {MAX_MASKS} are allowed")
        top_k = _int(top_k, "top_k", 1, MAX_FILL_TOP_K)
        bert = self._bert(model)
        with self._running():
            guesses = bert.fill_mask(text, top_k=top_k)
        mappings = [{str(token): float(p) for token, p in per_mask} for per_mask in guesses]
        return mappings[0] if len(mappings) == 1 else mappings

    def next_sentence(self, sentence_a: str, sentence_b: str, model: str | None = None) -> dict[str, float]:
        """BERT's next-sentence prediction: how likely sentence_b follows sentence_a; `model` is a loaded BERT's
        name (default: the first, the modern-English one).

        Returns {"IsNext": p, "NotNext": 1 - p}.
        """
        sentence_a = _text(sentence_a, "sentence_a")
        sentence_b = _text(sentence_b, "sentence_b")
        bert = self._bert(model)
        with self._running():
            p = float(bert.next_sentence(sentence_a, sentence_b))
        return {"IsNext": p, "NotNext": 1.0 - p}

    # ------------------------------------------------------------ translation

    def translation(self, text: str, model: str | None = None, beam: int = 4):
        """The translator's whole answer (text, tokens, attention, score): what the Translate tab draws."""
        text = _text(text, "text")
        beam = _int(beam, "beam", 1, MAX_BEAM)
        translator = self._translator(model)
        with self._running():
            return translator.translate_text(text, beam=beam)

    def translate(self, text: str, model: str | None = None, beam: int = 4) -> str:
        """Translate English `text` into Spanish with a loaded translator (default: the Transformer), by beam search
        of width `beam` (1 to 8; 1 = greedy). A text longer than the translator's limit (64 subwords for the
        bundled ones) is cut at sentence ends (then ; and :, then commas) into runs that fit. Returns the
        translation."""
        return self.translation(text, model, beam).text

    # ------------------------------------------------------------ classifier

    def classify(self, text: str) -> dict[str, float]:
        """Sentiment of `text` by the loaded classifier: {"positive": p, "negative": 1 - p}.

        (A classifier with other labels answers {label: probability} for its own labels.)
        """
        text = _text(text, "text")
        clf = self._classifier()
        with _model_errors():
            probs = {str(label): float(p) for label, p in clf.predict(text).items()}
        if set(probs) == {"positive", "negative"}:
            p = min(1.0, max(0.0, probs["positive"]))
            return {"positive": p, "negative": 1.0 - p}
        return probs

    # ------------------------------------------------------------ inside the models (the Inside tab)

    def inside_models(self, wanted: tuple[str, ...]) -> dict:
        """Loaded models of the inside.kinds in `wanted`, by name: ELMo, then the LMs, then the BERTs."""
        registry, found = self.registry, {}
        for name, m in [*registry.encoders.items(), *registry.lms.items(), *registry.berts.items()]:
            try:
                if kinds.kind(m) in wanted:
                    found.setdefault(name, m)
            except ValueError:  # a model the Inside views do not know
                continue
        return found

    def inside_model(self, model: str, wanted: tuple[str, ...]):
        """The model that `model` names (loaded, or a live name of the Train tab's) if it is of a `wanted` kind."""
        return self._inside_model(model, wanted, "a model of this view", "this view")[1]

    def _inside_model(self, model, wanted: tuple[str, ...], what: str, where: str):
        """(name, model) that `model` names among the loaded models of `wanted` kinds (default: the first), or
        among the Train tab's live models by their live names."""
        if self.live is not None and isinstance(model, str) and self.live.has(model):
            m = self._live(model)
            if kinds.kind(m) not in wanted:
                raise _error(f"model {model!r} is a live {kinds.DESCRIPTION.get(kinds.kind(m))}: {where} takes {what}")
            return model, m
        found = self.inside_models(wanted)
        if not found:
            none = re.sub(r"\ban? ", "", what)  # "an ELMo or a BERT" -> "ELMo or BERT"
            raise _error(f"no {none} is loaded on this server (see the About tab)")
        if model is None or (isinstance(model, str) and not model.strip()):
            return next(iter(found.items()))
        if not isinstance(model, str):
            raise _error(f"model must be a model name (a string), got {type(model).__name__}")
        registry = self.registry
        name = model if model in found else registry.find_lm(model)
        if name in found:
            return name, found[name]
        other = registry.encoders.get(model) or registry.berts.get(model)
        if other is None and registry.find_lm(model):
            other = registry.lms[registry.find_lm(model)]
        choices = ", ".join(found)
        if other is not None:
            raise _error(
                f"model {model[:100]!r} is {kinds.DESCRIPTION.get(kinds.kind(other), 'another kind of model')}: "
                f"{where} takes {what}; choose one of: {choices}"
            )
        raise _error(f"model {model[:100]!r} is not loaded; choose one of: {choices}")

    def _fits(self, name: str, m, text: str, limit: int, where: str) -> None:
        """Refuse a text of more tokens than `limit` (or than the model reads), naming the count and the limit."""
        kind = kinds.kind(m)
        most = m.config.max_positions if kind == kinds.BERT else m.config.seq_len if kind == kinds.TRANSFORMER else None
        limit = min(limit, most) if most else limit
        count = len(kinds.tokens(m, text))
        if count > limit:
            raise _error(f"text is {count} tokens for {name}; {where} takes at most {limit}: shorten the text")

    def _layer(self, name: str, m, layer) -> int:
        top = kinds.layers(m)
        last = "ELMo's mix" if kinds.kind(m) == kinds.ELMO else "the last layer"
        value = _number(layer, "layer")
        if isinstance(value, float) and value != int(value):
            raise _error(f"layer must be a whole number, got {value}")
        if not -1 <= value <= top:
            raise _error(
                f"layer must be between -1 ({last}) and {top} for {name} (0 is context-free), got {_shown(value)}"
            )
        return int(value)

    def embed(self, text: str, model: str | None = None, layer: int = -1) -> dict:
        """One vector per token of `text` from a loaded ELMo or BERT (`model`, default: the first ELMo, else the
        first BERT) at `layer`: 0 the context-free layer (the same word has the same vector in every sentence),
        -1 ELMo's scalar mix of its layers (weighted for telling senses apart) or BERT's last layer, 1.. the layers
        between.

        Returns {"tokens": [...], "vectors": [[...], ...]}, one vector per token (BERT's include [CLS] and [SEP]);
        at most 128 tokens.
        """
        text = _text(text, "text")
        name, m = self._inside_model(model, (kinds.ELMO, kinds.BERT), "an ELMo or a BERT", "/embed")
        layer = self._layer(name, m, layer)
        self._fits(name, m, text, min(MAX_EMBED_TOKENS, MAX_ANSWER_NUMBERS // kinds.width(m)), "/embed")
        with self._running():
            return inside_vectors.embed(m, text, layer)

    def _attention_model(self, model):
        return self._inside_model(
            model, (kinds.TRANSFORMER, kinds.BERT), "a Transformer language model or a BERT", "/attention"
        )

    def attention_maps(self, text: str, model: str | None = None):
        """(name, inside.attention.Maps) for `text`: what the Attention view draws."""
        text = _text(text, "text")
        name, m = self._attention_model(model)
        maps = kinds.layers(m) * kinds.heads(m)
        self._fits(name, m, text, min(MAX_ATTENTION_TOKENS, math.isqrt(MAX_ANSWER_NUMBERS // maps)), "/attention")
        with self._running():
            return name, inside_attention.maps(m, text)

    def attention(self, text: str, model: str | None = None) -> dict:
        """Self-attention of a loaded Transformer LM or BERT (`model`, default: the first Transformer LM) over
        `text` (at most 64 tokens; BERT's text may hold [MASK]).

        Returns {"tokens": [...], "attention": [layers][heads][T][T]}: row i is what token i attends to, each row
        sums to 1; a language model's maps are causal (0 above the diagonal).
        """
        _, maps = self.attention_maps(text, model)
        return {"tokens": maps.tokens, "attention": inside_attention.attention_lists(maps)}

    def reference(self):
        """The Contexts view's reference sentences (inside.reference.Reference), or None without the data set."""
        return reference()

    def contexts(self, word: str, sentences) -> inside_contexts.Contexts:
        """`word` in each of 2 to 6 sentences (a list, or a text of one sentence per line, each may start with its
        "[sense]"): its similarity matrix (cosine centred on the reference set's mean) for the static layer, each
        ELMo's layers and fitted mix and each BERT's last layer, with the senses' separation (inside.contexts)."""
        word = _text(word, "word").strip()
        if len(word) > MAX_WORD_CHARS:
            raise _error(f"word is too long: {len(word)} characters, the limit is {MAX_WORD_CHARS}")
        if isinstance(sentences, str):
            sentences = _text(sentences, "sentences").splitlines()
        if not isinstance(sentences, list):
            raise _error(f"sentences must be text, one sentence per line, got {type(sentences).__name__}")
        sentences = [_text(s, f"sentence {i + 1}").strip() for i, s in enumerate(s for s in sentences if s.strip())]
        for i, sentence in enumerate(sentences):
            if len(sentence) > MAX_SENTENCE_CHARS:
                raise _error(
                    f"sentence {i + 1} is too long: {len(sentence):,} characters, the limit is {MAX_SENTENCE_CHARS}"
                )
        reps = inside_contexts.representations(self.registry.encoders, self.registry.berts)
        if not reps:
            raise _error("no ELMo or BERT is loaded on this server (see the About tab)")
        ref, plain = self.reference(), inside_contexts.split_labels(sentences)[0]
        stored = ref is not None and all(ref.is_stored(r.model, plain, (r.layer,)) for r in reps)
        # the models run (and may compile) unless every vector is stored: not beside a warm-up
        with _model_errors() if stored else self._running():
            if ref is not None and not stored:  # a model without stored vectors embeds the set here, once
                ref.warm(list({id(r.model): r.model for r in reps}.values()))
            return inside_contexts.compare(word, sentences, reps, ref)

    def nearest(self, contexts: inside_contexts.Contexts, k: int = NEAREST) -> list[list[str]]:
        """Rows [sentence, representation, nearest reference words (cosine)] per occurrence and representation."""
        ref = self.reference()
        if ref is None:
            return []
        rows = []
        for i in range(len(contexts.sentences)):
            for rep in contexts.representations:
                found = ref.nearest(rep.model, rep.layer, rep.vectors[i], k)
                rows.append([str(i + 1), rep.label, " · ".join(f"{n.label} {n.similarity:.2f}" for n in found)])
        return rows

    def gates(self, text: str, model: str | None = None) -> inside_cells.GateView:
        """A character-level LSTM LM's gates over `text` and the cells that track its layout (inside.cells)."""
        text = _text(text, "text")
        if len(text) > MAX_GATES_CHARS:
            raise _error(f"text is too long: {len(text):,} characters, the limit here is {MAX_GATES_CHARS:,}")
        _, m = self._inside_model(model, (kinds.LSTM,), "an LSTM language model", "the LSTM gates view")
        with self._running():
            return inside_cells.gate_view(m, text)
