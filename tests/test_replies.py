"""A reply or a generation that reaches the token limit ends at a word or line boundary and says it was cut;
streaming still streams, and nothing shown is taken back."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.generate import CUT, WordBoundary, word_end


def _at_boundary(kept: str, full: str) -> bool:
    """`kept` is a prefix of `full` that ends where a word ends (or is empty)."""
    word = lambda ch: ch.isalnum() or ch in "'-"  # noqa: E731
    return full.startswith(kept) and (
        not kept or not word(kept[-1]) or len(kept) == len(full) or not word(full[len(kept)])
    )


def _check_stream(pieces: list[str], final: str, generated: str) -> None:
    assert final.endswith(CUT)
    kept = final.removesuffix(CUT)
    assert _at_boundary(kept, generated) and len(kept) <= len(generated)
    assert not kept[-1:].isspace()  # no dangling space or newline before the mark
    for before, after in zip(pieces, pieces[1:]):
        assert after.startswith(before)  # nothing shown is taken back
    assert all(kept.startswith(p) for p in pieces)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab Z9\n,.'-", max_size=60), st.integers(0, 60), st.integers(1, 4))
def test_a_cut_text_ends_at_a_boundary_over_random_limits(text, limit, piece):
    """A character model's text cut at `limit` tokens, streamed `piece` characters at a time."""
    generated = text[:limit]
    boundary, shown = WordBoundary(), []
    for i in range(piece, len(generated) + piece, piece):
        shown.append(boundary.shown(generated[:i]))
    _check_stream(shown, boundary.end(generated, cut=True), generated)
    assert boundary.end(generated, cut=False) == generated  # an ended text is kept whole


def test_the_issues_replies_end_on_a_word():
    b = WordBoundary()
    assert b.end("If not did been crab t", cut=True) == "If not did been crab …"
    assert b.end("As seeing sh", cut=True) == "As seeing …"
    assert b.end("Good night,\nsweet", cut=True) == "Good night, …"  # "sweet" may be half of "sweeter"
    assert b.end("Good night.\n", cut=True) == "Good night. …"
    assert word_end("don't", False) == 0 and WordBoundary(whole_words=True).end("a word", cut=True) == "a word …"


@pytest.fixture(scope="module")
def handlers_over_the_lstm():
    import lm
    from space import handlers
    from space.models import Registry

    return handlers.Handlers(Registry(lms={"char-lstm": lm.load("char-lstm")}))


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(limit=st.integers(1, 60), seed=st.integers(0, 1000))
def test_real_generations_and_replies_cut_at_the_limit_end_on_a_word(handlers_over_the_lstm, limit, seed):
    h = handlers_over_the_lstm
    m = h.registry.lms["char-lstm"]
    generated = m.generate("ROMEO:\n", max_new_tokens=limit, temperature=0.8, seed=seed)
    assert len(m.tokenizer.encode(generated)) <= limit  # the limit is honoured
    pieces = list(h.generate("ROMEO:\n", "char-lstm", limit, 0.8, 0, 1.0, seed))
    _check_stream(pieces[:-1], pieces[-1], generated)
    from space.chat import chat_prompt, end_of_speech

    message = "Good morrow, fair lady."
    replies = list(h.chat_turn(message, [], "char-lstm", limit, 0.8, 0, 1.0, seed))
    raw = m.generate(chat_prompt(m, message, [], limit), max_new_tokens=limit, temperature=0.8, seed=seed)
    speech, ended = end_of_speech(raw.lstrip() + "\n")
    last = replies[-1]
    assert all(last.startswith(r) for r in replies[:-1])  # streamed, never taken back
    if ended:  # the speech ended within the limit: all of it
        assert last == (speech.rstrip() or "…")
    else:  # the limit came first: up to a word's end, marked cut
        _check_stream([r for r in replies[:-1] if r], last, speech)
