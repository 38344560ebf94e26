"""lm.engine: many streams decoded in one batch give exactly what each would alone, and the engine survives
cancellation, a failing step, a full waiting line and closing (issue 17). Real bundled models, real threads."""

import functools
import threading
import time

import gradio as gr
import pytest

import lm
from lm.engine import Busy, Engine, EngineConfig, EngineError
from space.handlers import Handlers
from space.models import Registry

# Different prompts, lengths and settings per row; the 250-character prompt refills its window mid-stream.
REQUESTS = [
    dict(prompt="ROMEO:\n", max_new_tokens=300, temperature=0.8, top_k=0, top_p=1.0, seed=1),
    dict(prompt="To be", max_new_tokens=37, temperature=0.0, top_k=0, top_p=1.0, seed=None),
    dict(prompt="a" * 250, max_new_tokens=120, temperature=1.0, top_k=5, top_p=0.9, seed=7),
    dict(prompt="JULIET:", max_new_tokens=90, temperature=0.7, top_k=0, top_p=0.8, seed=3, stop=["\n\n"]),
    dict(prompt="First Citizen:\n", max_new_tokens=64, temperature=1.2, top_k=20, top_p=1.0, seed=11),
]


@functools.cache
def bundled(name):
    """One load per model and process: each load compiles its own prefill and decoding loop."""
    return lm.load(name)


def both(fast: str | None) -> list:
    """Both bundled LMs, `fast`'s run in the fast selection and the other's in the slow one: each Engine compiles
    its step for every batch width it may use, seconds for each model."""
    return [pytest.param(n, marks=[] if n == fast else pytest.mark.slow) for n in ("char-transformer", "char-lstm")]


def wait_until(condition, what, timeout=60):
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.005)


def _alone(m, r):
    return "".join(m.stream(**r))


