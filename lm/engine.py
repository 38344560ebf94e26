"""Continuous batching: one decoding engine per language model, so many visitors stream at once.

    import lm
    from lm.engine import Engine, EngineConfig

    engine = Engine(lm.load("char-transformer"), EngineConfig(slots=16))
    for piece in engine.stream("ROMEO:\\n", max_new_tokens=100, seed=1):
        print(piece, end="")
    engine.close()

Iteration-level batching (Orca; vLLM, Hugging Face TGI and llama.cpp's server slots do the same): the engine owns
up to `slots` rows of model state (the Transformer's KV cache [layers, rows, H, L, hd], the LSTM's (h, c) per
layer) and one background thread. Each call of its compiled step decodes `steps` tokens for every row at once; a
new request is prefilled, written into a free row and joins at the next call boundary (requests that arrive
together into the widest batch are prefilled in one batched call; one alone, or a long prompt, by the
LanguageModel's own batch-1 prefill); a finished, stopped or cancelled row is freed at the next boundary. The
batch is 1, 4, 16, ... or `slots` rows wide, the smallest that holds the active rows, because a step costs in
proportion to its rows: one visitor alone decodes as fast as the single stream. Each width compiles once, when
the engine is built; nothing retraces later. Nobody waits for a long request to finish: every active row advances
at every step, and the waiting line is first come, first served.

The same seed gives the same tokens as `LanguageModel.stream` (which scripts keep using): each row draws its
noise from its own generator in the same order, refills its context window at the same tokens
(`lm.generate.needs_refill`, checked every CHUNK tokens), and samples with its own settings. Only the pieces
differ: a piece is the text of every token that arrived together (up to `steps` of them), so a server sends
one update per step instead of one per token.

A row decodes at most `ahead` calls of tokens before its reader has taken them; then it pauses (it keeps its
state and its noise generator, so the text is unchanged) until the reader catches up. Without this backpressure a
tiny model would finish a 500-token request before a visitor's Stop button reached it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading

import keras
import numpy as np
from keras import ops

from core.config import check
from core.jit import jit
from lm.generate import CHUNK, LanguageModel, needs_refill
from lm.sampling import sample

log = logging.getLogger("seqlab.engine")
TOGETHER_BUCKET = 64  # prompts of up to this many tokens join in one batched prefill (see Engine._build)


class EngineError(RuntimeError):
    """A request the engine could not serve; the message says why (shown to the visitor as it is)."""


class Busy(EngineError):
    """Every slot is decoding and the waiting line is full."""


@dataclasses.dataclass
class EngineConfig:
    slots: int = 16  # rows decoded together (bench/lm_step.py measured the cost per batch size)
    waiting: int = 16  # requests that may wait for a free row; beyond that: Busy at once
    steps: int = 8  # tokens per compiled call: fewer Python round trips, at most this many tokens per piece
    ahead: int = 4  # calls of tokens a row may decode before its reader takes them; then it pauses

    def validate(self) -> EngineConfig:
        check(
            [
                (self.slots >= 1, f"slots must be at least 1, got {self.slots}"),
                (self.waiting >= 0, f"waiting must be at least 0, got {self.waiting}"),
                (self.ahead >= 1, f"ahead must be at least 1, got {self.ahead}"),
                (
                    self.steps >= 1 and CHUNK % self.steps == 0,
                    f"steps must divide {CHUNK} (refills fall where the single stream's do), got {self.steps}",
                ),
            ]
        )
        return self


def _idle_settings(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temperature, top-k and top-p, one per row, as an idle row has them (greedy, no filtering)."""
    return np.zeros(width, "float32"), np.zeros(width, "int32"), np.ones(width, "float32")


_DONE = object()  # the last item a request's queue gets when it ends normally


