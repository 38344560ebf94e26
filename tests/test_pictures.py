"""Legible pictures: axis labels thinned to what fits at a readable size on every shipped example, plain names for
whitespace tokens, and model cards shown as the Hub shows them (no empty header row, commands wrapped)."""

import glob
import os

import numpy as np
import pytest

from space import plots

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _label_counts(fig):
    """[(labels on an axis, what fits along it at the labels' size)] for the figure's image axes."""
    out = []
    for ax in fig.axes:
        box = ax.get_position()
        for ticks, length in (
            (ax.get_xticklabels(), box.width * fig.get_figwidth()),
            (ax.get_yticklabels(), box.height * fig.get_figheight()),
        ):
            if ticks:
                size = min(t.get_fontsize() for t in ticks)
                assert size >= plots.LABEL_SIZE
                out.append((len(ticks), length * 72 / (size * plots.LABEL_SPACING) + 1))
    return out


def test_56_tokens_get_readable_labels():
    tokens = [f"t{i}" for i in range(56)]
    fig = plots.attention_heatmap(np.eye(56), tokens, tokens, "layer 4, mean of the heads")
    counts = _label_counts(fig)
    assert counts and all(n <= fits for n, fits in counts) and all(n < 56 for n, _ in counts)


def test_whitespace_tokens_have_plain_names():
    from space.handlers import show_token

    assert show_token("\n") == "newline" and show_token(" ") == "space" and show_token("\t") == "tab"
    assert show_token("a b") == "a␣b" and show_token("e") == "e"


@pytest.mark.parametrize("card", sorted(glob.glob(os.path.join(ROOT, "*", "models", "*", "README.md"))))
def test_cards_have_no_empty_header_and_wrapped_commands(card):
    from space.ui import CARD_WIDTH, _card_markdown

    shown = _card_markdown(open(card, encoding="utf-8").read())
    assert not any(line.replace("|", "").strip() == "" and line.count("|") >= 2 for line in shown.splitlines())
    blocks = shown.split("```")[1::2]
    for block in blocks:
        for line in block.splitlines():
            if line.lstrip().startswith(("python", "--", "bash")):
                assert len(line) <= CARD_WIDTH + 40, line  # one flag and its value may run past the width
    if "Reproduce" in open(card, encoding="utf-8").read() and blocks:
        assert any(line.endswith(" \\") for b in blocks for line in b.splitlines()) or all(
            len(line) <= CARD_WIDTH for b in blocks for line in b.splitlines()
        )


@pytest.mark.slow
def test_every_shipped_example_draws_readable_labels():
    """The Attention view's examples and the Contexts view's, through the view functions the page calls."""
    import lm
    import pretrain
    from space import handlers, inside_tab
    from space.examples import ATTENTION_EXAMPLES, CONTEXT_EXAMPLES
    from space.models import Registry

    registry = Registry(
        lms={"char-transformer": lm.load("char-transformer")},
        berts={n: pretrain.load(n) for n in ("bert-imdb", "bert")},
        encoders={"elmo": lm.load("elmo")},
    )
    h = handlers.Handlers(registry)
    attention_ui = inside_tab._attention_ui(h)
    for text, _, model in ATTENTION_EXAMPLES:
        fig, _ = attention_ui(text, model if model in registry.berts or model in registry.lms else None, None, None)
        assert all(n <= fits for n, fits in _label_counts(fig)), text
    contexts_ui = inside_tab._contexts_ui(h, 7)
    for word, sentences in CONTEXT_EXAMPLES:
        *figs, legend, _ = list(contexts_ui(word, sentences))[-1]
        for fig in figs:
            if fig is not None:
                assert all(n <= fits for n, fits in _label_counts(fig)), word
        assert "Same sense − other sense" in legend