def _together(engine, requests, delays):
    """Each request in its own thread, started after its delay (so rows join at different steps)."""
    out = [None] * len(requests)

    def run(i):
        time.sleep(delays[i])
        out[i] = "".join(engine.stream(**requests[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@pytest.mark.parametrize("name", both(fast="char-transformer"))
def test_batched_decoding_gives_the_single_stream_text(name):
    model = bundled(name)
    want = [_alone(model, r) for r in REQUESTS]
    with Engine(model, EngineConfig(slots=4, waiting=8, steps=4)) as engine:
        got = _together(engine, REQUESTS, delays=[0.0, 0.01, 0.05, 0.1, 0.02])
        assert engine.stats["refills"] >= 1  # the long prompt's window was refilled inside the batch
        assert engine.stats["joins"] >= len(REQUESTS)
    assert got == want


@pytest.mark.parametrize("name", both(fast=None))  # both slow: the fast selection keeps its 3 minutes
def test_requests_that_join_together_are_prefilled_together_and_give_the_single_stream_text(name):
    """Four requests wait for rows that all free at one boundary: one batched prefill of prompts of different
    lengths and settings, and each text is still the one the model streams alone."""
    model = bundled(name)
    joining = [REQUESTS[0], REQUESTS[1], REQUESTS[3], REQUESTS[4]]
    want = [_alone(model, r) for r in joining]
    with Engine(model, EngineConfig(slots=4, waiting=8, steps=4)) as engine:
        holding = [engine.stream("ROMEO:\n", max_new_tokens=500, seed=i) for i in range(4)]
        for g in holding:
            next(g)  # four rows taken by readers that stop reading
        out = [None] * len(joining)
        threads = [
            threading.Thread(target=lambda i=i: out.__setitem__(i, "".join(engine.stream(**joining[i]))))
            for i in range(len(joining))
        ]
        for t in threads:
            t.start()
        wait_until(lambda: engine.waiting == len(joining), "four requests waiting")
        before = engine.stats["joined_together"]
        with engine._wake:  # the loop cannot look until every holding row is cancelled: they free at one boundary
            for g in holding:
                g.close()
        for t in threads:
            t.join(120)
        assert engine.stats["joined_together"] - before == len(joining)
    assert out == want


@pytest.mark.parametrize("name", both(fast="char-lstm"))
def test_a_cancelled_row_frees_its_slot_and_the_others_continue(name):
    model = bundled(name)
    keep = [REQUESTS[0], REQUESTS[2]]
    want = [_alone(model, r) for r in keep]
    with Engine(model, EngineConfig(slots=2, waiting=4)) as engine:
        out = [None, None]

        def run(i):
            out[i] = "".join(engine.stream(**keep[i]))

        stopped = engine.stream("ROMEO:\n", max_new_tokens=500, seed=5)
        next(stopped)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: engine.stats["joins"] >= 2, "a second join")  # one joined beside it, the other waits
        stopped.close()  # what the Stop button and a closed client do
        for t in threads:
            t.join(120)
        assert engine.stats["cancelled"] == 1
        assert engine.active == 0 and engine.waiting == 0
    assert out == want


@pytest.mark.parametrize("name", both(fast="char-lstm"))
def test_a_row_waits_for_a_slow_reader_and_its_text_is_unchanged(name):
    """Backpressure: a reader that stops reading holds its row at `ahead` calls of tokens (so Stop arrives before
    the end); a slow reader gets the same text as the single stream, and a fast one beside it is not held up."""
    model = bundled(name)
    slow, fast = REQUESTS[0], REQUESTS[4]
    want = [_alone(model, slow), _alone(model, fast)]
    config = EngineConfig(slots=2, waiting=2, steps=4, ahead=2)
    with Engine(model, config) as engine:
        stalled = engine.stream("ROMEO:\n", max_new_tokens=500, seed=5)
        next(stalled)
        # the unread row pauses after `ahead` calls (it would otherwise run to its 500 tokens)
        wait_until(lambda: engine.stats["pauses"] >= 1, "a pause of the unread row")
        assert engine.stats["tokens"] <= 1 + (config.ahead + 1) * config.steps
        stalled.close()

        def read_slowly():
            text = ""
            for piece in engine.stream(**slow):
                text += piece
                time.sleep(0.002)
            return text

        out = [None, None]
        threads = [
            threading.Thread(target=lambda: out.__setitem__(0, read_slowly())),
            threading.Thread(target=lambda: out.__setitem__(1, "".join(engine.stream(**fast)))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert out == want


@pytest.mark.parametrize("name", both(fast="char-lstm"))
def test_a_failing_step_errors_its_requests_and_the_next_succeeds(name):
    model = bundled(name)
    with Engine(model, EngineConfig(slots=2)) as engine:
        engine._fail_next_step = RuntimeError("an injected fault")
        with pytest.raises(EngineError, match="decoding step failed .*injected fault"):
            "".join(engine.stream("ROMEO:\n", max_new_tokens=50, seed=1))
        assert engine.stats["failed_steps"] == 1
        assert "".join(engine.stream(**REQUESTS[1])) == _alone(model, REQUESTS[1])


def test_the_waiting_line_is_bounded():
    m = bundled("char-lstm")
    with Engine(m, EngineConfig(slots=1, waiting=1)) as engine:
        running = engine.stream("ROMEO:\n", max_new_tokens=400, seed=1)
        next(running)
        waiting = engine.stream("JULIET:\n", max_new_tokens=400, seed=2)
        started = threading.Thread(target=lambda: next(waiting))
        started.start()
        wait_until(lambda: engine.waiting == 1, "the second request's wait")
        with pytest.raises(Busy, match="busy: .*try again"):
            next(engine.stream("NURSE:\n", max_new_tokens=10))
        running.close()  # the waiting one gets the row
        started.join(30)
        assert not started.is_alive()
        waiting.close()
        assert engine.stats["busy"] == 1


def test_handlers_answer_busy_with_a_clear_error_and_close_leaves_no_thread():
    m = bundled("char-lstm")
    registry = Registry(lms={"char-lstm": m})
    registry.engines["char-lstm"] = Engine(m, EngineConfig(slots=1, waiting=0))
    handlers = Handlers(registry)
    first = handlers.generate("ROMEO:\n", "char-lstm", max_new_tokens=400, seed=1)
    next(first)
    with pytest.raises(gr.Error, match="busy"):
        list(handlers.generate("JULIET:\n", "char-lstm", max_new_tokens=10))
    first.close()
    assert [t for t in threading.enumerate() if t.name.startswith("engine-")]
    registry.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("engine-")]
    assert registry.streamer(m) is m  # without an engine the model streams alone


def test_engine_settings_are_checked():
    m = bundled("char-lstm")
    with pytest.raises(ValueError, match="steps must divide 16"):
        Engine(m, EngineConfig(steps=3))
    with Engine(m, EngineConfig(slots=1)) as engine:
        with pytest.raises(ValueError, match="top_p must be in"):
            next(engine.stream("a", top_p=0))
    with pytest.raises(EngineError, match="closed"):
        next(engine.stream("a"))