class _Request:
    """One stream: its settings and noise, its place in the context window, and the queue its tokens go to."""

    def __init__(self, ids: list[int], settings, rng, max_new_tokens: int):
        self.tokens = list(ids)  # the prompt, then every token generated (what a refill keeps the end of)
        self.settings, self.rng, self.left = settings, rng, max_new_tokens
        self.out = collections.deque()  # lists of tokens, then _DONE or an EngineError
        self.ready = threading.Event()
        self.cancelled = False
        self.paused = False  # its reader is `ahead` calls behind: the step leaves the row as it is
        self.token = 0  # the next input token
        self.window = self.start = 0  # the position it is written to; where the window was last (re)filled

    def put(self, item) -> None:
        self.out.append(item)
        self.ready.set()


class Engine:
    """Many streams of one LanguageModel, decoded together. Thread-safe: call `stream` from any thread."""

    def __init__(self, model: LanguageModel, config: EngineConfig | None = None):
        self.model = model
        self.config = (config or EngineConfig()).validate()
        self.name = model.name
        self.stats = collections.Counter()  # calls, tokens, joins, refills, cancelled, busy, failed_steps
        self._rows: list[_Request | None] = []  # one per row of the batch (its width): a request or None
        self._waiting: collections.deque[_Request] = collections.deque()
        self._wake = threading.Condition()
        self._closed = False
        self._fail_next_step = None  # tests: an exception the next step raises (a real failure is rarely at hand)
        self._build()
        self._thread = threading.Thread(target=self._loop, name=f"engine-{self.name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ compiled pieces

    def _build(self) -> None:
        """Compile the batched step and the row insert for every width, and make the state from a real prefill."""
        model, steps = self.model.model, self.config.steps
        self._vocab = self.model.config.vocab_size
        # The Transformer's state is (keys, values), each [layers, batch, ...]; the LSTM's is ((h, c), ...) per
        # layer, each [batch, dim].
        self._batch_axis = axis = 1 if self.model.config.arch == "transformer" else 0
        # The batch is as wide as the smallest of 1, 4, 16, ... (up to `slots`) that holds the active rows: a
        # step costs in proportion to its rows (bench/lm_step.py), so one visitor alone decodes at batch 1. Powers
        # of four, not two: each width is a compile (about a second) in the app's start-up.
        self._widths = sorted({min(4**p, self.config.slots) for p in range(8)})

        lstm = self.model.config.arch != "transformer"

        def decode(token, state, index, temperature, top_k, top_p, uniform, live):
            """`steps` tokens for every row; index, settings and live (bool) one per row; uniform (steps, width, V).
            A row that is not live keeps its state: the LSTM's is selected back; the Transformer's cache only
            gets keys at its row's positions index..index+steps-1, which it has not reached (the causal mask hides
            them) and rewrites when it resumes there, so its cache needs no copy."""
            width, rows = ops.shape(token)[0], ops.arange(steps)
            before = state

            def body(i, carry):
                token, state, out = carry
                logits, state = model.step(token, state, index + i)
                token = sample(logits, temperature, top_k, top_p, ops.take(uniform, i, axis=0))
                return token, state, out + ops.cast(rows == i, "int32")[:, None] * token[None, :]

            _, state, out = ops.fori_loop(0, steps, body, (token, state, ops.zeros((steps, width), "int32")))
            if lstm:
                state = keras.tree.map_structure(lambda new, old: ops.where(live[:, None], new, old), state, before)
            return out, state

        def replace_rows(state, new, chosen):
            """`state` with the rows where `chosen` (bool, one per row) holds taken from `new` (a select: one
            compiled shape whichever rows; `new` may be batch 1, broadcast over the rows)."""

            def put(full, rows):
                shape = [1] * len(full.shape)
                shape[axis] = -1
                return ops.where(ops.reshape(chosen, shape), rows, full)

            return keras.tree.map_structure(put, state, new)

        def insert(state, row_state, row):
            """The state with row `row` replaced by a batch-1 state."""
            width = ops.shape(keras.tree.flatten(state)[0])[axis]
            return replace_rows(state, row_state, ops.arange(width) == row)

        def prefill_rows(tokens, lengths, temperature, top_k, top_p, uniform, state, chosen):
            """Prefill the `chosen` rows' prompts (padded to one bucket, lengths one per row) in one call, sample
            each one's first token and write their states into `state`; the other rows keep theirs."""
            logits, rows_state = model.prefill(tokens, lengths)
            token = sample(logits, temperature, top_k, top_p, uniform)
            return token, replace_rows(state, rows_state, chosen)

        self._decode, self._insert, self._prefill_rows = jit(decode), jit(insert), jit(prefill_rows)
        _, _, self._row_state = self.model._begin([0], self.model._settings(0.0, 0, 1.0), np.random.default_rng(0))
        # Requests that join together at the widest batch are prefilled in one call when their prompts fit one
        # bucket (chat prompts do): a burst of arrivals then costs one prefill instead of one each. Longer prompts
        # and narrower batches go one by one, so the engine's build compiles one prefill more, not one per
        # bucket and width (each is a compile of about a second, in the app's start-up).
        self._together = next((b for b in self.model.buckets if b >= TOGETHER_BUCKET), self.model.buckets[-1])
        self._state = None
        for width in reversed(self._widths):  # compile every width now, not on a visitor's request
            self._state = self._relayout([0], width)
            self._rows = [None] * width
            self._state = self._insert(self._state, self._row_state, np.int32(0))
            self._run_step()
            if width == self._widths[-1] > 1:
                warm = _Request([0], self.model._settings(0.0, 0, 1.0), np.random.default_rng(0), 1)
                self._prefill_together([(0, warm)])

    def _relayout(self, keep: list[int], width: int):
        """The state with rows `keep` first, in that order, `width` rows wide (the rest are idle rows)."""
        axis = self._batch_axis
        if self._state is None:
            return keras.tree.map_structure(lambda one: ops.repeat(one, width, axis=axis), self._row_state)
        order = np.array(keep + [keep[0] if keep else 0] * (width - len(keep)), "int32")
        return keras.tree.map_structure(lambda full: ops.take(full, order, axis=axis), self._state)

    def _fit(self) -> None:
        """Resize the batch to the active rows: wider when the joining requests need rows, narrower (active rows
        moved to the front) when at most a quarter of the rows are busy. Between steps only; it copies the
        state, which is rare next to the steps themselves."""
        active = [row for row, r in enumerate(self._rows) if r is not None]
        need = len(active) + min(len(self._waiting), self.config.slots - len(active))
        width = next(w for w in self._widths if w >= max(need, 1))
        current = len(self._rows)
        if width > current or (width < current and need <= current // 4):
            order = active if width < current else list(range(current))
            self._state = self._relayout(order, width)
            self._rows = [self._rows[row] for row in order] + [None] * (width - len(order))
            self.stats["resizes"] += 1

    # ------------------------------------------------------------ the public side

    @property
    def active(self) -> int:
        return sum(r is not None for r in self._rows)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

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
        """Like LanguageModel.stream (same arguments, same text for the same seed), decoded in a shared batch.
        Raises Busy when every slot and the waiting line are taken; closing the generator frees the row."""
        ids, settings, text, release = self.model.prepare(prompt, max_new_tokens, temperature, top_k, top_p, stop)
        if max_new_tokens == 0:
            return
        request = _Request(ids, settings, np.random.default_rng(seed), max_new_tokens)
        self._submit(request)
        try:
            while True:
                while not request.ready.wait(1.0):
                    if not self._thread.is_alive():  # a bug killed the loop: say so rather than hang
                        raise EngineError(f"the {self.name} engine stopped; please try again")
                request.ready.clear()
                while request.out:
                    item = request.out.popleft()
                    if request.paused and len(request.out) < self.config.ahead:
                        with self._wake:  # its row waits for this reader: it may decode again
                            self._wake.notify_all()
                    if item is _DONE:
                        if rest := release.rest(text.text):
                            yield rest
                        return
                    if isinstance(item, EngineError):
                        raise item
                    piece = ""
                    for token in item:
                        piece += release.piece(text.add(token))
                        if release.stopped:
                            break
                    if piece:
                        yield piece
                    if release.stopped:
                        return
        finally:
            self._cancel(request)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the background thread; requests still running or waiting get an EngineError."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ admission

    def _submit(self, request: _Request) -> None:
        with self._wake:
            if self._closed:
                raise EngineError(f"the {self.name} engine is closed")
            free = self.config.slots - self.active - len(self._waiting)
            if free <= 0 and len(self._waiting) >= self.config.waiting:
                self.stats["busy"] += 1
                raise Busy(
                    f"busy: {self.name} is answering {self.config.slots} requests and {len(self._waiting)} more "
                    "are waiting; try again in a moment"
                )
            self._waiting.append(request)
            self._wake.notify_all()

    def _cancel(self, request: _Request) -> None:
        """The consumer stopped (done, stop string, Stop button, closed client): free its row at the boundary."""
        with self._wake:
            if not request.cancelled and request.left > 0:
                self.stats["cancelled"] += 1
            request.cancelled = True
            if request in self._waiting:
                self._waiting.remove(request)
            self._wake.notify_all()

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while True:
            with self._wake:
                for row, r in enumerate(self._rows):
                    if r is not None and r.cancelled:
                        self._rows[row] = None
                while not self._closed and not self._waiting and not any(self._rows):
                    self._wake.wait()
                if self._closed:
                    break
                self._fit()
                joining = []
                for row, r in enumerate(self._rows):
                    if r is None and self._waiting:
                        joining.append((row, self._waiting.popleft()))
                        self._rows[row] = joining[-1][1]
            self._join_all(joining)
            if not any(self._rows):
                continue
            if self._pause():
                self._step()
                continue
            with self._wake:  # every reader is behind: sleep until one reads (stream notifies), joins or cancels
                joinable = self._waiting and self.active < self.config.slots
                if not self._closed and not joinable and not self._pause():
                    self._wake.wait(0.1)
        with self._wake:
            for r in [r for r in self._rows if r is not None] + list(self._waiting):
                r.put(EngineError(f"the {self.name} engine was closed while this request was running"))
            self._rows = [None] * len(self._rows)
            self._waiting.clear()

    def _fail(self, row: int, request: _Request, error: Exception, what: str) -> None:
        log.exception("%s failed for a %s request", what, self.name, exc_info=error)
        request.put(EngineError(f"{what} failed ({type(error).__name__}: {error}); please try again"))
        self._rows[row] = None

    def _join_all(self, joining: list[tuple[int, _Request]]) -> None:
        """Prefill the requests that join at this boundary: in one batched call those whose prompts fit the
        batched bucket, when there are several and the batch is at its widest; the rest one by one."""
        fits = [(row, r) for row, r in joining if len(r.tokens) <= self._together]
        together = fits if len(fits) > 1 and len(self._rows) == self._widths[-1] else []
        batched = {row for row, _ in together}
        for row, r in joining:
            if row not in batched:
                self._join(row, r)
        if together:
            try:
                first = self._prefill_together(together)
            except Exception as e:  # noqa: BLE001 - the requests get the error, the engine carries on
                for row, r in together:
                    self._fail(row, r, e, "the prefill")
                return
            self.stats["joined_together"] += len(together)
            for row, r in together:
                self._joined(row, r, int(first[row]))

    def _prefill_together(self, together: list[tuple[int, _Request]]) -> np.ndarray:
        """One prefill call for `together` (rows and their requests) at the batch's width: each row's first
        token (the others' are unused). Each request draws its first token's noise as LanguageModel._begin does."""
        width = len(self._rows)
        tokens, lengths = np.zeros((width, self._together), "int32"), np.ones(width, "int32")
        settings, uniform = _idle_settings(width), np.full((width, self._vocab), 0.5, "float32")
        chosen = np.zeros(width, bool)
        for row, r in together:
            tokens[row, : len(r.tokens)], lengths[row], chosen[row] = r.tokens, len(r.tokens), True
            for column, value in zip(settings, r.settings):
                column[row] = value
            uniform[row] = self.model._noise(r.rng)[0]
        first, self._state = self._prefill_rows(tokens, lengths, *settings, uniform, self._state, chosen)
        return np.asarray(first)

    def _join(self, row: int, request: _Request) -> None:
        """Prefill the request's window and write its state into `row` (also how a full window refills)."""
        try:
            token, _, row_state = self.model._begin(request.tokens, request.settings, request.rng)
            self._state = self._insert(self._state, row_state, np.int32(row))
        except Exception as e:  # noqa: BLE001 - the request gets the error, the engine carries on
            self._fail(row, request, e, "the prefill")
            return
        self._joined(row, request, token)

    def _joined(self, row: int, request: _Request, token: int) -> None:
        """The request's window is prefilled into `row`: its first token goes out, and it decodes from here."""
        request.window = request.start = len(request.tokens)
        self.stats["joins"] += 1
        self._deliver(row, request, [token])

    def _deliver(self, row: int, request: _Request, tokens: list[int]) -> None:
        tokens = tokens[: request.left]
        request.left -= len(tokens)
        request.tokens.extend(tokens)
        request.token = tokens[-1]
        self.stats["tokens"] += len(tokens)
        request.put(tokens)
        if request.left <= 0:
            request.put(_DONE)
            self._rows[row] = None
        elif (request.window - request.start) % CHUNK == 0 and needs_refill(request.window, self.model.context_length):
            # The single stream's rule at the single stream's tokens: start again from the most recent half.
            self.stats["refills"] += 1
            request.tokens = request.tokens[-(self.model.context_length // 2) :]
            self._join(row, request)

    def _run_step(self):
        slots, steps = len(self._rows), self.config.steps
        token = np.zeros(slots, "int32")
        index = np.zeros(slots, "int32")  # an idle row computes at position 0 of its own (unused) cache
        temperature, top_k, top_p = _idle_settings(slots)
        uniform = np.full((steps, slots, self._vocab), 0.5, "float32")
        live = np.zeros(slots, bool)
        for row, r in enumerate(self._rows):
            if r is not None:
                # a paused row keeps its place too: the Transformer's spare keys go where it has not been yet
                token[row], index[row] = r.token, r.window
                temperature[row], top_k[row], top_p[row] = r.settings
                if not r.paused:
                    live[row] = True
                    uniform[:, row] = r.rng.random((steps, 1, self._vocab), dtype=np.float32)[:, 0]
        out, self._state = self._decode(token, self._state, index, temperature, top_k, top_p, uniform, live)
        return np.asarray(out)

    def _pause(self) -> bool:
        """Mark the rows whose readers are `ahead` calls behind; True when some row can decode."""
        live = False
        for r in self._rows:
            if r is not None:
                paused = len(r.out) >= self.config.ahead
                self.stats["pauses"] += paused and not r.paused
                r.paused = paused
                live |= not paused
        return live

    def _step(self) -> None:
        try:
            if self._fail_next_step is not None:
                error, self._fail_next_step = self._fail_next_step, None
                raise error
            out = self._run_step()
        except Exception as e:  # noqa: BLE001 - the active requests get the error, the engine carries on
            self.stats["failed_steps"] += 1
            for row, r in enumerate(self._rows):
                if r is not None:
                    self._fail(row, r, e, "the decoding step")
            return
        self.stats["calls"] += 1
        for row, r in enumerate(self._rows):
            if r is not None and not r.cancelled and not r.paused:
                r.window += self.config.steps
                self._deliver(row, r, out[:, row].tolist())
